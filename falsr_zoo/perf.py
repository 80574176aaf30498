"""Process-level performance settings for CPU inference.

PyTorch allocates every activation with ``malloc``. glibc serves blocks above its mmap
threshold (at most 32 MB) with fresh ``mmap`` pages, so each large activation costs a page
fault per 4 KiB and is returned to the kernel when freed: at 480x480 that overhead made
FALSR-A a third slower. :func:`tune_allocator` raises the mmap and trim thresholds so freed
activations are reused. It changes the whole process, so the library never calls it on its
own: the ``falsr`` command and the benchmark scripts do, and Python users may.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

__all__ = ["tune_allocator"]

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30
OPT_OUT_ENV = "FALSR_ZOO_MALLOC_TUNING"


def tune_allocator() -> bool:
    """Keep freed activations in the heap (glibc only). Returns whether it was applied.

    Set ``FALSR_ZOO_MALLOC_TUNING=0`` to leave the allocator alone.
    """
    if os.environ.get(OPT_OUT_ENV) == "0" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        applied = libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD) == 1
    except (OSError, AttributeError):
        return False
    logger.debug("glibc malloc tuning %s", "applied" if applied else "refused")
    return applied
