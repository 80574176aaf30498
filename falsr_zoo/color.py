"""Colour conversions of the FALSR release and of its evaluation protocol.

* Network inputs (release ``calculate.py``): ``skimage.color.rgb2ypbpr`` on RGB in [0, 1] (the
  matrix below, no offsets), computed in float64 and fed as float32. The chroma comes from
  the LR uint8 image upscaled x2 with bicubic interpolation (PIL's, which reproduces the
  release's ``scipy.misc.imresize``).
* Network output: ``np.clip(out * 255, 0, 255).astype(np.uint8)``, truncation included.
* Metrics: the Y of ``skimage.color.rgb2ycbcr`` (BT.601, 16-235).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["RGB_TO_YPBPR", "chroma_inputs", "luma_input", "rgb_to_ypbpr", "rgb_to_y_bt601", "to_uint8"]

RGB_TO_YPBPR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64
)
_BT601_Y = np.array([65.481, 128.553, 24.966], dtype=np.float64)


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


def rgb_to_y_bt601(rgb: np.ndarray) -> np.ndarray:
    """Y of ``skimage.color.rgb2ycbcr`` for uint8 RGB: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``."""
    return 16.0 + (np.asarray(rgb, dtype=np.float64) / 255.0) @ _BT601_Y
