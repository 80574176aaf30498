"""Small generated data for search runs: super-resolution images (FALSR), classes of images (RENAS);
the helpers both families' run tests share (the CLI in-process, a search in a child process, the
store's count of finished evaluations read while another process writes it)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli.search_cli import main as falsr_search
from falsr_zoo.search.store import STORE_FILE
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


def search(*args: str) -> tuple[int, str, str]:
    """``falsr-search ARGS`` in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(falsr_search, list(args))
    return result.exit_code, result.stdout, result.stderr


def spawn(*args: str, threads: int | None = None) -> subprocess.Popen:
    """``falsr-search ARGS -q`` in a child process (``threads``: its OMP_NUM_THREADS)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None
    return subprocess.Popen([sys.executable, "-m", "falsr_zoo.cli.search_cli", *args, "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def done_count(run: Path) -> int:
    """Evaluations stored as done in the run at ``run`` (0 before its store exists)."""
    try:
        with sqlite3.connect(f"file:{run / STORE_FILE}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM candidates WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one thread for the test. The RENAS search network is many small operators: on two
    busy cores, OpenMP's spinning barriers made an in-process smoke search some 70 times slower
    (564 s instead of 8 s) with two threads; with one it costs little even on idle cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
