"""The FALSR search space and its variation operators (FALSR paper, Sections III-IV).

A candidate is a zoo genome (:class:`~falsr_zoo.families.falsr.genome.Genome`): ``n`` cells, each
one of the 192 micro choices (:data:`~falsr_zoo.families.falsr.genome.CELL_CHOICES`), and the
``n(n+1)/2`` macro link bits (:attr:`Genome.link_bits`, node by node). Stem, fuse and upsampling
are fixed by the builder. Every operator here takes a ``numpy.random.Generator`` and returns
genomes built through :meth:`Genome.from_link_bits`, so it can only produce valid genomes.

* :func:`initial_population` - the paper's initialisation: each individual repeats one sampled
  cell ``n`` times (cells are not repeated across individuals while the population is smaller
  than the 192 choices), and its links are random with probability ``p_random``, dense
  (every link) with probability ``p_dense``, none otherwise.
* :func:`crossover` - single-point crossover "performed simultaneously in both micro and
  macro" with the positions ``i`` (cells) and ``j`` (links) "chosen respectively" (Eq. 4): a
  child takes the cells before ``i`` from one parent and the rest from the other, and the link
  bits before ``j`` from the same parent and the rest from the other. ``j`` cuts the macro
  chromosome in the paper's order (Eq. 2: grouped by source, ``c_1^{1:n}, c_2^{2:n}, ...``),
  not in the node-by-node order of :attr:`Genome.link_bits`.
* :func:`random_mutation` - each cell replaced (by another choice) and each link bit flipped
  with probability ``rate``; at least one change.
* :func:`roulette_mutation` - the paper's RWS: "keep M_mac unchanged and perform RWS on S for n
  times to generate M_mic", every cell drawn from a roulette wheel over the 192 choices whose
  weights come from their log-scaled mult-adds or parameters (Eq. 5); ``cells="one"`` (our
  earlier variant) redraws one uniformly chosen cell. The paper gives the selection's form
  ("to handle FLOPS / params"), not the direction: ``direction="cheaper"`` weighs a choice by
  ``1 / log(1 + cost)`` (cheaper cells are drawn more often, as both costs are minimised),
  ``"costlier"`` by ``log(1 + cost)`` (more capacity); a choice's cost is taken at the stem's
  width. Both directions span a factor of about 2.7 between the cheapest and the costliest
  choice; which one searches better is measured by ``benchmarks/search_study.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.falsr.genome import CELL_CHOICES, STEM_WIDTH, CellSpec, Genome

__all__ = [
    "OPERATORS",
    "RWS_CELLS",
    "RWS_DIRECTIONS",
    "SearchSpace",
    "crossover",
    "initial_population",
    "random_mutation",
    "roulette_mutation",
    "roulette_probabilities",
]

_INDEX = {cell: index for index, cell in enumerate(CELL_CHOICES)}

OPERATORS = ("random", "rws_mult_adds", "rws_params", "controller")
"""The hybrid's mutation operators (Eq. 5 and the controller), chosen per offspring."""
RWS_CELLS = ("all", "one")
"""Roulette-wheel mutation redraws every cell (the paper) or one."""
RWS_DIRECTIONS = ("cheaper", "costlier")
"""Which cells the wheel favours."""


@dataclass(frozen=True)
class SearchSpace:
    """The elastic micro + macro space for ``n_cells`` cells.

    Attributes:
        n_cells: Cells per network (7 in the paper).
    """

    n_cells: int = 7

    def __post_init__(self) -> None:
        if self.n_cells < 1:
            raise ConfigError(f"n_cells must be at least 1, got {self.n_cells}")

    @property
    def num_links(self) -> int:
        """``n(n+1)/2`` optional links."""
        return self.n_cells * (self.n_cells + 1) // 2

    @property
    def num_choices(self) -> int:
        """Micro choices per cell (192)."""
        return len(CELL_CHOICES)

    def genome(self, cells: Sequence[int], bits: Sequence[int]) -> Genome:
        """The genome of cell choice indices and link bits."""
        return Genome.from_link_bits([CELL_CHOICES[i] for i in cells], [int(b) for b in bits])

    def encode(self, genome: Genome) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(cell choice indices, link bits)`` of a genome of this space."""
        if genome.n_cells != self.n_cells:
            raise ConfigError(f"a genome of {genome.n_cells} cells is outside a {self.n_cells}-cell search space")
        return tuple(_INDEX[cell] for cell in genome.cells), genome.link_bits

    def source_order(self) -> tuple[int, ...]:
        """Indices into :attr:`Genome.link_bits` in the paper's order (Eq. 2): grouped by source
        node, ``c_s^{s+1..n}`` for ``s = 0, 1, ...``, targets ascending."""
        edges = self.node_bits()
        return tuple(edges[target].start + source for source in range(self.n_cells)
                     for target in range(source + 1, self.n_cells + 1))

    def node_bits(self) -> list[range]:
        """The slice of :attr:`Genome.link_bits` each node owns (node ``t`` has ``t`` bits)."""
        edges, start = [], 0
        for node in range(self.n_cells + 1):
            edges.append(range(start, start + node))
            start += node
        return edges

    def extremes(self) -> tuple[Genome, Genome]:
        """The cheapest and the costliest genome of the space (for normalising costs)."""
        light = min(CELL_CHOICES, key=lambda c: (c.macs_per_pixel(STEM_WIDTH), c.num_params(STEM_WIDTH)))
        heavy = max(CELL_CHOICES, key=lambda c: (c.macs_per_pixel(STEM_WIDTH * 8), c.num_params(STEM_WIDTH * 8)))
        return (Genome.from_link_bits([light] * self.n_cells, [0] * self.num_links),
                Genome.from_link_bits([heavy] * self.n_cells, [1] * self.num_links))


def initial_population(space: SearchSpace, size: int, rng: np.random.Generator, *, p_random: float = 1 / 3,
                       p_dense: float = 1 / 3) -> list[Genome]:
    """The paper's first population (see the module docstring).

    Raises:
        ConfigError: if ``p_random + p_dense`` exceeds 1.
    """
    if min(p_random, p_dense) < 0 or p_random + p_dense > 1:
        raise ConfigError(f"p_random ({p_random}) and p_dense ({p_dense}) must be probabilities summing to <= 1")
    order: list[int] = []
    population = []
    for _ in range(size):
        if not order:
            order = list(rng.permutation(space.num_choices))
        cell = int(order.pop(0))
        draw = rng.random()
        if draw < p_random:
            bits = rng.integers(0, 2, space.num_links)
        else:
            bits = np.full(space.num_links, int(draw < p_random + p_dense))
        population.append(space.genome([cell] * space.n_cells, bits))
    return population


def crossover(space: SearchSpace, a: Genome, b: Genome, rng: np.random.Generator) -> tuple[Genome, Genome]:
    """Single-point crossover of cells at ``i`` and of links at ``j``, drawn independently (Eq. 4); both children.

    ``i`` is in ``1 .. n - 1`` and ``j`` in ``1 .. n(n+1)/2 - 1`` (the paper's bit order), so each
    child takes a non-empty head from one parent and a non-empty tail from the other in both
    chromosomes: a child differs from both parents wherever they differ in both parts.
    """
    (cells_a, bits_a), (cells_b, bits_b) = space.encode(a), space.encode(b)
    if space.n_cells < 2:
        return a, b
    i = int(rng.integers(1, space.n_cells))
    j = int(rng.integers(1, space.num_links))
    order = space.source_order()
    mixed_a, mixed_b = list(bits_a), list(bits_b)
    for position in order[j:]:
        mixed_a[position], mixed_b[position] = bits_b[position], bits_a[position]
    return (space.genome(cells_a[:i] + cells_b[i:], mixed_a), space.genome(cells_b[:i] + cells_a[i:], mixed_b))


def random_mutation(space: SearchSpace, genome: Genome, rng: np.random.Generator, rate: float) -> Genome:
    """Each cell resampled (to another choice) and each link bit flipped with probability ``rate``;
    if nothing changed, one cell or bit (uniformly among all genes) is changed."""
    cells, bits = (list(part) for part in space.encode(genome))
    changed = False
    for index in range(len(cells)):
        if rng.random() < rate:
            cells[index] = _other_choice(cells[index], space, rng)
            changed = True
    for index in range(len(bits)):
        if rng.random() < rate:
            bits[index] ^= 1
            changed = True
    if not changed:
        gene = int(rng.integers(0, len(cells) + len(bits)))
        if gene < len(cells):
            cells[gene] = _other_choice(cells[gene], space, rng)
        else:
            bits[gene - len(cells)] ^= 1
    return space.genome(cells, bits)


def _other_choice(current: int, space: SearchSpace, rng: np.random.Generator) -> int:
    choice = int(rng.integers(0, space.num_choices - 1))
    return choice + (choice >= current)


def _cost(cell: CellSpec, measure: str) -> int:
    return cell.macs_per_pixel(STEM_WIDTH) if measure == "mult_adds" else cell.num_params(STEM_WIDTH)


@lru_cache(maxsize=4)
def _wheel(measure: str, direction: str) -> np.ndarray:
    logs = np.array([math.log1p(_cost(cell, measure)) for cell in CELL_CHOICES])
    weights = logs if direction == "costlier" else 1.0 / logs
    probabilities = weights / weights.sum()
    probabilities.setflags(write=False)
    return probabilities


def roulette_probabilities(measure: str, direction: str = "cheaper") -> np.ndarray:
    """Selection probability of each cell choice (Eq. 5): ``w / sum(w)``, ``w = log(1 + cost)``
    toward costlier cells, ``1 / log(1 + cost)`` toward cheaper ones.

    Args:
        measure: ``"mult_adds"`` or ``"params"``.
        direction: ``"cheaper"`` or ``"costlier"``.
    """
    if measure not in ("mult_adds", "params"):
        raise ConfigError(f"roulette-wheel measure must be mult_adds or params, not {measure!r}")
    if direction not in RWS_DIRECTIONS:
        raise ConfigError(f"roulette-wheel direction must be one of {', '.join(RWS_DIRECTIONS)}, not {direction!r}")
    return _wheel(measure, direction)


def roulette_mutation(space: SearchSpace, genome: Genome, rng: np.random.Generator, measure: str,
                      direction: str = "cheaper", cells: str = "all") -> Genome:
    """Cells redrawn from the roulette wheel, links unchanged: all ``n`` (the paper) or one.

    The draw is repeated (at most 100 times) until the child differs from its parent.
    """
    if cells not in RWS_CELLS:
        raise ConfigError(f"rws cells must be one of {', '.join(RWS_CELLS)}, not {cells!r}")
    current, bits = space.encode(genome)
    probabilities = roulette_probabilities(measure, direction)
    drawn = list(current)
    for _ in range(100):
        drawn = list(current)
        if cells == "all":
            drawn = [int(c) for c in rng.choice(len(probabilities), size=len(current), p=probabilities)]
        else:
            drawn[int(rng.integers(0, len(current)))] = int(rng.choice(len(probabilities), p=probabilities))
        if tuple(drawn) != tuple(current):
            break
    return space.genome(drawn, bits)
