"""A read-only folder that also stops root, for the tests of unwritable outputs.

The tests run as root, and root ignores permission bits: ``chmod 0o555`` stops nobody here, and
mounting a read-only file system needs privileges a CI machine may not grant. So the folder is
made read-only the way the kernel reports it, at the system-call wrappers Python code goes
through: inside ``folder``, ``os.open`` and ``open`` for writing, ``os.mkdir``, ``os.unlink`` /
``os.remove`` / ``os.rmdir`` (even of a file that does not exist, as on a real read-only mount:
the check comes before the lookup), and ``os.rename`` / ``os.replace`` into or out of it fail with
``EROFS``; ``os.access(..., W_OK)`` answers no and ``os.statvfs`` reports ``ST_RDONLY``. Reading
is untouched. A writer that went around these wrappers (C code opening the file itself) would
succeed, and the test would see the file it left: the simulation cannot hide a non-atomic writer.

The same commands were checked by hand on a real read-only tmpfs (``unshare -m``, ``mount -o ro``):
same messages, same exit statuses.

``lying_access=True`` leaves ``os.access`` and ``os.statvfs`` alone (as on a network file system
whose permission answers are wrong, or a disk that fills up): checks before the work pass and
the writes themselves fail.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path
from typing import Any, Callable

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def make_read_only(monkeypatch: pytest.MonkeyPatch, folder: Path, *, lying_access: bool = False) -> None:
    """Make ``folder`` (and everything under it) read-only for this test, ``EROFS`` as the kernel says it."""
    root = os.path.abspath(folder)

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return False
        absolute = os.path.abspath(os.fsdecode(os.fspath(path)))
        return absolute == root or absolute.startswith(root + os.sep)

    def refuse(path: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(os.fspath(path)))

    def guard(name: str, paths: Callable[..., tuple[Any, ...]] = lambda path, *a, **k: (path,)) -> None:
        original = getattr(os, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dir_fd") is None and any(inside(p) for p in paths(*args, **kwargs)):
                refuse(paths(*args, **kwargs)[0])
            return original(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)

    for name in ("mkdir", "unlink", "remove", "rmdir"):
        guard(name)
    for name in ("rename", "replace"):
        guard(name, lambda src, dst, *a, **k: (dst, src))

    real_os_open = os.open

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and kwargs.get("dir_fd") is None and inside(path):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    real_open = builtins.open

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and inside(file):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    if lying_access:
        return
    real_access, real_statvfs = os.access, os.statvfs

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if mode & os.W_OK and inside(path):
            return False
        return real_access(path, mode, *args, **kwargs)

    def statvfs(path: Any) -> os.statvfs_result:
        result = real_statvfs(path)
        if not inside(path):
            return result
        values = list(result)
        values[8] |= os.ST_RDONLY  # f_flag
        return os.statvfs_result(values)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "statvfs", statvfs)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes, and every folder."""
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<dir>"
            for path in sorted(folder.rglob("*"))}
