"""The one family table: what every model family is, from its genome grammar to its export row.

A :class:`Family` row names a family's grammar and cost model (pure Python, imported here) and
its torch-side code by dotted path (builder, export row, fast CPU inference path), resolved on
first use, so ``import falsr_zoo`` and the genome checks of the CLI and the search stay free of
torch. Everything above the families (loading, the CLI, cards, export, the applications) reaches
a family through :func:`get_family` or, for a built module, :func:`family_of` (every family's
module carries a ``family`` attribute naming its row) instead of branching on names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from falsr_zoo._plugins import resolve
from falsr_zoo.errors import UnknownFamilyError
from falsr_zoo.families.falsr.genome import Genome, parse_genome
from falsr_zoo.families.renas.cell import RenasCell, parse_renas_cell
from falsr_zoo.families.renas.plan import RenasNetSpec

if TYPE_CHECKING:
    from torch import nn

    from falsr_zoo.export.spec import ExportFamily
    from falsr_zoo.zoo.registry import ModelEntry

__all__ = ["FAMILIES", "Architecture", "Family", "architecture", "family_of", "get_family"]


class Architecture(Protocol):
    """What every family's network spec offers: its genome string and analytic costs."""

    def to_string(self, sep: str = "; ") -> str: ...

    def num_params(self) -> int: ...

    def macs(self, height: int, width: int) -> int: ...


@dataclass(frozen=True)
class Family:
    """One row of the family table.

    Attributes:
        name: The family key (``entry.family``, ``model.family``).
        task: What its networks do (``"image-super-resolution"``, ``"image-classification"``).
        parse_genome: Genome string -> validated spec (raises ``GenomeError``).
        architecture: ``(genome string or spec, build options)`` -> :class:`Architecture`.
        builder: Dotted path of the module class, called ``builder(genome, **options)``.
        options: The builder's network options a genome needs or takes (name -> type), for
            ``--option key=value`` on the command line; ``required`` lists those without default.
        required: Options a genome of this family cannot be built without.
        export_row: Dotted path of the family's export row (:class:`~falsr_zoo.export.spec.ExportFamily`),
            or ``None`` when the family cannot be exported.
        fast_forward: Dotted path of ``model -> callable | None``: a faster CPU float32 inference
            callable with ``forward``'s contract (``None`` where the build cannot provide one).
        convert_source: Dotted path of ``upstream file -> path in the store``: converts the
            authors' published file (FALSR: a frozen graph) into the store, for weights fetched
            on first use; ``None`` when the family has no convertible upstream files.
    """

    name: str
    task: str
    parse_genome: Callable[[str], Any]
    architecture: Callable[[Any, Mapping[str, Any]], Architecture]
    builder: str
    options: Mapping[str, type] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    export_row: str | None = None
    fast_forward: str | None = None
    convert_source: str | None = None

    def build(self, genome: Any, **options: Any) -> nn.Module:
        """An untrained network of this family from a genome (string or spec) and options."""
        return resolve(self.builder)(genome, **options)

    def from_pretrained(self, directory: str | os.PathLike[str]) -> nn.Module:
        """The module saved in a local model directory (see :mod:`falsr_zoo.families.pretrained`)."""
        return resolve(self.builder).from_pretrained(directory)

    def source_converter(self) -> Callable[[Path], Path] | None:
        """The family's converter of upstream weight files, or ``None``."""
        return resolve(self.convert_source) if self.convert_source else None

    def export(self) -> ExportFamily | None:
        """The family's export row, or ``None``."""
        return resolve(self.export_row) if self.export_row else None

    def fast_path(self, model: nn.Module) -> Callable[..., Any] | None:
        """The family's fast CPU inference callable for ``model``, or ``None``."""
        return resolve(self.fast_forward)(model) if self.fast_forward else None


def _falsr_architecture(genome: Genome | str, options: Mapping[str, Any]) -> Genome:
    return parse_genome(genome) if isinstance(genome, str) else genome


def _renas_architecture(genome: RenasCell | str, options: Mapping[str, Any]) -> RenasNetSpec:
    cell = parse_renas_cell(genome, num_blocks=None) if isinstance(genome, str) else genome
    return RenasNetSpec.from_options(cell, options)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="falsr",
            task="image-super-resolution",
            parse_genome=parse_genome,
            architecture=_falsr_architecture,
            builder="falsr_zoo.families.falsr.falsr_net:FALSR",
            export_row="falsr_zoo.families.falsr.falsr_export:EXPORT_ROW",
            fast_forward="falsr_zoo.families.falsr.fused:fused_forward",
            convert_source="falsr_zoo.families.falsr.convert:install_official",
        ),
        Family(
            name="renas",
            task="image-classification",
            parse_genome=lambda text: parse_renas_cell(text, num_blocks=None),
            architecture=_renas_architecture,
            builder="falsr_zoo.families.renas.renas_net:RENASNet",
            options={"layout": str, "num_cells": int, "filters": int, "num_classes": int, "stem_filters": int,
                     "append_input0": bool, "aux_head": bool, "dropout": float, "drop_path_prob": float,
                     "image_size": int},
            required=("layout", "num_cells", "filters"),
            export_row="falsr_zoo.families.renas.renas_export:EXPORT_ROW",
        ),
    )
}
"""Family name -> its row."""


def get_family(name: str) -> Family:
    """The row of family ``name``.

    Raises:
        UnknownFamilyError: naming the known families.
    """
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise UnknownFamilyError(f"unknown model family {name!r}; expected one of {', '.join(FAMILIES)}") from None


def family_of(model: nn.Module) -> Family:
    """The row of the family a module was built by (its ``family`` attribute).

    Raises:
        UnknownFamilyError: for a module of no family.
    """
    name = getattr(model, "family", None)
    if name is None:
        raise UnknownFamilyError(f"a {type(model).__name__} is not a module of any model family")
    return get_family(name)


def architecture(entry: ModelEntry) -> Architecture:
    """The analytic spec of a zoo entry (genome and options), for costs at any size."""
    return get_family(entry.family).architecture(entry.genome, entry.options)
