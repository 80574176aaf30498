"""Reading and writing real photos without losing what they carry.

A file becomes a :class:`Picture`: pixels as an ``(H, W, C)`` array (``C`` = 1 grey, 2 grey +
alpha, 3 RGB, 4 RGBA; uint8, or uint16 for 16-bit files), the ICC profile, the EXIF block and
notes on any conversion made on the way in. On reading, the EXIF orientation is applied to
the pixels (and reset to 1 in the EXIF that is written back); palette images become RGB or
RGBA, CMYK becomes RGB (through its ICC profile when it has one), each with a note.
16-bit PNGs are decoded with ``pypng`` and 16-bit TIFFs with ``tifffile`` because Pillow keeps
only 8 bits of 16-bit colour images; everything else goes through Pillow, with whatever formats
the installed Pillow reads (AVIF, JPEG 2000 and QOI in current wheels) plus HEIC/HEIF when the
``heif`` extra (pillow-heif) is installed: :func:`readable_suffixes` says which.

Writes encode in memory, then go to a temporary file in the destination directory that is
renamed into place: an interrupted run never leaves a half-written image under the output's
name, and an input file is never overwritten.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo._optional import require
from falsr_zoo.errors import ImageError, MissingDependencyError, OutputExistsError

__all__ = [
    "PHOTO_SUFFIXES",
    "ImageLike",
    "Picture",
    "as_rgb_array",
    "output_path",
    "output_suffix",
    "read_picture",
    "readable_suffixes",
    "register_format_plugins",
    "stale_partials",
    "writable_suffix",
    "write_picture",
]

logger = logging.getLogger(__name__)

ImageLike = Union[Image.Image, np.ndarray]
"""What the in-memory APIs take: a PIL image or a uint8/uint16 array."""

ORIENTATION_TAG = 0x0112
ICC_TAG = 34675
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LOSSY = {"JPEG", "WEBP", "AVIF", "HEIF"}
_WITH_EXIF = {"JPEG", "PNG", "WEBP", "AVIF", "HEIF"}  # a TIFF's EXIF is its own tag set
PHOTO_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".tga", ".ppm", ".pgm",
    ".avif", ".heic", ".heif", ".jp2", ".j2k", ".jpx", ".jpf", ".qoi",
)
"""File suffixes a folder scan considers, where the installed Pillow can read them
(:func:`readable_suffixes`); other files in a folder are not images to upscale."""
FORMAT_PLUGINS = {"pillow_heif": ("heif", "register_heif_opener", (".heic", ".heif"))}
"""Optional Pillow plugins: module -> (the falsr-zoo extra, its registration function, its suffixes)."""
_MODES_BY_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class Picture:
    """Decoded pixels plus what must travel with them to the output.

    Attributes:
        pixels: ``(H, W, C)`` uint8 or uint16, ``C`` in 1-4 (grey, grey+alpha, RGB, RGBA).
        icc_profile: The embedded ICC profile, if any.
        exif: The EXIF block with orientation reset to 1, if any.
        format: The source format (``"PNG"``, ``"JPEG"``, ...).
        notes: Conversions applied while reading (palette, CMYK, orientation, ...).
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    format: str = "PNG"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)


# --------------------------------------------------------------------------------------------
# Orientation


_ORIENTATIONS = {
    2: lambda a: a[:, ::-1],  # mirrored
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.transpose(1, 0, 2),  # transposed
    6: lambda a: np.rot90(a, -1),  # rotated 90 clockwise to display
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],  # transversed
    8: lambda a: np.rot90(a, 1),  # rotated 90 counter-clockwise to display
}


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to ``(H, W, C)`` pixels, as ``ImageOps.exif_transpose``."""
    op = _ORIENTATIONS.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def _exif_without_orientation(image: Image.Image) -> tuple[bytes | None, int]:
    exif = image.getexif()
    orientation = int(exif.get(ORIENTATION_TAG, 1) or 1)
    if not exif:
        return None, 1
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    return exif.tobytes(), orientation


# --------------------------------------------------------------------------------------------
# Formats


@lru_cache(maxsize=None)
def register_format_plugins() -> tuple[str, ...]:
    """Register the optional Pillow plugins that are installed (pillow-heif: HEIC/HEIF); once.

    Returns:
        The modules registered.
    """
    registered = []
    for module, (extra, function, _) in FORMAT_PLUGINS.items():
        try:
            plugin = require(module, extra, "HEIC/HEIF images")
        except MissingDependencyError:
            continue
        getattr(plugin, function)()
        registered.append(module)
    return tuple(registered)


def readable_suffixes() -> frozenset[str]:
    """The :data:`PHOTO_SUFFIXES` the installed Pillow (and plugins) can decode."""
    register_format_plugins()
    Image.init()
    extensions = Image.registered_extensions()
    return frozenset(s for s in PHOTO_SUFFIXES if extensions.get(s) in Image.OPEN)


def writable_suffix(suffix: str) -> bool:
    """Whether an image can be written with this file suffix (``".avif"``, ``".png"``)."""
    register_format_plugins()
    Image.init()
    return Image.registered_extensions().get(suffix.lower()) in Image.SAVE


def output_suffix(source: Path, ext: str = "auto") -> str:
    """The output file suffix for ``source``: ``ext`` (``png``, ``jpg``, ``webp``, ``tiff``), or with
    ``auto`` the input's own where it can be written, else ``.png`` (e.g. HEIC without pillow-heif)."""
    if ext != "auto":
        return f".{ext.lower().lstrip('.')}"
    return source.suffix if writable_suffix(source.suffix) else ".png"


def _missing_plugin_hint(path: Path) -> str:
    for module, (extra, _, suffixes) in FORMAT_PLUGINS.items():
        if path.suffix.lower() in suffixes and module not in register_format_plugins():
            return f"; {path.suffix} files need {module}: pip install 'falsr-zoo[{extra}]'"
    return ""


# --------------------------------------------------------------------------------------------
# Reading


def _pil_pixels(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    """Pixels of a Pillow image as ``(H, W, C)``; converts palette / CMYK / exotic modes."""
    icc = image.info.get("icc_profile")
    mode = image.mode
    if mode == "P" or mode == "PA":
        has_alpha = "transparency" in image.info or mode == "PA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        notes.append(f"palette image converted to {image.mode}")
    elif mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc)
        notes.append("CMYK image converted to RGB" + (" through its ICC profile (output tagged sRGB)" if icc else ""))
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16)[..., None], icc
    elif mode == "I":
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise ImageError(f"32-bit integer image with values outside 0..65535 is not supported ({mode})")
        return array.astype(np.uint16)[..., None], icc
    elif mode == "1":
        image = image.convert("L")
        notes.append("1-bit image converted to 8-bit grey")
    elif mode not in _MODES_BY_CHANNELS.values():
        converted = "RGBA" if "A" in mode else "RGB"
        notes.append(f"{mode} image converted to {converted}")
        image = image.convert(converted)
    array = np.asarray(image)
    return (array[..., None] if array.ndim == 2 else array), icc


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            return converted, ImageCms.ImageCmsProfile(srgb).tobytes()
        except (ImageCms.PyCMSError, OSError) as err:
            logger.warning("CMYK ICC conversion failed (%s); using a naive conversion", err)
    return image.convert("RGB"), None


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as handle:
        head = handle.read(33)
    if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return 0
    return head[24]


def _read_png16(path: Path) -> np.ndarray:
    import png

    width, height, rows, info = png.Reader(filename=os.fspath(path)).asDirect()
    planes = info["planes"]
    array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return array.reshape(height, width, planes)


def _read_tiff16(path: Path) -> tuple[np.ndarray, bytes | None, int] | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if page.dtype != np.uint16:
            return None
        array = page.asarray()
        icc = page.tags[ICC_TAG].value if ICC_TAG in page.tags else None
        orientation = int(page.tags[274].value) if 274 in page.tags else 1
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"{path}: unsupported 16-bit TIFF layout {array.shape}")
    return array, bytes(icc) if icc is not None else None, orientation


def read_picture(path: str | os.PathLike[str]) -> Picture:
    """Decode an image file with its ICC profile and EXIF, orientation applied.

    Raises:
        ImageError: if the file is missing, not an image, truncated, or of an unsupported kind.
    """
    path = Path(path)
    notes: list[str] = []
    register_format_plugins()
    try:
        with Image.open(path) as image:
            image.load()
            fmt = image.format or path.suffix.lstrip(".").upper()
            exif, orientation = _exif_without_orientation(image)
            pixels, icc = None, image.info.get("icc_profile")
            if fmt == "PNG" and _png_bit_depth(path) == 16:
                pixels = _read_png16(path)
            elif fmt == "TIFF":
                tiff16 = _read_tiff16(path)
                if tiff16 is not None:
                    pixels, icc, orientation = tiff16
            if pixels is None:
                pixels, icc = _pil_pixels(image, notes)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ImageError(f"{path}: cannot read image ({reason}){_missing_plugin_hint(path)}") from None
    if orientation != 1:
        pixels = _orient(pixels, orientation)
        notes.append(f"EXIF orientation {orientation} applied")
    return Picture(pixels=pixels, icc_profile=icc, exif=exif, format=fmt, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Writing


def _format_for(path: Path) -> str:
    register_format_plugins()
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image format {path.suffix!r}")
    return fmt


def _encode_png16(picture: Picture) -> bytes:
    import png

    height, width, channels = picture.pixels.shape
    writer = png.Writer(width, height, greyscale=channels <= 2, alpha=channels in (2, 4), bitdepth=16)
    buffer = io.BytesIO()
    writer.write(buffer, picture.pixels.reshape(height, width * channels))
    chunks = list(png.Reader(bytes=buffer.getvalue()).chunks())
    extra = []
    if picture.icc_profile:
        import zlib

        extra.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(picture.icc_profile)))
    if picture.exif:
        extra.append((b"eXIf", picture.exif[6:] if picture.exif.startswith(b"Exif\x00\x00") else picture.exif))
    out = io.BytesIO()
    png.write_chunks(out, [chunks[0], *extra, *chunks[1:]])
    return out.getvalue()


def _encode_tiff16(picture: Picture) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    channels = picture.channels
    tifffile.imwrite(
        buffer,
        picture.pixels if channels > 1 else picture.pixels[..., 0],
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        iccprofile=picture.icc_profile,
    )
    return buffer.getvalue()


def _to_8bit(picture: Picture, fmt: str) -> Picture:
    pixels = (picture.pixels.astype(np.uint32) * 255 + 32767) // 65535
    logger.warning("%s cannot store 16 bits per channel; writing 8 bits", fmt)
    return replace(picture, pixels=pixels.astype(np.uint8), notes=(*picture.notes, f"reduced to 8 bits for {fmt}"))


def encode_picture(picture: Picture, fmt: str, quality: int = 95) -> bytes:
    """Encode ``picture`` as ``fmt`` (a Pillow format name), keeping ICC, EXIF and bit depth."""
    if picture.bit_depth == 16:
        if fmt == "PNG":
            return _encode_png16(picture)
        if fmt == "TIFF":
            return _encode_tiff16(picture)
        picture = _to_8bit(picture, fmt)
    if fmt == "JPEG" and picture.has_alpha:
        raise ImageError("JPEG cannot store transparency; write .png, .webp or .tif instead")
    image = Image.fromarray(picture.pixels[..., 0] if picture.channels == 1 else picture.pixels,
                            mode=_MODES_BY_CHANNELS[picture.channels])
    options: dict[str, object] = {}
    if picture.icc_profile:
        options["icc_profile"] = picture.icc_profile
    if picture.exif and fmt in _WITH_EXIF:
        options["exif"] = picture.exif
    if fmt in _LOSSY:
        options["quality"] = quality
        if fmt == "JPEG" and quality >= 90:
            options["subsampling"] = 0  # 4:4:4: chroma subsampling would undo part of the upscale
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, KeyError, ValueError) as err:
        raise ImageError(f"cannot encode {fmt} ({err})") from None
    return buffer.getvalue()


def write_picture(picture: Picture, path: str | os.PathLike[str], quality: int = 95) -> None:
    """Encode ``picture`` by the suffix of ``path`` and write it atomically."""
    path = Path(path)
    data = encode_picture(picture, _format_for(path), quality)
    atomic_write_bytes(path, data)


def stale_partials(target: Path) -> list[Path]:
    """Temporary files a killed run left for ``target`` (``.<name>.<32 hex>.part``)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{32}}\.part$")
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if pattern.match(p.name)]


def output_path(source: Path, destination: Path | None, suffix: str = "_x2", many: bool = False,
                relative: Path | None = None, ext: str | None = None) -> Path:
    """Where the upscale of ``source`` goes.

    Args:
        source: The input file.
        destination: A directory (existing, or when there are ``many`` inputs, or given
            without a file suffix) or a file; ``None`` puts the output beside the input.
        suffix: Appended to the stem: ``photo.jpg`` -> ``photo_x2.jpg``.
        many: Whether several inputs share ``destination``.
        relative: The input's path relative to a scanned folder, mirrored under ``destination``.
        ext: The output's file suffix (``".png"``); default: the input's.

    Raises:
        OutputExistsError: if that path is the input itself.
    """
    name = f"{source.stem}{suffix}{ext or source.suffix}"
    if destination is None:
        target = source.with_name(name)
    elif destination.is_dir() or many or not destination.suffix:
        sub = relative.parent if relative is not None else Path()
        target = destination / sub / name
    else:
        target = destination
    if target.resolve() == source.resolve():
        raise OutputExistsError(f"refusing to overwrite the input {source}")
    return target


def as_rgb_array(image: ImageLike) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from a PIL image or a uint8 ``(H, W[, 3|4])`` array.

    Raises:
        ImageError: for other dtypes or shapes.
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ImageError(f"expected a uint8 image array, got dtype {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.ascontiguousarray(array[..., :3])
    raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")
