"""Exact resume, checked against runs the engine did not resume and against a loop written here.

The kill-and-resume tests in ``test_engine.py`` compare the engine with itself; these add what
that cannot see: a RENAS run whose steps draw from torch's global generator (dropout, drop-path),
a FALSR run equal to a hand-written loop, and resumed weights that differ from the initial ones
and from another seed's (a resume that silently did nothing would otherwise pass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import torch

from falsr_zoo.families.table import get_family
from falsr_zoo.train import Progress, TrainConfig, build_network, make_config, resume, train
from falsr_zoo.train.checkpoints import read_checkpoint
from falsr_zoo.train.sr_patches import PatchDataset, SRImages
from tests.train.conftest import TINY, TINY_CELL, class_folder


class _Stop(Exception):
    """Raised from the progress callback: the run stops as after a signal, its checkpoint written."""


def _stop_at(step: int) -> Callable[[Progress], None]:
    def progress(report: Progress) -> None:
        if report.step == step:
            raise _Stop
    return progress


def _renas_config(data: Path, seed: int = 0) -> TrainConfig:
    # drop-path 0.5 (raised linearly from 0) and the layout's dropout: every step draws from the global generator
    return make_config("renas", TINY_CELL, data=str(data), options={"layout": "cifar10", "num_cells": 1, "filters": 8},
                       overrides=["steps=8", "batch_size=6", "lr=0.05", "drop_path=0.5", "checkpoint_every=4",
                                  "log_every=1", f"seed={seed}"])


def _last_weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.pt")["model"]


def test_a_renas_run_with_drop_path_resumes_bit_for_bit(tmp_path: Path) -> None:
    data = class_folder(tmp_path / "train", classes=3, per_class=4, size=32)
    config = _renas_config(data)
    whole = train(config, tmp_path / "whole", write_model_dir=False)
    with pytest.raises(_Stop):
        train(config, tmp_path / "part", progress=_stop_at(4), write_model_dir=False)
    assert read_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == 4
    resumed = resume(tmp_path / "part", write_model_dir=False)
    assert resumed.steps == whole.steps == 8
    expected, got = _last_weights(tmp_path / "whole"), _last_weights(tmp_path / "part")
    assert expected.keys() == got.keys()
    differing = [name for name in expected if not torch.equal(expected[name], got[name])]
    assert not differing, differing
    # what makes the comparison mean something: the steps moved the weights, and another seed (other
    # initial weights, data order and dropout masks) ends elsewhere
    initial = build_network(config, {"num_classes": 3}).state_dict()
    other = train(_renas_config(data, seed=1), None).model.state_dict()
    for name in ("stem.0.weight", "cells.0.preprocess0.1.weight", "classifier.weight"):
        assert not torch.equal(got[name], initial[name]), name
        assert not torch.equal(got[name], other[name]), name


# -- FALSR against a hand-written loop ---------------------------------------------------------

STEPS, BATCH, LR = 6, 4, 3e-3


def _reference_run(hr_folder: Path, cache: Path) -> tuple[dict[str, torch.Tensor], list[float], dict[str, torch.Tensor]]:
    """The minimal FALSR training loop written from the paper's recipe, not from the engine: the
    network built after ``torch.manual_seed(seed)``, Adam, the L1 loss of ``forward_y`` on the HR
    luma, step ``t`` on samples ``t * batch .. (t + 1) * batch - 1`` of the patch dataset.

    Returns:
        The initial weights, the loss of every step, the final weights.
    """
    torch.manual_seed(0)
    net = get_family("falsr").build(TINY)
    initial = {k: v.detach().clone() for k, v in net.state_dict().items()}
    patches = PatchDataset(SRImages.load(hr_folder, cache), patch_size=16, seed=0, augment=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
    net.train()
    losses = []
    for step in range(STEPS):
        items = [patches[g] for g in range(step * BATCH, (step + 1) * BATCH)]
        low, high = torch.stack([lr for lr, _ in items]), torch.stack([hr for _, hr in items])
        loss = (net.forward_y(low) - high).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return initial, losses, net.state_dict()


def test_a_falsr_run_stopped_and_resumed_equals_a_hand_written_loop(hr_folder: Path, tmp_path: Path) -> None:
    config = make_config("falsr", TINY, data=str(hr_folder), cache_dir=str(tmp_path / "cache"),
                         overrides=[f"steps={STEPS}", f"batch_size={BATCH}", f"lr={LR}", "patch_size=16",
                                    "log_every=1", "checkpoint_every=3"])
    with pytest.raises(_Stop):
        train(config, tmp_path / "run", progress=_stop_at(3), write_model_dir=False)
    resume(tmp_path / "run", write_model_dir=False)
    initial, losses, expected = _reference_run(hr_folder, tmp_path / "cache")
    got = _last_weights(tmp_path / "run")
    assert got.keys() == expected.keys()
    for name in expected:
        assert not torch.equal(expected[name], initial[name]), f"{name} never moved: the comparison would be empty"
        assert torch.equal(got[name], expected[name]), name
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    assert [line["loss"] for line in lines] == pytest.approx(losses, rel=1e-6)
