"""Reading and writing image files safely.

Reads go through PIL and fail with :class:`~falsr_zoo.errors.ImageError`; writes go to a
temporary file in the destination directory and are renamed into place, so an interrupted
run never leaves a half-written image, and an input file is never overwritten.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from falsr_zoo.errors import ImageError, OutputExistsError
from falsr_zoo.weights import atomic_write_bytes

__all__ = ["output_path", "read_image", "write_image"]


def read_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully decode an image file.

    Raises:
        ImageError: if the file is missing, not an image, or truncated.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy() if image.format is None else _keep_format(image)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"{path}: cannot read image ({' '.join(str(err).split())})") from None


def _keep_format(image: Image.Image) -> Image.Image:
    copy = image.copy()
    copy.format = image.format
    return copy


def write_image(image: Image.Image, path: str | os.PathLike[str], **save_options: object) -> None:
    """Encode ``image`` (format from the suffix) and write it atomically."""
    path = Path(path)
    buffer = io.BytesIO()
    try:
        fmt = Image.registered_extensions().get(path.suffix.lower())
        if fmt is None:
            raise ImageError(f"{path}: unknown image format {path.suffix!r}")
        image.save(buffer, format=fmt, **save_options)
    except (OSError, KeyError, ValueError) as err:
        raise ImageError(f"{path}: cannot encode image ({err})") from None
    atomic_write_bytes(path, buffer.getvalue())


def output_path(source: Path, destination: Path | None, suffix: str = "_x2", many: bool = False) -> Path:
    """Where the upscale of ``source`` goes.

    ``destination`` is a directory (existing, or when there are ``many`` inputs, or given
    without a file suffix) or a file; by default the output sits beside the input as
    ``<stem>_x2<ext>``.

    Raises:
        OutputExistsError: if that path is the input itself.
    """
    name = f"{source.stem}{suffix}{source.suffix}"
    if destination is None:
        target = source.with_name(name)
    elif destination.is_dir() or many or not destination.suffix:
        target = destination / name
    else:
        target = destination
    if target.resolve() == source.resolve():
        raise OutputExistsError(f"refusing to overwrite the input {source}")
    return target
