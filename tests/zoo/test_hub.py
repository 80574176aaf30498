"""Zoo weights from a published Hub repository, end to end against the loopback Hub (``HF_ENDPOINT``).

No zoo entry names a Hub repository today (FALSR's weights come from the authors' release), so
each case registers a copy of FALSR-B whose weights are published at ``falsr-zoo/FALSR-B@v1.0``,
in a fresh process: ``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` when imported.
The authors' release is unreachable here (``FALSR_ZOO_OFFICIAL_URL`` points at a closed port), so
the Hub is the only source that can answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from falsr_zoo.zoo.registry import get_entry
from tests.hub_server import local_hub

REPO, REVISION, FILENAME = "falsr-zoo/FALSR-B", "v1.0", "model.safetensors"
LOAD = f"""
import dataclasses, sys
from falsr_zoo import load
from falsr_zoo.zoo.registry import get_entry, register
entry = get_entry("FALSR-B")
weights = dataclasses.replace(entry.weights, repo_id="{REPO}", revision="{REVISION}", filename="{FILENAME}")
register(dataclasses.replace(entry, name="FALSR-B-hub", weights=weights))
m = load("FALSR-B-hub")
print("loaded", sum(p.numel() for p in m.parameters()))
"""


def _run(home: Path, endpoint: str, offline: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "FALSR_ZOO_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HOME": str(home / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("HF_HUB_OFFLINE", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def official_b(weights_home: Path) -> bytes:
    return (weights_home / "weights" / "FALSR-B.safetensors").read_bytes()


def test_good_download_lands_in_the_store(tmp_path: Path, official_b: bytes) -> None:
    with local_hub() as (endpoint, hub):
        hub.add(REPO, REVISION, FILENAME, official_b)
        done = _run(tmp_path, endpoint)
        assert done.returncode == 0, done.stderr
        assert "loaded 324745" in done.stdout
        assert any(r.startswith("GET /blobs/") for r in hub.requests)
        assert any(f"/resolve/{REVISION}/" in r for r in hub.requests)  # the pinned revision
    stored = tmp_path / "weights" / "FALSR-B-hub.safetensors"
    assert stored.read_bytes() == official_b
    assert sorted(p.name for p in stored.parent.iterdir()) == ["FALSR-B-hub.safetensors"]
    assert not (tmp_path / "hf" / "hub").exists()  # downloaded straight into the store, not cached twice
    # and now it loads offline from the store, without the server
    assert _run(tmp_path, "http://127.0.0.1:9", offline=True).returncode == 0


def test_404_lists_both_sources_and_names_the_fix(tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        done = _run(tmp_path, endpoint)
        assert any("/resolve/" in r for r in hub.requests)
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert "WeightsNotFoundError" in message
    assert f"Hub: the Hub has no {REPO}@{REVISION}/{FILENAME}" in message
    assert "authors' release: http://127.0.0.1:9/pretrained_model/FALSR-B.pb" in message
    assert "falsr convert path/to/FALSR-B.pb" in message
    assert not (tmp_path / "weights" / "FALSR-B-hub.safetensors").exists()


def test_corrupted_download_is_refused_and_not_kept(tmp_path: Path, official_b: bytes) -> None:
    sha256 = get_entry("FALSR-B").weights.sha256
    corrupted = bytearray(official_b)
    corrupted[-10] ^= 0xFF
    with local_hub() as (endpoint, hub):
        # the server advertises the right sha256 but sends other bytes
        hub.add(REPO, REVISION, FILENAME, bytes(corrupted), advertised_sha256=sha256)
        done = _run(tmp_path, endpoint)
    assert done.returncode != 0
    assert "ChecksumError" in done.stderr and sha256 in done.stderr
    weights_dir = tmp_path / "weights"
    leftovers = [p for p in weights_dir.rglob("*") if p.is_file()] if weights_dir.exists() else []
    assert leftovers == []


def test_offline_mode_does_not_touch_the_network(tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        done = _run(tmp_path, endpoint, offline=True)
        assert hub.requests == []
    assert done.returncode != 0
    assert "not asked (network access is off" in done.stderr
    assert "falsr convert path/to/FALSR-B.pb" in done.stderr


def test_an_unreachable_hub_costs_one_attempt_and_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, "http://127.0.0.1:9")
    assert done.returncode != 0
    assert "Retrying" not in done.stderr and "WARNING" not in done.stderr
    assert "Hub: cannot reach the Hub for falsr-zoo/FALSR-B@v1.0/model.safetensors" in done.stderr
