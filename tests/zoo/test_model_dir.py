"""Model directories: save -> load round trips for every zoo entry, deterministic bytes, the card,
and the failure modes (tampered weights, foreign files, bad metrics, ambiguous references)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from falsr_zoo import load
from falsr_zoo.api import read_config
from falsr_zoo.cards import render_directory_card
from safetensors.torch import load_file

from falsr_zoo.errors import ChecksumError, ModelDirError, WeightsMismatchError, WeightsNotFoundError
from falsr_zoo.families.falsr.falsr_net import FALSR, GENOME_KEY, genome_tensor
from falsr_zoo.families.renas.renas_net import RENASNet
from falsr_zoo.families.table import get_family
from falsr_zoo.zoo.model_dir import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, ModelConfig, read_model_dir
from falsr_zoo.zoo.registry import ModelEntry, list_entries
from falsr_zoo.zoo.weights import write_safetensors

ENTRIES = list_entries()
TINY = "conv f32 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"
METRICS = {"Set5": {"psnr": 37.6141, "ssim": 0.9585}, "Set14": {"psnr": 33.2916}}


def _inputs(model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    if get_family(model.family).task == "image-super-resolution":
        return torch.rand(2, 1, 11, 13, generator=generator), torch.rand(2, 2, 22, 26, generator=generator) - 0.5
    side = max(model.image_size // 7, 16)  # global pooling takes any size; small keeps RENAS cheap (32 / 16)
    return (torch.rand(1, 3, side, side, generator=generator),)


def _zoo_model(entry: ModelEntry) -> torch.nn.Module:
    torch.manual_seed(1)
    return load(entry.name) if entry.weights else load(entry.name, pretrained=False)


@pytest.fixture()
def one_thread() -> None:
    """RENAS networks run hundreds of small operators; on a busy 2-core machine OpenMP's barriers
    between them cost seconds each with two threads, and nothing here depends on the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_zoo_model_round_trips_with_identical_outputs(
    entry: ModelEntry, store: Path, tmp_path: Path, one_thread: None
) -> None:
    model = _zoo_model(entry)
    model.save_pretrained(tmp_path / "a", metrics=METRICS)
    reloaded = load(tmp_path / "a")
    assert type(reloaded) is type(model) and not reloaded.training
    assert str(reloaded.genome) == entry.genome
    with torch.inference_mode():
        assert torch.equal(model(*_inputs(model)), reloaded(*_inputs(model)))
    # deterministic: saving again, and saving the reloaded module, give the same bytes
    model.save_pretrained(tmp_path / "b", metrics=METRICS)
    reloaded.save_pretrained(tmp_path / "c", metrics=METRICS)
    for name in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME):
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name


def test_config_records_family_genome_options_task_metrics(store: Path, tmp_path: Path) -> None:
    load("FALSR-B").save_pretrained(tmp_path / "b", metrics=METRICS)
    config = json.loads((tmp_path / "b" / CONFIG_NAME).read_text())
    assert config["family"] == "falsr" and config["task"] == "image-super-resolution" and config["scale"] == 2
    assert config["genome"] == next(e.genome for e in ENTRIES if e.name == "FALSR-B")
    assert config["options"] == {} and config["metrics"] == METRICS and config["format_version"] == 1
    assert list(config) == sorted(config)
    load("RENASNet-CIFAR10", pretrained=False, options={"aux_head": True}).save_pretrained(tmp_path / "r")
    options = read_config(tmp_path / "r").options
    assert options["layout"] == "cifar10" and options["append_input0"] is False and options["aux_head"] is True
    assert read_config(tmp_path / "r").scale is None


def test_the_card_is_the_card_codes_rendering_with_the_metrics(store: Path, tmp_path: Path) -> None:
    load("FALSR-B").save_pretrained(tmp_path / "b", metrics=METRICS)
    config, _ = read_model_dir(tmp_path / "b")
    card = (tmp_path / "b" / CARD_NAME).read_text()
    assert card == render_directory_card(config)
    assert "library_name: falsr-zoo" in card and "pipeline_tag: image-to-image" in card
    assert "value: 37.6141" in card and "| Set5 | PSNR (Y, dB) 37.6141, SSIM (Y) 0.9585 |" in card
    assert "Its architecture is the zoo's FALSR-B." in card and config.weights_sha256 in card
    assert "324,745" in card  # parameters counted from the genome
    model = load(genome=TINY)
    assert str(model.generate_model_card()) == render_directory_card(model.model_config())


def test_card_renderer_can_be_passed_in(tmp_path: Path) -> None:
    load(genome=TINY).save_pretrained(tmp_path / "t", card=lambda config: f"# {config.genome}\n")
    assert (tmp_path / "t" / CARD_NAME).read_text() == f"# {TINY}\n"


def test_tampered_or_foreign_weights_are_refused(tmp_path: Path) -> None:
    load(genome=TINY).save_pretrained(tmp_path / "t")
    load(genome="conv f16 k1 b1 noskip <- 0; out <- 0,1").save_pretrained(tmp_path / "u")
    weights = tmp_path / "t" / WEIGHTS_NAME
    # weights of another model under this config: the recorded sha256 catches it
    weights.write_bytes((tmp_path / "u" / WEIGHTS_NAME).read_bytes())
    with pytest.raises(ChecksumError, match="records"):
        load(tmp_path / "t")
    # a config without a sha256 still cannot load another genome's weights
    config = json.loads((tmp_path / "t" / CONFIG_NAME).read_text())
    config["weights_sha256"] = ""
    (tmp_path / "t" / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="holds weights for genome"):
        load(tmp_path / "t")


def test_malformed_directories_give_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelDirError, match="has no config.json"):
        load(tmp_path / "empty")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load("./no-such-model-dir")
    load(genome=TINY).save_pretrained(tmp_path / "t")
    config = json.loads((tmp_path / "t" / CONFIG_NAME).read_text())
    (tmp_path / "t" / CONFIG_NAME).write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ModelDirError, match="format_version 99"):
        load(tmp_path / "t")
    (tmp_path / "t" / CONFIG_NAME).write_text("{not json")
    with pytest.raises(ModelDirError, match="is not JSON"):
        load(tmp_path / "t")
    load(genome=TINY).save_pretrained(tmp_path / "t")
    (tmp_path / "t" / WEIGHTS_NAME).unlink()
    with pytest.raises(WeightsNotFoundError, match="has no model.safetensors"):
        load(tmp_path / "t")


def test_a_family_class_refuses_another_familys_directory(tmp_path: Path) -> None:
    load("RENASNet-CIFAR10", pretrained=False).save_pretrained(tmp_path / "r")
    with pytest.raises(ModelDirError, match="holds a renas model, not a falsr one"):
        FALSR.from_pretrained(tmp_path / "r")
    assert isinstance(RENASNet.from_pretrained(tmp_path / "r"), RENASNet)


@pytest.mark.parametrize("metrics, message", [
    ({"Set5": {"psnr": float("nan")}}, "not a finite number"),
    ({"Set5": {"psnr": "high"}}, "must be a number"),
    ({"Set5": 37.6}, "must be a data set name mapping"),
])
def test_bad_metrics_write_nothing(metrics: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match=message):
        load(genome=TINY).save_pretrained(tmp_path / "t", metrics=metrics)
    assert not (tmp_path / "t").exists() or list((tmp_path / "t").iterdir()) == []


def test_zoo_names_win_over_directories_and_paths_never_look_up_the_zoo(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    load(genome=TINY).save_pretrained(tmp_path / "FALSR-B")
    assert str(load("FALSR-B").genome) != TINY  # the zoo model, not the directory
    assert str(load("./FALSR-B").genome) == TINY
    with pytest.raises(ValueError, match="applies to hf-hub: references"):
        load("./FALSR-B", revision="abc")
    with pytest.raises(ValueError, match="weights= and options= do not apply"):
        load("./FALSR-B", weights="x.safetensors")
    untrained = load("./FALSR-B", pretrained=False)
    assert not torch.equal(untrained.stem.weight, load("./FALSR-B").stem.weight)


def test_model_config_validates_its_fields() -> None:
    with pytest.raises(ModelDirError, match="'scale' must be a positive integer"):
        ModelConfig(family="falsr", genome=TINY, task="image-super-resolution", scale=0)
    with pytest.raises(ModelDirError, match="'genome' must be a non-empty string"):
        ModelConfig(family="falsr", genome="", task="image-super-resolution")
    config = ModelConfig(family="falsr", genome=TINY, task="image-super-resolution", scale=2, metrics=METRICS)
    assert ModelConfig.from_json(config.to_json()) == config


def _rewrite_weights(directory: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Replace a directory's weights and record their sha256 in its config (a directory written so)."""
    digest = write_safetensors(state, directory / WEIGHTS_NAME, metadata)
    config = json.loads((directory / CONFIG_NAME).read_text())
    (directory / CONFIG_NAME).write_text(json.dumps({**config, "weights_sha256": digest}))


def test_a_falsr_directorys_weights_carry_the_genome_and_older_ones_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load(genome=TINY)
    model.save_pretrained(tmp_path / "t")
    state = load_file(tmp_path / "t" / WEIGHTS_NAME)
    # the genome as a tensor (what spandrel, seeing only tensors, rebuilds the network from)
    assert set(state) == set(model.state_dict()) | {GENOME_KEY}
    assert torch.equal(state[GENOME_KEY], genome_tensor(model.genome)) and state[GENOME_KEY].dtype == torch.uint8
    assert bytes(state[GENOME_KEY].tolist()).decode() == str(model.genome)
    # the file loads as weights of its genome, too
    with torch.inference_mode():
        expected = model(*_inputs(model))
        assert torch.equal(load(genome=TINY, weights=tmp_path / "t" / WEIGHTS_NAME)(*_inputs(model)), expected)
        # a directory saved before the genome tensor existed loads as it did
        _rewrite_weights(tmp_path / "t", model.state_dict(), {"family": "falsr", "genome": TINY})
        assert torch.equal(load(tmp_path / "t")(*_inputs(model)), expected)
    # a genome tensor of another architecture is refused even where no metadata names the genome
    other = "conv f32 k3 b2 noskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"
    _rewrite_weights(tmp_path / "t", {**model.state_dict(), GENOME_KEY: genome_tensor(load(genome=other).genome)}, {})
    with pytest.raises(WeightsMismatchError, match="'falsr_genome' tensor describes another architecture"):
        load(tmp_path / "t")
    # other families add nothing
    renas = load("RENASNet-CIFAR10", pretrained=False)
    renas.save_pretrained(tmp_path / "r")
    assert set(load_file(tmp_path / "r" / WEIGHTS_NAME)) == set(renas.state_dict())
