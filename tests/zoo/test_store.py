"""The local store: a file already there is checked against the registry's sha256 on every load.

The corrupted file below is still a valid safetensors file of the right shapes (one weight byte
flipped), so only the checksum can tell: without the check it would load silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.cli import main
from falsr_zoo.errors import ChecksumError
from falsr_zoo.zoo.registry import get_entry
from falsr_zoo.zoo.weights import load_state_dict

FIX = "delete it and run: falsr convert path/to/FALSR-B.pb"


@pytest.fixture()
def corrupted_home(weights_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store whose FALSR-B file has one weight byte flipped (still a loadable safetensors file)."""
    home = tmp_path / "home"
    (home / "weights").mkdir(parents=True)
    stored = home / "weights" / "FALSR-B.safetensors"
    shutil.copyfile(weights_home / "weights" / "FALSR-B.safetensors", stored)
    data = bytearray(stored.read_bytes())
    data[-3] ^= 0x40  # a byte of the last tensor, not of the header
    stored.write_bytes(bytes(data))
    # it still loads, with one weight changed: the corruption is invisible without the checksum
    from falsr_zoo.families.falsr.falsr_net import FALSR

    model = FALSR(get_entry("FALSR-B").genome)
    load_state_dict(model, stored)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                       load("FALSR-B", weights=weights_home / "weights" / "FALSR-B.safetensors").state_dict().values()))
    monkeypatch.setenv("FALSR_ZOO_HOME", str(home))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    return home


def test_a_corrupted_store_file_is_refused(corrupted_home: Path) -> None:
    entry = get_entry("FALSR-B")
    with pytest.raises(ChecksumError) as info:
        load("FALSR-B")
    message = str(info.value)
    assert str(corrupted_home / "weights" / "FALSR-B.safetensors") in message
    assert f"pins {entry.weights.sha256}" in message and FIX in message


def test_the_intact_store_file_loads(store: Path) -> None:
    # the control: the same check passes on the file `falsr convert` wrote
    assert sum(p.numel() for p in load("FALSR-B").parameters()) == 324_745


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)).save(path)
    return path


def test_falsr_upscale_exits_with_status_3_and_the_fix(corrupted_home: Path, tmp_path: Path) -> None:
    # a real process: the status the shell sees, not click's result object
    env = {**os.environ, "FALSR_ZOO_HOME": str(corrupted_home), "HF_HUB_OFFLINE": "1"}
    env.pop("FALSR_ZOO_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "falsr_zoo.cli", "upscale", str(_image(tmp_path)), "--model", "FALSR-B"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and FIX in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "in_x2.png").exists()


def test_debug_variable_shows_the_traceback(corrupted_home: Path, tmp_path: Path, monkeypatch) -> None:
    source = _image(tmp_path)
    monkeypatch.delenv("FALSR_ZOO_DEBUG", raising=False)
    quiet = CliRunner().invoke(main, ["upscale", str(source), "--model", "FALSR-B"])
    assert quiet.exit_code == 3 and isinstance(quiet.exception, SystemExit)
    monkeypatch.setenv("FALSR_ZOO_DEBUG", "1")
    loud = CliRunner().invoke(main, ["upscale", str(source), "--model", "FALSR-B"])
    # the domain error itself escapes (a traceback for the user), not a one-line message
    assert isinstance(loud.exception, ChecksumError) and FIX in str(loud.exception)
    assert "Error: " not in loud.stderr
