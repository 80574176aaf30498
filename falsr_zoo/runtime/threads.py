"""How many CPU threads PyTorch computes with: the CPUs this process may use, not the machine's.

PyTorch's default intra-op thread count follows the machine (or OpenMP's view of it), not what a
container or a CPU set grants: on a 2-core slice of a large machine, or beside another busy
process, the extra threads wait on each other (a RENAS smoke search took 160 s with the default
and 38 s with one thread on a 2-core machine with one other busy process). The default here is
the CPUs this process may run on (its affinity mask), capped by a cgroup CPU quota (v2
``cpu.max``, v1 ``cpu.cfs_quota_us``, rounded up), divided among ``workers`` processes that
share them. ``OMP_NUM_THREADS``, when set, is the user's explicit choice and wins.

Everything but :func:`set_threads` is pure standard library, so command lines can show the
default in ``--help`` without importing torch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["available_cpus", "cgroup_cpu_limit", "default_threads", "set_threads"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
THREADS_ENV = "OMP_NUM_THREADS"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _v2_quota(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    quota, _, period = text.partition(" ")
    return None if quota == "max" else int(quota) / int(period or 100_000)


def _v1_quota(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    if not quota or not period or int(quota) <= 0 or int(period) <= 0:
        return None
    return int(quota) / int(period)


def _cgroup_folders(root: Path, proc: Path) -> list[tuple[Path, bool]]:
    """``(folder, is_v2)`` for the process's cgroup and its ancestors, in every CPU hierarchy."""
    text = _read(proc) or ""
    found: list[tuple[Path, bool]] = []
    for line in text.splitlines():
        if line.count(":") < 2:
            continue
        _, controllers, relative = line.split(":", 2)
        if controllers == "":
            mounts = [(root, True)]
        elif "cpu" in controllers.split(","):
            mounts = [(root / controllers, False), (root / "cpu", False), (root / "cpu,cpuacct", False)]
        else:
            continue
        for mount, is_v2 in mounts:
            leaf = mount / relative.lstrip("/")
            found += [(folder, is_v2) for folder in (leaf, *leaf.parents) if folder.is_relative_to(mount)]
    return found


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc: Path = PROC_CGROUP) -> int | None:
    """The CPU quota of this process's cgroups in whole CPUs (rounded up), or ``None`` when unlimited.

    The smallest quota on the way from the process's cgroup to the root counts (v2 and v1).
    """
    quotas = [quota for folder, is_v2 in _cgroup_folders(root, proc)
              if (quota := (_v2_quota if is_v2 else _v1_quota)(folder)) is not None]
    return max(1, math.ceil(min(quotas))) if quotas else None


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(cpus, limit) if limit else cpus)


def _from_environment() -> int | None:
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def default_threads(workers: int = 1) -> int:
    """Threads per process when none are asked for: ``OMP_NUM_THREADS`` if set, else the available
    CPUs (:func:`available_cpus`) shared among ``workers`` processes (at least one each).

    Example:
        >>> default_threads() >= 1
        True
    """
    return _from_environment() or max(1, available_cpus() // max(1, workers))


def set_threads(threads: int | None = None, *, workers: int = 1) -> int:
    """Set PyTorch's intra-op threads to ``threads``, or to :func:`default_threads` when ``None``.

    Args:
        threads: Threads to use; ``None`` for the default.
        workers: Processes sharing the CPUs (for the default).

    Returns:
        The thread count now in effect.

    Raises:
        ValueError: ``threads`` below 1.
    """
    import torch

    count = default_threads(workers) if threads is None else threads
    if count < 1:
        raise ValueError(f"threads must be at least 1, got {count}")
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
