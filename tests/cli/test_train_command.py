"""``falsr train``: what an invocation reports is what it trained (issue 22: a resumed run reported
the run's total as trained this time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main

TINY = "conv f16 k3 b1 noskip <- 0; out <- 0,1"
SETTINGS = ["--set", "batch_size=2", "--set", "patch_size=16", "--set", "checkpoint_every=1", "--set", "log_every=1"]


class _StopAfter(Exception):
    """Stops a run from its progress callback (as a kill after a checkpoint would)."""


def _hr_folder(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def test_a_resumed_run_reports_the_steps_it_trained(tmp_path: Path) -> None:
    from falsr_zoo.train import make_config, train

    data = _hr_folder(tmp_path / "hr")
    run_dir = tmp_path / "run"
    config = make_config("falsr", TINY, data=str(data), steps=5, overrides=[s for s in SETTINGS if s != "--set"])

    def stop_at_two(progress) -> None:
        if progress.step == 2:
            raise _StopAfter

    with pytest.raises(_StopAfter):
        train(config, run_dir, progress=stop_at_two)  # checkpointed at step 2 of 5
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("trained 3 steps, 3-5 (")
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "-q"])
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "nothing to train: the run was complete at step 5"


def test_a_fresh_run_reports_its_steps(tmp_path: Path) -> None:
    data = _hr_folder(tmp_path / "hr")
    result = CliRunner().invoke(main, ["train", TINY, "--data", str(data), "--run-dir", str(tmp_path / "run"),
                                       "--steps", "2", *SETTINGS, "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("trained 2 steps (")
