"""The fused oneDNN CPU path computes what the eager module computes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from falsr_zoo.families.falsr.falsr_net import FALSR, DepthToSpace
from falsr_zoo.families.falsr.fused import FusedFALSR, _depth_to_space, fusion_available
from falsr_zoo.zoo.registry import list_entries
from tests.falsr.test_genome import genomes

pytestmark = pytest.mark.skipif(not fusion_available(), reason="this PyTorch build has no oneDNN fused convolution")
CL = torch.channels_last


def _inputs(height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(2, 1, height, width, generator=g).contiguous(memory_format=CL)
    pbpr = (torch.rand(2, 2, 2 * height, 2 * width, generator=g) - 0.5).contiguous(memory_format=CL)
    return y, pbpr


@pytest.mark.parametrize("entry", list_entries("falsr"), ids=lambda e: e.name)
def test_zoo_models(entry) -> None:
    torch.manual_seed(0)
    model = FALSR(entry.genome).eval().to(memory_format=CL)
    y, pbpr = _inputs(23, 31)
    with torch.inference_mode():
        assert (FusedFALSR(model)(y, pbpr) - model(y, pbpr)).abs().max() <= 1e-5
        assert (FusedFALSR(model).forward_y(y) - model.forward_y(y)).abs().max() <= 1e-4


@settings(derandomize=True, max_examples=30, deadline=None)
@given(genomes(max_cells=5))
def test_any_genome(genome) -> None:
    torch.manual_seed(1)
    model = FALSR(genome).eval()
    y, pbpr = _inputs(9, 7, seed=2)
    with torch.inference_mode():
        expected = model.forward_y(y)
        assert (FusedFALSR(model).forward_y(y) - expected).abs().max() <= 1e-4 * max(1.0, float(expected.abs().max()))


@pytest.mark.parametrize("memory_format", [CL, torch.contiguous_format], ids=["channels_last", "contiguous"])
def test_depth_to_space_copy_is_the_module(memory_format) -> None:
    x = torch.randn(2, 32, 7, 5).contiguous(memory_format=memory_format)
    out = _depth_to_space(x, 2)
    assert torch.equal(out, DepthToSpace(2)(x)) and out.is_contiguous(memory_format=CL)


def test_allocator_tuning_is_explicit(monkeypatch) -> None:
    import platform

    from falsr_zoo.runtime.perf import tune_allocator

    monkeypatch.setenv("FALSR_ZOO_MALLOC_TUNING", "0")
    assert tune_allocator() is False
    monkeypatch.delenv("FALSR_ZOO_MALLOC_TUNING")
    assert tune_allocator() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
