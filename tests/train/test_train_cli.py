"""``falsr train`` on the command line: usage, one-line errors, exit statuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_USAGE
from tests.train.conftest import TINY, TINY_CELL


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["train", *args, "-q"])
    return result.exit_code, result.stdout, result.stderr


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("Error")]


@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--set", "colour=red"], EXIT_USAGE, "Error: unknown training key 'colour'; known keys: "),
    (["--set", "patch_size=96"], EXIT_FAILURE, "Error: patch_size 96 is larger than 0000.png (64x48 after cropping"),
    (["--recipe", "long"], EXIT_USAGE, "Error: unknown recipe 'long' for falsr; expected one of incomplete, full"),
    (["--set", "cutout=4"], EXIT_USAGE, "Error: cutout does not apply to the falsr family"),
    (["--steps", "3", "--epochs", "2"], EXIT_USAGE, "Error: --steps and --epochs exclude each other"),
])
def test_bad_settings_are_one_line_errors(hr_folder: Path, tmp_path: Path, extra, code, message) -> None:
    status, out, err = run(TINY, "--data", str(hr_folder), "--run-dir", str(tmp_path / "run"), *extra)
    assert status == code and out == ""
    errors = _error_lines(err)
    assert len(errors) == 1 and errors[0].startswith(message), err
    assert "Traceback" not in err


def test_bad_data_and_run_directories(hr_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    status, _, err = run(TINY, "--data", str(tmp_path / "empty"), "--run-dir", str(tmp_path / "a"))
    assert status == EXIT_FAILURE and _error_lines(err) == [
        f"Error: {tmp_path / 'empty'}: no images (expected *_HR / *_LR pairs or HR images)"]
    status, _, err = run("--resume", str(tmp_path / "empty"))
    assert status == EXIT_USAGE and "is not a training run directory" in err
    status, _, err = run("--resume", str(tmp_path / "empty"), "--steps", "3")
    assert status == EXIT_USAGE and "--resume takes the run's own settings" in err
    status, _, err = run(TINY, "--data", str(hr_folder))
    assert status == EXIT_USAGE and "give MODEL, --data and --run-dir (or --resume DIR)" in err
    status, _, err = run(TINY_CELL, "--family", "renas", "--data", str(hr_folder), "--run-dir", str(tmp_path / "b"))
    assert status == EXIT_USAGE and "a renas genome needs its network options: layout, num_cells, filters" in err
    status, _, err = run("FALSR-B", "--family", "renas", "--data", str(hr_folder), "--run-dir", str(tmp_path / "c"))
    assert status == EXIT_USAGE and "FALSR-B is a falsr model, not --family renas" in err


def test_list_keys_per_family() -> None:
    status, out, _ = run("--list-keys")
    assert status == 0 and "patch_size" in out and "cutout" not in out
    status, out, _ = run("RENASNet-CIFAR10", "--list-keys")
    assert status == 0 and "cutout" in out and "patch_size" not in out and "aux_weight" in out
