"""Atomic writes, checked deterministically: the write fails half-way, the old file survives.

The operating system makes the write fail part-way through: a file-size limit (``RLIMIT_FSIZE``,
with ``SIGXFSZ`` ignored) turns every write past ``LIMIT`` bytes into ``EFBIG``, as a full disk
would. A writer that opened the target itself has truncated it by then; one that writes a
temporary file and renames it leaves the old target as it was. The interrupted-run tests in
``tests/sr/test_folders.py`` check the same end to end with signals.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo.imageio import Picture, read_picture, write_picture

LIMIT = 64 * 1024
OLD = b"the previous, complete output" * 10  # well under LIMIT


@contextlib.contextmanager
def file_size_limit(limit: int = LIMIT) -> Iterator[None]:
    """Writes past ``limit`` bytes of any file fail with ``OSError(EFBIG)`` (soft limit, restored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def assert_untouched(target: Path) -> None:
    """The old target is intact and nothing else is left in its folder (no temporary file)."""
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_atomic_write_bytes_keeps_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with file_size_limit(), pytest.raises(OSError):
        atomic_write_bytes(target, bytes(4 * LIMIT))
    assert_untouched(target)
    atomic_write_bytes(target, b"new")  # and a write that fits replaces it
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def _noise(height: int, width: int, channels: int, dtype: type) -> np.ndarray:
    peak = np.iinfo(dtype).max
    return np.random.default_rng(0).integers(0, peak + 1, (height, width, channels), dtype=dtype)


@pytest.mark.parametrize(("suffix", "dtype"), [(".png", np.uint8), (".jpg", np.uint8), (".webp", np.uint8),
                                               (".png", np.uint16), (".tif", np.uint16)])
def test_write_picture_keeps_the_old_file_when_the_write_fails(tmp_path: Path, suffix: str, dtype: type) -> None:
    target = tmp_path / f"photo_x2{suffix}"
    target.write_bytes(OLD)
    picture = Picture(pixels=_noise(512, 512, 3, dtype))  # encodes to far more than LIMIT bytes
    with file_size_limit(), pytest.raises(OSError):
        write_picture(picture, target)
    assert_untouched(target)
    write_picture(picture, target)
    assert read_picture(target).pixels.shape == (512, 512, 3)


def test_weights_files_are_written_atomically(tmp_path: Path) -> None:
    import torch

    from falsr_zoo.zoo.weights import write_safetensors

    target = tmp_path / "w.safetensors"
    target.write_bytes(OLD)
    with file_size_limit(), pytest.raises(OSError):
        write_safetensors({"w": torch.zeros(4 * LIMIT // 4)}, target, {"genome": "x"})
    assert_untouched(target)


# ---------------------------------------------------------------------------------------------
# Outputs that cannot be written: one error naming the target, nothing left behind


def test_a_read_only_folder_is_one_error_naming_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a read-only file system removing the temporary file fails too (EROFS, even though it
    # was never created): that second error must not replace the first, nor name the .part file.
    import errno

    from falsr_zoo.errors import OutputError
    from tests.cli.read_only import make_read_only

    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "out.bin"
    target.write_bytes(OLD)
    make_read_only(monkeypatch, folder, lying_access=True)
    with pytest.raises(OutputError) as raised:
        atomic_write_bytes(target, b"new")
    assert str(raised.value) == f"cannot write {target}: read-only file system"
    assert raised.value.errno == errno.EROFS and isinstance(raised.value, OSError)
    monkeypatch.undo()
    assert_untouched(target)


def test_a_parent_that_is_a_file_is_named(tmp_path: Path) -> None:
    from falsr_zoo.errors import OutputError

    (tmp_path / "file").write_bytes(OLD)
    target = tmp_path / "file" / "sub" / "out.bin"
    with pytest.raises(OutputError, match=f"^cannot write {target}: {tmp_path / 'file'} is a file, not a folder$"):
        atomic_write_bytes(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and (tmp_path / "file").read_bytes() == OLD


def test_check_writable_finds_what_writing_would_meet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from falsr_zoo._files import check_writable
    from falsr_zoo.errors import OutputError
    from tests.cli.read_only import make_read_only

    (tmp_path / "file").write_bytes(OLD)
    (tmp_path / "ro").mkdir()
    check_writable(tmp_path / "new" / "deeper" / "out.png")  # missing folders are created by the writers
    check_writable(tmp_path / "new-run", directory=True)
    cases = [
        (tmp_path / "file" / "out.png", False, f"{tmp_path / 'file'} is a file, not a folder"),
        (tmp_path / "file", True, "it is a file, not a folder"),
        (tmp_path, False, "it is a folder"),
        (tmp_path / "ro" / "a" / "out.png", False, "read-only file system"),
        (tmp_path / "ro" / "run", True, "read-only file system"),
    ]
    make_read_only(monkeypatch, tmp_path / "ro")
    for path, directory, reason in cases:
        with pytest.raises(OutputError) as raised:
            check_writable(path, directory=directory)
        assert str(raised.value) == f"cannot write {path}: {reason}"
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file", "ro"]  # nothing was created
