"""Options of the commands that compute: ``--threads``, ``--precision``, ``--tile``, finite numbers.

Importable without torch (``--help`` and completion read it): the thread default comes from
:mod:`falsr_zoo.runtime.threads`, whose counting is pure standard library; a command applies it
with :func:`falsr_zoo.runtime.threads.set_threads` in its body. ``falsr-search`` uses the same
factories.

Example:
    >>> @click.command()
    ... @threads_option()
    ... def run(threads: int | None) -> None:
    ...     from falsr_zoo.runtime.threads import set_threads
    ...     set_threads(threads)  # None: the CPUs this process may use
"""

from __future__ import annotations

import math
from typing import Any, Callable, TypeVar

import click

from falsr_zoo.cli.choices import PRECISION_CHOICES, SR_TASK
from falsr_zoo.families.table import architecture
from falsr_zoo.runtime.threads import THREADS_ENV, available_cpus
from falsr_zoo.sr.tiling import smallest_tile, tile_margin, tile_overhead
from falsr_zoo.zoo.registry import list_entries

__all__ = ["FiniteFloatRange", "check_precision", "check_tile", "precision_option", "threads_option", "tile_option"]

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses ``nan`` and ``inf`` (which pass its comparisons)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def threads_option(what: str = "PyTorch") -> Callable[[F], F]:
    """``--threads N``: CPU threads; the default is the CPUs this process may use (or ``OMP_NUM_THREADS``)."""
    return click.option(
        "--threads", type=click.IntRange(min=1), metavar="N",
        help=f"CPU threads for {what}  [default: the CPUs this process may use ({available_cpus()} here: "
             f"affinity and cgroup quota), or {THREADS_ENV} when set].")


def precision_option(help_text: str = "Network body; the colour step and chroma stay fp32.") -> Callable[[F], F]:
    """``--precision fp32|bf16|fp16`` (fp32 by default)."""
    return click.option("--precision", type=click.Choice(PRECISION_CHOICES), default="fp32", show_default=True,
                        help=help_text + " fp16 on a CPU is about 10x slower than fp32 (a warning says so).")


def tile_option() -> Callable[[F], F]:
    """``--tile N``: the core tile side in LR pixels (the default sizes tiles from the memory budget)."""
    overlaps = ", ".join(f"{entry.name} {tile_margin(architecture(entry).receptive_radius())}"
                         for entry in list_entries() if entry.task == SR_TASK)
    return click.option("--tile", type=click.IntRange(min=1), metavar="N",
                        help=f"Tile side in LR pixels, at least the model's tile overlap ({overlaps})  "
                             "[default: from the memory budget].")


def check_tile(tile: int | None, receptive_radius: int, label: str) -> None:
    """Refuse a ``--tile`` below :func:`~falsr_zoo.sr.tiling.smallest_tile` for the model's overlap.

    Raises:
        click.UsageError: naming the side, the overlap, the work it would cost and the smallest side.
    """
    margin = tile_margin(receptive_radius)
    if tile is not None and tile < smallest_tile(margin):
        raise click.UsageError(
            f"--tile {tile} is smaller than {label}'s {margin}-pixel tile overlap: each tile would compute "
            f"{tile_overhead(tile, margin):,.0f}x the pixels it keeps; use --tile {smallest_tile(margin)} or more, "
            "or leave --tile out (sized from the memory budget)")


def check_precision(precision: str, backend: str) -> None:
    """Refuse bf16 on a backend other than torch (ONNX Runtime and TensorRT take fp32 or fp16).

    Raises:
        click.UsageError: naming the precisions the backend takes.
    """
    if precision == "bf16" and backend != "torch":
        raise click.UsageError(f"--precision bf16 runs on --backend torch only; {backend} takes fp32 or fp16")
