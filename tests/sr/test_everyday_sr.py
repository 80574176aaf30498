"""Issue 13 in the library: tensors in and out of the upscaler, one bicubic kernel for 8- and
16-bit chroma and alpha (Pillow's, borders included), reduced precision with the colour step in
float32 on every backend, the formats a folder scan takes, the allocator's fallback."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.families.falsr.falsr_rgb import bicubic_x2
from falsr_zoo.sr.upscale import Upscaler

GENOME = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return load(genome=GENOME)


# ---------------------------------------------------------------------------------------------
# Tensors


def test_tensor_in_tensor_out_without_numpy(net, monkeypatch) -> None:
    from falsr_zoo.runtime.backends import TorchBackend

    rgb = np.random.default_rng(0).integers(0, 256, (21, 30, 3), dtype=np.uint8)
    up = Upscaler(net, device="cpu", tile=12)
    expected = up.upscale(rgb)

    def no_numpy(*args, **kwargs):
        raise AssertionError("the tensor path went through the NumPy backend call")

    monkeypatch.setattr(TorchBackend, "__call__", no_numpy)
    x = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
    out = up.upscale(x)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8 and out.device == x.device
    assert out.shape == (3, 42, 60)
    difference = np.abs(out.permute(1, 2, 0).numpy().astype(int) - expected.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    batch = torch.stack([x.float() / 255, x.flip(-1).float() / 255])
    floats = up.upscale(batch)
    assert floats.dtype == torch.float32 and floats.shape == (2, 3, 42, 60)
    # unquantised: off the uint8 path by its truncation and its per-pass rounding of the chroma only
    gap = np.abs(floats[0].permute(1, 2, 0).numpy() * 255 - expected)
    assert gap.max() < 3.0 and gap.mean() < 1.0
    with pytest.raises(ValueError, match="device"):
        up.upscale(x.to("meta"))


# ---------------------------------------------------------------------------------------------
# One chroma / alpha kernel


def test_float_kernel_is_pillows_at_the_borders() -> None:
    from falsr_zoo.families.falsr.colour import bicubic_x2_float

    plane = np.random.default_rng(1).random((9, 7)).astype(np.float32)
    pillow = np.asarray(Image.fromarray(plane, "F").resize((14, 18), Image.BICUBIC))
    ours = bicubic_x2_float(plane, clip=False)
    assert np.abs(ours - pillow).max() < 1e-5  # every row and column, the two outermost included
    torch_path = bicubic_x2(torch.from_numpy(plane)[None, None])[0, 0].numpy()
    assert np.abs(torch_path - pillow).max() < 1e-5


@pytest.mark.parametrize("channels", [2, 4])
def test_16_bit_alpha_and_chroma_match_the_8_bit_path(net, channels: int) -> None:
    rng = np.random.default_rng(2)
    pixels8 = rng.integers(0, 256, (16, 13, channels), dtype=np.uint8)
    pixels16 = pixels8.astype(np.uint16) * 257
    up = Upscaler(net, device="cpu")
    alpha8 = up.upscale(pixels8)[..., -1].astype(float)
    alpha16 = up.upscale(pixels16)[..., -1] / 257.0
    # Pillow's 8-bit path rounds each pass to a level: within a level, border rows and columns too
    assert np.abs(alpha16 - alpha8).max() <= 1.0
    for edge in (alpha16[:2] - alpha8[:2], alpha16[-2:] - alpha8[-2:], alpha16[:, :2] - alpha8[:, :2]):
        assert np.abs(edge).max() <= 1.0


def test_16_bit_chroma_uses_the_same_kernel() -> None:
    from falsr_zoo.sr.upscale import _prepare_rgb8, _prepare_rgb16
    from falsr_zoo.sr.tiling import Box

    rgb8 = np.random.default_rng(3).integers(0, 256, (11, 9, 3), dtype=np.uint8)
    box = Box(0, 0, 11, 9)
    _, chroma8 = _prepare_rgb8(rgb8, box)
    _, chroma16 = _prepare_rgb16(rgb8.astype(np.uint16) * 257, box)
    # the 8-bit chroma is rounded to levels per pass: at most ~1.5 levels apart, borders included
    assert np.abs(chroma16 - chroma8).max() < 1.5 / 255


# ---------------------------------------------------------------------------------------------
# Precision: the colour step and the chroma in float32 on every backend


def test_reduced_precision_keeps_the_colour_step_in_float32(net) -> None:
    up = Upscaler(net, device="cpu", precision="bf16")
    module = up.backend.model
    assert all(b.dtype == torch.float32 for b in module.buffers() if b.is_floating_point())
    assert {p.dtype for p in module.parameters()} == {torch.bfloat16}
    rgb = np.random.default_rng(4).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    reference = Upscaler(net, device="cpu").upscale(rgb).astype(int)
    assert np.abs(up.upscale(rgb).astype(int) - reference).mean() < 2.0


def test_onnxruntime_takes_the_precision(net) -> None:
    pytest.importorskip("onnxruntime")  # in the test extra; the skip is for a bare install only
    rgb = np.random.default_rng(5).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    reference = Upscaler(net, device="cpu").upscale(rgb).astype(int)
    half = Upscaler(net, backend="onnxruntime", precision="fp16")
    assert half.backend.metadata.get("precision") == "fp16"
    assert np.abs(half.upscale(rgb).astype(int) - reference).max() <= 3
    with pytest.raises(ValueError, match="bf16"):
        Upscaler(net, backend="onnxruntime", precision="bf16")


# ---------------------------------------------------------------------------------------------
# Formats in folder scans


def test_folder_scans_take_every_format_pillow_reads(tmp_path) -> None:
    from falsr_zoo.imageio import readable_suffixes
    from falsr_zoo.sr.runner import collect_inputs

    Image.init()
    rgb = Image.fromarray(np.random.default_rng(6).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    written = []
    for suffix in (".avif", ".jp2", ".qoi", ".png"):
        fmt = Image.registered_extensions().get(suffix)
        if fmt in Image.SAVE:  # Pillow 12+ wheels write all four
            rgb.save(tmp_path / f"a{suffix}")
            written.append(suffix)
    assert {".avif", ".jp2", ".png"} <= set(written) <= readable_suffixes()
    (tmp_path / "notes.txt").write_text("not an image")
    found, missing = collect_inputs([tmp_path])
    assert sorted(p.suffix for p, _ in found) == sorted(written) and not missing


def test_heic_without_its_plugin_names_the_extra(tmp_path) -> None:
    from falsr_zoo.errors import ImageError
    from falsr_zoo.imageio import read_picture, readable_suffixes

    if importlib.util.find_spec("pillow_heif") is not None:
        assert ".heic" in readable_suffixes()
        return
    assert ".heic" not in readable_suffixes()
    (tmp_path / "a.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(32))
    with pytest.raises(ImageError, match=r"falsr-zoo\[heif\]"):
        read_picture(tmp_path / "a.heic")


# ---------------------------------------------------------------------------------------------
# Allocator


class _FakeLibc:
    """glibc before 2.35-ish: an mmap threshold above 32 MiB is refused."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling, self.calls = ceiling, []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append((option, value))
        return int(option != -3 or value <= self.ceiling)

    def malloc_trim(self, pad: int) -> int:
        return 1


def test_allocator_falls_back_to_what_old_glibc_accepts(monkeypatch, caplog) -> None:
    from falsr_zoo.runtime import perf

    old = _FakeLibc(32 << 20)
    monkeypatch.setattr(perf, "_glibc", lambda: old)
    monkeypatch.delenv("FALSR_ZOO_MALLOC_TUNING", raising=False)
    monkeypatch.setitem(perf._state, "libc", None)
    assert perf.tune_allocator() is True
    assert (-3, 32 << 20) in old.calls and perf._state["libc"] is old
    refusing = _FakeLibc(-1)
    monkeypatch.setattr(perf, "_glibc", lambda: refusing)
    with caplog.at_level("WARNING"):
        assert perf.tune_allocator() is False
    assert "refused" in caplog.text and perf._state["libc"] is None
