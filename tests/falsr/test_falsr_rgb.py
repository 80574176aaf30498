"""The RGB-in, RGB-out FALSR module (what spandrel loads): PIL's bicubic, the pipeline's output,
the genome inside the state dict, a float32 colour step under half precision, the file writer.
Runs without spandrel; the spandrel registry itself is tested in tests/spandrel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from falsr_zoo import load
from falsr_zoo.cli import main
from falsr_zoo.errors import GenomeError, MissingDependencyError, OutputExistsError, WeightsMismatchError
from falsr_zoo.families.falsr.colour import RGB_TO_YPBPR, luma_input, to_uint8
from falsr_zoo.families.falsr.falsr_export import pil_float_resize
from falsr_zoo.families.falsr.falsr_rgb import GENOME_KEY, FALSRRGB, bicubic_x2, genome_from_state_dict
from falsr_zoo.sr.upscale import upscale_array
from falsr_zoo.spandrel import detect, save_file

TINY = "conv f16 k3 b1 noskip <- 0; invertBotConE2 f16 k1 b2 isskip <- 0,1; out <- 0,2"


@pytest.mark.parametrize("height, width", [(1, 1), (1, 6), (3, 2), (9, 7), (33, 20)])
def test_bicubic_is_pils_float_bicubic(height: int, width: int) -> None:
    levels = np.random.default_rng(height * 31 + width).random((height, width, 3), dtype=np.float32) * 255
    expected = pil_float_resize(levels, 2)
    ours = bicubic_x2(torch.from_numpy(levels).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)  # float32 at 0..255: ulps of 1.5e-5


def _pipeline_float(model: torch.nn.Module, lr: np.ndarray) -> np.ndarray:
    """The project's float path: luma as the pipeline, PbPr from PIL's float bicubic, FALSR.forward."""
    y = torch.from_numpy(luma_input(lr))[None, None]
    up = pil_float_resize(lr.astype(np.float32), 2).astype(np.float64) / 255.0
    pbpr = torch.from_numpy((up @ RGB_TO_YPBPR[1:].T).astype(np.float32)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        return model(y, pbpr)[0].permute(1, 2, 0).numpy()


def _rgb_out(module: FALSRRGB, lr: np.ndarray, dtype: torch.dtype = torch.float32) -> np.ndarray:
    x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].to(dtype) / 255
    with torch.inference_mode():
        return module(x)[0].permute(1, 2, 0).float().numpy()


@pytest.mark.parametrize("name", ["FALSR-A", "FALSR-B", "FALSR-C"])
def test_the_rgb_module_reproduces_the_pipeline(name: str, store: Path, official: Path) -> None:
    net = load(name)
    rgb = FALSRRGB.from_model(net)
    lr = np.asarray(Image.open(official / "dataset" / "Set5" / "img_002_SRF_2_LR.png").convert("RGB"))
    out = _rgb_out(rgb, lr)
    np.testing.assert_allclose(out, _pipeline_float(net, lr), rtol=0, atol=2e-5)
    # The 8-bit pipeline rounds each of PIL's chroma passes to uint8 (a float input has nothing to
    # round), so truncated outputs differ in places: 23.8 % of the values on Set5, by at most 6 levels
    # (benchmarks/spandrel_precision.py).
    quantised, pipeline = to_uint8(out), upscale_array(net, lr)
    assert np.abs(quantised.astype(int) - pipeline.astype(int)).max() <= 6
    assert np.mean(quantised != pipeline) < 0.35


def test_the_genome_travels_in_the_state_dict(store: Path, tmp_path: Path) -> None:
    path = save_file("FALSR-B", tmp_path / "b.safetensors")
    state = load_file(path)
    assert state[GENOME_KEY].dtype == torch.uint8 and detect(state)
    assert str(genome_from_state_dict(state)) == str(load("FALSR-B").genome)
    rebuilt = FALSRRGB.from_state_dict(state)
    lr = np.random.default_rng(0).integers(0, 256, (13, 11, 3), dtype=np.uint8)
    assert np.array_equal(_rgb_out(rebuilt, lr), _rgb_out(FALSRRGB.from_model(load("FALSR-B")), lr))
    # deterministic bytes; never overwritten silently
    assert save_file("FALSR-B", tmp_path / "c.safetensors").read_bytes() == path.read_bytes()
    with pytest.raises(OutputExistsError):
        save_file("FALSR-B", path)


def test_a_model_directorys_weights_rebuild_the_rgb_module(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = load(genome=TINY)
    net.save_pretrained(tmp_path / "mine")
    state = load_file(tmp_path / "mine" / "model.safetensors")
    assert detect(state) and "stem.weight" in state and "net.stem.weight" not in state
    rebuilt = FALSRRGB.from_state_dict(state)
    lr = np.random.default_rng(1).integers(0, 256, (9, 14, 3), dtype=np.uint8)
    assert str(rebuilt.genome) == str(net.genome)
    assert np.array_equal(_rgb_out(rebuilt, lr), _rgb_out(FALSRRGB.from_model(net), lr))
    # without the genome tensor (a directory saved before it was written) nothing is detected
    assert not detect({k: v for k, v in state.items() if k != GENOME_KEY})


def test_refusals(tmp_path: Path) -> None:
    state = FALSRRGB(TINY).state_dict()
    with pytest.raises(WeightsMismatchError, match="carries no FALSR genome"):
        FALSRRGB.from_state_dict({k: v for k, v in state.items() if k != GENOME_KEY})
    other = dict(state, **{GENOME_KEY: torch.tensor(list(b"conv f64 k3 b1 noskip <- 0; out <- 0,1"), dtype=torch.uint8)})
    with pytest.raises(WeightsMismatchError, match="does not fit genome"):
        FALSRRGB.from_state_dict(other)
    broken = dict(state, **{GENOME_KEY: torch.tensor(list(b"conv f60 k3 b1 noskip <- 0; out <- 0,1"), dtype=torch.uint8)})
    assert detect(broken)
    with pytest.raises(GenomeError, match="f60"):
        FALSRRGB.from_state_dict(broken)
    assert not detect({"net.stem.weight": torch.zeros(1), "net.to_y.weight": torch.zeros(1)})
    assert not detect({"stem.weight": torch.zeros(1), "to_y.weight": torch.zeros(1)})
    assert not detect({GENOME_KEY: state[GENOME_KEY], "stem.weight": torch.zeros(1)})  # no network around it
    with pytest.raises(WeightsMismatchError, match="not renas ones"):
        save_file(load("RENASNet-CIFAR10", pretrained=False), tmp_path / "r.safetensors")


def test_half_precision_keeps_the_colour_step_in_float32() -> None:
    torch.manual_seed(0)
    rgb = FALSRRGB(TINY).eval()
    half = FALSRRGB.from_model(rgb.net).half()
    assert half.net.stem.weight.dtype == torch.float16 and half.falsr_genome.dtype == torch.uint8
    x = torch.rand(1, 3, 12, 10)
    with torch.inference_mode():
        y_hr = half.net.forward_y(torch.nn.functional.conv2d(
            x, torch.tensor(RGB_TO_YPBPR[0:1], dtype=torch.float32).reshape(1, 3, 1, 1)).half()).float()
        pbpr = torch.nn.functional.conv2d(bicubic_x2(x), torch.tensor(RGB_TO_YPBPR[1:3], dtype=torch.float32)
                                          .reshape(2, 3, 1, 1))
        expected = FALSRRGB._colour_step(y_hr, pbpr)
        # the module's own float32 constants, not its (half) buffers: bit-identical
        assert torch.equal(half(x), expected)
        assert half(x.half()).dtype == torch.float16  # a front end's half input comes back half
        # the colour step in float16 would be visibly off (its bias becomes -179.5)
        assert half.net.color_bias.dtype == torch.float16 and half.net.color_bias[0].item() == -179.5


def test_cli_export_spandrel(store: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    target = tmp_path / "FALSR-C.safetensors"
    result = CliRunner().invoke(main, ["export", "FALSR-C", "--format", "spandrel", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert detect(load_file(target)) and "genome in the state dict" in result.output
    result = CliRunner().invoke(main, ["export", "FALSR-C", "--format", "spandrel", "--fp16", "-o", str(target)])
    assert result.exit_code == 2


def test_install_without_spandrel_names_the_extra() -> None:
    try:
        import spandrel  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("spandrel is installed here; tests/spandrel covers install()")
    from falsr_zoo.spandrel import install

    with pytest.raises(MissingDependencyError, match=r"pip install 'falsr-zoo\[spandrel\]'"):
        install()
