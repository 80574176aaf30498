"""Super-resolution training data: image pairs decoded once, random patches drawn deterministically.

* **Inputs**: a folder of HR images (DIV2K-style; the LR images are made with the zoo's
  MATLAB-compatible bicubic, as the benchmark sets were), a folder of ``*_HR.*`` / ``*_LR.*``
  pairs (the benchmark naming), or an HR folder with a paired LR folder (``data_lr``; an LR file
  matches an HR file by name, DIV2K's ``0001x2.png`` included).
* **Cache**: each image is decoded, and its LR made, once; both are kept as uint8 ``.npy`` files
  in a cache folder and memory-mapped, so loader workers share them through the page cache and
  a second run (or a search's next evaluation) starts without decoding anything. Cache files are
  keyed by path, size and modification time and written atomically.
* **Patches**: sample ``g`` of a run (``g = step * batch + i``) is a pure function of the seed
  and ``g``: image ``permutation(seed, epoch)[g mod n]`` (one patch per image per epoch), crop
  position and one of the 8 flips/rotations drawn from a generator seeded by ``(seed, g)``. So
  the data a step sees does not depend on worker timing or on where a run was resumed.
* **Channel**: the network sees the LR luma of the release's colour path
  (:func:`~falsr_zoo.families.falsr.colour.luma_input`); the target is the same luma of the HR
  patch.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from falsr_zoo._files import discard, output_error, temporary_sibling
from falsr_zoo.errors import DatasetError
from falsr_zoo.families.falsr.colour import luma_input
from falsr_zoo.sr.evaluate import IMAGE_SUFFIXES, find_pairs, iter_pairs, read_rgb
from falsr_zoo.sr.resize import imresize

__all__ = ["PatchDataset", "SRImages", "StepSampler", "ValidationSet", "find_training_pairs", "load_validation"]

_CACHE_VERSION = "1"
_LR_NAME = re.compile(r"^(?P<stem>.*?)(?:x\d+|_LR)?$")


def find_training_pairs(data: str | os.PathLike[str], data_lr: str | os.PathLike[str] | None = None
                        ) -> list[tuple[Path, Path | None]]:
    """``(HR path, LR path or None)`` of every training image, sorted by name.

    Raises:
        DatasetError: a missing or empty folder, or an HR image without its LR partner.
    """
    if data_lr is None:
        return find_pairs(data)
    hr_dir, lr_dir = Path(data), Path(data_lr)
    for folder in (hr_dir, lr_dir):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: not a directory")
    lr_files = {}
    for path in lr_dir.iterdir():
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            lr_files.setdefault(_LR_NAME.match(path.stem).group("stem"), path)
    hr_files = sorted(p for p in hr_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not hr_files:
        raise DatasetError(f"{hr_dir}: no images")
    pairs = []
    for path in hr_files:
        stem = _LR_NAME.match(path.stem).group("stem")
        if stem not in lr_files:
            raise DatasetError(f"{path.name}: no LR image with the same name in {lr_dir}")
        pairs.append((path, lr_files[stem]))
    return pairs


def _modcrop(hr: np.ndarray, scale: int) -> np.ndarray:
    return hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]


def _make_pair(hr_path: Path, lr_path: Path | None, scale: int) -> tuple[np.ndarray, np.ndarray]:
    hr = _modcrop(read_rgb(hr_path), scale)
    if min(hr.shape[:2]) < scale:
        raise DatasetError(f"{hr_path.name}: an image of {hr.shape[1]}x{hr.shape[0]} is too small to train on")
    if lr_path is None:
        return hr, imresize(hr, 1 / scale)
    lr = read_rgb(lr_path)
    if hr.shape[0] < scale * lr.shape[0] or hr.shape[1] < scale * lr.shape[1]:
        raise DatasetError(f"{hr_path.name}: HR {hr.shape[1]}x{hr.shape[0]} is smaller than x{scale} its LR "
                           f"{lr.shape[1]}x{lr.shape[0]}")
    return hr[: scale * lr.shape[0], : scale * lr.shape[1]], lr


def _cache_key(hr_path: Path, lr_path: Path | None, scale: int) -> str:
    parts = [_CACHE_VERSION, str(scale)]
    for path in (hr_path, lr_path):
        if path is not None:
            stat = path.stat()
            parts += [str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    except OSError as err:
        discard(tmp)
        raise output_error(path, err) from None
    except BaseException:
        discard(tmp)
        raise


@dataclass
class SRImages:
    """The decoded training images: uint8 RGB HR and LR arrays (memory-mapped from the cache).

    Attributes:
        names: File names of the HR images.
        hr: HR arrays, ``(scale*h, scale*w, 3)``.
        lr: LR arrays, ``(h, w, 3)``.
        scale: The factor.
    """

    names: list[str]
    hr: list[np.ndarray]
    lr: list[np.ndarray]
    scale: int

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def load(cls, data: str | os.PathLike[str], cache_dir: str | os.PathLike[str], *, data_lr: str | None = None,
             scale: int = 2) -> SRImages:
        """Decode (or find in the cache) every training pair of ``data``.

        Raises:
            DatasetError: no images, an unreadable file, a pair of mismatched sizes.
        """
        cache = Path(cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        names, hrs, lrs = [], [], []
        for hr_path, lr_path in find_training_pairs(data, data_lr):
            key = _cache_key(hr_path, lr_path, scale)
            hr_file, lr_file = cache / f"{key}-hr.npy", cache / f"{key}-lr.npy"
            if not (hr_file.is_file() and lr_file.is_file()):
                hr, lr = _make_pair(hr_path, lr_path, scale)
                _save_npy(hr_file, np.ascontiguousarray(hr))
                _save_npy(lr_file, np.ascontiguousarray(lr))
            names.append(hr_path.name)
            hrs.append(np.load(hr_file, mmap_mode="r"))
            lrs.append(np.load(lr_file, mmap_mode="r"))
        return cls(names, hrs, lrs, scale)

    def check_patch(self, patch_size: int) -> None:
        """Raise :class:`DatasetError` if an HR patch of ``patch_size`` does not fit every image."""
        for name, hr in zip(self.names, self.hr):
            if min(hr.shape[:2]) < patch_size:
                raise DatasetError(f"patch_size {patch_size} is larger than {name} ({hr.shape[1]}x{hr.shape[0]} "
                                   "after cropping to a multiple of the scale); choose a smaller patch_size")


def _augment(array: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 symmetries of the square: ``code & 4`` transposes, ``code & 3`` rotates by 90 degrees."""
    if code & 4:
        array = array.transpose(1, 0, *range(2, array.ndim))
    return np.rot90(array, code & 3)


class PatchDataset(Dataset):
    """Training sample ``g`` -> ``(LR luma (1, p/s, p/s), HR luma (1, p, p))`` float32 tensors.

    Args:
        images: The decoded images.
        patch_size: HR patch side (a multiple of the scale that fits every image).
        seed: The run's seed.
        augment: Apply one of the 8 flips/rotations, drawn per sample.
    """

    def __init__(self, images: SRImages, patch_size: int, seed: int, augment: bool = True) -> None:
        images.check_patch(patch_size)
        self.images, self.patch, self.seed, self.augment = images, patch_size, seed, augment
        self._orders: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.images)

    def image_of(self, g: int) -> int:
        """The image sample ``g`` is cut from: one patch per image per epoch, in a seeded order."""
        epoch, position = divmod(g, len(self.images))
        order = self._orders.get(epoch)
        if order is None:
            order = np.random.default_rng([self.seed, 0x5EED, epoch]).permutation(len(self.images))
            self._orders = {epoch: order}
        return int(order[position])

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.image_of(g)
        hr, lr, scale = self.images.hr[index], self.images.lr[index], self.images.scale
        rng = np.random.default_rng([self.seed, g])
        small = self.patch // scale
        top = int(rng.integers(0, lr.shape[0] - small + 1))
        left = int(rng.integers(0, lr.shape[1] - small + 1))
        lr_patch = luma_input(lr[top : top + small, left : left + small])
        hr_patch = luma_input(hr[scale * top : scale * (top + small), scale * left : scale * (left + small)])
        if self.augment:
            code = int(rng.integers(0, 8))
            lr_patch, hr_patch = _augment(lr_patch, code), _augment(hr_patch, code)
        return (torch.from_numpy(np.ascontiguousarray(lr_patch)[None]),
                torch.from_numpy(np.ascontiguousarray(hr_patch)[None]))


class StepSampler(Sampler[list[int]]):
    """Batches of global sample indices for steps ``start .. total - 1``, this process's share.

    Step ``t`` covers samples ``t * batch .. (t + 1) * batch - 1``; with ``world`` processes, rank
    ``r`` takes the ``r``-th contiguous slice of ``batch / world`` of them.
    """

    def __init__(self, start: int, total: int, batch: int, rank: int = 0, world: int = 1) -> None:
        if batch % world:
            raise DatasetError(f"batch_size {batch} does not split evenly over {world} processes")
        self.start, self.total, self.batch, self.rank, self.world = start, total, batch, rank, world

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        local = self.batch // self.world
        for step in range(self.start, self.total):
            first = step * self.batch + self.rank * local
            yield list(range(first, first + local))


@dataclass
class ValidationSet:
    """Validation images decoded once: ``(HR file name, LR uint8 RGB, HR uint8 RGB)`` triples."""

    name: str
    items: list[tuple[str, np.ndarray, np.ndarray]]


def load_validation(directory: str | os.PathLike[str], scale: int = 2) -> ValidationSet:
    """Decode a validation folder (``*_HR``/``*_LR`` pairs or HR images) once, as ``falsr eval`` reads it."""
    return ValidationSet(Path(directory).resolve().name, list(iter_pairs(directory, scale)))
