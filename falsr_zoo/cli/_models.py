"""Choosing the model a command works on: a zoo NAME, or any ``--genome`` (shared options)."""

from __future__ import annotations

from typing import Any, Callable

import click
from torch import nn

from falsr_zoo.api import load
from falsr_zoo.registry import find_by_genome, get_entry


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``NAME``, ``--genome``, ``--family``, ``--weights`` and ``--untrained`` to a command."""
    for decorator in reversed([
        click.argument("name", required=False),
        click.option("--genome", help="Any genome instead of a zoo NAME (untrained unless --weights)."),
        click.option("--family", default="falsr", show_default=True, help="Model family of --genome."),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file."),
        click.option("--untrained", is_flag=True,
                     help="Build the architecture without weights (e.g. RENASNet, whose weights are unreachable)."),
    ]):
        command = decorator(command)
    return command


def load_model(name: str | None, genome: str | None, family: str, weights: str | None,
               untrained: bool = False) -> tuple[nn.Module, str | None]:
    """The module and its zoo name (``None`` for a genome that is no zoo model).

    Raises:
        click.UsageError: neither or both of NAME and ``--genome``.
    """
    if (name is None) == (genome is None):
        raise click.UsageError("give a zoo model NAME or --genome, not both" if name else "give a zoo model NAME or --genome")
    if untrained and weights:
        raise click.UsageError("--untrained and --weights exclude each other")
    pretrained = False if untrained else None
    if name is not None:
        return load(name, weights=weights, pretrained=pretrained), get_entry(name).name
    model = load(genome=genome, family=family, weights=weights, pretrained=pretrained)
    entry = find_by_genome(str(model.genome), family)
    if entry is None and weights is None:
        click.echo("note: no weights for this genome; using an untrained network", err=True)
    return model, entry.name if entry else None
