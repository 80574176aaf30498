"""Network builders, one per family, behind one table; zoo entries name a family and a genome."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from falsr_zoo.models.falsr import FALSR
from falsr_zoo.models.renas import RENASNet

__all__ = ["BUILDERS", "FALSR", "RENASNet", "build_model"]

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "falsr": FALSR,
    "renas": RENASNet,
}
"""Family name -> builder ``(genome, **options) -> nn.Module``."""


def build_model(family: str, genome: Any, **options: Any) -> nn.Module:
    """Build an untrained network of ``family`` from a genome (string or spec)."""
    try:
        builder = BUILDERS[family]
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(BUILDERS)}") from None
    return builder(genome, **options)
