"""The FALSR search benchmark, steps 2-4: a surrogate of real trainings, searches on it, statistics, a guard.

Built the way NAS-Bench-301 was: real trainings (``benchmarks/falsr_data.py``, committed in
``benchmarks/data/falsr_results.csv``), a surrogate fitted on them and checked on held-out
trainings, searches on the surrogate over many seeds, and real retraining of final fronts as a
guard against a search that games the surrogate.

* ``surrogate``: gradient-boosted trees (scikit-learn's ``HistGradientBoostingRegressor``) on a
  genome encoding (:func:`encode`: per cell position its type one-hot, filters, kernel, repeats
  and skip flag; the cells' counts over the whole genome; the 28 link bits; log mult-adds and log
  parameters), fitted on every short training (each seed a sample; ``--steps``: the value after
  300 or after 600 steps, both in the table). 5-fold cross-validation
  grouped by genome (a held-out genome is never seen in training): RMSE and Kendall tau against
  the held-out trainings, beside what the seed-to-seed spread allows and beside a model of the
  costs alone. In a search the surrogate's prediction gets Gaussian noise with the measured seed
  spread (seeded per run and candidate), so a search sees what a real one sees: noisy trainings.
* ``run``: searches on the surrogate at the paper's budget (population 64 x 156 generations, the
  space's genomes under the data's bound of 60 G mult-adds), each arm over ``--seeds`` seeds,
  through the project's own algorithm classes (ask/tell): the hybrid; the hybrid with a frozen
  controller; the hybrid with the controller replaced by uniform random genomes; plain NSGA-II;
  NSGA-II + roulette wheel toward cheaper and toward costlier cells; the controller alone
  (REINFORCE on its own samples); random search (uniform genomes under the bound). The budget
  is counted in proposals; a proposal over the bound is never trained (as in ``falsr-search``). Results go to ``benchmarks/data/falsr_study.csv``
  (resumable: finished (arm, seed) pairs are skipped).
* ``report``: normalised hypervolume and IGD+ at 25 / 50 / 100 % of the budget, two-sided
  Mann-Whitney U with Holm correction and Vargha-Delaney A12 with bootstrap intervals, the
  primary contrast (stated below, before any run) first; figures in ``docs/figures/``.
* ``guard``: the final fronts (up to 8 points, spread along mult-adds) of ``--seeds`` seeds of the
  hybrid, NSGA-II and random search retrained with the real short recipe (the data collection's
  job runner); the normalised hypervolume recomputed on real trainings
  (``benchmarks/data/falsr_guard.csv``, resumable).

**Normalised hypervolume.** Objectives to minimise: ``1 - (PSNR - PSNR_FLOOR) / (PSNR_CEIL -
PSNR_FLOOR)`` and each cost's log normalised between the cheapest genome of the space and the
bound, all clipped to [0, 1]; reference point (1, 1, 1). PSNR_FLOOR is not bicubic's Set5 PSNR
(33.66 dB): after the short recipe's 300 steps most genomes are below bicubic (FALSR-B: 33.0 dB),
and a hypervolume anchored there would count a handful of points; the floor is the table's
lowest short-training PSNR rounded down, the ceiling its highest rounded up plus 1 dB, fixed
constants so every run is measured alike.

    python benchmarks/search_study.py surrogate
    OMP_NUM_THREADS=1 python benchmarks/search_study.py run --seeds 25
    python benchmarks/search_study.py report
    OMP_NUM_THREADS=1 python benchmarks/search_study.py guard --seeds 5
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from falsr_data import MAX_MULT_ADDS, N_CELLS, RESULTS, SHORT_STEPS, read_results, values_at  # noqa: E402

from falsr_zoo.families.falsr.genome import CELL_CHOICES, CELL_TYPES, Genome, parse_genome  # noqa: E402
from falsr_zoo.search.contracts import Evaluation  # noqa: E402
from falsr_zoo.search.falsr.config import FalsrSearchConfig  # noqa: E402
from falsr_zoo.search.falsr.hybrid import HybridSearch, reward  # noqa: E402
from falsr_zoo.search.falsr.space import SearchSpace  # noqa: E402
from falsr_zoo.search.pareto import fronts, hypervolume  # noqa: E402

STUDY = HERE / "data" / "falsr_study.csv"
GUARD = HERE / "data" / "falsr_guard.csv"
FIGURES = HERE.parent / "docs" / "figures"
PSNR_FLOOR, PSNR_CEIL = 26.0, 37.0
FRACTIONS = (0.25, 0.5, 1.0)
ARMS = ("hybrid", "hybrid-frozen", "hybrid-uniform", "nsga2", "nsga2-rws-cheaper", "nsga2-rws-costlier",
        "controller", "random")
PRIMARY = ("hybrid", "nsga2", 1.0)
"""The primary contrast, stated before the study runs: the hybrid against plain NSGA-II at the
full budget (normalised hypervolume, two-sided). Secondary: the hybrid against the frozen
controller (does learning help?) and against uniform genomes in the controller's place."""
STUDY_FIELDS = ["arm", "seed", "population", "generations", "fraction", "proposals", "hv", "front", "seconds"]


# ---------------------------------------------------------------------------------------------
# encoding and surrogate


@lru_cache(maxsize=None)
def encode(text: str) -> np.ndarray:
    """Features of a genome (module docstring)."""
    genome = parse_genome(text)
    features: list[float] = []
    for cell in genome.cells:
        features += [float(cell.type == kind) for kind in CELL_TYPES]
        features += [cell.filters / 64, float(cell.kernel == 3), math.log2(cell.repeats) / 2, float(cell.skip)]
    for kind in CELL_TYPES:
        features.append(sum(cell.type == kind for cell in genome.cells) / genome.n_cells)
    features += [np.mean([c.filters for c in genome.cells]) / 64, np.mean([c.kernel == 3 for c in genome.cells]),
                 np.mean([c.repeats for c in genome.cells]) / 4, np.mean([c.skip for c in genome.cells])]
    bits = genome.link_bits
    features += [float(b) for b in bits] + [sum(bits) / len(bits)]
    features += [math.log(genome.macs(480, 480)), math.log(genome.num_params())]
    return np.asarray(features, dtype=np.float64)


@dataclass
class Table:
    """The short trainings: one row per (genome, seed)."""

    genomes: list[str]
    psnr: np.ndarray
    mult_adds: np.ndarray
    params: np.ndarray

    @classmethod
    def load(cls, path: Path = RESULTS, steps: int = SHORT_STEPS) -> Table:
        """Every (genome, seed) trained ``steps`` steps, FALSR-A/B/C (over the bound) left out."""
        rows = [r for r in read_results(path) if not r["origin"].startswith("zoo")]
        costs = {r["genome"]: (float(r["mult_adds"]), float(r["params"])) for r in rows}
        values = values_at(rows, steps)
        genomes = [genome for genome, _ in values]
        return cls(genomes, np.array(list(values.values())), np.array([costs[g][0] for g in genomes]),
                   np.array([costs[g][1] for g in genomes]))

    def seed_spread(self) -> float:
        """Pooled standard deviation of the PSNR between seeds of one genome."""
        groups: dict[str, list[float]] = {}
        for genome, value in zip(self.genomes, self.psnr):
            groups.setdefault(genome, []).append(value)
        deviations = [(np.var(v, ddof=1), len(v) - 1) for v in groups.values() if len(v) > 1]
        if not deviations:
            raise SystemExit("the table has no genome trained with several seeds yet: no noise estimate")
        return float(math.sqrt(sum(v * d for v, d in deviations) / sum(d for _, d in deviations)))


def fit_surrogate(genomes: Sequence[str], psnr: np.ndarray, seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.04, max_leaf_nodes=15, min_samples_leaf=6,
                                          l2_regularization=1.0, random_state=seed)
    return model.fit(np.stack([encode(g) for g in genomes]), psnr)


def cross_validate(table: Table, folds: int = 5) -> dict[str, float]:
    """Grouped k-fold: RMSE and Kendall tau on held-out genomes, for the surrogate and a costs-only model."""
    from scipy.stats import kendalltau
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import GroupKFold

    x = np.stack([encode(g) for g in table.genomes])
    costs = x[:, -2:]
    groups = np.unique(table.genomes, return_inverse=True)[1]
    predicted, baseline = np.zeros(len(x)), np.zeros(len(x))
    for train, test in GroupKFold(folds).split(x, table.psnr, groups):
        predicted[test] = fit_surrogate([table.genomes[i] for i in train], table.psnr[train]).predict(x[test])
        baseline[test] = LinearRegression().fit(costs[train], table.psnr[train]).predict(costs[test])
    means = {}
    for genome, value, p, b in zip(table.genomes, table.psnr, predicted, baseline):
        means.setdefault(genome, []).append((value, p, b))
    per_genome = np.array([np.mean(v, axis=0) for v in means.values()])
    return {
        "samples": len(x), "genomes": len(means),
        "rmse": float(np.sqrt(np.mean((predicted - table.psnr) ** 2))),
        "rmse_costs_only": float(np.sqrt(np.mean((baseline - table.psnr) ** 2))),
        "tau": float(kendalltau(per_genome[:, 1], per_genome[:, 0]).statistic),
        "tau_costs_only": float(kendalltau(per_genome[:, 2], per_genome[:, 0]).statistic),
        "seed_spread": table.seed_spread(),
    }


class Surrogate:
    """The fitted trees plus seeded noise of the measured seed spread: a search's evaluator."""

    def __init__(self, table: Table) -> None:
        self.model = fit_surrogate(table.genomes, table.psnr)
        self.noise = table.seed_spread()
        self._mean: dict[str, float] = {}

    def mean(self, genomes: Sequence[str]) -> np.ndarray:
        missing = [g for g in dict.fromkeys(genomes) if g not in self._mean]
        if missing:
            for genome, value in zip(missing, self.model.predict(np.stack([encode(g) for g in missing]))):
                self._mean[genome] = float(value)
        return np.array([self._mean[g] for g in genomes])

    def sample(self, genomes: Sequence[str], rng: np.random.Generator) -> np.ndarray:
        return self.mean(genomes) + rng.normal(0.0, self.noise, size=len(genomes))


# ---------------------------------------------------------------------------------------------
# the arms


PARAMS_CEIL = 500_000
"""The parameter count the normalised hypervolume maps to 1 (the table's genomes under the bound
have at most about 260,000; a count above it is clipped)."""


@lru_cache(maxsize=1)
def _cost_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    light, _ = SearchSpace(N_CELLS).extremes()
    return ((math.log(light.macs(480, 480)), math.log(MAX_MULT_ADDS)),
            (math.log(light.num_params()), math.log(PARAMS_CEIL)))


def normalised(psnr: float, mult_adds: float, params: float) -> tuple[float, float, float]:
    """The minimised, normalised objectives of the study's hypervolume (module docstring)."""
    (m_lo, m_hi), (q_lo, q_hi) = _cost_bounds()
    quality = 1.0 - (psnr - PSNR_FLOOR) / (PSNR_CEIL - PSNR_FLOOR)
    return (float(np.clip(quality, 0, 1)), float(np.clip((math.log(mult_adds) - m_lo) / (m_hi - m_lo), 0, 1)),
            float(np.clip((math.log(params) - q_lo) / (q_hi - q_lo), 0, 1)))


def front_points(evaluated: Sequence[tuple[float, int, int]]) -> np.ndarray:
    points = np.array([normalised(*e) for e in evaluated]) if evaluated else np.zeros((0, 3))
    return points[fronts(points) == 0] if len(points) else points


def _uniform_genome(space: SearchSpace, rng: np.random.Generator) -> Genome:
    return space.genome([int(c) for c in rng.integers(0, len(CELL_CHOICES), space.n_cells)],
                        [int(b) for b in rng.integers(0, 2, space.num_links)])


class _UniformController:
    """Stands in for the controller: uniform random genomes, learns nothing."""

    updates = 0

    def __init__(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.space, self.rng = space, rng

    def sample(self, count: int) -> list[tuple[list[int], list[int]]]:
        return [tuple(map(list, self.space.encode(_uniform_genome(self.space, self.rng)))) for _ in range(count)]

    def update(self, actions, rewards) -> float:
        return 0.0

    def state_dict(self) -> bytes:
        return b""


def _config(arm: str, population: int, seed: int) -> FalsrSearchConfig:
    base = {"population": population, "max_mult_adds": MAX_MULT_ADDS, "seed": seed}
    mix = {"op_random": 1.0, "op_rws_mult_adds": 0.0, "op_rws_params": 0.0, "op_controller": 0.0}
    rws = {"op_random": 0.5, "op_rws_mult_adds": 0.25, "op_rws_params": 0.25, "op_controller": 0.0}
    values = {"nsga2": mix, "nsga2-rws-cheaper": {**rws, "rws_direction": "cheaper"},
              "nsga2-rws-costlier": {**rws, "rws_direction": "costlier"}}.get(arm, {})
    return FalsrSearchConfig(**base, **values)


Evaluate = Callable[[list[str]], list[float | None]]


def run_nsga(arm: str, population: int, generations: int, seed: int, evaluate: Evaluate) -> list[tuple]:
    """One hybrid / NSGA-II run through the project's HybridSearch; every proposal's (psnr, macs, params)."""
    config = _config(arm, population, seed)
    search = HybridSearch(config.hybrid(), seed)
    if arm == "hybrid-frozen":
        search.controller.update = lambda actions, rewards: 0.0
    elif arm == "hybrid-uniform":
        search.controller = _UniformController(search.space, np.random.default_rng([seed, 7]))
    history, next_id = [], 0
    for _ in range(generations):
        proposals = search.ask()
        genomes = [p.x for p in proposals]
        scores = evaluate(genomes)
        evaluations = []
        for genome, score in zip(genomes, scores):
            next_id += 1
            macs, params = search.costs(genome)
            evaluations.append(Evaluation(next_id, genome, score, macs, params))
            history.append((score, macs, params, genome))
        search.tell(evaluations)
    return history


def run_controller(population: int, generations: int, seed: int, evaluate: Evaluate) -> list[tuple]:
    """REINFORCE alone: the controller samples a population, learns from its rewards, repeats."""
    search = HybridSearch(_config("hybrid", population, seed).hybrid(), seed)
    history = []
    for _ in range(generations):
        actions = search.controller.sample(population)
        genomes = [str(search.space.genome(c, b)) for c, b in actions]
        scores = evaluate(genomes)
        costs = [search.costs(g) for g in genomes]
        reference = [s for s in scores if s is not None]
        rewards = [reward(s, search.cost(Evaluation(0, g, s, *c)), reference, search.settings.reward_beta)
                   for g, s, c in zip(genomes, scores, costs)]
        search.controller.update(actions, rewards)
        history += [(s, *c, g) for s, c, g in zip(scores, costs, genomes)]
    return history


def run_random(population: int, generations: int, seed: int, evaluate: Evaluate) -> list[tuple]:
    """Uniformly random genomes under the mult-adds bound (a genome's costs are known before training,
    so random search spends its budget on trainable genomes only)."""
    space, rng = SearchSpace(N_CELLS), np.random.default_rng([seed, 11])

    def draw() -> str:
        while (genome := _uniform_genome(space, rng)).macs(480, 480) > MAX_MULT_ADDS:
            pass
        return str(genome)

    history = []
    for _ in range(generations):
        genomes = [draw() for _ in range(population)]
        for genome, score in zip(genomes, evaluate(genomes)):
            spec = parse_genome(genome)
            history.append((score, spec.macs(480, 480), spec.num_params(), genome))
    return history


def run_arm(arm: str, population: int, generations: int, seed: int, surrogate: Surrogate) -> list[tuple]:
    rng = np.random.default_rng([seed, ARMS.index(arm), 2026])

    def evaluate(genomes: list[str]) -> list[float | None]:
        trainable = [parse_genome(g).macs(480, 480) <= MAX_MULT_ADDS for g in genomes]
        values = surrogate.sample(genomes, rng)
        return [float(v) if ok else None for v, ok in zip(values, trainable)]

    if arm == "controller":
        return run_controller(population, generations, seed, evaluate)
    if arm == "random":
        return run_random(population, generations, seed, evaluate)
    return run_nsga(arm, population, generations, seed, evaluate)


def _done_runs() -> set[tuple[str, int, int, int]]:
    if not STUDY.exists():
        return set()
    with open(STUDY, newline="") as handle:
        return {(r["arm"], int(r["seed"]), int(r["population"]), int(r["generations"])) for r in csv.DictReader(handle)}


def _append(path: Path, fields: list[str], rows: list[dict]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def study(args: argparse.Namespace) -> None:
    surrogate = Surrogate(Table.load(args.results, args.steps))
    done = _done_runs()
    for seed in range(args.seeds):
        for arm in args.arms:
            if (arm, seed, args.population, args.generations) in done:
                continue
            started = time.perf_counter()
            history = run_arm(arm, args.population, args.generations, seed, surrogate)
            seconds = time.perf_counter() - started
            rows = []
            for fraction in FRACTIONS:
                count = int(round(fraction * len(history)))
                trained = [h for h in history[:count] if h[0] is not None]
                points = front_points([h[:3] for h in trained])
                volume = hypervolume(points, (1.0, 1.0, 1.0)) if len(points) else 0.0
                on_front = {tuple(p) for p in points}
                front = list({h[3]: h for h in trained if normalised(*h[:3]) in on_front}.values())
                rows.append({"arm": arm, "seed": seed, "population": args.population,
                             "generations": args.generations, "fraction": fraction, "proposals": count,
                             "hv": f"{volume:.6f}",
                             "front": json.dumps([[round(p, 4), m, q, g] for p, m, q, g in front]),
                             "seconds": f"{seconds:.1f}"})
            _append(args.out, STUDY_FIELDS, rows)
            print(f"{arm} seed {seed}: hv {rows[-1]['hv']} in {seconds:.0f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# statistics


def a12(x: Sequence[float], y: Sequence[float]) -> float:
    """Vargha-Delaney A12: the probability that a draw of ``x`` beats one of ``y`` (ties count half)."""
    x, y = np.asarray(x)[:, None], np.asarray(y)[None, :]
    return float(((x > y).sum() + 0.5 * (x == y).sum()) / (x.size * y.size))


def a12_interval(x: Sequence[float], y: Sequence[float], rng: np.random.Generator,
                 resamples: int = 2000) -> tuple[float, float]:
    x, y = np.asarray(x), np.asarray(y)
    values = [a12(rng.choice(x, len(x)), rng.choice(y, len(y))) for _ in range(resamples)]
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone)."""
    order = np.argsort(pvalues)
    adjusted, running = np.zeros(len(pvalues)), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted.tolist()


def _read_study(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def report(args: argparse.Namespace) -> None:
    from scipy.stats import mannwhitneyu

    rows = [r for r in _read_study(args.out) if int(r["population"]) == args.population
            and int(r["generations"]) == args.generations]
    if not rows:
        raise SystemExit(f"no runs of population {args.population} x {args.generations} in {args.out}")
    import moocore

    union = front_points([tuple(p[:3]) for r in rows if float(r["fraction"]) == 1.0 for p in json.loads(r["front"])])
    values: dict[tuple[str, float], dict[str, list[float]]] = {}
    for r in rows:
        points = np.array([normalised(*p[:3]) for p in json.loads(r["front"])]) if json.loads(r["front"]) else None
        igd = float(moocore.igd_plus(points, union)) if points is not None else 1.0
        entry = values.setdefault((r["arm"], float(r["fraction"])), {"hv": [], "igd": []})
        entry["hv"].append(float(r["hv"]))
        entry["igd"].append(igd)
    arms = [a for a in ARMS if (a, 1.0) in values]
    seeds = ", ".join(f"{arm} ({len(values[(arm, 1.0)]['hv'])} seeds)" for arm in arms)
    print(f"{len(rows) // len(FRACTIONS)} runs, population {args.population} x {args.generations} generations; {seeds}")
    print(f"\n{'arm':<20}" + "".join(f"  HV at {int(f * 100):>3} %    " for f in FRACTIONS) + "  IGD+ at 100 %")
    for arm in arms:
        cells = []
        for fraction in FRACTIONS:
            hv = values[(arm, fraction)]["hv"]
            cells.append(f"  {np.mean(hv):.4f} ± {np.std(hv, ddof=1) if len(hv) > 1 else 0.0:.4f}")
        print(f"{arm:<20}" + "".join(cells) + f"  {np.mean(values[(arm, 1.0)]['igd']):.4f}")
    rng = np.random.default_rng(0)
    for fraction in FRACTIONS:
        contrasts = [("hybrid", other) for other in arms if other != "hybrid"]
        if "hybrid" not in arms:
            break
        tests = []
        for a, b in contrasts:
            x, y = values[(a, fraction)]["hv"], values[(b, fraction)]["hv"]
            p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue) if len(x) > 1 and len(y) > 1 else 1.0
            tests.append((a, b, p, a12(x, y), a12_interval(x, y, rng)))
        adjusted = holm([t[2] for t in tests])
        print(f"\nat {int(fraction * 100)} % of the budget (normalised HV; Mann-Whitney U two-sided, Holm over "
              f"{len(tests)} contrasts; A12 = P(hybrid > other), 95 % bootstrap interval):")
        for (a, b, p, effect, (lo, hi)), p_holm in zip(tests, adjusted):
            primary = "  <- primary contrast" if (a, b, fraction) == PRIMARY else ""
            print(f"  {a} vs {b:<20} p = {p:.3g}, Holm {p_holm:.3g}, A12 = {effect:.2f} [{lo:.2f}, {hi:.2f}]{primary}")
    if args.figures:
        _figures(values, arms, rows)


def _figures(values, arms, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for arm in arms:
        fractions = [f for f in FRACTIONS if (arm, f) in values]
        means = [np.mean(values[(arm, f)]["hv"]) for f in fractions]
        spread = [1.96 * np.std(values[(arm, f)]["hv"], ddof=1) / math.sqrt(len(values[(arm, f)]["hv"]))
                  if len(values[(arm, f)]["hv"]) > 1 else 0.0 for f in fractions]
        evaluations = [f * int(rows[0]["population"]) * int(rows[0]["generations"]) for f in fractions]
        axes.errorbar(evaluations, means, yerr=spread, marker="o", capsize=3, label=arm)
    axes.set_xlabel("evaluations (proposals)")
    axes.set_ylabel("normalised hypervolume (mean, 95 % interval)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(FIGURES / "search_study_hv.png")
    plt.close(figure)
    print(f"\nwrote {FIGURES / 'search_study_hv.png'}")


# ---------------------------------------------------------------------------------------------
# the guard: final fronts retrained for real


GUARD_FIELDS = ["arm", "seed", "genome", "surrogate_psnr", "psnr", "mult_adds", "params"]
GUARD_ARMS = ("hybrid", "nsga2", "random")


def _spread_front(front: list, count: int = 8) -> list:
    """Up to ``count`` points of a front, evenly spaced along mult-adds (both ends included)."""
    ordered = sorted(front, key=lambda p: p[1])
    if len(ordered) <= count:
        return ordered
    return [ordered[i] for i in np.linspace(0, len(ordered) - 1, count).round().astype(int)]


def guard(args: argparse.Namespace) -> None:
    """Retrain the final fronts (up to 8 points) of ``--seeds`` seeds of each guard arm with the real
    short recipe (the data collection's own job runner) and compare the normalised hypervolumes."""
    import torch

    from falsr_data import Job, run_job

    torch.set_num_threads(args.threads)
    rows = [r for r in _read_study(args.out) if float(r["fraction"]) == 1.0 and int(r["population"]) ==
            args.population and int(r["generations"]) == args.generations]
    done = {(r["arm"], int(r["seed"]), r["genome"]) for r in _read_study(args.guard)} if args.guard.exists() else set()
    work = Path(args.work)
    for r in sorted(rows, key=lambda r: (int(r["seed"]), r["arm"])):
        if r["arm"] not in GUARD_ARMS or int(r["seed"]) >= args.seeds:
            continue
        for index, (psnr, macs, params, genome) in enumerate(_spread_front(json.loads(r["front"]))):
            if (r["arm"], int(r["seed"]), genome) in done:
                continue
            job = Job(f"guard-{r['arm']}-{r['seed']}-{index}", genome, "guard", 0, args.steps, macs, params)
            real = [row for row in run_job(job, work, args.threads) if int(row["steps"]) == args.steps][-1]
            _append(args.guard, GUARD_FIELDS, [{"arm": r["arm"], "seed": r["seed"], "genome": genome,
                                               "surrogate_psnr": psnr, "psnr": real["psnr"], "mult_adds": macs,
                                               "params": params}])
            print(f"{r['arm']} seed {r['seed']}: {psnr:.2f} dB on the surrogate, {float(real['psnr']):.2f} real",
                  flush=True)
    results: dict[str, list[float]] = {}
    by_run: dict[tuple[str, str], list[tuple]] = {}
    for row in _read_study(args.guard):
        by_run.setdefault((row["arm"], row["seed"]), []).append((float(row["psnr"]), int(row["mult_adds"]),
                                                                 int(row["params"])))
    for (arm, _), points in sorted(by_run.items()):
        front = front_points(points)
        results.setdefault(arm, []).append(hypervolume(front, (1.0, 1.0, 1.0)) if len(front) else 0.0)
    for arm, values in results.items():
        print(f"{arm:<8} real normalised HV of the retrained fronts: {np.mean(values):.4f} ± "
              f"{np.std(values, ddof=1) if len(values) > 1 else 0.0:.4f} ({len(values)} seeds)")


# ---------------------------------------------------------------------------------------------


def surrogate_command(args: argparse.Namespace) -> None:
    table = Table.load(args.results, args.steps)
    result = cross_validate(table, args.folds)
    print(f"{result['samples']} short trainings of {result['genomes']} genomes; {args.folds}-fold CV grouped by genome")
    print(f"surrogate:  RMSE {result['rmse']:.3f} dB, Kendall tau {result['tau']:.3f} (per-genome means)")
    print(f"costs only: RMSE {result['rmse_costs_only']:.3f} dB, Kendall tau {result['tau_costs_only']:.3f} "
          "(linear in log mult-adds and log parameters)")
    print(f"seed-to-seed spread (pooled std): {result['seed_spread']:.3f} dB: the noise added to predictions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("surrogate", help="cross-validate the surrogate on the committed trainings")
    cv.add_argument("--folds", type=int, default=5)
    for name in ("run", "report", "guard"):
        command = sub.add_parser(name)
        command.add_argument("--population", type=int, default=64)
        command.add_argument("--generations", type=int, default=156)
        command.add_argument("--out", type=Path, default=STUDY)
        if name == "run":
            command.add_argument("--seeds", type=int, default=25)
            command.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
        elif name == "guard":
            command.add_argument("--seeds", type=int, default=5)
            command.add_argument("--threads", type=int, default=1)
            command.add_argument("--guard", type=Path, default=GUARD)
            command.add_argument("--work", default=os.path.expanduser("~/.cache/falsr-zoo/bench-falsr-guard"))
        else:
            command.add_argument("--figures", action="store_true", help="write docs/figures/search_study_*.png")
    for command in sub.choices.values():
        command.add_argument("--results", type=Path, default=RESULTS, help="the real trainings (default: committed)")
        command.add_argument("--steps", type=int, default=SHORT_STEPS,
                             help=f"the short recipe's length the surrogate learns (default {SHORT_STEPS})")
    args = parser.parse_args()
    {"surrogate": surrogate_command, "run": study, "report": report, "guard": guard}[args.command](args)


if __name__ == "__main__":
    main()
