"""File primitives every layer may use: atomic writes, sha256 digests, writable outputs.

Pure standard library, so that writing an image, a model card or a run database never pulls in
torch. Files are written atomically (a temporary file in the same directory, ``fsync``, then
``os.replace``): an interrupted write never leaves a file that looks complete.

An output that cannot be written (read-only file system, no permission, a parent that is a
file, a full disk) is one :class:`~falsr_zoo.errors.OutputError` that names the target and the
reason, never the temporary file; cleaning up after a failed write never raises (on a read-only
file system even removing a file that was never created fails), so the first error is the one
reported. :func:`check_writable` finds most of these before any work is done.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import uuid
from pathlib import Path

from falsr_zoo.errors import FalsrZooError, OutputError

__all__ = [
    "atomic_write_bytes",
    "check_writable",
    "discard",
    "output_error",
    "sha256_bytes",
    "sha256_file",
    "temporary_sibling",
]

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


def discard(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` if it exists, never raising: cleanup must not hide the error that caused it."""
    with contextlib.suppress(OSError):
        Path(path).unlink(missing_ok=True)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (itself included) when it is not a directory."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None


def output_error(target: str | os.PathLike[str], error: OSError) -> OutputError:
    """``cannot write TARGET: REASON`` for an ``OSError`` met while writing ``target``.

    The reason is the system's (``read-only file system``, ``permission denied``), or names the
    file that stands where a folder is needed; the temporary file's name never appears.
    """
    target = Path(target)
    reason = (error.strerror or str(error) or type(error).__name__).strip()
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(target.parent)
        if blocker is not None:
            reason = f"{blocker} is a file, not a folder"
    result = OutputError(f"cannot write {target}: {reason[:1].lower()}{reason[1:]}")
    result.errno = error.errno
    return result


def _denied(folder: Path) -> int | None:
    """Why files cannot be created in an existing ``folder`` (an errno), or ``None`` if they can."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows): say "permission denied"
        read_only = False
    return errno.EROFS if read_only else errno.EACCES


def check_writable(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Check, without writing anything, that ``path`` can be written (created if missing).

    The nearest existing folder on the way must be a folder this process may write in, on a
    writable file system. Everything the check cannot foresee (a full disk, a race) is still
    reported the same way by the writers.

    Args:
        path: A file to be written, or with ``directory`` a folder to be created or filled.
        directory: ``path`` is a folder.

    Raises:
        OutputError: naming ``path`` and the reason.
    """
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {path}: it is a file, not a folder")
    if not directory and path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    start = path if directory else path.parent
    blocker = _file_in_the_way(start)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder")
    existing = next(p for p in (start, *start.parents) if p.is_dir())
    denied = _denied(existing)
    if denied is not None:
        raise output_error(path, OSError(denied, os.strerror(denied)))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    The temporary name is unique and created exclusively, with the process umask's permissions;
    it is removed if anything fails, so the old ``path`` (if any) is left intact.

    Raises:
        OutputError: the file cannot be written (the message names ``path`` and the reason).
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        discard(tmp)
        if isinstance(error, OSError) and not isinstance(error, FalsrZooError):
            raise output_error(path, error) from error
        raise
