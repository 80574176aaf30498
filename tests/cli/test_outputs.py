"""Every ``falsr`` command with an output that cannot be written fails with one line naming the
target and the reason, exit status 1, and leaves nothing behind (issue 22).

Two ways an output cannot be written are made for each command: a read-only folder
(:mod:`tests.cli.read_only`: ``EROFS`` at the system-call wrappers, because the tests run as root
and root ignores ``chmod``) and a parent that is a regular file (the real kernel's ``ENOTDIR`` /
``EEXIST``, nothing simulated). Most commands find the problem before loading torch or a model;
the writers themselves report the same way when a check passes and the write still fails
(``lying_access``: a file system whose permission answers are wrong, or a disk that fills up).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE
from tests.cli.read_only import make_read_only, snapshot

TINY = "conv f16 k3 b1 noskip <- 0; out <- 0,1"


def _image(path: Path, size: tuple[int, int] = (12, 10)) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _data_set(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("one", "two"):
        hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        Image.fromarray(hr).save(folder / f"{name}_HR.png")
        Image.fromarray(hr).resize((10, 12), Image.BICUBIC).save(folder / f"{name}_LR.png")
    return folder


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Readable inputs outside the unwritable place."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    return {"image": _image(folder / "lr.png"), "data": _data_set(folder / "set"),
            "graph": Path(__file__).resolve().parents[2].parent / "shared" / "falsr-official" / "pretrained_model"
            / "FALSR-C.pb"}


# (command line, the output it cannot write); OUT is the unwritable place, {image} etc. the inputs
COMMANDS = {
    "upscale": (["upscale", "{image}", "-m", "FALSR-C", "-o", "OUT/lr_x2.png"], "OUT/lr_x2.png"),
    "compare": (["compare", "{image}", "-m", "FALSR-C", "-o", "OUT/cmp.png"], "OUT/cmp.png"),
    "export": (["export", "FALSR-C", "-o", "OUT/FALSR-C.onnx"], "OUT/FALSR-C.onnx"),
    "export-spandrel": (["export", "--genome", TINY, "--format", "spandrel", "-o", "OUT/tiny.safetensors"],
                        "OUT/tiny.safetensors"),
    "eval": (["eval", "-m", "FALSR-C", "--data", "{data}", "--save-images", "OUT/sr"], "OUT/sr"),
    "train": (["train", TINY, "--data", "{data}", "--run-dir", "OUT/run", "--steps", "1", "-q"], "OUT/run"),
    "convert": (["convert", "{graph}", "-o", "OUT/FALSR-C.safetensors"], "OUT/FALSR-C.safetensors"),
    "cards": (["cards", "--dir", "OUT/cards"], "OUT/cards"),
}


def _invoke(argv: list[str], out: Path, inputs: dict[str, Path]) -> tuple[int, str]:
    args = [arg.replace("OUT", str(out)).format(**inputs) for arg in argv]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


@pytest.mark.parametrize("way", ["read-only", "parent-is-a-file"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unwritable_output_is_one_line_naming_it(command: str, way: str, tmp_path: Path, inputs: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    argv, target = COMMANDS[command]
    place = tmp_path / "place"
    if way == "read-only":
        place.mkdir()
        (place / "kept.txt").write_text("already here")
        out, reason = place, "read-only file system"
    else:
        place.write_text("a file, not a folder")
        out, reason = place / "sub", f"{place} is a file, not a folder"
    before = snapshot(tmp_path)
    if way == "read-only":
        make_read_only(monkeypatch, place)
    code, output = _invoke(argv, out, inputs)
    monkeypatch.undo()
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert code == EXIT_FAILURE, output
    expected = f"cannot write {target.replace('OUT', str(out))}: {reason}"
    assert len(errors) == 1 and errors[0].endswith(expected), output
    assert "Traceback" not in output
    assert snapshot(tmp_path) == before  # nothing written, created or left half-done anywhere


@pytest.mark.parametrize("command", ["upscale", "compare", "eval"])
def test_a_write_that_fails_after_the_checks_is_reported_the_same_way(
        command: str, store: Path, tmp_path: Path, inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    argv, target = COMMANDS[command]
    place = tmp_path / "place"
    place.mkdir()
    before = snapshot(tmp_path)
    make_read_only(monkeypatch, place, lying_access=True)  # the checks pass; the model runs; the write fails
    code, output = _invoke(argv, place, inputs)
    monkeypatch.undo()
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    target_path = Path(target.replace("OUT", str(place)))
    if command == "eval":  # the folder is made by the first image's write
        target_path = target_path / "one_SR.png"
    assert code == EXIT_FAILURE and len(errors) == 1, output
    assert errors[0].endswith(f"cannot write {target_path}: read-only file system") and ".part" not in output
    assert snapshot(tmp_path) == before


def test_an_os_error_no_library_call_foresaw_is_one_line_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. a folder the training engine creates itself: the system's reason and the file, exit 1
    import errno

    import falsr_zoo.cards

    def full_disk(directory):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cards"))

    monkeypatch.setattr(falsr_zoo.cards, "write_cards", full_disk)
    result = CliRunner().invoke(main, ["cards", "--dir", str(tmp_path / "cards")])
    assert result.exit_code == EXIT_FAILURE and "Traceback" not in result.output
    assert result.output.splitlines() == [f"Error: {tmp_path / 'cards'}: no space left on device"]
    monkeypatch.setenv("FALSR_ZOO_DEBUG", "1")  # the traceback stays one variable away
    result = CliRunner().invoke(main, ["cards", "--dir", str(tmp_path / "cards")])
    assert isinstance(result.exception, OSError) and result.exception.errno == errno.ENOSPC
