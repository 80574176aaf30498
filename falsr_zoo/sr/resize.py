"""MATLAB-compatible bicubic resizing (``imresize(img, scale, 'bicubic')``), in NumPy.

Used to make LR test images from HR-only data sets, as the usual SR benchmarks were made:
Keys' cubic kernel (a = -0.5), antialiasing when downscaling (the kernel is stretched by
1 / scale), symmetric boundary handling, the height resized before the width, and each pass
rounded back to uint8 as MATLAB does for uint8 input.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["imresize"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(out_len, taps)`` and source indices for one axis, as MATLAB's ``contributions``."""
    kernel_width = 4.0
    if scale < 1:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def _resize_axis(image: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    weights, indices = _contributions(image.shape[axis], out_len, scale)
    moved = np.moveaxis(image.astype(np.float64), axis, 0)
    out = np.einsum("ok,ok...->o...", weights, moved[indices])
    out = np.moveaxis(out, 0, axis)
    # MATLAB rounds halves away from zero (np.round would round them to even).
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize a uint8 ``(H, W[, C])`` image by ``scale`` like MATLAB's bicubic ``imresize``.

    The output size is ``ceil(H * scale) x ceil(W * scale)``.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"imresize expects uint8, got {image.dtype}")
    out = image
    for axis in (0, 1):
        out = _resize_axis(out, axis, int(math.ceil(image.shape[axis] * scale)), scale)
    return out

