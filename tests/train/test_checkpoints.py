"""Checkpoints: a write that fails at any point leaves the previous checkpoint whole; generator states round-trip."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
import torch

from falsr_zoo.train.checkpoints import capture_rng, read_checkpoint, restore_rng, write_checkpoint


def _payload(step: int) -> dict:
    return {"step": step, "model": {"weight": torch.full((64, 64), float(step))}, "rng": capture_rng()}


def _half_written_save(real_save):
    """``torch.save`` that writes the first half of the serialised bytes to its target, then fails (a full disk)."""

    def save(obj, target, *args, **kwargs) -> None:
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as handle:
                handle.write(half)
        else:
            target.write(half)
        raise OSError(28, "No space left on device")

    return save


def _failing_replace(source, target) -> None:
    raise OSError(28, "No space left on device")  # the process dies (or the disk fills) just before the rename


@pytest.mark.parametrize("failure", ["serialiser fails halfway", "rename fails"])
def test_a_failed_write_leaves_the_previous_checkpoint_intact_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    write_checkpoint(path, _payload(5))
    with monkeypatch.context() as patch:
        if failure == "rename fails":
            patch.setattr(os, "replace", _failing_replace)
        else:
            patch.setattr(torch, "save", _half_written_save(torch.save))
        with pytest.raises(OSError, match="(?i)no space left on device"):
            write_checkpoint(path, _payload(10))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    payload = read_checkpoint(path)
    assert payload["step"] == 5 and torch.equal(payload["model"]["weight"], torch.full((64, 64), 5.0))
    write_checkpoint(path, _payload(10))  # and the next write succeeds
    assert read_checkpoint(path)["step"] == 10


def test_generator_states_survive_a_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    random.seed(2)
    write_checkpoint(tmp_path / "last.pt", {"rng": capture_rng()})
    expected = (torch.rand(4), random.random())
    torch.manual_seed(99)
    random.seed(99)
    assert not torch.equal(torch.rand(4), expected[0])  # the draws differ unless the states are put back
    restore_rng(read_checkpoint(tmp_path / "last.pt")["rng"])
    got = (torch.rand(4), random.random())
    assert torch.equal(got[0], expected[0]) and got[1] == expected[1]
