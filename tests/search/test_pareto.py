"""Pareto machinery against an oracle (pymoo) and against closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from falsr_zoo.search.pareto import crowding_distance, fronts, hypervolume, survivors, tournament


def _brute_force_fronts(points: np.ndarray) -> np.ndarray:
    """Peel non-dominated layers by checking every pair (the definition, no cleverness)."""
    left, rank, level = set(range(len(points))), np.zeros(len(points), dtype=int), 0
    while left:
        layer = {i for i in left if not any(np.all(points[j] <= points[i]) and np.any(points[j] < points[i])
                                             for j in left if j != i)}
        for i in layer:
            rank[i] = level
        left -= layer
        level += 1
    return rank


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dims", [2, 3])
def test_fronts_match_pymoo_and_brute_force(seed: int, dims: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 6, (60, dims)).astype(float)  # many ties and duplicates
    rank = fronts(points)
    assert np.array_equal(rank, _brute_force_fronts(points))
    oracle = np.empty(len(points), dtype=int)
    for level, members in enumerate(NonDominatedSorting().do(points)):
        oracle[members] = level
    assert np.array_equal(rank, oracle)


def test_feasibility_first() -> None:
    points = np.array([[5.0, 5.0], [0.0, 0.0], [1.0, 1.0], [0.0, 9.0]])
    violation = np.array([0.0, 2.0, 0.5, 0.0])
    # feasible ones first (two non-dominated), then the smaller violation, then the larger
    assert fronts(points, violation).tolist() == [0, 2, 1, 0]


def test_crowding_distance_closed_form() -> None:
    points = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    distance = crowding_distance(points)
    assert distance[0] == distance[3] == np.inf
    # middle points: sum over objectives of (next - previous) / range
    assert distance[1] == pytest.approx((3 - 0) / 4 + (4 - 1) / 4)
    assert distance[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)
    assert crowding_distance(points[:2]).tolist() == [np.inf, np.inf]


def test_survivors_take_whole_fronts_then_the_least_crowded() -> None:
    points = np.array([[0.0, 4.0], [1.0, 2.1], [1.1, 2.0], [4.0, 0.0], [5.0, 5.0], [6.0, 6.0]])
    assert survivors(points, None, 4).tolist() == [0, 1, 2, 3]
    kept = survivors(points, None, 3)
    assert {0, 3} <= set(kept.tolist()) and len(kept) == 3  # boundaries are infinitely far apart
    assert survivors(points, None, 5).tolist() == [0, 1, 2, 3, 4]


def test_tournament_prefers_rank_then_crowding() -> None:
    rng = np.random.default_rng(0)
    rank, crowding = [1, 0, 0], [9.0, 1.0, 2.0]
    wins = [tournament(rank, crowding, rng) for _ in range(3000)]
    counts = np.bincount(wins, minlength=3) / 3000
    # pairs drawn with replacement: 0 wins only against itself (1/9); 2 beats 0 and 1
    assert counts[0] == pytest.approx(1 / 9, abs=0.03) and counts[2] == pytest.approx(5 / 9, abs=0.03)


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_matches_pymoo(dims: int) -> None:
    rng = np.random.default_rng(dims)
    points = rng.random((40, dims))
    reference = np.full(dims, 1.1)
    assert hypervolume(points, reference) == pytest.approx(HV(ref_point=reference)(points), rel=1e-12)
    # closed form: one point
    assert hypervolume(np.array([[0.5] * dims]), reference) == pytest.approx(0.6**dims)
    # points beyond the reference contribute nothing
    assert hypervolume(np.array([[2.0] * dims]), reference) == 0.0


def test_hypervolume_of_a_staircase() -> None:
    points = np.array(list(itertools.permutations([1.0, 2.0])))
    assert hypervolume(points, [3.0, 3.0]) == pytest.approx(3.0)
