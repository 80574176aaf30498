"""Resumable checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint holds the network, the optimiser (and the fp16 gradient scaler), the number of
completed steps (the data order and the learning-rate schedule are functions of it), the best
validation so far, and every random generator's state (torch CPU and CUDA, Python's). It is
written with ``torch.save`` to a temporary file that is then renamed, so a run killed at any
moment leaves the previous checkpoint intact; it is read back with ``torch.load(weights_only=True)``,
which restores tensors and plain data and executes nothing.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import torch

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo.errors import ConfigError

__all__ = ["CHECKPOINT_FORMAT", "capture_rng", "read_checkpoint", "restore_rng", "write_checkpoint"]

CHECKPOINT_FORMAT = 1


def capture_rng() -> dict[str, Any]:
    """The states of torch's CPU and CUDA generators and of Python's ``random``."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` captured."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Serialise ``payload`` (plus the format number) and write it atomically."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`write_checkpoint` (no arbitrary code is unpickled).

    Raises:
        ConfigError: a missing file, a file of another format, or one that is not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise ConfigError(f"{path}: not a readable checkpoint ({' '.join(str(err).split())[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not a falsr-zoo training checkpoint of format {CHECKPOINT_FORMAT}")
    return payload
