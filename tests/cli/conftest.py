"""Shared fixtures of the command-line tests."""

from __future__ import annotations

import sys
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    """Commands set PyTorch's thread count for the whole process (``--threads``, or the default):
    put it back, so that a test run in-process leaves no trace on the tests after it."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)
