"""The FALSR release's colour path: network inputs from RGB, the graphs' colour step, quantisation.

* Network inputs (release ``calculate.py``): ``skimage.color.rgb2ypbpr`` on RGB in [0, 1] (the
  matrix below, no offsets), computed in float64 and fed as float32. The chroma comes from
  the LR uint8 image upscaled x2 with bicubic interpolation (PIL's, which reproduces the
  release's ``scipy.misc.imresize``).
* Colour step (inside the network, :meth:`FALSR.to_rgb`): HR luma and PbPr to RGB through a fixed
  1x1 convolution whose constants are the graphs' float32 values (:data:`COLOR_KERNEL`,
  :data:`COLOR_BIAS`; note 1.4019995, not 1.402).
* Network output: ``np.clip(out * 255, 0, 255).astype(np.uint8)``, truncation included.
* Chroma of other pictures (16 bits, float tensors) and alpha: the same bicubic kernel as Pillow's
  (Keys' cubic, a = -0.5, half-pixel centres, taps outside the image dropped and the rest
  renormalised, width pass then height pass) in floating point: :data:`BICUBIC_X2_TAPS`, applied
  by :func:`bicubic_x2_float` here and by ``falsr_rgb.bicubic_x2`` in torch. So 8-bit, 16-bit and
  float inputs get one kernel, borders included; only the 8-bit path rounds each pass to uint8.

:func:`upscale_rgb8` runs the whole path around any core callable, untiled: the reference the
upscaler's tiles and the exported graphs are checked against. The metrics' BT.601 Y is part of
the evaluation protocol (:mod:`falsr_zoo.sr.metrics`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

__all__ = [
    "BICUBIC_X2_TAPS",
    "CHROMA_OFFSET",
    "COLOR_BIAS",
    "COLOR_KERNEL",
    "PIXEL_MAX",
    "RGB_TO_YPBPR",
    "bicubic_x2_float",
    "chroma_inputs",
    "luma_input",
    "rgb_to_ypbpr",
    "to_uint8",
    "upscale_rgb8",
]

RGB_TO_YPBPR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64
)
# The graphs' colour step: rows (Y, Cb, Cr) -> columns (R, G, B), and the bias, as float32
# values read off the graphs (note 1.4019995, not 1.402).
COLOR_KERNEL = (
    (1.0, 1.0, 1.0),
    (0.0, -0.3441399931907654, 1.7719999551773071),
    (1.4019994735717773, -0.714139997959137, 0.0),
)
COLOR_BIAS = (-179.45599365234375, 135.4598388671875, -226.8159942626953)
CHROMA_OFFSET = 0.5
PIXEL_MAX = 255.0
BICUBIC_X2_TAPS = ((-0.0234375, 0.2265625, 0.8671875, -0.0703125), (-0.0703125, 0.8671875, 0.2265625, -0.0234375))
"""Pillow's bicubic (a = -0.5) at x2 with half-pixel centres: output ``2k`` reads sources ``k-2..k+1``
with the first row of weights (distances 1.75, 0.75, 0.25, 1.25), output ``2k+1`` reads
``k-1..k+2`` with the second; taps outside the image are dropped and the rest renormalised."""


def _bicubic_x2_axis(image: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(image, axis, 0)
    length = moved.shape[0]
    padded = np.pad(moved, [(2, 2)] + [(0, 0)] * (moved.ndim - 1))
    inside = np.pad(np.ones(length), 2)
    out = np.empty((2 * length, *moved.shape[1:]), dtype=np.float64)
    for parity, taps in enumerate(BICUBIC_X2_TAPS):
        # output 2k + parity reads padded positions k + parity .. k + parity + 3
        total = sum(t * padded[parity + j : parity + j + length] for j, t in enumerate(taps))
        weight = sum(t * inside[parity + j : parity + j + length] for j, t in enumerate(taps))
        out[parity::2] = total / weight.reshape(-1, *[1] * (moved.ndim - 1))
    return np.moveaxis(out, 0, axis)


def bicubic_x2_float(image: np.ndarray, *, clip: bool = True) -> np.ndarray:
    """Pillow's bicubic x2 of an ``(H, W[, C])`` float image in [0, 1], in float64, no quantisation.

    Width first, then height, as Pillow; with ``clip`` each pass is clipped to [0, 1] as Pillow's
    8-bit path clips to 0..255 (Pillow's float "F" mode keeps the overshoot: ``clip=False``).
    """
    out = np.asarray(image, dtype=np.float64)
    for axis in (1, 0):
        out = _bicubic_x2_axis(out, axis)
        if clip:
            out = np.clip(out, 0.0, 1.0)
    return out


def rgb_to_ypbpr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] -> Y, Pb, Pr (float64), as ``skimage.color.rgb2ypbpr``."""
    return np.asarray(rgb, dtype=np.float64) @ RGB_TO_YPBPR.T


def luma_input(lr_rgb: np.ndarray) -> np.ndarray:
    """The network's Y input for an ``(H, W, 3)`` uint8 LR image: ``(H, W)`` float32 in [0, 1]."""
    return (np.asarray(lr_rgb, dtype=np.float64) / 255.0 @ RGB_TO_YPBPR[0]).astype(np.float32)


def chroma_inputs(lr_rgb: np.ndarray, scale: int = 2) -> np.ndarray:
    """The network's PbPr input: ``(sH, sW, 2)`` float32 from the bicubic x``scale`` LR image."""
    height, width = lr_rgb.shape[:2]
    up = np.asarray(Image.fromarray(lr_rgb).resize((width * scale, height * scale), Image.BICUBIC))
    return (up / 255.0 @ RGB_TO_YPBPR[1:].T).astype(np.float32)


def to_uint8(rgb01: np.ndarray) -> np.ndarray:
    """The release's quantisation: ``clip(x * 255, 0, 255)`` then truncation to uint8."""
    return np.clip(np.asarray(rgb01, dtype=np.float32) * np.float32(255.0), 0, 255).astype(np.uint8)


def upscale_rgb8(core: Callable[[np.ndarray, np.ndarray], np.ndarray], lr_rgb: np.ndarray, scale: int = 2) -> np.ndarray:
    """The official pipeline over one ``(H, W, 3)`` uint8 image, untiled.

    Args:
        core: ``(y (1,1,H,W), pbpr (1,2,sH,sW)) -> rgb (1,3,sH,sW)`` float32 arrays, e.g. a
            backend or a PyTorch module wrapped to take arrays.
        lr_rgb: The low-resolution image.
        scale: The network's factor.

    Returns:
        ``(sH, sW, 3)`` uint8, truncated as the release does.
    """
    y = luma_input(lr_rgb)[None, None]
    pbpr = chroma_inputs(lr_rgb, scale).transpose(2, 0, 1)[None]
    return to_uint8(np.asarray(core(y, pbpr))[0].transpose(1, 2, 0))
