"""The generic builder: every zoo entry builds with its declared sizes; any genome builds and runs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from falsr_zoo.api import load
from falsr_zoo.families.falsr.falsr_net import FALSR, DepthToSpace
from falsr_zoo.families.falsr.genome import parse_genome
from falsr_zoo.zoo.registry import list_entries
from falsr_zoo.zoo.weights import load_state_dict, write_safetensors
from tests.costs import count_macs
from tests.falsr.test_genome import genomes

FALSR_ENTRIES = list_entries("falsr")


def test_colour_constants_are_buffers_not_weights() -> None:
    model = FALSR(FALSR_ENTRIES[0].genome)
    # colour constants are buffers, not parameters, and not part of the weights file
    assert {name for name, _ in model.named_buffers()} == {"color_kernel", "color_bias"}
    assert not any(k.startswith("color") for k in model.state_dict())


def test_table_one_costs() -> None:
    expected = {"FALSR-A": (1_021_401, 235.00), "FALSR-B": (324_745, 74.50), "FALSR-C": (426_569, 97.96)}
    for entry in FALSR_ENTRIES:
        params, gmacs = expected[entry.name]
        assert entry.num_params == params
        assert abs(entry.mult_adds / 1e9 - gmacs) <= 0.01


@settings(derandomize=True, max_examples=25, deadline=None)
@given(genomes(max_cells=4))
def test_any_genome_builds_and_runs(genome) -> None:
    model = FALSR(genome).eval()
    assert sum(p.numel() for p in model.parameters()) == genome.num_params()
    assert count_macs(model, torch.rand(1, 1, 7, 5), torch.zeros(1, 2, 14, 10)) == genome.macs(7, 5)
    with torch.inference_mode():
        out = model(torch.rand(2, 1, 7, 5), torch.rand(2, 2, 14, 10) - 0.5)
    assert out.shape == (2, 3, 14, 10)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_depth_to_space_is_tensorflow_order() -> None:
    # TF/ONNX DCR: out[c, 2h+i, 2w+j] = in[(2i+j)*C + c, h, w]
    x = torch.arange(1 * 8 * 2 * 3, dtype=torch.float32).reshape(1, 8, 2, 3)
    y = DepthToSpace(2)(x)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                assert torch.equal(y[0, c, i::2, j::2], x[0, (2 * i + j) * 2 + c])
    assert not torch.equal(y, torch.nn.PixelShuffle(2)(x))


def test_colour_step_matches_reference_formula() -> None:
    model = FALSR("conv f16 k1 b1 noskip <- 0; out <- 0,1")
    y = torch.rand(1, 1, 4, 4)
    pbpr = torch.rand(1, 2, 4, 4) - 0.5
    cb, cr = (pbpr[:, 0:1] + 0.5) * 255, (pbpr[:, 1:2] + 0.5) * 255
    r = y * 255 + 1.4019994735717773 * cr - 179.456
    g = y * 255 - 0.34414 * cb - 0.71414 * cr + 135.45984
    b = y * 255 + 1.772 * cb - 226.816
    expected = torch.cat([r, g, b], 1).clamp(0, 255) / 255
    assert torch.allclose(model.to_rgb(y, pbpr), expected, atol=1e-5)


@pytest.mark.parametrize("entry", FALSR_ENTRIES, ids=lambda e: e.name)
def test_save_load_round_trip(entry, tmp_path) -> None:
    torch.manual_seed(0)
    model = FALSR(entry.genome)
    path = tmp_path / "w.safetensors"
    write_safetensors(model.state_dict(), path, {"genome": entry.genome})
    other = load(genome=entry.genome, weights=path)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), name
    assert not other.training


def test_load_rejects_weights_of_another_genome(tmp_path) -> None:
    from falsr_zoo.errors import WeightsMismatchError

    genome = "conv f16 k1 b1 noskip <- 0; out <- 0,1"
    path = tmp_path / "w.safetensors"
    write_safetensors(FALSR(genome).state_dict(), path, {"genome": genome})
    with pytest.raises(WeightsMismatchError, match="holds weights for genome"):
        load(genome="conv f32 k1 b1 noskip <- 0; out <- 0,1", weights=path)
    bare = tmp_path / "bare.safetensors"
    write_safetensors(FALSR(genome).state_dict(), bare, {})
    with pytest.raises(WeightsMismatchError, match="wrong shape"):
        load_state_dict(FALSR("conv f32 k1 b1 noskip <- 0; out <- 0,1"), bare)


def test_load_genome_defaults() -> None:
    from falsr_zoo.errors import WeightsNotFoundError

    genome = "conv f16 k1 b1 noskip <- 0; out <- 0,1"
    assert load(genome=genome).genome == parse_genome(genome)  # untrained unless weights are given
    with pytest.raises(WeightsNotFoundError, match="pretrained=False"):
        load(genome=genome, pretrained=True)
    with pytest.raises(ValueError, match="exactly one"):
        load()
