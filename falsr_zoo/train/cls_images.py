"""Classification training data: CIFAR-10 from a local copy, or any folder of images per class.

Nothing is downloaded and nothing is unpickled:

* **CIFAR-10**, the binary version torchvision and the CIFAR site ship (``cifar-10-batches-bin``:
  ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``; records of one label byte and
  3072 pixel bytes, channel-major). A folder holding the training batches is a training set; one
  holding ``test_batch.bin`` (given as the validation folder) is the test split. The pickled
  "python version" is refused (its batches are pickles).
* **Image folders**: ``DIR/<class name>/<image>``, classes in sorted order (torchvision's
  ``ImageFolder`` convention). Images are decoded once, the shorter side resized to the training
  size and centre-cropped, and kept in memory as uint8.

Sample ``g`` of a run is a pure function of the seed and ``g`` (epoch permutation, crop, flip,
cutout), as for the super-resolution patches, so the data order survives a resume exactly.
Inputs are normalised with the layout's mean and standard deviation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from falsr_zoo.errors import DatasetError
from falsr_zoo.families.renas.plan import CIFAR10_LABELS

__all__ = ["ClassImages", "ClassSampleDataset", "load_class_images"]

_RECORD = 1 + 32 * 32 * 3
_TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_TEST_BATCH = "test_batch.bin"
_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class ClassImages:
    """Images ``(N, S, S, 3)`` uint8, labels ``(N,)`` int64 and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, count: int, seed: int) -> tuple[ClassImages, ClassImages]:
        """``(rest, held out)``: ``count`` images held out by a seeded permutation (for validation)."""
        if not 0 < count < len(self):
            raise DatasetError(f"cannot hold out {count} of {len(self)} images for validation")
        order = np.random.default_rng([seed, 0xC1A55]).permutation(len(self))
        keep, held = np.sort(order[count:]), np.sort(order[:count])
        return (ClassImages(self.images[keep], self.labels[keep], self.classes),
                ClassImages(self.images[held], self.labels[held], self.classes))


def _read_cifar_batches(paths: list[Path]) -> ClassImages:
    chunks = []
    for path in paths:
        data = np.fromfile(path, dtype=np.uint8)
        if data.size == 0 or data.size % _RECORD:
            raise DatasetError(f"{path}: not a CIFAR-10 binary batch ({data.size} bytes is not a multiple of {_RECORD})")
        chunks.append(data.reshape(-1, _RECORD))
    records = np.concatenate(chunks)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_LABELS):
        raise DatasetError(f"{paths[0].parent}: labels up to {labels.max()}; not CIFAR-10 (10 classes)")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return ClassImages(np.ascontiguousarray(images), labels, CIFAR10_LABELS)


def _square(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            width, height = image.size
            scale = size / min(width, height)
            image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.BILINEAR)
            width, height = image.size
            left, top = (width - size) // 2, (height - size) // 2
            return np.asarray(image.crop((left, top, left + size, top + size)))
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read image ({err})") from None


def _read_folder(root: Path, size: int) -> ClassImages:
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise DatasetError(f"{root}: no class folders (expected DIR/<class>/<images>, or CIFAR-10 binary batches)")
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
        images += [_square(path, size) for path in files]
        labels += [label] * len(files)
    if not images:
        raise DatasetError(f"{root}: the class folders hold no images")
    return ClassImages(np.stack(images), np.asarray(labels, dtype=np.int64), classes)


def load_class_images(directory: str | os.PathLike[str], size: int, *, split: str = "train") -> ClassImages:
    """A classification set from a folder.

    Args:
        directory: CIFAR-10 binary batches (``cifar-10-batches-bin``, or a folder containing it),
            or ``DIR/<class>/<images>``.
        size: Image side (CIFAR-10 is 32).
        split: ``"train"`` (the five training batches) or ``"test"`` (``test_batch.bin``) for
            CIFAR-10; image folders are read whole.

    Raises:
        DatasetError: a missing folder, no images, a pickled CIFAR copy, a wrong image size.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    for candidate in (root, root / "cifar-10-batches-bin"):
        names = _TRAIN_BATCHES if split == "train" else (_TEST_BATCH,)
        found = [candidate / name for name in names if (candidate / name).is_file()]
        if found:
            if size != 32:
                raise DatasetError(f"CIFAR-10 images are 32x32; image_size is {size}")
            return _read_cifar_batches(found)
    if (root / "data_batch_1").is_file() or (root / "cifar-10-batches-py").is_dir():
        raise DatasetError(f"{root}: this is CIFAR-10's pickled python version, which falsr-zoo does not unpickle; "
                           "use the binary version (cifar-10-batches-bin)")
    return _read_folder(root, size)


class ClassSampleDataset(Dataset):
    """Sample ``g`` -> ``(normalised image (3, S, S) float32, label)``, deterministic in ``(seed, g)``.

    Args:
        data: The images.
        mean: Per-channel mean for pixels in [0, 1].
        std: Per-channel standard deviation.
        seed: The run's seed.
        augment: Random crop from the image padded by 4 pixels, and horizontal flips.
        cutout: Side of a square zeroed at a random centre (0: off), after normalisation.
        train: ``False``: index ``g`` is the image ``g`` itself, untouched (validation).
    """

    def __init__(self, data: ClassImages, mean: tuple[float, ...], std: tuple[float, ...], seed: int = 0,
                 augment: bool = False, cutout: int = 0, train: bool = True) -> None:
        self.data, self.seed, self.augment, self.cutout, self.train = data, seed, augment, cutout, train
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
        self._orders: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.data)

    def _index(self, g: int) -> int:
        if not self.train:
            return g
        epoch, position = divmod(g, len(self.data))
        order = self._orders.get(epoch)
        if order is None:
            order = np.random.default_rng([self.seed, 0x5EED, epoch]).permutation(len(self.data))
            self._orders = {epoch: order}
        return int(order[position])

    def __getitem__(self, g: int) -> tuple[torch.Tensor, int]:
        index = self._index(g)
        image = self.data.images[index]
        rng = np.random.default_rng([self.seed, g]) if self.train else None
        if rng is not None and self.augment:
            size = image.shape[0]
            padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
            top, left = (int(v) for v in rng.integers(0, 9, size=2))
            image = padded[top : top + size, left : left + size]
            if rng.integers(0, 2):
                image = image[:, ::-1]
        x = (image.transpose(2, 0, 1).astype(np.float32) / 255.0 - self.mean) / self.std
        if rng is not None and self.cutout:
            cy, cx = (int(v) for v in rng.integers(0, x.shape[1], size=2))
            half = self.cutout // 2
            x[:, max(0, cy - half) : cy + half, max(0, cx - half) : cx + half] = 0.0
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.data.labels[index])
