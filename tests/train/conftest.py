"""Small generated data sets for the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TINY = "conv f16 k3 b1 noskip <- 0; out <- 0,1"
TINY_CELL = "{0, 1, sep3x3, identity}; {2, 1, avg3x3, sep3x3}"
TINY_RENAS = ["layout=cifar10", "num_cells=1", "filters=8"]


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A photo-like RGB image: a few octaves of smooth noise plus hard edges."""
    image = np.zeros((height, width, 3), np.float64)
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        coarse = rng.random((cells, cells, 3))
        image += weight * np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height),
                                                                                                Image.BICUBIC)) / 255
    image /= 1.75
    for _ in range(3):
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        image[y0:y0 + height // 4, x0:x0 + width // 4] = rng.random(3)
    return np.clip(image * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def hr_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four generated 64x48 HR images."""
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for index in range(4):
        Image.fromarray(smooth_image(rng, 48, 64)).save(folder / f"{index:04d}.png")
    return folder


def class_folder(root: Path, classes: int = 3, per_class: int = 30, size: int = 32, seed: int = 0) -> Path:
    """``root/<class>/<image>.png``: each class a colour and an orientation of stripes, plus noise."""
    palette = np.random.default_rng(1234).integers(40, 216, (classes, 3))  # the classes, equal in every split
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for label in range(classes):
        (root / f"class{label}").mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            stripes = np.sin((xx if label % 2 else yy) * (0.6 + 0.3 * label) + rng.random() * 6)[..., None]
            image = palette[label] + 40 * stripes + rng.normal(0, 25, (size, size, 3))
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / f"class{label}" / f"{index}.png")
    return root
