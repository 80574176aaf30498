"""Process-level performance settings for CPU inference.

PyTorch allocates every activation with ``malloc``. glibc serves blocks above its mmap
threshold (at most 32 MB) with fresh ``mmap`` pages, so each large activation costs a page
fault per 4 KiB and goes back to the kernel when freed: at 480x480 that overhead made the
network a fifth to a half slower. :func:`tune_allocator` raises the mmap and trim thresholds
so activations freed during a forward pass are reused by the next layers and by the next call
of the same shape. Across the many tiles of a large image the retained heap fragments (a
4000x3000 FALSR-A run doubled its peak RSS), so the upscaler hands freed memory back after
every call of a multi-tile image (:func:`release_memory`: 1.59 GB instead of 2.8 GB, still
faster than untuned), and for one-tile images whenever the input shape changes
(:func:`prepare_for`), so that repeated images of one size keep their heap.

Tuning changes the whole process, so the library never applies it on its own: the ``falsr``
command and the benchmark scripts do, and Python users may.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import threading

__all__ = ["prepare_for", "release_memory", "tune_allocator"]

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 256 << 20
_TRIM_THRESHOLD = 256 << 20
_FALLBACK_MMAP_THRESHOLD = 32 << 20
"""glibc's own ceiling for the mmap threshold on 64-bit builds (``DEFAULT_MMAP_THRESHOLD_MAX``): older
glibc refuses anything above it, newer ones accept the 256 MiB asked first."""
OPT_OUT_ENV = "FALSR_ZOO_MALLOC_TUNING"
_state: dict = {"libc": None, "shape": None}
_lock = threading.Lock()


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def tune_allocator() -> bool:
    """Keep freed activations in the heap during a forward pass (glibc only).

    Asks for a 256 MiB mmap threshold first; a glibc that refuses values above its 32 MiB ceiling
    (older releases) gets 32 MiB instead. When no value is accepted a warning says so.

    Returns:
        Whether the tuning was applied. ``FALSR_ZOO_MALLOC_TUNING=0`` leaves the allocator alone.
    """
    libc = None if os.environ.get(OPT_OUT_ENV) == "0" else _glibc()
    if libc is None:
        return False
    threshold = next((value for value in (_MMAP_THRESHOLD, _FALLBACK_MMAP_THRESHOLD)
                      if libc.mallopt(_M_MMAP_THRESHOLD, value) == 1), None)
    applied = threshold is not None and libc.mallopt(_M_TRIM_THRESHOLD, max(threshold, _TRIM_THRESHOLD)) == 1
    _state["libc"] = libc if applied else None
    if not applied:
        logger.warning("glibc refused the malloc tuning (mmap threshold %s); large images run slower "
                       "(set %s=0 to skip it)", "256 MiB and 32 MiB" if threshold is None else threshold,
                       OPT_OUT_ENV)
    elif threshold != _MMAP_THRESHOLD:
        logger.info("glibc refused a 256 MiB mmap threshold; using %d MiB", threshold >> 20)
    return applied


def prepare_for(shape: tuple[int, ...]) -> None:
    """Before a network call on inputs of ``shape``: trim the heap if the shape changed.

    Does nothing unless :func:`tune_allocator` is in effect.
    """
    libc = _state["libc"]
    if libc is None:
        return
    with _lock:
        changed = _state["shape"] != shape
        _state["shape"] = shape
    if changed:
        libc.malloc_trim(0)


def release_memory() -> None:
    """Hand freed heap memory back to the kernel now, if :func:`tune_allocator` is in effect."""
    libc = _state["libc"]
    if libc is not None:
        with _lock:
            _state["shape"] = None
        libc.malloc_trim(0)
