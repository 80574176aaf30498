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
* :func:`crossover` - single-point crossover of micro and macro at once (Eq. 4): one cut point
  ``p``; a child takes the cells *and* the link bits of nodes ``< p`` from one parent and those
  of nodes ``>= p`` (the output node included) from the other.
* :func:`random_mutation` - each cell replaced (by another choice) and each link bit flipped
  with probability ``rate``; at least one change.
* :func:`roulette_mutation` - one cell, chosen uniformly, replaced by roulette-wheel selection
  over the 192 choices with probabilities proportional to their log-scaled mult-adds or
  parameters (Eq. 5); links unchanged. The paper gives the selection's form, not the cost each
  choice is weighed by: we use the choice's cost at the stem's width as its input
  (``log(1 + cost)``), so the wheel leans, mildly, towards cells of more capacity.
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
    "SearchSpace",
    "crossover",
    "initial_population",
    "random_mutation",
    "roulette_mutation",
    "roulette_probabilities",
]

_INDEX = {cell: index for index, cell in enumerate(CELL_CHOICES)}


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
    """Single-point crossover of cells and links at once (Eq. 4); both children."""
    (cells_a, bits_a), (cells_b, bits_b) = space.encode(a), space.encode(b)
    if space.n_cells < 2:
        return a, b
    point = int(rng.integers(1, space.n_cells))  # nodes < point from one parent, >= point from the other
    cut = space.node_bits()[point].start
    return (space.genome(cells_a[:point] + cells_b[point:], bits_a[:cut] + bits_b[cut:]),
            space.genome(cells_b[:point] + cells_a[point:], bits_b[:cut] + bits_a[cut:]))


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


@lru_cache(maxsize=2)
def _wheel(measure: str) -> np.ndarray:
    weights = np.array([math.log1p(_cost(cell, measure)) for cell in CELL_CHOICES])
    probabilities = weights / weights.sum()
    probabilities.setflags(write=False)
    return probabilities


def roulette_probabilities(measure: str) -> np.ndarray:
    """Selection probability of each cell choice: ``log(1 + cost) / sum`` (Eq. 5).

    Args:
        measure: ``"mult_adds"`` or ``"params"``.
    """
    if measure not in ("mult_adds", "params"):
        raise ConfigError(f"roulette-wheel measure must be mult_adds or params, not {measure!r}")
    return _wheel(measure)


def roulette_mutation(space: SearchSpace, genome: Genome, rng: np.random.Generator, measure: str) -> Genome:
    """One uniformly chosen cell replaced by a roulette-wheel draw over the 192 choices; links unchanged.

    The draw is repeated (at most 100 times) until it differs from the current cell, so the
    child differs from its parent.
    """
    cells, bits = (list(part) for part in space.encode(genome))
    position = int(rng.integers(0, len(cells)))
    probabilities = roulette_probabilities(measure)
    for _ in range(100):
        choice = int(rng.choice(len(probabilities), p=probabilities))
        if choice != cells[position]:
            break
    cells[position] = choice
    return space.genome(cells, bits)
