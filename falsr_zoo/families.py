"""Model families behind one table: how each family's genome strings parse and cost out.

The CLI, the cards and the tests reach a family's grammar and cost model through
:data:`FAMILIES` instead of branching on the family name. Pure Python (no torch); the
builders live in :mod:`falsr_zoo.models` (``BUILDERS``, keyed the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from falsr_zoo.genome import parse_genome
from falsr_zoo.registry import ModelEntry
from falsr_zoo.renas_genome import RenasNetSpec, parse_renas_cell

__all__ = ["FAMILIES", "Architecture", "Family", "architecture"]


class Architecture(Protocol):
    """What every family's network spec offers: its genome string and analytic costs."""

    def to_string(self, sep: str = "; ") -> str: ...

    def num_params(self) -> int: ...

    def macs(self, height: int, width: int) -> int: ...


@dataclass(frozen=True)
class Family:
    """One row of the family table.

    Attributes:
        name: The family key (``entry.family``, a key of ``models.BUILDERS``).
        parse_genome: Genome string -> validated spec (raises ``GenomeError``).
        architecture: ``(genome string, build options)`` -> :class:`Architecture`.
    """

    name: str
    parse_genome: Callable[[str], Any]
    architecture: Callable[[str, Mapping[str, Any]], Architecture]


FAMILIES: dict[str, Family] = {
    "falsr": Family("falsr", parse_genome, lambda genome, options: parse_genome(genome)),
    "renas": Family(
        "renas",
        parse_renas_cell,
        lambda genome, options: RenasNetSpec.from_options(parse_renas_cell(genome), options),
    ),
}
"""Family name -> grammar and cost model."""


def architecture(entry: ModelEntry) -> Architecture:
    """The analytic spec of a zoo entry (genome and options), for costs at any size."""
    return FAMILIES[entry.family].architecture(entry.genome, entry.options)
