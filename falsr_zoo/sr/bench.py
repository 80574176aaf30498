"""Benchmarking the whole upscale of an image through any backend.

What is timed is :meth:`falsr_zoo.sr.upscale.Upscaler.upscale_pixels` on an ``H x W`` uint8 RGB
image with default settings: colour preparation (luma, PIL bicubic chroma), tiles chosen from
the memory budget, the network on the backend, quantisation; that is what ``falsr upscale``
users wait for. The upscaler and its backend are created once (graph tracing and engine
building are not timed), run ``warmup`` times, then timed ``repeats`` times with
``time.perf_counter``.

Peak memory is the peak resident set size of the process during the timed runs: on Linux the
kernel's high-water mark (``VmHWM``) is reset after the warm-up (``/proc/self/clear_refs``), so
it covers the timed runs (with the libraries and the model resident, as in any deployment);
where that is not possible it is the whole process's peak (``ru_maxrss``).
"""

from __future__ import annotations

import logging
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from falsr_zoo.sr.upscale import Upscaler

__all__ = ["BenchResult", "benchmark"]

logger = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class BenchResult:
    """Timings of one model on one backend at one LR size.

    Attributes:
        model: Model name.
        backend: Backend name.
        size: LR ``(height, width)``.
        scale: Upscaling factor (the output is ``scale * size``).
        times_s: Wall time of each timed run, in seconds.
        peak_rss_mb: Peak resident set size during the timed runs, in MiB.
        peak_rss_scope: ``"timed runs"``, or ``"process"`` where the peak could not be reset.
        precision: The network body's precision.
        tile: The fixed tile side, or ``None`` for tiles sized from the memory budget.
        threads: PyTorch's intra-op CPU threads during the runs.
    """

    model: str
    backend: str
    size: tuple[int, int]
    scale: int
    times_s: tuple[float, ...]
    peak_rss_mb: float
    peak_rss_scope: str = "timed runs"
    precision: str = "fp32"
    tile: int | None = None
    threads: int = 1

    @property
    def median_s(self) -> float:
        """Median latency of the whole upscale."""
        return float(statistics.median(self.times_s))

    @property
    def mp_per_s(self) -> float:
        """Megapixels of *output* (HR) image per second, at the median latency."""
        height, width = self.size
        return height * width * self.scale**2 / 1e6 / self.median_s

    def to_json(self) -> dict[str, Any]:
        """``{"model", "backend", "size", "median_s", "mp_per_s", "peak_rss_mb", "precision", "tile",
        "threads"}`` (what ``--json`` prints)."""
        return {
            "model": self.model,
            "backend": self.backend,
            "size": list(self.size),
            "median_s": self.median_s,
            "mp_per_s": self.mp_per_s,
            "peak_rss_mb": self.peak_rss_mb,
            "precision": self.precision,
            "tile": self.tile,
            "threads": self.threads,
        }


def benchmark(model: nn.Module, size: tuple[int, int], *, backend: str = "torch", name: str | None = None,
              repeats: int = 10, warmup: int = 2, seed: int = 0, precision: str = "fp32", tile: int | None = None,
              backend_options: Mapping[str, Any] | None = None) -> BenchResult:
    """Time the whole upscale of a random ``size`` uint8 image with ``backend``.

    Args:
        model: The module (its backend is created from it once, untimed).
        size: LR ``(height, width)``.
        backend: A name in :data:`falsr_zoo.runtime.backends.BACKENDS` (``"onnxruntime"`` and
            ``"tensorrt"`` register themselves on first use).
        name: Model name for the report (default: the class name).
        repeats: Timed runs (at least 1).
        warmup: Untimed runs before them.
        seed: Seed of the random image (content does not change the timings of these networks).
        precision: The network body's precision (``Upscaler(precision=...)``).
        tile: A fixed tile side (``Upscaler(tile=...)``); default: sized from the memory budget.
        backend_options: Keyword arguments of the backend factory.

    Returns:
        The timings and the peak memory.

    Raises:
        ValueError: ``repeats < 1``, ``warmup < 0`` or an empty size.

    Example:
        >>> from falsr_zoo import load
        >>> result = benchmark(load("FALSR-B"), (480, 480), backend="onnxruntime")  # doctest: +SKIP
        >>> result.median_s, result.mp_per_s  # doctest: +SKIP
    """
    height, width = size
    if repeats < 1 or warmup < 0 or height < 1 or width < 1:
        raise ValueError(f"need repeats >= 1, warmup >= 0 and a non-empty size; got {repeats}, {warmup}, {size}")
    upscaler = Upscaler(model, backend=backend, precision=precision, tile=tile, backend_options=backend_options)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    for _ in range(warmup):
        upscaler.upscale_pixels(image)
    scope = "timed runs" if _reset_peak_rss() else "process"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        upscaler.upscale_pixels(image)
        times.append(time.perf_counter() - start)
    result = BenchResult(model=name or type(model).__name__, backend=backend, size=(height, width),
                         scale=upscaler.scale, times_s=tuple(times), peak_rss_mb=_peak_rss_mb(scope),
                         peak_rss_scope=scope, precision=precision, tile=tile, threads=torch.get_num_threads())
    logger.info("%s on %s at %dx%d: median %.4f s", result.model, backend, height, width, result.median_s)
    return result


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False where impossible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb(scope: str) -> float:
    if scope == "timed runs":
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
