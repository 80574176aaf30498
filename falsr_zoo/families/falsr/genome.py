"""FALSR genomes: the grammar of the paper's elastic micro + macro search space.

Chu et al., "Fast, Accurate and Lightweight Super-Resolution with Neural Architecture Search"
(ICPR 2020), Section III-B. A network is a stem convolution, ``n`` cells and a fuse convolution.

* **Micro (per cell):** a cell type (``conv``, ``groupConG2``, ``groupConG4``,
  ``invertBotConE2``), filters 16/32/48/64, kernel 1/3, repeats 1/2/4 and a skip flag:
  4 x 4 x 2 x 3 x 2 = 192 choices per cell.
* **Macro (links):** sources are numbered ``0`` (the stem) and ``i + 1`` (the output of
  cell ``i``). Node ``t`` (cell ``t``, or the fuse "out" node ``t = n``) always reads its
  predecessor, source ``t``; the paper's bits ``c_t^j`` add any earlier source ``j < t``.
  That leaves n(n+1)/2 optional links.

A genome string lists the cells and the output node, separated by ``;`` or newlines, each with
the ascending sources it reads. The cell notation is the paper's (and the graph's node names)::

    conv f64 k3 b4 isskip <- 0; conv f48 k1 b1 isskip <- 1; ...; out <- 0,1,2,3,4,5,6,7

Underscores may replace the spaces inside a cell (``conv_f64_k3_b4_isskip``, as in the official
graphs) and ``<- ...`` may be left out when a cell reads only its predecessor; the canonical
form written by :func:`format_genome` always uses spaces and spells every source list out.

This module is pure Python (no torch): the CLI and a search can check genomes cheaply. Costs
(:meth:`Genome.num_params`, :meth:`Genome.macs`) are computed here analytically; the tests
recount them on built modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from falsr_zoo.errors import GenomeError

__all__ = [
    "CELL_CHOICES",
    "CELL_TYPES",
    "FILTERS",
    "KERNELS",
    "REPEATS",
    "STEM_WIDTH",
    "CellSpec",
    "CellType",
    "Genome",
    "format_genome",
    "parse_cell",
    "parse_genome",
]

STEM_WIDTH = 32
"""Channels of the stem and fuse convolutions (the ``n32s1`` layers of the graphs)."""
UPSAMPLE_WIDTH = STEM_WIDTH // 4
"""Channels after the x2 depth-to-space rearrangement, before the last 3x3 conv to Y."""
FILTERS: tuple[int, ...] = (16, 32, 48, 64)
KERNELS: tuple[int, ...] = (1, 3)
REPEATS: tuple[int, ...] = (1, 2, 4)
SKIP_TOKENS = {"isskip": True, "noskip": False}


@dataclass(frozen=True)
class CellType:
    """One entry of the cell-type table.

    Attributes:
        name: The token used in genomes and in the official graphs' node names.
        groups: Groups of every convolution in a plain cell (1 = ordinary convolution).
        expansion: 0 for a plain stack of convolutions; otherwise the inverted-bottleneck
            expansion ratio (``invertBotConE2`` expands f -> 2f).
    """

    name: str
    groups: int = 1
    expansion: int = 0

    @property
    def kind(self) -> str:
        """``"plain"`` or ``"inverted"``: which builder makes this cell."""
        return "inverted" if self.expansion else "plain"


CELL_TYPES: dict[str, CellType] = {
    t.name: t
    for t in (
        CellType("conv"),
        CellType("groupConG2", groups=2),
        CellType("groupConG4", groups=4),
        CellType("invertBotConE2", expansion=2),
    )
}
"""The one table of cell types: grammar vocabulary, search choices and builders derive from it."""

_CELL_FORM = "'<type> f<filters> k<kernel> b<repeats> isskip|noskip'"


def _choices(prefix: str, values: Iterable[object]) -> str:
    return ", ".join(f"{prefix}{v}" for v in values)


@dataclass(frozen=True)
class CellSpec:
    """The micro settings of one cell.

    Attributes:
        type: A key of :data:`CELL_TYPES`.
        filters: Output channels, one of :data:`FILTERS`.
        kernel: Kernel size of the cell's convolutions, one of :data:`KERNELS`.
        repeats: Number of convolutions (plain) or bottleneck blocks (inverted), one of
            :data:`REPEATS`.
        skip: The paper's ``isskip``: with two or more repeats, add the first stage's output
            to the last one's.
    """

    type: str
    filters: int
    kernel: int
    repeats: int
    skip: bool

    def __post_init__(self) -> None:
        if self.type not in CELL_TYPES:
            raise GenomeError(
                f"unknown cell type {self.type!r}; expected one of {', '.join(CELL_TYPES)}",
                token=str(self.type),
            )
        for value, allowed, prefix, what in (
            (self.filters, FILTERS, "f", "filter count"),
            (self.kernel, KERNELS, "k", "kernel size"),
            (self.repeats, REPEATS, "b", "repeat count"),
        ):
            if isinstance(value, bool) or value not in allowed:
                raise GenomeError(
                    f"{value!r} is not a valid {what}; expected one of {_choices(prefix, allowed)}",
                    token=f"{prefix}{value}",
                )
        if not isinstance(self.skip, bool):
            raise GenomeError(f"skip must be a bool, got {self.skip!r}", token=str(self.skip))

    @property
    def cell_type(self) -> CellType:
        """The :class:`CellType` row of this cell."""
        return CELL_TYPES[self.type]

    def to_string(self, sep: str = " ") -> str:
        """The paper's notation, e.g. ``conv f64 k3 b4 isskip`` (``sep="_"``: graph names)."""
        skip = "isskip" if self.skip else "noskip"
        return sep.join((self.type, f"f{self.filters}", f"k{self.kernel}", f"b{self.repeats}", skip))

    def __str__(self) -> str:
        return self.to_string()

    def num_params(self, in_width: int) -> int:
        """Weights and biases of this cell when its concatenated input has ``in_width`` channels."""
        return sum(_conv_params(*layer) for layer in _cell_layers(self, in_width))

    def macs_per_pixel(self, in_width: int) -> int:
        """Multiply-accumulates of this cell per LR pixel, for an input of ``in_width`` channels."""
        return sum(_conv_macs(*layer) for layer in _cell_layers(self, in_width))


@dataclass(frozen=True)
class Genome:
    """A whole FALSR network: cells and the sources every node reads.

    Attributes:
        cells: The ``n >= 1`` cells in order.
        sources: ``n + 1`` ascending tuples: the sources read by cell ``t`` (``t < n``) and by
            the output fuse convolution (``t = n``). Node ``t`` reads sources ``0..t`` only and
            always reads ``t``.
    """

    cells: tuple[CellSpec, ...]
    sources: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", tuple(self.cells))
        object.__setattr__(self, "sources", tuple(tuple(s) for s in self.sources))
        if not self.cells:
            raise GenomeError("a genome needs at least one cell")
        for index, cell in enumerate(self.cells):
            if not isinstance(cell, CellSpec):
                raise GenomeError(f"cell {index} is not a CellSpec: {cell!r}", token=repr(cell))
        n = len(self.cells)
        if len(self.sources) != n + 1:
            raise GenomeError(
                f"{n} cells need {n + 1} source lists (one per cell and one for out), "
                f"got {len(self.sources)}"
            )
        for node, reads in enumerate(self.sources):
            _check_sources(node, n, reads)

    @property
    def n_cells(self) -> int:
        """Number of cells, ``n``."""
        return len(self.cells)

    @property
    def source_widths(self) -> tuple[int, ...]:
        """Channels of every source: the stem's, then each cell's output."""
        return (STEM_WIDTH, *(cell.filters for cell in self.cells))

    def input_width(self, node: int) -> int:
        """Channels of the concatenated input of node ``node`` (``n`` = the fuse conv)."""
        widths = self.source_widths
        return sum(widths[s] for s in self.sources[node])

    @property
    def link_bits(self) -> tuple[int, ...]:
        """The paper's optional links ``c_t^j`` as 0/1, node by node, ``j`` ascending.

        Node ``t`` contributes ``t`` bits (sources ``0..t-1``), so there are n(n+1)/2.
        """
        return tuple(
            int(j in reads) for node, reads in enumerate(self.sources) for j in range(node)
        )

    @classmethod
    def from_link_bits(cls, cells: Sequence[CellSpec], bits: Sequence[int]) -> Genome:
        """Build a genome from cells and the n(n+1)/2 link bits of :attr:`link_bits`."""
        n = len(cells)
        expected = n * (n + 1) // 2
        if len(bits) != expected:
            raise GenomeError(f"{n} cells need {expected} link bits, got {len(bits)}")
        if any(b not in (0, 1) for b in bits):
            raise GenomeError(f"link bits must be 0 or 1, got {list(bits)}")
        sources, offset = [], 0
        for node in range(n + 1):
            chosen = [j for j in range(node) if bits[offset + j]]
            sources.append((*chosen, node))
            offset += node
        return cls(tuple(cells), tuple(sources))

    def to_string(self, sep: str = "; ") -> str:
        """The canonical genome string (``sep="\\n"`` gives one node per line)."""
        parts = [
            f"{cell} <- {_format_sources(reads)}" for cell, reads in zip(self.cells, self.sources)
        ]
        parts.append(f"out <- {_format_sources(self.sources[-1])}")
        return sep.join(parts)

    def __str__(self) -> str:
        return self.to_string()

    def num_params(self) -> int:
        """Weights and biases of the network built from this genome (colour constants excluded)."""
        total = _conv_params(1, STEM_WIDTH, 3)
        for node, cell in enumerate(self.cells):
            total += sum(_conv_params(*layer) for layer in _cell_layers(cell, self.input_width(node)))
        total += _conv_params(self.input_width(self.n_cells), STEM_WIDTH, 3)
        total += _conv_params(UPSAMPLE_WIDTH, 1, 3)
        return total

    def macs(self, height: int, width: int) -> int:
        """Multiply-accumulates for one ``height x width`` LR input.

        Counts every convolution at its own resolution (grouped and depthwise at their true
        cost; the last conv at 2x); biases, additions and the colour step are not counted.
        """
        pixels = height * width
        total = _conv_macs(1, STEM_WIDTH, 3)
        for node, cell in enumerate(self.cells):
            total += sum(_conv_macs(*layer) for layer in _cell_layers(cell, self.input_width(node)))
        total += _conv_macs(self.input_width(self.n_cells), STEM_WIDTH, 3)
        return total * pixels + _conv_macs(UPSAMPLE_WIDTH, 1, 3) * 4 * pixels


    def receptive_radius(self) -> int:
        """How far, in LR pixels, an output pixel's value reaches into the input.

        HR pixel ``(2i + a, 2j + b)`` depends only on LR pixels within this Chebyshev
        distance of ``(i, j)``. The longest path through the cell DAG counts: each k x k
        convolution adds ``k // 2`` (the depthwise 3x3 of a bottleneck adds 1), the fuse
        convolution 1, and the last 3x3 convolution at HR resolution 1 HR pixel, i.e. one
        more LR pixel. Tiles overlapping by this margin reproduce the untiled output exactly.
        """
        reach = [1]  # the stem's 3x3
        for cell, reads in zip(self.cells, self.sources):
            grow = sum(k // 2 for _, _, k, _ in _cell_layers(cell, self.input_width(len(reach) - 1)))
            reach.append(max(reach[s] for s in reads) + grow)
        return max(reach[s] for s in self.sources[-1]) + 1 + 1

    def activation_floats_per_pixel(self) -> int:
        """A conservative count of float activations alive per LR pixel during a forward pass.

        Every source stays alive until the output node, plus the widest cell's concatenated
        input and internal tensors, plus the fuse input and the HR tail. Used to choose tile
        sizes from a memory budget.
        """
        sources = sum(self.source_widths)
        widest = max(
            self.input_width(node) + 3 * max(cout for _, cout, _, _ in _cell_layers(cell, self.input_width(node)))
            for node, cell in enumerate(self.cells)
        )
        tail = self.input_width(self.n_cells) + 3 * STEM_WIDTH + 4 * (2 * UPSAMPLE_WIDTH + 1 + 2 + 3)
        return sources + max(widest, tail)


CELL_CHOICES: tuple[CellSpec, ...] = tuple(
    CellSpec(name, filters, kernel, repeats, skip)
    for name in CELL_TYPES
    for filters in FILTERS
    for kernel in KERNELS
    for repeats in REPEATS
    for skip in (False, True)
)
"""The micro search space: every cell choice (4 types x 4 widths x 2 kernels x 3 repeats x 2 skips = 192),
derived from the tables above, in a fixed order (the search's cell indices)."""


def _check_sources(node: int, n: int, reads: tuple[int, ...]) -> None:
    name = "out" if node == n else f"cell {node}"
    for s in reads:
        if isinstance(s, bool) or not isinstance(s, int):
            raise GenomeError(f"{name}: source {s!r} is not an integer", token=str(s))
        if not 0 <= s <= node:
            raise GenomeError(
                f"{name}: source {s} does not exist before it; {name} can read sources 0..{node} "
                "(0 = stem, i+1 = cell i)",
                token=str(s),
            )
    if list(reads) != sorted(set(reads)):
        raise GenomeError(
            f"{name}: sources {_format_sources(reads)} must be ascending and distinct",
            token=_format_sources(reads),
        )
    if node not in reads:
        raise GenomeError(
            f"{name} must read source {node} (its predecessor); got {_format_sources(reads)}",
            token=_format_sources(reads),
        )


def _format_sources(reads: Iterable[int]) -> str:
    return ",".join(str(s) for s in reads)


def _cell_layers(cell: CellSpec, in_width: int) -> list[tuple[int, int, int, int]]:
    """``(cin, cout, kernel, groups)`` of every convolution of a cell, in order."""
    f, k, kind = cell.filters, cell.kernel, cell.cell_type
    if kind.kind == "plain":
        return [(in_width if j == 0 else f, f, k, kind.groups) for j in range(cell.repeats)]
    hidden = f * kind.expansion
    layers = [(in_width, f, 1, 1)]
    for _ in range(cell.repeats):
        layers += [(f, hidden, k, 1), (hidden, hidden, 3, hidden), (hidden, f, k, 1)]
    return layers


def _conv_params(cin: int, cout: int, kernel: int, groups: int = 1) -> int:
    return kernel * kernel * (cin // groups) * cout + cout


def _conv_macs(cin: int, cout: int, kernel: int, groups: int = 1) -> int:
    return kernel * kernel * (cin // groups) * cout


# --------------------------------------------------------------------------------------------
# Parsing

_SPLIT_PARTS = re.compile(r"[;\n]")
_SPLIT_CELL = re.compile(r"[\s_]+")
_NUMBERED = {"f": ("filter count", FILTERS), "k": ("kernel size", KERNELS), "b": ("repeat count", REPEATS)}


def parse_cell(text: str) -> CellSpec:
    """Parse one cell, e.g. ``"conv f64 k3 b4 isskip"`` or ``"groupConG2_f32_k1_b1_noskip"``.

    Raises:
        GenomeError: naming the offending token and what was expected.
    """
    tokens = [t for t in _SPLIT_CELL.split(text.strip()) if t]
    if len(tokens) != 5:
        raise GenomeError(
            f"expected a cell of 5 tokens {_CELL_FORM}, got {len(tokens)} in {text.strip()!r}",
            text=text,
            token=text.strip(),
        )
    type_token, *numbered, skip_token = tokens
    if type_token not in CELL_TYPES:
        raise GenomeError(
            f"unknown cell type {type_token!r}; expected one of {', '.join(CELL_TYPES)}",
            text=text,
            token=type_token,
        )
    values = [_parse_numbered(token, prefix, text) for token, prefix in zip(numbered, "fkb")]
    if skip_token not in SKIP_TOKENS:
        raise GenomeError(
            f"{skip_token!r} is not a skip flag; expected isskip or noskip", text=text, token=skip_token
        )
    return CellSpec(type_token, *values, skip=SKIP_TOKENS[skip_token])


def _parse_numbered(token: str, prefix: str, text: str) -> int:
    what, allowed = _NUMBERED[prefix]
    match = re.fullmatch(rf"{prefix}(\d+)", token)
    if match is None or int(match.group(1)) not in allowed:
        raise GenomeError(
            f"{token!r} is not a valid {what}; expected one of {_choices(prefix, allowed)}",
            text=text,
            token=token,
        )
    return int(match.group(1))


def _parse_sources(text: str, name: str, whole: str) -> tuple[int, ...]:
    items = [item.strip() for item in text.split(",")]
    if not items or any(not re.fullmatch(r"\d+", item) for item in items):
        bad = next((item for item in items if not re.fullmatch(r"\d+", item)), text)
        raise GenomeError(
            f"{name}: {bad!r} is not a source number; expected comma-separated integers like '0,2,4'",
            text=whole,
            token=bad,
        )
    return tuple(int(item) for item in items)


def parse_genome(text: str) -> Genome:
    """Parse a genome string into a :class:`Genome`.

    Args:
        text: Cells then ``out``, separated by ``;`` or newlines; ``#`` starts a comment.

    Returns:
        The validated genome; ``str(genome)`` is its canonical form.

    Raises:
        GenomeError: with the offending token quoted and what was expected.

    Example:
        >>> g = parse_genome("conv f32 k3 b1 noskip <- 0; out <- 0,1")
        >>> g.num_params()
        28105
    """
    if not isinstance(text, str):
        raise GenomeError(f"a genome must be a string, got {type(text).__name__}")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    parts = [p.strip() for p in _SPLIT_PARTS.split("\n".join(lines)) if p.strip()]
    if not parts:
        raise GenomeError("empty genome; expected cells then 'out <- sources'", text=text)
    *cell_parts, out_part = parts
    head, _, tail = out_part.partition("<-")
    if head.strip() != "out" or not tail.strip():
        raise GenomeError(
            f"the genome must end with the output node 'out <- sources', got {out_part!r}",
            text=text,
            token=out_part,
        )
    if not cell_parts:
        raise GenomeError(f"a genome needs at least one cell before {out_part!r}", text=text, token=out_part)
    cells, sources = [], []
    for index, part in enumerate(cell_parts):
        cell_text, arrow, reads_text = part.partition("<-")
        if cell_text.strip() == "out":
            raise GenomeError(f"'out' must be the last node, found it at position {index}", text=text, token=part)
        try:
            cells.append(parse_cell(cell_text))
        except GenomeError as err:
            raise GenomeError(f"cell {index}: {err}", text=text, token=err.token) from None
        sources.append(_parse_sources(reads_text, f"cell {index}", text) if arrow else (index,))
    sources.append(_parse_sources(tail, "out", text))
    try:
        return Genome(tuple(cells), tuple(sources))
    except GenomeError as err:
        raise GenomeError(str(err), text=text, token=err.token) from None


def format_genome(genome: Genome, sep: str = "; ") -> str:
    """The canonical string of ``genome`` (the inverse of :func:`parse_genome`)."""
    return genome.to_string(sep)
