"""The generic NSGA-II (ask/tell, injected operators) on ZDT1 with real vectors, and its state."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.indicators.igd import IGD

from falsr_zoo.search.nsga2 import NSGA2, Individual, Proposal, tournament_parents

N_VARS = 30


def zdt1(x: np.ndarray) -> tuple[float, float]:
    g = 1 + 9 * x[1:].sum() / (len(x) - 1)
    return float(x[0]), float(g * (1 - np.sqrt(x[0] / g)))


def _sample(rng: np.random.Generator, size: int) -> list[Proposal]:
    return [Proposal(rng.random(N_VARS).tolist(), "init") for _ in range(size)]


def _sbx(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, eta: float = 15.0) -> np.ndarray:
    """Simulated binary crossover (Deb & Agrawal): per variable, with probability 0.5, one of the two
    SBX children's values, the child chosen at random."""
    u = rng.random(len(a))
    beta = np.where(u <= 0.5, (2 * u) ** (1 / (eta + 1)), (1 / (2 * (1 - u))) ** (1 / (eta + 1)))
    first, second = 0.5 * ((1 + beta) * a + (1 - beta) * b), 0.5 * ((1 - beta) * a + (1 + beta) * b)
    child = np.where(rng.random(len(a)) < 0.5, second, first)
    return np.clip(np.where(rng.random(len(a)) < 0.5, child, a), 0.0, 1.0)


def _polynomial_mutation(x: np.ndarray, rng: np.random.Generator, eta: float = 20.0) -> np.ndarray:
    mutate = rng.random(len(x)) < 1 / len(x)
    u = rng.random(len(x))
    delta = np.where(u < 0.5, (2 * u) ** (1 / (eta + 1)) - 1, 1 - (2 * (1 - u)) ** (1 / (eta + 1)))
    return np.clip(np.where(mutate, x + delta, x), 0.0, 1.0)


def _vary(rng, population, rank, crowding, size) -> list[Proposal]:
    proposals = []
    while len(proposals) < size:
        a, b = tournament_parents(population, rank, crowding, rng)
        child = _polynomial_mutation(_sbx(np.array(a.x), np.array(b.x), rng), rng)
        proposals.append(Proposal(child.tolist(), "sbx+pm", (a.id, b.id)))
    return proposals


def _run(generations: int, size: int = 100, seed: int = 1, stop_after: int | None = None,
         state: dict | None = None) -> NSGA2:
    algorithm = NSGA2(size, _sample, _vary, seed)
    if state is not None:
        algorithm.load_state_dict(state)
    while algorithm.generation < generations:
        if stop_after is not None and algorithm.generation == stop_after:
            break
        first_id = algorithm.generation * size
        algorithm.tell([Individual(first_id + index, proposal.x, zdt1(np.array(proposal.x)))
                        for index, proposal in enumerate(algorithm.ask())])
    return algorithm


def test_nsga2_reaches_the_zdt1_front() -> None:
    algorithm = _run(generations=150)
    front = np.array([ind.objectives for ind in algorithm.population])
    f1 = np.linspace(0, 1, 1000)
    true_front = np.column_stack([f1, 1 - np.sqrt(f1)])
    igd = IGD(true_front)(front)
    # measured 0.0049 with seed 1; pymoo's own NSGA-II: 0.0062 with the same budget
    assert igd < 0.01, igd


def test_state_round_trip_continues_exactly() -> None:
    whole = _run(generations=12, size=20)
    half = _run(generations=12, size=20, stop_after=6)
    resumed = _run(generations=12, size=20, state=half.state_dict())
    assert [ind.x for ind in resumed.population] == [ind.x for ind in whole.population]
    assert resumed.state_dict() == whole.state_dict()


def test_infeasible_candidates_lose_to_feasible_ones() -> None:
    algorithm = NSGA2(2, lambda rng, size: [], lambda *args: [], 0)
    algorithm.tell([Individual(0, "a", (0.0, 0.0), violation=1.0), Individual(1, "b", (5.0, 5.0)),
                    Individual(2, "c", (6.0, 6.0)), Individual(3, "d", (1.0, 1.0), violation=0.5)])
    assert sorted(ind.id for ind in algorithm.population) == [1, 2]
    with pytest.raises(Exception):
        algorithm.load_state_dict({})
