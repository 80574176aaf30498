"""NSGA-II as an ask/tell algorithm over any representation (pymoo's shape: operators are injected).

The algorithm never evaluates, stores or schedules anything: :meth:`NSGA2.ask` returns the next
proposals, the caller evaluates them and hands the results to :meth:`NSGA2.tell`. Candidates
are whatever JSON-able value the injected operators make (a genome string for FALSR, a list of
floats for the ZDT test problems). All randomness comes from one ``numpy`` generator whose state
is part of :meth:`NSGA2.state_dict`, so a stored state continues exactly.

Generation 0 asks for ``sample(rng, size)``; every later generation asks for ``size`` offspring
from ``vary(rng, population, rank, crowding, size)`` (parents drawn by binary tournaments on
front and crowding distance). ``tell`` merges the offspring into the population and keeps the
best ``size`` by feasibility-first non-dominated sorting and crowding distance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from falsr_zoo.search.contracts import Proposal
from falsr_zoo.search.pareto import crowding_distance, fronts, survivors, tournament

__all__ = ["NSGA2", "Individual", "Proposal", "tournament_parents"]


@dataclass(frozen=True)
class Individual:
    """An evaluated candidate.

    Attributes:
        id: The caller's id for it (the run store's candidate id).
        x: Its value.
        objectives: Values to minimise.
        violation: Total constraint violation (0 = feasible).
    """

    id: int
    x: Any
    objectives: tuple[float, ...]
    violation: float = 0.0


Sampler = Callable[[np.random.Generator, int], list[Proposal]]
Variation = Callable[[np.random.Generator, list[Individual], np.ndarray, np.ndarray, int], list[Proposal]]


def tournament_parents(population: Sequence[Individual], rank: np.ndarray, crowding: np.ndarray,
                       rng: np.random.Generator, count: int = 2) -> list[Individual]:
    """``count`` parents, each the winner of a binary tournament."""
    return [population[tournament(rank, crowding, rng)] for _ in range(count)]


class NSGA2:
    """The NSGA-II loop as ask/tell.

    Args:
        size: Population size (and offspring per generation).
        sample: Makes the first population.
        vary: Makes offspring from the ranked population.
        seed: Seed of the algorithm's generator.
    """

    def __init__(self, size: int, sample: Sampler, vary: Variation, seed: int = 0) -> None:
        self.size, self.sample, self.vary = size, sample, vary
        self.rng = np.random.default_rng(seed)
        self.generation = 0
        self.population: list[Individual] = []

    def ranking(self) -> tuple[np.ndarray, np.ndarray]:
        """Front index and crowding distance (within its front) of every member of the population."""
        objectives = np.array([ind.objectives for ind in self.population], dtype=np.float64)
        violation = np.array([ind.violation for ind in self.population], dtype=np.float64)
        rank = fronts(objectives, violation)
        crowding = np.zeros(len(rank))
        for front in np.unique(rank):
            members = np.flatnonzero(rank == front)
            crowding[members] = crowding_distance(objectives[members])
        return rank, crowding

    def ask(self) -> list[Proposal]:
        """The proposals of the current generation."""
        if not self.population:
            return self.sample(self.rng, self.size)
        rank, crowding = self.ranking()
        return self.vary(self.rng, self.population, rank, crowding, self.size)

    def tell(self, evaluated: Sequence[Individual]) -> None:
        """Merge the evaluated proposals of this generation and keep the best ``size``."""
        merged = [*self.population, *evaluated]
        objectives = np.array([ind.objectives for ind in merged], dtype=np.float64)
        violation = np.array([ind.violation for ind in merged], dtype=np.float64)
        keep = survivors(objectives, violation, self.size)
        self.population = [merged[i] for i in keep]
        self.generation += 1

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: generation, population and the generator's state."""
        return {"generation": self.generation, "population": [asdict(ind) for ind in self.population],
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output."""
        self.generation = int(state["generation"])
        self.population = [Individual(ind["id"], ind["x"], tuple(ind["objectives"]), float(ind["violation"]))
                           for ind in state["population"]]
        self.rng.bit_generator.state = state["rng"]
