"""FALSR through spandrel's own loader, as ComfyUI and chaiNNer call it.

Needs spandrel, hence torchvision and a torch build that matches it: ``.ci/run`` runs this folder
in ``.venv-spandrel`` (torch 2.14.1 + torchvision 0.29.1). In an environment without spandrel
the module is skipped with that reason (the main run leaves the folder out altogether).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

spandrel = pytest.importorskip("spandrel", reason="needs spandrel + torchvision: run in .venv-spandrel (.ci/run)")

from falsr_zoo import load  # noqa: E402
from falsr_zoo.families.falsr.colour import to_uint8  # noqa: E402
from falsr_zoo.families.falsr.falsr_rgb import FALSRRGB  # noqa: E402
from falsr_zoo.spandrel import ARCH_ID, SUPPORTS_BFLOAT16, SUPPORTS_HALF, install, save_file  # noqa: E402
from falsr_zoo.sr.upscale import upscale_array  # noqa: E402
from tests.falsr.test_falsr_rgb import _pipeline_float  # noqa: E402


@pytest.fixture()
def registry() -> spandrel.ArchRegistry:
    """A copy of spandrel's main registry with FALSR installed (the global one is left alone)."""
    registry = spandrel.MAIN_REGISTRY.copy()
    assert [s.architecture.id for s in install(registry)] == [ARCH_ID]
    assert install(registry) == []  # twice is harmless
    return registry


def _as_tensor(lr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float() / 255


def _falsr_file(name: str, form: str, directory: Path) -> Path:
    """``falsr export NAME --format spandrel``'s file, or the ``model.safetensors`` of NAME's model directory."""
    if form == "export":
        return save_file(name, directory / f"{name}.safetensors")
    load(name).save_pretrained(directory / name)
    return directory / name / "model.safetensors"


@pytest.mark.parametrize("form", ["export", "model directory"])
@pytest.mark.parametrize("name", ["FALSR-A", "FALSR-B", "FALSR-C"])
def test_model_loader_gives_a_descriptor_that_reproduces_the_pipeline(
    name: str, form: str, registry: spandrel.ArchRegistry, store: Path, official: Path, tmp_path: Path
) -> None:
    path = _falsr_file(name, form, tmp_path)
    descriptor = spandrel.ModelLoader(registry=registry).load_from_file(path)  # chaiNNer's call
    assert isinstance(descriptor, spandrel.ImageModelDescriptor)
    assert descriptor.architecture.id == ARCH_ID and descriptor.purpose == "SR"
    assert (descriptor.scale, descriptor.input_channels, descriptor.output_channels) == (2, 3, 3)
    assert descriptor.tiling == spandrel.ModelTiling.SUPPORTED
    assert (descriptor.supports_half, descriptor.supports_bfloat16) == (SUPPORTS_HALF, SUPPORTS_BFLOAT16)
    assert isinstance(descriptor.model, FALSRRGB)
    net = load(name)
    lr = np.asarray(Image.open(official / "dataset" / "Set5" / "img_003_SRF_2_LR.png").convert("RGB"))
    with torch.inference_mode():
        out = descriptor(_as_tensor(lr))[0].permute(1, 2, 0).numpy()
    # float path: the project's luma, PIL's float bicubic chroma, FALSR.forward
    np.testing.assert_allclose(out, _pipeline_float(net, lr), rtol=0, atol=2e-5)
    # The 8-bit pipeline rounds each of PIL's chroma passes to uint8, a float input does not: 23.8 % of
    # the truncated values differ on Set5, by at most 6 levels (benchmarks/spandrel_precision.py).
    quantised, pipeline = to_uint8(out), upscale_array(net, lr)
    assert np.abs(quantised.astype(int) - pipeline.astype(int)).max() <= 6
    assert np.mean(quantised != pipeline) < 0.35


def test_half_precision_through_the_descriptor(registry: spandrel.ArchRegistry, store: Path, tmp_path: Path) -> None:
    descriptor = spandrel.ModelLoader(registry=registry).load_from_file(save_file("FALSR-B", tmp_path / "b.safetensors"))
    x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = descriptor(x)
        descriptor.half()
        half = descriptor(x.half()).float()
    assert descriptor.dtype == torch.float16
    assert (half - full).abs().max() < 2e-2
    if not SUPPORTS_BFLOAT16:
        with pytest.raises(spandrel.UnsupportedDtypeError):
            descriptor.bfloat16()


def test_other_architectures_are_left_to_spandrel(registry: spandrel.ArchRegistry, tmp_path: Path) -> None:
    from safetensors.torch import save_file as save_tensors
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    for module, arch in ((Compact(num_feat=16, num_conv=4, upscale=2), "Compact"),
                         (ESRGAN(in_nc=3, out_nc=3, num_filters=16, num_blocks=1, scale=2), "ESRGAN")):
        path = tmp_path / f"{arch}.safetensors"
        save_tensors(module.state_dict(), str(path))
        descriptor = spandrel.ModelLoader(registry=registry).load_from_file(path)
        assert descriptor.architecture.id == arch


def test_install_uses_the_main_registry_by_default(store: Path, tmp_path: Path) -> None:
    install()
    assert ARCH_ID in spandrel.MAIN_REGISTRY
    detected_first = spandrel.MAIN_REGISTRY.architectures("detection")[0].architecture.id
    assert detected_first == ARCH_ID
    descriptor = spandrel.ModelLoader().load_from_file(save_file("FALSR-C", tmp_path / "c.safetensors"))
    assert descriptor.architecture.id == ARCH_ID
