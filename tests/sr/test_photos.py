"""Real-photo handling end to end (file in, file out): orientation, ICC, 16 bits, grey, alpha,
palette, CMYK, quality. Every case checks pixels and metadata of the written file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
import torch
from PIL import Image, ImageCms, ImageOps

from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.imageio import read_picture, write_picture
from falsr_zoo.sr.upscale import Upscaler

GENOME = "conv f16 k3 b1 noskip <- 0; out <- 0,1"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="module")
def upscaler() -> Upscaler:
    torch.manual_seed(0)
    return Upscaler(FALSR(GENOME).eval(), tile=8)


def _round_trip(upscaler: Upscaler, source: Path, target: Path, **options) -> None:
    write_picture(upscaler.upscale_picture(read_picture(source)), target, **options)


def _photo(height: int = 12, width: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 4 + 2, width // 4 + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))


def test_exif_orientation_is_applied_and_reset(upscaler: Upscaler, tmp_path: Path) -> None:
    source, target = tmp_path / "phone.jpg", tmp_path / "phone_x2.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    exif[0x010F] = "TestCam"
    Image.fromarray(_photo(12, 20)).save(source, quality=100, exif=exif.tobytes())
    upright = np.asarray(ImageOps.exif_transpose(Image.open(source)))
    assert upright.shape == (20, 12, 3)
    _round_trip(upscaler, source, target)
    with Image.open(target) as out:
        assert out.size == (24, 40)  # upright, doubled
        assert out.getexif().get(0x0112, 1) == 1 and out.getexif()[0x010F] == "TestCam"
        expected = upscaler.upscale(upright)
        assert np.abs(np.asarray(out).astype(int) - expected).mean() < 4  # JPEG re-encoding only


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_icc_profile_is_carried(upscaler: Upscaler, tmp_path: Path, suffix: str) -> None:
    source, target = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    Image.fromarray(_photo()).save(source, icc_profile=SRGB, **({"quality": 100} if suffix in (".jpg", ".webp") else {}))
    _round_trip(upscaler, source, target)
    with Image.open(target) as out:
        assert out.info.get("icc_profile") == SRGB and out.size == (40, 24)


def test_sixteen_bit_png_stays_sixteen_bit(upscaler: Upscaler, tmp_path: Path) -> None:
    source, target = tmp_path / "deep.png", tmp_path / "deep_x2.png"
    rgb16 = _photo().astype(np.uint16) * 257 + np.random.default_rng(1).integers(0, 257, (12, 20, 3)).astype(np.uint16)
    with open(source, "wb") as handle:
        png.Writer(20, 12, greyscale=False, bitdepth=16).write(handle, rgb16.reshape(12, -1))
    picture = read_picture(source)
    assert picture.pixels.dtype == np.uint16 and np.array_equal(picture.pixels, rgb16)
    write_picture(upscaler.upscale_picture(picture), target)
    width, height, rows, info = png.Reader(filename=str(target)).asDirect()
    out = np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(height, width, 3)
    assert info["bitdepth"] == 16 and (width, height) == (40, 24)
    assert np.array_equal(out, upscaler.upscale(rgb16))
    inner = out[(out > 0) & (out < 65535)]
    assert inner.size > 100 and (inner % 257 != 0).mean() > 0.9  # 16 significant bits, not 8 scaled


def test_sixteen_bit_png_keeps_its_icc_profile(upscaler: Upscaler, tmp_path: Path) -> None:
    source, target = tmp_path / "deep.png", tmp_path / "deep_x2.png"
    rgb16 = (_photo().astype(np.uint16) * 257)
    picture = read_picture(_write_png16(source, rgb16))
    from dataclasses import replace

    write_picture(replace(upscaler.upscale_picture(picture), icc_profile=SRGB), target)
    assert Image.open(target).info.get("icc_profile") == SRGB
    assert read_picture(target).pixels.dtype == np.uint16


def _write_png16(path: Path, pixels: np.ndarray) -> Path:
    h, w, c = pixels.shape
    with open(path, "wb") as handle:
        png.Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16).write(handle, pixels.reshape(h, -1))
    return path


def test_sixteen_bit_tiff_stays_sixteen_bit(upscaler: Upscaler, tmp_path: Path) -> None:
    source, target = tmp_path / "scan.tif", tmp_path / "scan_x2.tif"
    rgb16 = _photo().astype(np.uint16) * 257 + 100
    tifffile.imwrite(source, rgb16, photometric="rgb", iccprofile=SRGB)
    _round_trip(upscaler, source, target)
    with tifffile.TiffFile(target) as tif:
        out = tif.pages[0].asarray()
        assert out.dtype == np.uint16 and out.shape == (24, 40, 3)
        assert bytes(tif.pages[0].tags[34675].value) == SRGB
    assert np.array_equal(out, upscaler.upscale(rgb16))


@pytest.mark.parametrize("bits", [8, 16])
def test_grey_stays_grey(upscaler: Upscaler, tmp_path: Path, bits: int) -> None:
    source, target = tmp_path / "grey.png", tmp_path / "grey_x2.png"
    grey = _photo()[..., 0]
    if bits == 8:
        Image.fromarray(grey, "L").save(source)
    else:
        _write_png16(source, (grey.astype(np.uint16) * 257)[..., None])
    _round_trip(upscaler, source, target)
    out = read_picture(target)
    assert out.channels == 1 and out.bit_depth == bits and out.pixels.shape == (24, 40, 1)
    with Image.open(target) as image:
        assert image.mode in ("L", "I;16", "I;16B", "I")


def test_alpha_is_upscaled_and_reattached(upscaler: Upscaler, tmp_path: Path) -> None:
    source, target = tmp_path / "logo.png", tmp_path / "logo_x2.png"
    rgb = _photo()
    alpha = np.zeros((12, 20), np.uint8)
    alpha[3:9, 5:15] = 255
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(source)
    _round_trip(upscaler, source, target)
    with Image.open(target) as out:
        assert out.mode == "RGBA" and out.size == (40, 24)
        pixels = np.asarray(out)
    assert np.array_equal(pixels[..., 3], np.asarray(Image.fromarray(alpha).resize((40, 24), Image.BICUBIC)))
    assert np.array_equal(pixels[..., :3], upscaler.upscale(rgb))


def test_palette_and_cmyk_are_converted_with_a_note(upscaler: Upscaler, tmp_path: Path) -> None:
    palette = tmp_path / "icon.png"
    Image.fromarray(_photo()).convert("P", palette=Image.ADAPTIVE, colors=16).save(palette, transparency=0)
    picture = read_picture(palette)
    assert picture.channels == 4 and any("palette" in note for note in picture.notes)
    write_picture(upscaler.upscale_picture(picture), tmp_path / "icon_x2.png")
    assert Image.open(tmp_path / "icon_x2.png").mode == "RGBA"

    cmyk = tmp_path / "print.jpg"
    Image.fromarray(_photo()).convert("CMYK").save(cmyk, quality=100)
    picture = read_picture(cmyk)
    assert picture.channels == 3 and any("CMYK" in note for note in picture.notes)
    write_picture(upscaler.upscale_picture(picture), tmp_path / "print_x2.jpg")
    assert Image.open(tmp_path / "print_x2.jpg").mode == "RGB"


def test_quality_option(upscaler: Upscaler, tmp_path: Path) -> None:
    source = tmp_path / "q.png"
    Image.fromarray(_photo(48, 64, seed=3)).save(source)
    sizes = {}
    for fmt in (".jpg", ".webp"):
        for quality in (30, 95):
            target = tmp_path / f"q{quality}{fmt}"
            _round_trip(upscaler, source, target, quality=quality)
            sizes[fmt, quality] = target.stat().st_size
            assert Image.open(target).size == (128, 96)
        assert sizes[fmt, 30] < sizes[fmt, 95]


@pytest.mark.parametrize(("quality", "sampling"), [(95, "4:4:4"), (90, "4:4:4"), (89, "4:2:0"), (30, "4:2:0")])
def test_jpeg_keeps_full_chroma_at_high_quality(upscaler: Upscaler, tmp_path: Path, quality: int, sampling: str) -> None:
    from PIL import JpegImagePlugin

    source, target = tmp_path / "q.png", tmp_path / "q.jpg"
    Image.fromarray(_photo(48, 64, seed=3)).save(source)
    _round_trip(upscaler, source, target, quality=quality)
    with Image.open(target) as out:
        # read off the file's frame header: 0 = 4:4:4, 2 = 4:2:0 (Pillow's own numbering)
        assert {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}[JpegImagePlugin.get_sampling(out)] == sampling


def test_jpeg_cannot_take_alpha(upscaler: Upscaler, tmp_path: Path) -> None:
    from falsr_zoo.errors import ImageError

    source = tmp_path / "a.png"
    Image.new("RGBA", (4, 4)).save(source)
    with pytest.raises(ImageError, match="JPEG cannot store transparency"):
        _round_trip(upscaler, source, tmp_path / "a.jpg")
    assert not (tmp_path / "a.jpg").exists()


def test_unreadable_files_give_one_line_errors(tmp_path: Path) -> None:
    from falsr_zoo.errors import ImageError

    broken = tmp_path / "broken.png"
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="PNG")
    broken.write_bytes(buffer.getvalue()[:60])
    for path in (broken, tmp_path / "missing.png", tmp_path):
        with pytest.raises(ImageError) as info:
            read_picture(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
