"""The upscaler: exact seamless tiling, every picture kind, outscale, threads, OOM back-off."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.errors import ImageError
from falsr_zoo.families.falsr.colour import chroma_inputs, luma_input, rgb_to_ypbpr, to_uint8
from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.sr.tiling import plan_tiles
from falsr_zoo.sr.upscale import Upscaler, _prepare_rgb8, upscale_array, upscale_image
from tests.conftest import MODELS
from tests.falsr.test_genome import genomes

GENOME = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"


@pytest.fixture(scope="module")
def net() -> FALSR:
    torch.manual_seed(0)
    return FALSR(GENOME).eval()


@pytest.fixture(scope="module")
def photo(official) -> np.ndarray:
    """A real 97x123 LR crop (sides are not multiples of any tile size used below)."""
    return np.asarray(Image.open(official / "dataset" / "Set14" / "img_005_SRF_2_LR.png").convert("RGB"))[:97, :123]


def _measured_radius(model: FALSR, size: int = 81) -> int:
    """Chebyshev reach of the centre output pixel's gradient, with all ReLUs kept active."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.uniform_(0.01, 0.1)
                module.bias.fill_(1.0)
    y = torch.zeros(1, 1, size, size, requires_grad=True)
    out = model.forward_y(y)
    centre = size  # HR pixel (2 * (size // 2) + 1) -> LR pixel size // 2
    out[0, 0, centre, centre].backward()
    rows, cols = torch.nonzero(y.grad[0, 0]).T
    return int(max((rows - size // 2).abs().max(), (cols - size // 2).abs().max()))


@pytest.mark.parametrize("name", MODELS)
def test_receptive_radius_is_exact_for_the_zoo(name) -> None:
    from falsr_zoo.zoo.registry import get_entry

    model = FALSR(get_entry(name).genome)
    assert _measured_radius(model) == model.genome.receptive_radius()
    assert model.genome.receptive_radius() == {"FALSR-A": 23, "FALSR-B": 27, "FALSR-C": 16}[name]  # the README's


@settings(derandomize=True, max_examples=15, deadline=None)
@given(genomes(max_cells=4))
def test_receptive_radius_bounds_any_genome(genome) -> None:
    assert _measured_radius(FALSR(genome), size=2 * genome.receptive_radius() + 9) == genome.receptive_radius()


TILE_FLOAT_TOL = 4e-6
"""Float outputs (RGB in [0, 1]) of tiled and untiled runs. Measured with torch 2.13, fused and eager
paths: at most 1.8e-7 (FALSR-A/B/C official weights, tiles 9 and 32; 0 at 32); up to 1.3e-6 was
seen with torch 2.14.1; 3x headroom on that."""


def _shift_network(genome: str, corner: str) -> FALSR:
    """``genome`` with every kernel a single tap at one corner, biases zero.

    Each k x k convolution then moves the picture by one pixel towards ``corner``'s opposite, 1x1
    ones average channels, so every path through the network reads the input at its own offset
    and the longest reaches exactly the receptive radius, with a weight far above float rounding
    (the official weights give the outermost pixels too little weight to tell: a margin one
    pixel short moves their outputs by under 5e-7). Inputs are non-negative, so no ReLU cuts
    anything; the luma output is scaled back into [0, 1].
    """
    model = FALSR(genome).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                tap = 0 if corner == "top-left" else module.kernel_size[0] - 1
                module.weight.zero_()
                module.bias.zero_()
                module.weight[:, :, tap, tap] = 1.0 / module.weight.shape[1]
        gain = model.forward_y(torch.ones(1, 1, 64, 64))[0, 0, 64, 64]
        model.to_y.weight /= gain
    return model


@pytest.mark.parametrize("corner", ["top-left", "bottom-right"])
@pytest.mark.parametrize("name", MODELS)
def test_tiles_see_the_whole_receptive_field(photo, name, corner) -> None:
    # Measured (FALSR-A, tiles 7 and 20): tiled vs untiled floats 1.8e-7 apart; with the margin one
    # pixel short, 2.6e-3 apart. (uint8 outputs are not compared here: this network's values sit
    # on exact multiples of 1/255 often enough for a 1e-7 difference to flip a truncation.)
    from falsr_zoo.zoo.registry import get_entry

    model = _shift_network(get_entry(name).genome, corner)
    image = photo[:36, :44]
    expected = Upscaler(model, tile=10_000)._tiled(image, _prepare_rgb8, lambda x: x, 3, np.float32, 10_000)
    assert expected.max() > 0.3  # a real picture comes through
    upscaler = Upscaler(model, tile=10)  # far below the receptive field; sides not multiples of it
    assert len(plan_tiles(*image.shape[:2], 10, upscaler.margin)) == 20
    tiled = upscaler._tiled(image, _prepare_rgb8, lambda x: x, 3, np.float32, 10)
    assert np.abs(tiled - expected).max() <= TILE_FLOAT_TOL, (name, corner)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_tiled_equals_untiled(store, photo, name) -> None:
    model = load(name)
    whole = Upscaler(model, tile=10_000)
    reference_float = whole._tiled(photo, _prepare_rgb8, lambda x: x, 3, np.float32, 10_000)
    reference = whole.upscale(photo)
    small = photo[:41, :53]
    small_reference = whole.upscale(small)
    # tile 5 and 9: far smaller than receptive field + margin; 32, 50: sides not multiples
    for image, expected, expected_float, tiles in (
        (small, small_reference, None, (5, 9)),
        (photo, reference, reference_float, (32, 50)),
    ):
        for tile in tiles:
            upscaler = Upscaler(model, tile=tile)
            assert len(plan_tiles(*image.shape[:2], tile, upscaler.margin)) > 1
            assert np.array_equal(upscaler.upscale(image), expected), (name, tile)
            if expected_float is not None:
                tiled_float = upscaler._tiled(image, _prepare_rgb8, lambda x: x, 3, np.float32, tile)
                assert np.abs(tiled_float - expected_float).max() <= TILE_FLOAT_TOL, (name, tile)


@pytest.mark.parametrize("batch_size", [2, 3])
def test_batch_size_changes_float_rounding_only(store, photo, monkeypatch, batch_size) -> None:
    """The contract of ``batch_size`` (README "Batches"): the same tiles, run several per call. On
    CPU oneDNN may pick other kernels for a batch, so floats may move by rounding (measured on
    this project's machine, FALSR-A/B/C, fused and eager: not at all) and, after truncation, a
    value by one grey level; the tolerances are the tiling ones."""
    model = load("FALSR-C")
    image = photo[:60, :70]
    one = Upscaler(model, tile=20)
    batched = Upscaler(model, tile=20, batch_size=batch_size)
    seen = []
    inner = batched.backend

    def recording(y, pbpr):
        seen.append(y.shape[0])
        return inner(y, pbpr)

    monkeypatch.setattr(batched, "backend", recording)
    floats = [u._tiled(image, _prepare_rgb8, lambda x: x, 3, np.float32, 20) for u in (one, batched)]
    assert max(seen) == batch_size and sum(seen) == len(plan_tiles(*image.shape[:2], 20, one.margin)) == 12
    assert np.abs(floats[0] - floats[1]).max() <= TILE_FLOAT_TOL
    diff = np.abs(to_uint8(floats[0]).astype(int) - to_uint8(floats[1]).astype(int))  # what upscale() returns
    assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3


@pytest.mark.parametrize(("precision", "max_level", "max_loss_db"), [("bf16", 6, 0.6), ("fp16", 2, 0.05)])
def test_reduced_precision(store, official, precision, max_level, max_loss_db) -> None:
    """``precision="bf16"|"fp16"`` really computes in 16 bits, and costs what was measured.

    Measured on Set5 img_002 (144x144 LR), FALSR-B, CPU: bf16 moves 41 % of the uint8 values,
    by at most 3 levels, and costs 0.29 dB Y-PSNR; fp16 moves 5 %, by 1 level, and costs 0.01 dB.
    Tolerances: twice those (this test runs a 64x64 crop to stay quick).
    """
    from falsr_zoo.sr.metrics import psnr

    lr = np.asarray(Image.open(official / "dataset" / "Set5" / "img_002_SRF_2_LR.png").convert("RGB"))[40:104, 40:104]
    hr = np.asarray(Image.open(official / "dataset" / "Set5" / "img_002_SRF_2_HR.png").convert("RGB"))[80:208, 80:208]
    model = load("FALSR-B")
    full = Upscaler(model).upscale(lr)
    reduced = Upscaler(model, precision=precision)
    assert next(reduced.backend.model.parameters()).dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    low = reduced.upscale(lr)
    diff = np.abs(low.astype(int) - full.astype(int))
    assert (diff > 0).mean() > 0.01 and diff.max() <= max_level
    assert psnr(full, hr) - psnr(low, hr) <= max_loss_db


def test_tiles_cover_the_image_once() -> None:
    tiles = plan_tiles(101, 67, 16, 5)
    cover = np.zeros((101, 67), int)
    for t in tiles:
        cover[t.core.top : t.core.bottom, t.core.left : t.core.right] += 1
        assert t.padded.top == max(0, t.core.top - 5) and t.padded.bottom == min(101, t.core.bottom + 5)
    assert (cover == 1).all()


def test_official_path_is_the_untiled_reference(net, photo) -> None:
    up = Upscaler(net, channels_last=False, tile=24)
    assert np.array_equal(up.upscale(photo), upscale_array(net, photo))


def test_upscale_image_passes_the_upscaler_options_on(net, photo) -> None:
    # It used to forward keyword arguments that nothing took (any keyword was a TypeError).
    reference = Upscaler(net, tile=16, channels_last=False).upscale(photo, outscale=4)
    out = upscale_image(net, photo, outscale=4, tile=16, channels_last=False)
    assert out.shape == (4 * photo.shape[0], 4 * photo.shape[1], 3) and np.array_equal(out, reference)
    pil = upscale_image(net, Image.fromarray(photo), tile=16)
    assert isinstance(pil, Image.Image) and pil.size == (2 * photo.shape[1], 2 * photo.shape[0])
    with pytest.raises(TypeError):
        upscale_image(net, photo, no_such_option=1)


def test_input_kinds(net) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (11, 7, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (11, 7), dtype=np.uint8)
    up = Upscaler(net, tile=5)
    out = up.upscale(rgb)
    pil = up.upscale(Image.fromarray(rgb))
    assert isinstance(pil, Image.Image) and pil.size == (14, 22) and np.array_equal(np.asarray(pil), out)
    rgba = up.upscale(np.dstack([rgb, alpha]))
    assert rgba.shape == (22, 14, 4) and np.array_equal(rgba[..., :3], out)
    assert np.array_equal(rgba[..., 3], np.asarray(Image.fromarray(alpha).resize((14, 22), Image.BICUBIC)))
    assert up.upscale(Image.fromarray(np.dstack([rgb, alpha]))).mode == "RGBA"
    grey = up.upscale(Image.fromarray(alpha))
    assert grey.mode == "L" and grey.size == (14, 22)
    assert up.upscale(np.dstack([alpha, alpha])).shape == (22, 14, 2)
    with pytest.raises(ImageError):
        up.upscale(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageError):
        up.upscale(np.zeros((0, 4, 3), np.uint8))


def test_grey_path_is_the_luma_network(net) -> None:
    grey = np.random.default_rng(2).integers(0, 256, (9, 10), dtype=np.uint8)
    out = Upscaler(net, channels_last=False).upscale(grey)
    with torch.inference_mode():
        y = net.forward_y(torch.from_numpy(grey / 255.0).float()[None, None])[0, 0].numpy()
    expected = np.clip(np.rint(np.clip(y, 0, 1) * 255), 0, 255).astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert (out == expected).mean() > 0.99


def test_sixteen_bit_keeps_sixteen_bits(net) -> None:
    rng = np.random.default_rng(3)
    rgb8 = rng.integers(0, 256, (12, 9, 3), dtype=np.uint8)
    rgb16 = rgb8.astype(np.uint16) * 257 + rng.integers(0, 257, rgb8.shape).astype(np.uint16)
    up = Upscaler(net, tile=4)
    out = up.upscale(rgb16)
    assert out.dtype == np.uint16 and out.shape == (24, 18, 3)
    inner = out[(out > 0) & (out < 65535)]
    assert inner.size > 100 and (inner % 257 != 0).mean() > 0.9  # genuinely 16-bit, not 8 bits scaled
    # same picture as the 8-bit path, within 8-bit quantisation and chroma kernel differences
    assert np.abs(out / 257.0 - up.upscale(rgb8)).mean() < 3
    assert np.array_equal(out, Upscaler(net, tile=1000).upscale(rgb16))  # tiled == untiled in 16 bits
    grey16 = up.upscale(rgb16[..., 0])
    assert grey16.dtype == np.uint16 and grey16.shape == (24, 18)


def _lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` Lanczos-3 resampling matrix, written from Pillow's documented
    algorithm (Resample.c: support scaled by the downscale factor, pixel centres at +0.5,
    weights normalised per output pixel), independently of the package's code."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 3.0 * filter_scale
    weights = np.zeros((out_size, in_size))
    for out in range(out_size):
        centre = (out + 0.5) * scale
        low, high = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
        x = (np.arange(low, high) - centre + 0.5) / filter_scale
        taps = np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)
        weights[out, low:high] = taps / taps.sum()
    return weights


def test_outscale(net, photo) -> None:
    image = photo[:30, :41]
    up = Upscaler(net)
    x2, x4 = up.upscale(image), up.upscale(image, outscale=4)
    assert x4.shape == (120, 164, 3) and np.array_equal(x4, up.upscale(x2))
    # other factors: ceil(log2(outscale)) x2 passes, then a Lanczos resize down to round(outscale * side)
    for outscale, base in ((3, x4), (2.5, x4), (3.7, x4), (1.5, x2)):
        out = up.upscale(image, outscale=outscale)
        height, width = round(30 * outscale), round(41 * outscale)
        assert out.shape == (height, width, 3)
        rows, cols = _lanczos_weights(base.shape[0], height), _lanczos_weights(base.shape[1], width)
        reference = np.einsum("yi,xj,ijc->yxc", rows, cols, base.astype(np.float64))
        reference = np.clip(np.rint(reference), 0, 255)
        diff = np.abs(out - reference)
        # equal but for float32 rounding at .5 ties (measured: none on these images); Pillow's
        # 8-bit Lanczos, which rounds between passes, differs on 20 % of values, bicubic on 50-85 %
        assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3, (outscale, diff.max(), (diff > 0).mean())
    with pytest.raises(ValueError, match="outscale"):
        up.upscale(image, outscale=1)


def test_thread_safety(net) -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (13 + i, 17 - i, 3), dtype=np.uint8) for i in range(6)]
    up = Upscaler(net, tile=6)
    expected = [up.upscale(im) for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = up.upscale(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(len(images)))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float rounding of different kernel paths: at most 1 level on 0.1 % of values."""
    diff = np.abs(a.astype(int) - b.astype(int))
    return diff.max() <= 1 and (diff > 0).mean() <= 1e-3


class _LimitedBackend:
    """A backend that records input sizes, refuses big ones like a GPU out of memory, or caps them."""

    name = "limited"

    def __init__(self, model: FALSR, oom_above: int | None = None, max_input_size=None) -> None:
        from falsr_zoo.runtime.backends import TorchBackend

        self.inner, self.scale, self.seen = TorchBackend(model), 2, []
        self.oom_above, self.max_input_size = oom_above, max_input_size

    def __call__(self, y, pbpr):
        self.seen.append(y.shape)
        if self.oom_above and y.shape[2] * y.shape[3] > self.oom_above:
            raise torch.cuda.OutOfMemoryError("simulated")
        return self.inner(y, pbpr)


def test_backs_off_on_out_of_memory(net, monkeypatch) -> None:
    rgb = np.random.default_rng(6).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    up = Upscaler(net, tile=64, channels_last=False)
    fake = _LimitedBackend(up.backend.model, oom_above=30 * 30)
    monkeypatch.setattr(up, "backend", fake)
    assert _close(up.upscale(rgb), upscale_array(net, rgb))
    assert any(h * w > 900 for _, _, h, w in fake.seen) and fake.seen[-1][2] * fake.seen[-1][3] <= 900


def test_respects_backend_input_limits(net, monkeypatch) -> None:
    import falsr_zoo.runtime.backends as backends

    monkeypatch.setitem(backends.BACKENDS, "limited", lambda model: _LimitedBackend(model, max_input_size=(1, 24, 30)))
    up = Upscaler(net, backend="limited")
    margin = up.margin
    assert up.tile_for(50, 61) == 24 - 2 * margin
    rgb = np.random.default_rng(7).integers(0, 256, (50, 61, 3), dtype=np.uint8)
    assert _close(up.upscale(rgb), upscale_array(net, rgb))
    assert all(h <= 24 and w <= 30 for _, _, h, w in up.backend.seen)


def test_auto_tile_follows_the_budget(net) -> None:
    small, large = Upscaler(net, memory_budget_mb=32), Upscaler(net, memory_budget_mb=512)
    assert 8 <= small.tile_for(10, 10) < large.tile_for(10, 10)
    per_pixel = net.genome.activation_floats_per_pixel() * 4
    assert (small.tile_for(10, 10) + 2 * small.margin) ** 2 * per_pixel <= 32 * 2**20
    # on the CPU, big images leave less room for activations: smaller tiles
    assert large.tile_for(3000, 4000) < large.tile_for(100, 100)
    assert Upscaler(net, tile=37).tile_for(3000, 4000) == 37


def test_colour_inputs_follow_the_release() -> None:
    lr = np.random.default_rng(3).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    assert np.allclose(luma_input(lr), rgb_to_ypbpr(lr / 255.0)[..., 0], atol=1e-7)
    up = np.asarray(Image.fromarray(lr).resize((8, 10), Image.BICUBIC))
    assert np.allclose(chroma_inputs(lr), rgb_to_ypbpr(up / 255.0)[..., 1:], atol=1e-7)
    # truncation, not rounding, as the release's astype(np.uint8)
    assert to_uint8(np.array([0.99 / 255, 254.7 / 255, 1.2, -0.1], np.float32)).tolist() == [0, 254, 255, 0]
