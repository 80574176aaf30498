"""Shared fixtures: the official release beside the project, and a store of converted weights."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

SHARED = Path(os.environ.get("FALSR_ZOO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
OFFICIAL = SHARED / "falsr-official"
ALLOW_MISSING = os.environ.get("FALSR_ZOO_ALLOW_MISSING_SHARED") == "1"
MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")


NOWHERE = "http://127.0.0.1:9"
"""A loopback URL nothing listens on (port 9, discard): connections are refused at once."""


@pytest.fixture(scope="session", autouse=True)
def no_real_hosts() -> Iterator[None]:
    """Tests never reach a real host: the authors' release URL (fetched on first use) points at
    a closed loopback port unless a test serves the files itself; subprocesses inherit it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FALSR_ZOO_OFFICIAL_URL", NOWHERE)
        yield


@pytest.fixture(scope="session")
def official() -> Path:
    """``../shared/falsr-official``. Missing data fails the test loudly (CI has it); set
    ``FALSR_ZOO_ALLOW_MISSING_SHARED=1`` to skip such tests deliberately on a machine without it."""
    if not (OFFICIAL / "pretrained_model").is_dir():
        message = f"official FALSR release not found at {OFFICIAL} (set FALSR_ZOO_SHARED)"
        if ALLOW_MISSING:
            pytest.skip(message)
        pytest.fail(message)
    return OFFICIAL


@pytest.fixture(scope="session")
def reference_metrics(official: Path) -> dict:
    return json.loads((official / "reference_metrics_Set5_Set14.json").read_text())


@pytest.fixture(scope="session")
def weights_home(official: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``FALSR_ZOO_HOME`` filled by converting the three official graphs (pins checked)."""
    from falsr_zoo.families.falsr.convert import convert_release

    home = tmp_path_factory.mktemp("falsr-home")
    saved = os.environ.get("FALSR_ZOO_HOME")
    os.environ["FALSR_ZOO_HOME"] = str(home)
    try:
        converted = list(convert_release([official / "pretrained_model"]))
    finally:
        if saved is None:
            os.environ.pop("FALSR_ZOO_HOME")
        else:
            os.environ["FALSR_ZOO_HOME"] = saved
    assert sorted(c.entry.name for c in converted) == list(MODELS)
    return home


@pytest.fixture()
def store(weights_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the store at the converted official weights for one test."""
    monkeypatch.setenv("FALSR_ZOO_HOME", str(weights_home))
    return weights_home


@pytest.fixture()
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store, offline: nothing can be loaded unless a test provides it."""
    monkeypatch.setenv("FALSR_ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "home"
