"""Bad numbers are usage errors (exit 2), tiles too small to be sensible are refused, and fp16 on
a CPU says that it is slow (issue 22)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_USAGE

TINY = "conv f16 k3 b1 noskip <- 0; out <- 0,1"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("numbers") / "lr.png"
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(path)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["upscale", "{image}", "--outscale", "nan"], "Invalid value for '--outscale': 'nan' is not a finite number."),
    (["upscale", "{image}", "--outscale", "inf"], "Invalid value for '--outscale': 'inf' is not a finite number."),
    (["upscale", "{image}", "--outscale", "-inf"], "Invalid value for '--outscale': '-inf' is not a finite number."),
    (["upscale", "{image}", "--outscale", "0"], "Invalid value for '--outscale': 0.0 is not in the range 1.0<x<=16.0."),
    (["upscale", "{image}", "--outscale", "-2"], "Invalid value for '--outscale': -2.0 is not in the range 1.0<x<=16.0."),
    (["upscale", "{image}", "--outscale", "1"], "Invalid value for '--outscale': 1.0 is not in the range 1.0<x<=16.0."),
    (["upscale", "{image}", "--memory-budget", "NaN"], "Invalid value for '--memory-budget': 'NaN' is not a finite"),
    (["upscale", "{image}", "--memory-budget", "-5"], "Invalid value for '--memory-budget': -5.0 is not in the range x>=16"),
    (["upscale", "{image}", "--batch-size", "0"], "Invalid value for '--batch-size': 0 is not in the range x>=1."),
    (["upscale", "{image}", "--tile", "0"], "Invalid value for '--tile': 0 is not in the range x>=1."),
    (["upscale", "{image}", "--quality", "101"], "Invalid value for '--quality': 101 is not in the range 1<=x<=100."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--epochs", "nan"], "'--epochs': 'nan' is not a finite number."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--epochs", "inf"], "'--epochs': 'inf' is not a finite number."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--epochs", "0"], "'--epochs': 0.0 is not in the range x>0."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--steps", "-3"], "'--steps': -3 is not in the range x>=1."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--seed", "-1"], "'--seed': -1 is not in the range x>=0."),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--set", "lr=inf"], "lr=inf: expected a finite number"),
    (["train", TINY, "--data", ".", "--run-dir", "r", "--set", "epochs=-NaN"], "epochs=-NaN: expected a finite number"),
    (["bench", "--genome", TINY, "--size", "0", "4"], "Invalid value for '--size': 0 is not in the range x>=1."),
    (["bench", "--genome", TINY, "--size", "4", "4", "--repeats", "0"], "'--repeats': 0 is not in the range x>=1."),
    (["info", "FALSR-A", "--size", "-1", "4"], "Invalid value for '--size': -1 is not in the range x>=1."),
    (["compare", "{image}", "--crop", "0", "0", "0"], "Invalid value for '--crop': 0 is not in the range x>=1."),
    (["export", "FALSR-A", "--format", "tensorrt", "--max-tile", "0", "8"], "'--max-tile': 0 is not in the range x>=1"),
])
def test_bad_numbers_are_usage_errors(image: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [arg.format(image=image) for arg in args])
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert result.exit_code == EXIT_USAGE, result.output
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.output, result.output


@pytest.mark.parametrize(("args", "smallest"), [
    (["upscale", "{image}", "-m", "FALSR-B", "--tile", "1"], "FALSR-B's 27-pixel tile overlap: each tile would compute "
                                                             "3,025x the pixels it keeps; use --tile 27 or more"),
    (["upscale", "{image}", "-m", "FALSR-C", "--tile", "15"], "FALSR-C's 16-pixel tile overlap"),
    (["bench", "--genome", TINY, "--size", "8", "8", "--tile", "3"], "the genome's 4-pixel tile overlap"),
])
def test_tiles_below_the_overlap_are_refused(image: Path, args: list[str], smallest: str) -> None:
    result = CliRunner().invoke(main, [arg.format(image=image) for arg in args])
    assert result.exit_code == EXIT_USAGE and smallest in result.output, result.output


def test_tile_floor_is_the_margin_of_the_tiling() -> None:
    # the refusal follows the upscaler's own overlap: a tile of exactly the margin is the smallest taken
    from falsr_zoo.api import load
    from falsr_zoo.sr.tiling import smallest_tile, tile_overhead
    from falsr_zoo.sr.upscale import Upscaler

    upscaler = Upscaler(load(genome=TINY))
    assert smallest_tile(upscaler.margin) == upscaler.margin == 4
    assert tile_overhead(upscaler.margin, upscaler.margin) == 9.0 and tile_overhead(1, 27) == 55**2


@pytest.mark.parametrize(("precision", "device", "warned"), [
    ("fp16", "cpu", True), ("bf16", "cpu", False), ("fp32", "cpu", False)])
def test_fp16_on_a_cpu_warns_once(precision: str, device: str, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    from falsr_zoo.api import load
    from falsr_zoo.sr.upscale import FP16_ON_CPU, Upscaler

    with caplog.at_level(logging.WARNING, logger="falsr_zoo.sr.upscale"):
        Upscaler(load(genome=TINY), precision=precision, device=device).upscale(np.zeros((6, 5, 3), np.uint8))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == ([FP16_ON_CPU] if warned else [])
