"""Weights from the Hub, end to end against a real HTTP server on 127.0.0.1 (``HF_ENDPOINT``).

Each case runs ``load`` in a fresh process, since ``huggingface_hub`` reads ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE`` when it is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from falsr_zoo.zoo.registry import get_entry
from tests.hub_server import local_hub

LOAD = "import sys; from falsr_zoo import load; m = load(sys.argv[1]); print('loaded', sum(p.numel() for p in m.parameters()))"


def _run(home: Path, endpoint: str, name: str = "FALSR-B", offline: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "FALSR_ZOO_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HOME": str(home / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("HF_HUB_OFFLINE", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-c", LOAD, name], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def official_b(weights_home: Path) -> bytes:
    return (weights_home / "weights" / "FALSR-B.safetensors").read_bytes()


def test_good_download_lands_in_the_store(tmp_path: Path, official_b: bytes) -> None:
    spec = get_entry("FALSR-B").weights
    with local_hub() as (endpoint, hub):
        hub.add(spec.repo_id, spec.revision, spec.filename, official_b)
        done = _run(tmp_path, endpoint)
        assert done.returncode == 0, done.stderr
        assert "loaded 324745" in done.stdout
        assert any(r.startswith("GET /blobs/") for r in hub.requests)
        assert any(f"/resolve/{spec.revision}/" in r for r in hub.requests)  # the pinned revision
    stored = tmp_path / "weights" / "FALSR-B.safetensors"
    assert stored.read_bytes() == official_b
    assert sorted(p.name for p in stored.parent.iterdir()) == ["FALSR-B.safetensors"]
    # and now it loads offline from the store, without the server
    assert _run(tmp_path, "http://127.0.0.1:9", offline=True).returncode == 0


def test_404_names_the_fix(tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        done = _run(tmp_path, endpoint)
        assert any("/resolve/" in r for r in hub.requests)
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert "WeightsNotFoundError" in message
    assert "falsr convert path/to/FALSR-B.pb" in message
    assert not (tmp_path / "weights" / "FALSR-B.safetensors").exists()


def test_corrupted_download_is_refused_and_not_kept(tmp_path: Path, official_b: bytes) -> None:
    spec = get_entry("FALSR-B").weights
    corrupted = bytearray(official_b)
    corrupted[-10] ^= 0xFF
    with local_hub() as (endpoint, hub):
        # the server advertises the right sha256 but sends other bytes
        hub.add(spec.repo_id, spec.revision, spec.filename, bytes(corrupted), advertised_sha256=spec.sha256)
        done = _run(tmp_path, endpoint)
    assert done.returncode != 0
    assert "ChecksumError" in done.stderr and spec.sha256 in done.stderr
    weights_dir = tmp_path / "weights"
    leftovers = [p for p in weights_dir.rglob("*") if p.is_file()] if weights_dir.exists() else []
    assert leftovers == []


def test_offline_mode_does_not_touch_the_network(tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        done = _run(tmp_path, endpoint, offline=True)
        assert hub.requests == []
    assert done.returncode != 0
    assert "falsr convert path/to/FALSR-B.pb" in done.stderr
