"""Upscaling through the library: input types, the official colour path, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from falsr_zoo.color import chroma_inputs, luma_input, rgb_to_ypbpr, to_uint8
from falsr_zoo.errors import ImageError
from falsr_zoo.models import FALSR
from falsr_zoo.upscale import upscale_image

GENOME = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"


@pytest.fixture(scope="module")
def net() -> FALSR:
    torch.manual_seed(0)
    return FALSR(GENOME).eval()


def test_pil_and_array_inputs_agree(net: FALSR) -> None:
    lr = np.random.default_rng(1).integers(0, 256, (11, 7, 3), dtype=np.uint8)
    from_array = upscale_image(net, lr)
    from_pil = upscale_image(net, Image.fromarray(lr))
    assert isinstance(from_pil, Image.Image) and from_pil.size == (14, 22)
    assert np.array_equal(np.asarray(from_pil), from_array)
    assert np.array_equal(upscale_image(net, np.dstack([lr, np.full((11, 7), 255, np.uint8)])), from_array)


def test_grayscale_array_is_expanded(net: FALSR) -> None:
    gray = np.random.default_rng(2).integers(0, 256, (6, 6), dtype=np.uint8)
    assert upscale_image(net, gray).shape == (12, 12, 3)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4, 3), np.uint8)])
def test_bad_arrays(net: FALSR, bad: np.ndarray) -> None:
    with pytest.raises(ImageError):
        upscale_image(net, bad)


def test_colour_inputs_follow_the_release() -> None:
    lr = np.random.default_rng(3).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    assert np.allclose(luma_input(lr), rgb_to_ypbpr(lr / 255.0)[..., 0], atol=1e-7)
    up = np.asarray(Image.fromarray(lr).resize((8, 10), Image.BICUBIC))
    assert np.allclose(chroma_inputs(lr), rgb_to_ypbpr(up / 255.0)[..., 1:], atol=1e-7)
    # truncation, not rounding, as the release's astype(np.uint8)
    assert to_uint8(np.array([0.99 / 255, 254.7 / 255, 1.2, -0.1], np.float32)).tolist() == [0, 254, 255, 0]
