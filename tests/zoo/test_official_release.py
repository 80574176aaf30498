"""Official weights fetched on first use from the authors' release (``FALSR_ZOO_OFFICIAL_URL``
pointing at a loopback server that serves ``../shared/falsr-official``): a good download, a 404,
a truncated file, wrong bytes, a server that hangs, nothing reachable, offline mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from falsr_zoo import load
from falsr_zoo.cli.exit_codes import EXIT_WEIGHTS
from falsr_zoo.errors import ChecksumError, WeightsNotFoundError
from falsr_zoo.zoo.registry import get_entry
from tests.conftest import NOWHERE
from tests.release_server import release_server


@pytest.fixture()
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FALSR_ZOO_HOME", str(home))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return home


def _store_files(home: Path) -> list[str]:
    weights = home / "weights"
    return sorted(str(p.relative_to(weights)) for p in weights.rglob("*")) if weights.exists() else []


def test_first_use_fetches_converts_and_installs_then_stays_offline(
    official: Path, store: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = get_entry("FALSR-C")
    with release_server(official) as (url, release):
        monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", url)
        model = load("FALSR-C", offline=False)
        assert release.requests == [f"/{entry.weights.source_path}"]
        installed = fresh_home / "weights" / "FALSR-C.safetensors"
        assert _store_files(fresh_home) == ["FALSR-C.safetensors"]  # no temporary file left
        assert installed.read_bytes() == (store / "weights" / "FALSR-C.safetensors").read_bytes()
        load("FALSR-C", offline=False)  # the next call reads the store: no request
        assert len(release.requests) == 1
    reference = load("FALSR-C", weights=store / "weights" / "FALSR-C.safetensors")
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name


@pytest.mark.parametrize("mode, error, message", [
    ("404", WeightsNotFoundError, "HTTP 404"),
    ("truncated", WeightsNotFoundError, "closed after"),
    ("wrong", ChecksumError, "not the pinned 463de824"),
])
def test_a_broken_release_leaves_nothing_in_the_store(
    official: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch, mode: str, error: type, message: str
) -> None:
    with release_server(official, mode) as (url, release):
        monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", url)
        with pytest.raises(error, match=message) as raised:
            load("FALSR-B", offline=False)
        assert len(release.requests) == 1  # one try, no retries
    assert _store_files(fresh_home) == []
    if error is WeightsNotFoundError:
        text = str(raised.value)
        assert "tried local store: no" in text and f"{url}/pretrained_model/FALSR-B.pb" in text
        assert "falsr convert path/to/FALSR-B.pb" in text


def test_a_hanging_server_times_out_with_a_clear_error(
    official: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FALSR_ZOO_DOWNLOAD_TIMEOUT", "1.5")
    with release_server(official, "hang") as (url, release):
        monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", url)
        started = time.monotonic()
        with pytest.raises(WeightsNotFoundError, match=r"no answer within 1\.5 s"):
            load("FALSR-B", offline=False)
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 10, elapsed
    assert _store_files(fresh_home) == []


def test_nothing_reachable_fails_in_under_5_s(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", NOWHERE)
    started = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match="Connection refused"):
        load("FALSR-B", offline=False)
    assert time.monotonic() - started < 5
    assert _store_files(fresh_home) == []


def test_offline_asks_nothing_and_says_how_to_fix(official: Path, fresh_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with release_server(official) as (url, release):
        monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", url)
        with pytest.raises(WeightsNotFoundError, match="not asked .network access is off") as raised:
            load("FALSR-A", offline=True)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(WeightsNotFoundError, match="unset HF_HUB_OFFLINE"):
            load("FALSR-A")
        assert release.requests == []
    assert "falsr convert path/to/FALSR-A.pb" in str(raised.value)


def test_a_file_url_mirror_works_too(official: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALSR_ZOO_OFFICIAL_URL", official.resolve().as_uri())
    load("FALSR-B", offline=False)
    assert _store_files(fresh_home) == ["FALSR-B.safetensors"]


def _falsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "falsr_zoo", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_done_criterion_fresh_upscale_equals_convert_then_upscale(official: Path, tmp_path: Path) -> None:
    """An empty store + the files on a loopback server: ``falsr upscale`` needs no other step and
    writes the bytes ``falsr convert`` + ``falsr upscale`` write; with nothing reachable it fails
    fast with one line."""
    image = tmp_path / "img.png"
    Image.open(official / "dataset" / "Set5" / "img_001_SRF_2_LR.png").crop((0, 0, 60, 44)).save(image)
    base = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    fetched_env = {**base, "FALSR_ZOO_HOME": str(tmp_path / "fetched"), "HF_HOME": str(tmp_path / "hf")}
    with release_server(official) as (url, release):
        done = _falsr({**fetched_env, "FALSR_ZOO_OFFICIAL_URL": url}, "upscale", str(image), "--model", "FALSR-B",
                      "-o", str(tmp_path / "fetched.png"))
        assert done.returncode == 0, done.stderr
        assert release.requests == ["/pretrained_model/FALSR-B.pb"]
    converted_env = {**base, "FALSR_ZOO_HOME": str(tmp_path / "converted")}
    assert _falsr(converted_env, "convert", str(official)).returncode == 0
    done = _falsr(converted_env, "upscale", str(image), "--model", "FALSR-B", "-o", str(tmp_path / "converted.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fetched.png").read_bytes() == (tmp_path / "converted.png").read_bytes()

    nowhere_env = {**base, "FALSR_ZOO_HOME": str(tmp_path / "nothing"), "FALSR_ZOO_OFFICIAL_URL": NOWHERE}
    started = time.monotonic()
    done = _falsr(nowhere_env, "upscale", str(image), "--model", "FALSR-B", "-o", str(tmp_path / "none.png"))
    elapsed = time.monotonic() - started
    assert done.returncode == EXIT_WEIGHTS
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no weights for FALSR-B: tried local store"), lines
    assert "Connection refused" in lines[0] and "falsr convert path/to/FALSR-B.pb" in lines[0]
    # The whole command, a fresh interpreter importing torch included (about 3 s on a quiet 2-core
    # machine); the failure itself takes milliseconds. The bound leaves room for a busy machine.
    assert elapsed < 15, elapsed
    assert not (tmp_path / "none.png").exists()
