"""Run the smoke searches on the Ray executor and kill one worker in the middle of a task of each.

Started by ``test_ray.py`` inside a network namespace that has only loopback (``unshare -n``),
where Ray binds 127.0.0.1. Ray names a worker process ``ray::<function>`` while it runs a task;
the killer thread SIGKILLs the first one it sees, once, and reports its pid on stdout. The FALSR
smoke search runs first; with RENAS_DATA and RENAS_RUN_DIR, a RENAS smoke search (the plain EA,
two children per step, whose tasks carry their parents' weights) follows on a fresh local Ray.

Usage: python ray_run.py TRAIN_DIR VAL_DIR RUN_DIR [RENAS_DATA RENAS_RUN_DIR]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from falsr_zoo.search.loop import run_search
from falsr_zoo.search.config import load_config


def kill_one_worker(stop: threading.Event, killed: list[int]) -> None:
    while not stop.is_set():
        listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.startswith("ray::evaluate_in_process"):
                time.sleep(0.5)  # well inside the task
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.05)


def search_killing_one_worker(family: str, config, data: str, val: str | None, run_dir: str) -> None:
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_one_worker, args=(stop, killed), daemon=True)
    killer.start()
    store = run_search(run_dir, config, data=data, val=val, executor="ray", workers=2)
    stop.set()
    statuses = [c.status for c in store.candidates()]
    print(f"{family}: killed {killed} statuses {statuses}", flush=True)


def main() -> None:
    train_dir, val_dir, run_dir = sys.argv[1:4]
    config = load_config(preset="smoke", overrides=["train.steps=30", "train.batch_size=4", "train.patch_size=16"])
    search_killing_one_worker("falsr", config, train_dir, val_dir, run_dir)
    if len(sys.argv) > 4:
        renas_data, renas_run = sys.argv[4:6]
        config = load_config(preset="renas-smoke", overrides=["mutation=random", "steps=2", "children_per_step=2",
                                                              "init_epochs=3"])
        search_killing_one_worker("renas", config, renas_data, None, renas_run)


if __name__ == "__main__":
    main()
