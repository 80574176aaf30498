"""Upscaling images with a FALSR network: official colour path, seamless tiles, real photos.

* **Official colour path** (8-bit RGB): the network sees the LR luma; the chroma is the
  bicubic x2 upscale of the LR uint8 image (Pillow's, as in the release), and the output is
  quantised by truncation like the release, so outputs match the official graphs.
* **Tiles**: images are processed in tiles that overlap by the network's receptive radius
  (:mod:`falsr_zoo.sr.tiling`), so tiled output equals untiled output and memory stays bounded.
  The chroma of each tile is computed from the tile itself (with a margin that covers the
  bicubic kernel), so no full-resolution intermediate is ever built.
* **Other pictures**: grey images go through the luma path only (neutral chroma, output
  rounded); 16-bit images keep 16 bits (float chroma upscaled with Pillow's bicubic kernel in
  floating point, :func:`~falsr_zoo.families.falsr.colour.bicubic_x2_float`, output rounded to
  uint16); alpha is upscaled with the same kernel and re-attached.
* **Tensors** (:meth:`Upscaler.upscale_tensor`): ``(N, C, H, W)`` float or uint8 tensors are
  tiled, prepared (luma, the same bicubic chroma in torch) and run on the tensor's device, and
  come back as a tensor of the input's dtype: no NumPy round trip on the torch backend.

:class:`Upscaler` holds no mutable state after construction and can be called from several
threads at once.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from falsr_zoo.api import load
from falsr_zoo.errors import ImageError
from falsr_zoo.families.falsr.colour import (
    RGB_TO_YPBPR,
    bicubic_x2_float,
    chroma_inputs,
    luma_input,
    to_uint8,
    upscale_rgb8,
)
from falsr_zoo.families.falsr.falsr_rgb import bicubic_x2
from falsr_zoo.families.table import family_of
from falsr_zoo.imageio import ImageLike, Picture
from falsr_zoo.runtime.backends import Backend, TorchBackend, create_backend
from falsr_zoo.runtime.perf import prepare_for, release_memory
from falsr_zoo.sr.tiling import Box, Tile, batches, plan_tiles, tile_margin, tile_side_for_budget

__all__ = ["PRECISIONS", "Progress", "Upscaler", "upscale_array", "upscale_image"]

Progress = Callable[[int], None]
"""Called with the number of tiles just finished (see :meth:`Upscaler.count_tiles` for the total)."""

logger = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DEFAULT_CPU_BUDGET_MB = 1536
"""Memory an upscale plans for on CPU by default: tile activations plus the image buffers
(a 4000x3000 FALSR-A run stays under 2 GiB peak RSS; a 480x480 image runs in one piece)."""
IMAGE_BUFFER_FACTOR = 16
"""Bytes kept per LR sample by image buffers (decoded input, HR output, encoder copies), conservatively."""
CUDA_BUDGET_FRACTION = 0.6
FP16_ON_CPU = "fp16 on the CPU is about 10x slower than fp32 (few float16 CPU kernels); bf16 or fp32 run faster there"
"""Warned by each upscaler made for fp16 on the CPU: a loss of speed, not a gain (FALSR-C at 176x144 on a
2-core CPU with AVX-512 BF16: fp32 0.8 s, bf16 1.3 s, fp16 8.5 s)."""
NEUTRAL_CHROMA = np.float32(128 / 255 - 0.5)
"""PbPr that the colour step maps to R = G = B = Y (Cb = Cr = 128): the grey path."""


def upscale_array(model: nn.Module | Backend, lr_rgb: np.ndarray) -> np.ndarray:
    """Upscale an ``(H, W, 3)`` uint8 RGB array in one piece (no tiling); the reference path.

    Args:
        model: A FALSR module (run with PyTorch) or any :class:`~falsr_zoo.runtime.backends.Backend`.
        lr_rgb: The low-resolution image.

    Returns:
        ``(sH, sW, 3)`` uint8, exactly the official pipeline's output.
    """
    if lr_rgb.shape[0] < 1 or lr_rgb.shape[1] < 1:
        raise ImageError(f"cannot upscale an empty image of shape {lr_rgb.shape}")
    backend = model if isinstance(model, Backend) else TorchBackend(model)
    return upscale_rgb8(backend, lr_rgb, backend.scale)


def upscale_image(model: str | nn.Module, image: ImageLike, *, outscale: float = 2.0, **options: Any) -> ImageLike:
    """Upscale a PIL image (returns PIL) or a uint8/uint16 array (returns an array), tiled.

    Args:
        model: A zoo name or a super-resolution module.
        image: The image.
        outscale: The final scale (see :meth:`Upscaler.upscale_pixels`).
        **options: Keyword arguments of :class:`Upscaler` (``tile``, ``backend``, ``device``, ...).

    Example:
        >>> from falsr_zoo import load
        >>> big = upscale_image(load("FALSR-B"), Image.open("photo.png"))  # doctest: +SKIP
        >>> big = upscale_image("FALSR-B", Image.open("photo.png"), outscale=4, tile=256)  # doctest: +SKIP
    """
    return Upscaler(model, **options).upscale(image, outscale=outscale)


# --------------------------------------------------------------------------------------------
# Per-kind preparation of a tile: crop -> (luma (1,h,w), pbpr (2,2h,2w)) and output quantisers


def _prepare_rgb8(lr: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    crop = lr[box.top : box.bottom, box.left : box.right]
    return luma_input(crop)[None], chroma_inputs(crop).transpose(2, 0, 1)


def _prepare_rgb16(lr: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    crop = lr[box.top : box.bottom, box.left : box.right].astype(np.float64) / 65535.0
    y = (crop @ RGB_TO_YPBPR[0]).astype(np.float32)
    up = bicubic_x2_float(crop)  # the 8-bit path's kernel (Pillow's), without its rounding
    return y[None], (up @ RGB_TO_YPBPR[1:].T).astype(np.float32).transpose(2, 0, 1)


def _prepare_grey(lr: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    peak = 65535.0 if lr.dtype == np.uint16 else 255.0
    crop = lr[box.top : box.bottom, box.left : box.right, 0]
    y = (crop / peak).astype(np.float32)
    return y[None], np.full((2, 2 * box.height, 2 * box.width), NEUTRAL_CHROMA, dtype=np.float32)


def _round_to(dtype: type) -> Callable[[np.ndarray], np.ndarray]:
    peak = np.iinfo(dtype).max
    return lambda rgb: np.clip(np.rint(rgb * peak), 0, peak).astype(dtype)


def _upscale_alpha(alpha: np.ndarray) -> np.ndarray:
    height, width = alpha.shape
    if alpha.dtype == np.uint8:
        return np.asarray(Image.fromarray(alpha, "L").resize((2 * width, 2 * height), Image.BICUBIC))
    return _round_to(np.uint16)(bicubic_x2_float(alpha / 65535.0))


# --------------------------------------------------------------------------------------------
# The same preparation on tensors (values 0..1, or 0..255 levels for uint8 input), on their device


def _tensor_inputs(crops: torch.Tensor, levels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, C, h, w)`` float32 crops (C = 1 grey or 3 RGB) -> luma ``(B, 1, h, w)`` and PbPr
    ``(B, 2, 2h, 2w)``, as the array path: Pillow's bicubic chroma, rounded per pass for 8-bit input."""
    peak = 255.0 if levels else 1.0
    if crops.shape[1] == 1:
        pbpr = torch.full((crops.shape[0], 2, 2 * crops.shape[2], 2 * crops.shape[3]), float(NEUTRAL_CHROMA),
                          dtype=torch.float32, device=crops.device)
        return crops / peak, pbpr
    matrix = torch.tensor(RGB_TO_YPBPR, dtype=torch.float32, device=crops.device).reshape(3, 3, 1, 1)
    y = F.conv2d(crops / peak, matrix[0:1])
    up = bicubic_x2(crops, levels=True) / 255.0 if levels else bicubic_x2(crops, clip=True)
    return y, F.conv2d(up, matrix[1:3])


def _quantise_tensor(rgb: torch.Tensor, levels: bool, grey: bool) -> torch.Tensor:
    """Network RGB in [0, 1] -> the output's values: truncated levels (the release's uint8 rule) for
    8-bit RGB, rounded levels for 8-bit grey, floats in [0, 1] otherwise."""
    out = rgb[:, 1:2] if grey else rgb
    if not levels:
        return out.clamp(0.0, 1.0)
    scaled = (out * 255.0).clamp(0.0, 255.0)
    return torch.round(scaled) if grey else torch.floor(scaled)


def _upscale_alpha_tensor(alpha: torch.Tensor, levels: bool) -> torch.Tensor:
    if levels:
        return bicubic_x2(alpha, levels=True)
    return bicubic_x2(alpha, clip=True)


# --------------------------------------------------------------------------------------------


class Upscaler:
    """A stateless, thread-safe x2 upscaler: model + backend + device + tiling.

    Args:
        model: A zoo name (``"FALSR-B"``) or a FALSR module (copied, never modified).
        backend: ``"torch"`` or any name in :data:`falsr_zoo.runtime.backends.BACKENDS`
            (``"onnxruntime"``, ``"tensorrt"`` with the export extras).
        device: ``"cpu"``, ``"cuda"``, ... (torch backend). Default: CUDA when available.
        tile: Core tile side in LR pixels; default chosen per image from the memory budget,
            capped by the backend's ``max_input_size`` (see :meth:`tile_for`).
        memory_budget_mb: Memory to plan for: on CPU tile activations plus image buffers
            (default 1536 MB); on CUDA activations (default 60 % of free memory).
        batch_size: Tiles of equal shape run together (helps on GPUs). The result is batch 1's up
            to float rounding (a batch may run other kernels: a uint8 value can move by one level).
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the network body's type; the
            luma-to-RGB colour step, the PbPr input and the chroma stay float32 on every backend
            (torch: the module's colour constants; onnxruntime and tensorrt: the float16-body core
            graph, ``fp16`` only).
        channels_last: Use channels-last memory format (default: on; faster with oneDNN/cuDNN).
        fuse: On CPU in fp32, run the family's fast path where it has one (FALSR: oneDNN fused
            convolutions, conv + ReLU, conv + residual).
        weights: Explicit weights file for a zoo name.
        backend_options: Keyword arguments of a non-torch backend's factory (``device``,
            ``precision``, ``engine``, ...).

    Example:
        >>> upscaler = Upscaler("FALSR-B")               # doctest: +SKIP
        >>> big = upscaler.upscale(Image.open("a.jpg"))  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | nn.Module = "FALSR-B",
        *,
        backend: str = "torch",
        device: str | torch.device | None = None,
        tile: int | None = None,
        memory_budget_mb: float | None = None,
        batch_size: int = 1,
        precision: str = "fp32",
        channels_last: bool = True,
        fuse: bool = True,
        weights: str | None = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(model, str):
            module = load(model, weights=weights)
        else:
            module = copy.deepcopy(model)
        if not hasattr(module, "genome") or not hasattr(module, "forward_y"):
            raise TypeError("Upscaler needs a super-resolution model (a FALSR module or zoo name)")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.precision = precision
        if precision == "fp16" and backend == "torch" and self.device.type == "cpu":
            logger.warning(FP16_ON_CPU)
        self.scale = int(module.scale)
        self.genome = module.genome
        self.margin = tile_margin(self.genome.receptive_radius())
        self.batch_size = batch_size
        module = module.eval().to(self.device)
        for body in module.children():  # the colour step's constants (the module's own buffers) stay float32
            body.to(PRECISIONS[precision])
        if backend == "torch":
            if channels_last:
                module = module.to(memory_format=torch.channels_last)
            fast = family_of(module).fast_path(module) if fuse and self.device.type == "cpu" else None
            self.backend: Backend = TorchBackend(module, channels_last=channels_last, forward=fast)
        else:
            if precision == "bf16":
                raise ValueError(f"precision 'bf16' runs on the torch backend only; {backend} takes fp32 or fp16")
            # fp32 is every backend's default: only a reduced precision is passed on (plugins need not know it)
            options = {**({"precision": precision} if precision != "fp32" else {}), **dict(backend_options or {})}
            self.backend = create_backend(backend, module.float().cpu(), **options)
        if tile is not None and tile < 1:
            raise ValueError(f"tile must be positive, got {tile}")
        self.tile = tile
        self.memory_budget = self._memory_budget(memory_budget_mb)
        limit = getattr(self.backend, "max_input_size", None)
        if limit is not None and min(limit[1], limit[2]) - 2 * self.margin < 1:
            raise ValueError(f"backend input limit {limit} leaves no room for a {self.margin}-pixel margin")

    def _memory_budget(self, memory_budget_mb: float | None) -> int:
        if memory_budget_mb is not None:
            return int(memory_budget_mb * 2**20)
        if self.device.type == "cuda" and self.backend.name == "torch":
            free, _ = torch.cuda.mem_get_info(self.device)
            return int(free * CUDA_BUDGET_FRACTION)
        return DEFAULT_CPU_BUDGET_MB * 2**20

    def tile_for(self, height: int, width: int, channels: int = 3, sample_bytes: int = 1) -> int:
        """The core tile side for an image: the fixed ``tile``, or the largest that fits the budget.

        On the CPU the budget also pays for the image buffers of this image; the backend's
        ``max_input_size`` caps the result.
        """
        side = self.tile
        if side is None:
            budget = self.memory_budget
            if self.device.type == "cpu":
                budget -= IMAGE_BUFFER_FACTOR * height * width * channels * sample_bytes
            budget = max(budget, self.memory_budget // 8)
            bytes_per_float = torch.finfo(PRECISIONS[self.precision]).bits // 8
            side = tile_side_for_budget(self.genome.activation_floats_per_pixel(), self.margin,
                                        budget // self.batch_size, bytes_per_float)
        limit = getattr(self.backend, "max_input_size", None)
        if limit is not None:
            side = min(side, min(limit[1], limit[2]) - 2 * self.margin)
        return side

    # ---------------------------------------------------------------------------------------

    def count_tiles(self, shape: tuple[int, ...], outscale: float = 2.0, sample_bytes: int = 1) -> int:
        """How many tiles :meth:`upscale_pixels` runs for ``(H, W, C)`` pixels (all passes): the total
        its ``progress`` callback counts up to (unless a CUDA out-of-memory retry re-tiles)."""
        height, width, channels = (*shape[:2], shape[2] if len(shape) > 2 else 1)
        channels = 3 if channels >= 3 else 1
        total = 0
        for _ in range(_passes(outscale)):
            total += len(plan_tiles(height, width, self.tile_for(height, width, channels, sample_bytes), self.margin))
            height, width = self.scale * height, self.scale * width
        return total

    def _tiled(self, lr: np.ndarray, prepare: Callable[[np.ndarray, Box], tuple[np.ndarray, np.ndarray]],
               quantize: Callable[[np.ndarray], np.ndarray], channels: int, dtype: type, tile: int,
               progress: Progress | None = None) -> np.ndarray:
        height, width = lr.shape[:2]
        s = self.scale
        out = np.empty((s * height, s * width, channels), dtype=dtype)
        tiles = plan_tiles(height, width, tile, self.margin)
        for batch in batches(tiles, self.batch_size):
            inputs = [prepare(lr, t.padded) for t in batch]
            luma = np.stack([y for y, _ in inputs])
            prepare_for(luma.shape)
            rgb = self.backend(luma, np.stack([c for _, c in inputs]))
            if len(tiles) > 1:
                release_memory()
            for t, result in zip(batch, rgb):
                oy, ox = t.offset
                core = result[:, s * oy : s * (oy + t.core.height), s * ox : s * (ox + t.core.width)]
                rows, cols = slice(s * t.core.top, s * t.core.bottom), slice(s * t.core.left, s * t.core.right)
                values = quantize(core.transpose(1, 2, 0))
                out[rows, cols] = values[..., 1:2] if channels == 1 else values
            if progress is not None:
                progress(len(batch))
        return out

    def _with_backoff(self, run: Callable[[int], np.ndarray], tile: int) -> np.ndarray:
        """Run with ``tile``; on CUDA out-of-memory, halve the tile and retry."""
        while True:
            try:
                return run(tile)
            except torch.cuda.OutOfMemoryError:
                if tile <= 16:
                    raise
                torch.cuda.empty_cache()
                tile //= 2
                logger.warning("CUDA out of memory; retrying with %d-pixel tiles", tile)

    def _x2(self, pixels: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """One x``scale`` pass over ``(H, W, C)`` pixels of any supported kind."""
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"unsupported pixels: shape {pixels.shape}, dtype {pixels.dtype}")
        if min(pixels.shape[:2]) < 1:
            raise ImageError(f"cannot upscale an empty image of shape {pixels.shape}")
        colour = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
        if colour.shape[2] == 1:
            prepare, quantize = _prepare_grey, _round_to(pixels.dtype.type)
        elif pixels.dtype == np.uint8:
            prepare, quantize = _prepare_rgb8, to_uint8
        else:
            prepare, quantize = _prepare_rgb16, _round_to(np.uint16)
        colour = np.ascontiguousarray(colour)
        tile = self.tile_for(*colour.shape, pixels.dtype.itemsize)
        out = self._with_backoff(
            lambda side: self._tiled(colour, prepare, quantize, colour.shape[2], pixels.dtype.type, side, progress), tile
        )
        if pixels.shape[2] in (2, 4):
            out = np.concatenate([out, _upscale_alpha(pixels[..., -1])[..., None]], axis=2)
        return out

    def upscale_pixels(self, pixels: np.ndarray, outscale: float = 2.0, progress: Progress | None = None) -> np.ndarray:
        """Upscale ``(H, W, C)`` uint8/uint16 pixels (grey, grey+alpha, RGB, RGBA) by ``outscale``.

        ``outscale`` is reached with x2 network passes (``ceil(log2(outscale))`` of them), then,
        if it is not a power of two, a Lanczos resize of the result down to
        ``round(outscale * size)``. ``progress`` is called with the number of tiles finished
        after each network call (:meth:`count_tiles` gives the total).
        """
        height, width = pixels.shape[:2]
        for _ in range(_passes(outscale)):
            pixels = self._x2(pixels, progress)
        target = (round(height * outscale), round(width * outscale))
        if pixels.shape[:2] != target:
            pixels = _lanczos(pixels, target)
        return pixels

    def upscale_picture(self, picture: Picture, outscale: float = 2.0, progress: Progress | None = None) -> Picture:
        """Upscale a decoded file, keeping its ICC profile, EXIF and bit depth."""
        return replace(picture, pixels=self.upscale_pixels(picture.pixels, outscale, progress))

    # ---------------------------------------------------------------------------------------
    # Tensors

    def _run_tensors(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        run = getattr(self.backend, "run_tensors", None)
        if run is not None:
            return run(y, pbpr)
        # a backend outside torch (ONNX Runtime, TensorRT's runner) takes arrays
        return torch.from_numpy(self.backend(y.cpu().numpy(), pbpr.cpu().numpy())).to(y.device)

    def _tiled_tensor(self, colour: torch.Tensor, levels: bool, tile: int, progress: Progress | None) -> torch.Tensor:
        n, channels, height, width = colour.shape
        s = self.scale
        out = torch.empty((n, channels, s * height, s * width), dtype=torch.float32, device=colour.device)
        tiles = plan_tiles(height, width, tile, self.margin)
        for index in range(n):
            for batch in batches(tiles, self.batch_size):
                crops = torch.stack([colour[index, :, t.padded.top : t.padded.bottom, t.padded.left : t.padded.right]
                                     for t in batch])
                rgb = self._run_tensors(*_tensor_inputs(crops, levels))
                for t, result in zip(batch, rgb):
                    out[index, :, s * t.core.top : s * t.core.bottom, s * t.core.left : s * t.core.right] = \
                        _quantise_tensor(_core_of(result, t, s)[None], levels, channels == 1)[0]
                if progress is not None:
                    progress(len(batch))
        return out

    def _x2_tensor(self, x: torch.Tensor, levels: bool, progress: Progress | None) -> torch.Tensor:
        colour = x[:, :3] if x.shape[1] >= 3 else x[:, :1]
        tile = self.tile_for(colour.shape[2], colour.shape[3], colour.shape[1], 4)
        out = self._with_backoff(lambda side: self._tiled_tensor(colour, levels, side, progress), tile)
        if x.shape[1] in (2, 4):
            out = torch.cat([out, _upscale_alpha_tensor(x[:, -1:], levels)], dim=1)
        return out

    def upscale_tensor(self, image: torch.Tensor, outscale: float = 2.0, progress: Progress | None = None) -> torch.Tensor:
        """Upscale a ``(C, H, W)`` or ``(N, C, H, W)`` tensor (C: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA)
        on its own device, without a round trip through NumPy (torch backend).

        Floating-point tensors hold values in [0, 1] and come back in their dtype, unquantised (the
        chroma from Pillow's bicubic kernel in float, as the 16-bit path); uint8 tensors follow the
        release's 8-bit path (chroma rounded per pass, output truncated) and come back as uint8, equal
        to the array path but for rare ties of Pillow's fixed-point weights. Non-powers of two end
        with an antialiased bicubic resize (the array path uses Lanczos).

        Raises:
            ValueError: a tensor on another device than the upscaler's (torch backend), or of
                another shape or dtype.
        """
        squeeze = image.ndim == 3
        x = image[None] if squeeze else image
        if x.ndim != 4 or x.shape[1] not in (1, 2, 3, 4) or min(x.shape[2:]) < 1:
            raise ValueError(f"expected a (C, H, W) or (N, C, H, W) tensor with C in 1-4, got shape {tuple(image.shape)}")
        levels = x.dtype == torch.uint8
        if not levels and not x.dtype.is_floating_point:
            raise ValueError(f"expected a floating-point or uint8 tensor, got {x.dtype}")
        if self.backend.name == "torch" and not _same_device(x.device, self.device):
            raise ValueError(f"the tensor is on {x.device} and the upscaler on {self.device}; "
                             f"create it with Upscaler(..., device='{x.device}')")
        height, width = x.shape[2:]
        out = x.float()
        with torch.inference_mode():
            for _ in range(_passes(outscale)):
                out = self._x2_tensor(out, levels, progress)
            target = (round(height * outscale), round(width * outscale))
            if tuple(out.shape[2:]) != target:
                out = F.interpolate(out, size=target, mode="bicubic", antialias=True, align_corners=False)
                out = out.round().clamp(0, 255) if levels else out.clamp(0.0, 1.0)
        out = out.to(image.dtype)
        return out[0] if squeeze else out

    def upscale(self, image: ImageLike | torch.Tensor, outscale: float = 2.0,
                progress: Progress | None = None) -> ImageLike | torch.Tensor:
        """Upscale a PIL image (returns PIL, same mode family), an array (returns an array) or a
        tensor (returns a tensor on its device, :meth:`upscale_tensor`).

        PIL modes L, LA, RGB, RGBA are kept; others are converted to RGB(A). uint8 arrays
        ``(H, W)``, ``(H, W, 1|2|3|4)`` and uint16 arrays of the same shapes are accepted.
        """
        if isinstance(image, torch.Tensor):
            return self.upscale_tensor(image, outscale, progress)
        if isinstance(image, Image.Image):
            if image.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
            array = np.asarray(image)
            out = self.upscale_pixels(array[..., None] if array.ndim == 2 else array, outscale, progress)
            return Image.fromarray(out[..., 0] if out.shape[2] == 1 else out)
        array = np.asarray(image)
        if array.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"expected a uint8 or uint16 image array, got dtype {array.dtype}")
        if array.ndim not in (2, 3):
            raise ImageError(f"expected an (H, W) or (H, W, C) array, got shape {array.shape}")
        out = self.upscale_pixels(array[..., None] if array.ndim == 2 else array, outscale, progress)
        return out[..., 0] if array.ndim == 2 else out


def _passes(outscale: float) -> int:
    if not 1.0 < outscale <= 16.0:
        raise ValueError(f"outscale must be in (1, 16], got {outscale}")
    return max(1, math.ceil(math.log2(outscale) - 1e-9))


def _core_of(result: torch.Tensor, tile: Tile, scale: int) -> torch.Tensor:
    oy, ox = tile.offset
    return result[:, scale * oy : scale * (oy + tile.core.height), scale * ox : scale * (ox + tile.core.width)]


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def _lanczos(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos-resize ``(H, W, C)`` pixels to ``size = (height, width)``, per channel in float."""
    height, width = size
    planes = []
    for c in range(pixels.shape[2]):
        plane = Image.fromarray(pixels[..., c].astype(np.float32), mode="F").resize((width, height), Image.LANCZOS)
        planes.append(np.asarray(plane))
    return _round_to(pixels.dtype.type)(np.stack(planes, axis=2) / np.iinfo(pixels.dtype).max)
