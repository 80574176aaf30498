"""The weights' licence status: a registry fact, stated in the cards, warned about by ``falsr push``.

The authors' FALSR release states no licence, so the FALSR entries carry the Hub's ``unknown``;
every card's header and Weights section say what the registry says, and publishing a directory
whose network is one of those models warns once, before anything is uploaded.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from falsr_zoo.api import load
from falsr_zoo.cards import render_card
from falsr_zoo.zoo import model_dir
from falsr_zoo.zoo.model_dir import ModelConfig, license_warning, read_model_dir
from falsr_zoo.zoo.registry import UNKNOWN_LICENSE, get_entry, list_entries
from tests.hub_server import local_hub

OWN_GENOME = "conv f16 k1 b1 noskip <- 0; out <- 0,1"


def test_the_authors_falsr_weights_have_no_known_licence() -> None:
    for name in ("FALSR-A", "FALSR-B", "FALSR-C"):
        entry = get_entry(name)
        assert entry.weights.source_url == "https://github.com/xiaomi-automl/FALSR"
        assert entry.license == UNKNOWN_LICENSE and not entry.license_known
        assert "states no licence" in entry.license_notes


@pytest.mark.parametrize("entry", list_entries(), ids=lambda e: e.name)
def test_each_card_states_the_registrys_licence(entry) -> None:
    card = ModelCard(render_card(entry))
    assert card.data.license == entry.license and "license_name" not in card.data.to_dict()
    weights_section = card.text.split("## Weights", 1)[1].split("\n## ", 1)[0]
    assert entry.license_notes in weights_section
    if entry.weights is not None:
        assert f"Licence of the weights: `{entry.license}`." in weights_section


def _config(genome: str, family: str = "falsr", options: dict | None = None) -> ModelConfig:
    task = "image-super-resolution" if family == "falsr" else "image-classification"
    return ModelConfig(family=family, genome=genome, task=task, options=options or {})


def test_the_warning_names_the_model_and_the_source_only_where_the_licence_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    falsr_b = get_entry("FALSR-B")
    line = license_warning(_config(falsr_b.genome), "mine")
    assert line == ("licence unknown: mine holds a FALSR-B network; if its weights are (or were fine-tuned from) "
                    "the official FALSR-B weights, no licence covers them (https://github.com/xiaomi-automl/FALSR "
                    "states none): ask their authors before publishing")
    assert license_warning(_config(OWN_GENOME), "mine") is None  # an architecture of your own
    cifar = get_entry("RENASNet-CIFAR10")  # no weights published: nothing to inherit terms from
    assert license_warning(_config(cifar.genome, "renas", {**cifar.options, "aux_head": True}), "mine") is None
    licensed = dataclasses.replace(falsr_b, license="mit")
    monkeypatch.setattr(model_dir, "zoo_architecture", lambda config: licensed)
    assert license_warning(_config(falsr_b.genome), "mine") is None


def _push(directory: Path, endpoint: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home / "hf"), "HF_TOKEN": "hf_loopback_test_token",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NO_PROXY": "127.0.0.1",
           "no_proxy": "127.0.0.1"}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run([sys.executable, "-m", "falsr_zoo", "push", str(directory), "me/mine"], env=env,
                          capture_output=True, text=True, timeout=300)


def test_falsr_push_warns_once_before_uploading(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    load("FALSR-B", pretrained=False).save_pretrained(directory)
    warning = license_warning(read_model_dir(directory)[0], directory)
    with local_hub() as (endpoint, hub):
        done = _push(directory, endpoint, tmp_path)
        assert done.returncode == 0, done.stderr
        assert ("me/mine", "main") in hub.branches
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        f"WARNING falsr_zoo.zoo.model_dir: {warning}"]
    # before the upload: with no Hub to reach, the warning comes first, then the push's own error
    refused = _push(directory, "http://127.0.0.1:9", tmp_path)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode != 0 and len(lines) == 2
    assert lines[0].endswith(warning) and lines[1].startswith("Error: pushing")


def test_falsr_push_of_an_architecture_of_your_own_does_not_warn(tmp_path: Path) -> None:
    directory = tmp_path / "own"
    load(genome=OWN_GENOME).save_pretrained(directory)
    with local_hub() as (endpoint, hub):
        done = _push(directory, endpoint, tmp_path)
    assert done.returncode == 0 and "licence" not in done.stderr, done.stderr
