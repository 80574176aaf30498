"""Small generated data for search runs: super-resolution images (FALSR), classes of images (RENAS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.train.conftest import class_folder, smooth_image

FAST = ["train.steps=6", "train.batch_size=4", "train.patch_size=16"]


@pytest.fixture(scope="session")
def search_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(training folder, validation folder)``: four 48x48 and two 40x40 generated HR images."""
    root = tmp_path_factory.mktemp("search-data")
    rng = np.random.default_rng(7)
    for folder, count, side in (("train", 4, 48), ("val", 2, 40)):
        (root / folder).mkdir()
        for index in range(count):
            Image.fromarray(smooth_image(rng, side, side)).save(root / folder / f"{index}.png")
    return root / "train", root / "val"


@pytest.fixture(scope="session")
def renas_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``DIR/<class>/<image>``: three classes of twelve generated 32x32 images (the smoke preset holds out 8)."""
    return class_folder(tmp_path_factory.mktemp("renas-data"), classes=3, per_class=12)
