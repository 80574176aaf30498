"""The Ray executor: the smoke search on a local Ray (127.0.0.1 only) survives a worker killed mid-task.

Ray binds the machine's interface address even when told 127.0.0.1, so the run happens in a
network namespace with only loopback (``unshare -n``, which needs root). Where that is not
possible the test fails, unless ``FALSR_ZOO_ALLOW_NO_NETNS=1`` says to skip it on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from falsr_zoo.search.store import RunStore

SCRIPT = Path(__file__).with_name("ray_run.py")


def _namespace_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True)
    return probe.returncode == 0


def test_ray_search_completes_after_a_worker_is_killed(search_data, tmp_path: Path) -> None:
    if not _namespace_available():
        message = "the Ray test needs a loopback-only network namespace (unshare -n, as root)"
        if os.environ.get("FALSR_ZOO_ALLOW_NO_NETNS") == "1":
            pytest.skip(message)
        pytest.fail(message)
    train_dir, val_dir = search_data
    run = tmp_path / "run"
    command = f"ip link set lo up && exec {sys.executable} {SCRIPT} {train_dir} {val_dir} {run}"
    env = {**os.environ, "RAY_DEDUP_LOGS": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, text=True, timeout=900,
                            env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "killed [" in result.stdout and "killed []" not in result.stdout, result.stdout
    store = RunStore.open(run)
    candidates = store.candidates()
    assert len(candidates) == 8 and all(c.status == "done" for c in candidates), [c.status for c in candidates]
    assert all(c.worker and c.psnr is not None for c in candidates)
