"""Pareto machinery for minimisation: constrained fronts, crowding distance, tournaments, hypervolume.

Non-dominated sorting and hypervolume come from moocore (a maintained C library with Python
bindings); the tests check them against pymoo. Constraints follow Deb's feasibility-first rule:
a feasible point beats an infeasible one, two infeasible points compare by their total
violation, two feasible ones by Pareto dominance. Crowding distance and the binary tournament
are NSGA-II's (Deb et al., 2002).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from falsr_zoo._optional import require

__all__ = ["crowding_distance", "fronts", "hypervolume", "survivors", "tournament"]


def _moocore() -> Any:
    return require("moocore", "search", "falsr-search")


def fronts(objectives: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """The front index (0 = non-dominated) of every point under feasibility-first comparison.

    Args:
        objectives: ``(N, M)`` values to minimise.
        violation: ``(N,)`` total constraint violation (0 = feasible); ``None``: all feasible.
    """
    objectives = np.asarray(objectives, dtype=np.float64)
    count = len(objectives)
    rank = np.zeros(count, dtype=np.int64)
    if count == 0:
        return rank
    violation = np.zeros(count) if violation is None else np.asarray(violation, dtype=np.float64)
    feasible = violation <= 0
    top = 0
    if feasible.any():
        rank[feasible] = _moocore().pareto_rank(objectives[feasible])
        top = int(rank[feasible].max()) + 1
    if (~feasible).any():
        # infeasible points: one front per distinct violation, smallest first
        levels = np.unique(violation[~feasible])
        rank[~feasible] = top + np.searchsorted(levels, violation[~feasible])
    return rank


def crowding_distance(objectives: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of points of one front (boundary points: infinity).

    Each objective contributes the gap between a point's two neighbours along it, divided by
    the objective's range over the front.
    """
    objectives = np.asarray(objectives, dtype=np.float64)
    count, dims = objectives.shape if objectives.ndim == 2 else (len(objectives), 0)
    distance = np.zeros(count)
    if count <= 2:
        distance[:] = np.inf
        return distance
    for m in range(dims):
        order = np.argsort(objectives[:, m], kind="stable")
        values = objectives[order, m]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def survivors(objectives: np.ndarray, violation: np.ndarray | None, size: int) -> np.ndarray:
    """Indices of the ``size`` points NSGA-II keeps: whole fronts in order, the last one cut by crowding.

    Ties in crowding keep the earlier index, so selection is deterministic.
    """
    rank = fronts(objectives, violation)
    keep: list[int] = []
    for front in np.unique(rank):
        members = np.flatnonzero(rank == front)
        if len(keep) + len(members) <= size:
            keep.extend(members.tolist())
            continue
        crowding = crowding_distance(np.asarray(objectives)[members])
        order = sorted(range(len(members)), key=lambda i: (-crowding[i], members[i]))
        keep.extend(members[i] for i in order[: size - len(keep)])
        break
    return np.asarray(sorted(keep), dtype=np.int64)


def tournament(rank: Sequence[int], crowding: Sequence[float], rng: np.random.Generator) -> int:
    """Binary tournament (k = 2): the lower front wins, then the larger crowding distance, then the first drawn."""
    a, b = (int(i) for i in rng.integers(0, len(rank), size=2))
    if rank[a] != rank[b]:
        return a if rank[a] < rank[b] else b
    if crowding[a] != crowding[b]:
        return a if crowding[a] > crowding[b] else b
    return a


def hypervolume(objectives: np.ndarray, reference: Sequence[float]) -> float:
    """Hypervolume dominated by the points (minimisation) and bounded by ``reference``; points
    not strictly better than the reference in every objective contribute nothing."""
    points = np.asarray(objectives, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if points.size == 0:
        return 0.0
    inside = points[(points < reference).all(axis=1)]
    return float(_moocore().hypervolume(inside, ref=reference)) if len(inside) else 0.0
