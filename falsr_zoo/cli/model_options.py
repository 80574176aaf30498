"""Choosing the model a command works on: a zoo NAME, or any ``--genome`` (shared options)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import click

from falsr_zoo.cli.choices import SR_TASK, ModelReference
from falsr_zoo.families.table import FAMILIES, Family, get_family
from falsr_zoo.zoo.registry import find_by_genome, get_entry

if TYPE_CHECKING:
    from torch import nn

__all__ = ["check_sr_model", "load_model", "model_options", "parse_options"]

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``NAME``, ``--genome``, ``--family``, ``--option``, ``--weights`` and ``--untrained``."""
    for decorator in reversed([
        click.argument("name", required=False, type=ModelReference()),  # zoo name, directory or hf-hub:owner/name
        click.option("--genome", help="Any genome instead of a zoo NAME (untrained unless --weights)."),
        click.option("--family", type=click.Choice(list(FAMILIES)), default="falsr", show_default=True,
                     help="Model family of --genome."),
        click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                     help="A network option of --genome's family, repeatable (renas: layout=cifar10 "
                          "num_cells=6 filters=32 ...)."),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file."),
        click.option("--untrained", is_flag=True,
                     help="Build the architecture without weights (e.g. RENASNet, whose weights are unreachable)."),
    ]):
        command = decorator(command)
    return command


def _convert(family: Family, key: str, value: str) -> Any:
    kind = family.options[key]
    if kind is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise click.UsageError(f"--option {key}={value}: expected true or false")
        return value.lower() in _TRUE
    try:
        return kind(value)
    except ValueError:
        raise click.UsageError(f"--option {key}={value}: expected a{'n' if kind is int else ''} {kind.__name__}") from None


def parse_options(family_name: str, items: tuple[str, ...], *, require: bool = True) -> dict[str, Any]:
    """``("layout=cifar10", "filters=32")`` -> ``{"layout": "cifar10", "filters": 32}`` for ``family_name``.

    Raises:
        click.UsageError: a malformed item, an option the family does not take, a bad value, or (with
            ``require``) a required option missing.
    """
    family = get_family(family_name)
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--option {item!r}: expected KEY=VALUE")
        if key not in family.options:
            known = ", ".join(family.options) or "none"
            raise click.UsageError(f"--option {key}: the {family.name} family takes no such option (options: {known})")
        options[key] = _convert(family, key, value)
    missing = [key for key in family.required if key not in options] if require else []
    if missing:
        example = " ".join(f"--option {key}=..." for key in missing)
        raise click.UsageError(f"a {family.name} genome needs its network options: {example}")
    return options


def load_model(name: str | None, genome: str | None, family: str, weights: str | None,
               untrained: bool = False, options: tuple[str, ...] = ()) -> tuple[nn.Module, str | None]:
    """The module and its zoo name (``None`` for a genome that is no zoo model).

    Raises:
        click.UsageError: neither or both of NAME and ``--genome``, ``--option`` without ``--genome``,
            or bad options.
    """
    from falsr_zoo.api import load
    from falsr_zoo.zoo.model_dir import is_model_reference

    if (name is None) == (genome is None):
        raise click.UsageError("give a zoo model NAME or --genome, not both" if name else "give a zoo model NAME or --genome")
    if untrained and weights:
        raise click.UsageError("--untrained and --weights exclude each other")
    pretrained = False if untrained else None
    if name is not None:
        if options:
            raise click.UsageError("--option applies to --genome (a zoo model's options are fixed)")
        if is_model_reference(name):
            if weights:
                raise click.UsageError("--weights applies to zoo models; a model directory carries its weights")
            return load(name, pretrained=pretrained), None
        return load(name, weights=weights, pretrained=pretrained), get_entry(name).name
    build = parse_options(family, options)
    model = load(genome=genome, family=family, options=build, weights=weights, pretrained=pretrained)
    entry = find_by_genome(str(model.genome), family, build if build else None)
    if entry is None and weights is None:
        click.echo("note: no weights for this genome; using an untrained network", err=True)
    return model, entry.name if entry else None


def check_sr_model(name: str, revision: str | None = None, weights: str | None = None, offline: bool | None = None,
                   command: str = "upscale") -> tuple[str, Any]:
    """Check the super-resolution model ``--model`` names without loading torch or weights.

    Returns:
        Its label (the zoo name, or the reference as given) and its architecture (a FALSR
        :class:`~falsr_zoo.families.falsr.genome.Genome`).

    Raises:
        click.UsageError: ``--weights`` or ``--revision`` where they do not apply, or a model of another task.
        UnknownModelError: an unknown zoo name; WeightsNotFoundError, ModelDirError: a missing or
            malformed model directory.
    """
    from falsr_zoo.api import model_info
    from falsr_zoo.zoo.model_dir import is_model_reference

    if is_model_reference(name):
        if weights:
            raise click.UsageError("--weights applies to zoo models; a model directory carries its weights")
        info, label = model_info(name, revision=revision, offline=offline), name
    else:
        if revision:
            raise click.UsageError("--revision applies to hf-hub: models")
        info = model_info(name)
        label = info["name"]
    if info["task"] != SR_TASK:
        raise click.UsageError(f"{label} is an {info['task']} model; falsr {command} needs a super-resolution model")
    return label, get_family(info["family"]).architecture(info["genome"], info["options"])
