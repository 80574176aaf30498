"""Upscaling images with a FALSR network, through the official colour path.

The network sees the LR luma; the chroma is the bicubic x2 upscale of the LR uint8 image (as
in the release), and the output is quantised as the release does (truncation), so outputs
match the official graphs.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch
from PIL import Image

from falsr_zoo.backends import Backend, TorchBackend
from falsr_zoo.color import chroma_inputs, luma_input, to_uint8
from falsr_zoo.errors import ImageError

__all__ = ["ImageLike", "as_rgb_array", "upscale_array", "upscale_image"]

ImageLike = Union[Image.Image, np.ndarray]


def as_rgb_array(image: ImageLike) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from a PIL image or a uint8 ``(H, W[, 3|4])`` array.

    Raises:
        ImageError: for other dtypes or shapes.
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ImageError(f"expected a uint8 image array, got dtype {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.ascontiguousarray(array[..., :3])
    raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")


def upscale_array(model: torch.nn.Module | Backend, lr_rgb: np.ndarray) -> np.ndarray:
    """Upscale an ``(H, W, 3)`` uint8 RGB array; returns ``(sH, sW, 3)`` uint8.

    Args:
        model: A FALSR module (run with PyTorch) or any :class:`~falsr_zoo.backends.Backend`.
        lr_rgb: The low-resolution image.
    """
    if lr_rgb.shape[0] < 1 or lr_rgb.shape[1] < 1:
        raise ImageError(f"cannot upscale an empty image of shape {lr_rgb.shape}")
    backend = model if isinstance(model, Backend) else TorchBackend(model)
    y = luma_input(lr_rgb)[None, None]
    pbpr = chroma_inputs(lr_rgb, backend.scale).transpose(2, 0, 1)[None]
    return to_uint8(backend(y, pbpr)[0].transpose(1, 2, 0))


def upscale_image(model: torch.nn.Module, image: ImageLike) -> ImageLike:
    """Upscale x2 a PIL image (returns a PIL RGB image) or a uint8 array (returns an array).

    Example:
        >>> from falsr_zoo import load
        >>> model = load("FALSR-B")            # doctest: +SKIP
        >>> big = model.upscale(Image.open("photo.png"))  # doctest: +SKIP
    """
    out = upscale_array(model, as_rgb_array(image))
    return Image.fromarray(out) if isinstance(image, Image.Image) else out
