"""Run the smoke search on the Ray executor and kill one worker in the middle of a task.

Started by ``test_ray.py`` inside a network namespace that has only loopback (``unshare -n``),
where Ray binds 127.0.0.1. Ray names a worker process ``ray::<function>`` while it runs a task;
the killer thread SIGKILLs the first one it sees, once, and reports its pid on stdout.

Usage: python ray_run.py TRAIN_DIR VAL_DIR RUN_DIR
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from falsr_zoo.search.search_loop import run_search
from falsr_zoo.search.settings import load_config


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


def main() -> None:
    train_dir, val_dir, run_dir = sys.argv[1:4]
    config = load_config(preset="smoke", overrides=["train.steps=30", "train.batch_size=4", "train.patch_size=16"])
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_one_worker, args=(stop, killed), daemon=True)
    killer.start()
    store = run_search(run_dir, config, data=train_dir, val=val_dir, executor="ray", workers=2)
    stop.set()
    statuses = [c.status for c in store.candidates()]
    print(f"killed {killed} statuses {statuses}")


if __name__ == "__main__":
    main()
