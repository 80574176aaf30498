"""Evaluating a super-resolution model on a test set with the release's protocol.

A data directory holds ``<name>_HR.<ext>`` / ``<name>_LR.<ext>`` pairs, as the official release
does. When it holds HR images only, LR images are made with MATLAB-compatible bicubic
downscaling (:func:`falsr_zoo.sr.resize.imresize`) of the HR image cropped to a multiple of the
scale, the way the standard benchmarks were made. Images are read as RGB (grayscale is
expanded, as the release's ``imread(mode='RGB')`` does). An HR image larger than the SR output
is cropped to it (top-left). Metrics: :mod:`falsr_zoo.sr.metrics`. The papers' baseline,
bicubic upscaling, is MATLAB's ``imresize`` (:func:`bicubic_upscale`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from falsr_zoo.errors import DatasetError, ImageError
from falsr_zoo.imageio import Picture, write_picture
from falsr_zoo.sr.metrics import psnr, ssim
from falsr_zoo.sr.resize import imresize

__all__ = ["EvalResult", "bicubic_upscale", "evaluate", "find_pairs", "iter_pairs", "read_rgb", "sr_image_name"]

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
_HR = re.compile(r"^(?P<stem>.*)_HR$")


@dataclass
class EvalResult:
    """Per-image and mean metrics of one model on one data set."""

    model: str
    dataset: str
    images: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean([m["psnr"] for m in self.images.values()]))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean([m["ssim"] for m in self.images.values()]))

    def to_json(self) -> dict[str, Any]:
        """``{"model", "dataset", "mean_psnr", "mean_ssim", "images": {HR name: {"psnr", "ssim"}}}``."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "mean_psnr": self.mean_psnr,
            "mean_ssim": self.mean_ssim,
            "images": self.images,
        }


def read_rgb(path: Path) -> np.ndarray:
    """A file as uint8 RGB; an unreadable file is an :class:`ImageError` naming it."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise ImageError(f"{path}: cannot read image ({err})") from None


def find_pairs(directory: str | os.PathLike[str]) -> list[tuple[Path, Path | None]]:
    """``(HR path, LR path or None)`` for every HR image of ``directory``, sorted by name.

    Files named ``*_HR.*`` pair with ``*_LR.*``; without any ``*_HR`` file, every image is an HR
    image with no LR.

    Raises:
        DatasetError: if the directory does not exist or holds no images.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: not a directory")
    images = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    hr = [p for p in images if _HR.match(p.stem)]
    if not hr:
        hr = [p for p in images if not p.stem.endswith("_LR")]
        if not hr:
            raise DatasetError(f"{directory}: no images (expected *_HR / *_LR pairs or HR images)")
        return [(p, None) for p in hr]
    by_stem = {p.stem: p for p in images}
    return [(p, by_stem.get(f"{_HR.match(p.stem).group('stem')}_LR")) for p in hr]


def _lr_from_hr(hr: np.ndarray, scale: int) -> np.ndarray:
    height, width = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    if height == 0 or width == 0:
        raise ImageError(f"HR image of shape {hr.shape[:2]} is smaller than the scale {scale}")
    return imresize(hr[:height, :width], 1 / scale)


def iter_pairs(directory: str | os.PathLike[str], scale: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(HR file name, LR uint8 RGB, HR uint8 RGB)`` for every pair of ``directory``."""
    for hr_path, lr_path in find_pairs(directory):
        hr = read_rgb(hr_path)
        lr = read_rgb(lr_path) if lr_path is not None else _lr_from_hr(hr, scale)
        yield hr_path.name, lr, hr


def bicubic_upscale(lr: np.ndarray, scale: int = 2) -> np.ndarray:
    """The papers' bicubic baseline: MATLAB's ``imresize(lr, scale, 'bicubic')`` of uint8 RGB."""
    return imresize(lr, scale)


def sr_image_name(hr_name: str) -> str:
    """``img_001_SRF_2_HR.png`` -> ``img_001_SRF_2_SR.png``; ``baby.png`` -> ``baby_SR.png``."""
    stem = Path(hr_name).stem
    match = _HR.match(stem)
    return f"{match.group('stem') if match else stem}_SR.png"


def evaluate(
    upscale: Callable[[np.ndarray], np.ndarray],
    directory: str | os.PathLike[str],
    *,
    model: str,
    scale: int = 2,
    border: int = 2,
    save_dir: str | os.PathLike[str] | None = None,
) -> EvalResult:
    """Run ``upscale`` (uint8 RGB LR -> uint8 RGB SR) over a data set and score it.

    Args:
        upscale: The upscaling function, e.g. ``lambda lr: upscale_array(net, lr)``.
        directory: The data set.
        model: Model name for the report.
        scale: Upscaling factor (for making LR images from HR-only sets).
        border: Pixels cropped from each side before scoring.
        save_dir: Also write each SR image there as PNG (:func:`sr_image_name`), atomically.

    Raises:
        DatasetError: on an empty directory or an SR/HR size mismatch.
    """
    result = EvalResult(model=model, dataset=Path(directory).resolve().name)
    for name, lr, hr in iter_pairs(directory, scale):
        sr = upscale(lr)
        if save_dir is not None:
            write_picture(Picture(pixels=sr), Path(save_dir) / sr_image_name(name))
        if hr.shape[0] < sr.shape[0] or hr.shape[1] < sr.shape[1]:
            raise DatasetError(f"{name}: HR image {hr.shape[:2]} is smaller than the SR output {sr.shape[:2]}")
        hr = hr[: sr.shape[0], : sr.shape[1]]
        result.images[name] = {"psnr": psnr(sr, hr, border), "ssim": ssim(sr, hr, border)}
    return result
