"""Opt-in reduced precision: the body in bfloat16, the colour step in float32, within the stated loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.sr.evaluate import evaluate
from falsr_zoo.sr.upscale import Upscaler

GENOME = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"
BF16_SET5_LOSS_DB = {"FALSR-B": 0.06}
"""What the README states bf16 may cost on Set5 (mean Y-PSNR), measured with benchmarks/precision.py."""


def test_bf16_body_keeps_the_colour_step_float32() -> None:
    torch.manual_seed(0)
    upscaler = Upscaler(FALSR(GENOME).eval(), precision="bf16", device="cpu")
    module = upscaler.backend.model
    assert {p.dtype for p in module.parameters()} == {torch.bfloat16}
    assert module.color_kernel.dtype == module.color_bias.dtype == torch.float32
    y = torch.rand(1, 1, 6, 5, dtype=torch.bfloat16)
    pbpr = torch.rand(1, 2, 12, 10) - 0.5
    with torch.inference_mode():
        rgb = module(y, pbpr)
        # the colour step in float32 on the body's luma; a bfloat16 step would be off by ~1/255
        expected = FALSR(GENOME).to_rgb(module.forward_y(y).float(), pbpr)
    assert rgb.dtype == torch.float32
    torch.testing.assert_close(rgb, expected, atol=1e-6, rtol=0)
    out = upscaler.upscale(np.full((6, 5, 3), 128, np.uint8))
    assert out.shape == (12, 10, 3) and out.dtype == np.uint8


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BF16_SET5_LOSS_DB))
def test_bf16_stays_within_the_stated_loss(store, official, name) -> None:
    data = official / "dataset" / "Set5"
    fp32 = evaluate(Upscaler(name).upscale, data, model=name).mean_psnr
    bf16 = evaluate(Upscaler(name, precision="bf16").upscale, data, model=name).mean_psnr
    assert fp32 - bf16 <= BF16_SET5_LOSS_DB[name], (fp32, bf16)
