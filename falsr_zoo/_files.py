"""File primitives every layer may use: atomic writes and sha256 digests.

Pure standard library, so that writing an image, a model card or a run database never pulls in
torch. Files are written atomically (a temporary file in the same directory, ``fsync``, then
``os.replace``): an interrupted write never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

__all__ = ["atomic_write_bytes", "sha256_bytes", "sha256_file", "temporary_sibling"]

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def temporary_sibling(path: str | os.PathLike[str]) -> Path:
    """A unique hidden name beside ``path`` (``.name.<uuid>.part``) for writing before a rename."""
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    The temporary name is unique and created exclusively, with the process umask's permissions;
    it is removed if anything fails, so the old ``path`` (if any) is left intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
