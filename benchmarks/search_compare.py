"""The hybrid search against random search and plain NSGA-II on a cheap proxy, and the machinery's overhead.

**Quality.** Training every candidate is what a real search costs, so the comparison runs on a
proxy objective computed from the genome in microseconds (:func:`proxy_psnr`): a made-up but
structured PSNR that rewards capacity with diminishing returns, kernel 3 over 1, the skip flag,
inverted bottlenecks and a moderate number of links, plus a little deterministic noise. Its
optimum is unknown to the algorithms; mult-adds and parameters are the real ones. Three
algorithms get the same number of evaluations:

* ``hybrid`` - falsr-search's algorithm (the paper's operators, RL controller, roulette wheel);
* ``nsga2`` - the same NSGA-II with random mutation only (no controller, no roulette wheel);
* ``random`` - uniformly random genomes (random cells, random links).

The hypervolume of each run's front (the search's reference point) is reported per seed, with
mean and standard deviation.

**Overhead.** The real loop (run store, ask/tell, controller, hypervolume after each
generation) runs with an executor that answers with the proxy at once; its time per evaluation
is compared with the time of one real incomplete training of a median genome on this machine
(``estimate_budget``: the paper preset's steps).

    python benchmarks/search_compare.py --seeds 5 --generations 20 --population 16
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from falsr_zoo.families.falsr.genome import Genome, parse_genome
from falsr_zoo.search.budget import estimate_budget
from falsr_zoo.search.evaluator import EvalOutcome
from falsr_zoo.search.falsr.hybrid import Evaluation, HybridSearch, objectives_of
from falsr_zoo.search.pareto import fronts, hypervolume
from falsr_zoo.search.loop import run_search
from falsr_zoo.search.config import load_config
from falsr_zoo.search.falsr.space import SearchSpace

_TYPE_GAIN = {"conv": 1.0, "groupConG2": 0.9, "groupConG4": 0.8, "invertBotConE2": 1.15}


def proxy_psnr(genome: Genome) -> float:
    """A cheap, structured stand-in for the validation PSNR of a genome (dB)."""
    score = 0.0
    for cell in genome.cells:
        capacity = cell.filters * cell.repeats * (cell.kernel ** 2) / 64
        score += _TYPE_GAIN[cell.type] * math.log1p(capacity) * (1.05 if cell.skip and cell.repeats > 1 else 1.0)
    links = sum(genome.link_bits) / max(1, len(genome.link_bits))
    noise = (zlib.crc32(str(genome).encode()) % 1000) / 1000 - 0.5
    return 30.0 + 0.6 * score / math.sqrt(genome.n_cells) + 1.2 * links * (1.6 - links) + 0.05 * noise


def _evaluation(search: HybridSearch, candidate_id: int, genome: str) -> Evaluation:
    macs, params = search.costs(genome)
    psnr = proxy_psnr(parse_genome(genome)) if search.trainable(genome) else None
    return Evaluation(candidate_id, genome, psnr, macs, params)


def _front_hv(evaluations: list[Evaluation], reference: tuple[float, float, float]) -> float:
    points = np.array([objectives_of(e.psnr, e.mult_adds, e.params) for e in evaluations if e.psnr is not None])
    return hypervolume(points[fronts(points) == 0], reference)


def run_algorithm(name: str, config, seed: int) -> float:
    """Hypervolume after ``population x generations`` evaluations."""
    settings = config.hybrid()
    if name == "nsga2":
        settings = replace(settings, operator_probs={"random": 1.0}, use_controller=False)
    reference = config.reference_point()
    evaluations: list[Evaluation] = []
    if name == "random":
        rng, space = np.random.default_rng(seed), SearchSpace(config.n_cells)
        search = HybridSearch(settings, seed)
        for index in range(config.evaluations):
            genome = space.genome(rng.integers(0, space.num_choices, config.n_cells),
                                  rng.integers(0, 2, space.num_links))
            evaluations.append(_evaluation(search, index, str(genome)))
        return _front_hv(evaluations, reference)
    search = HybridSearch(settings, seed)
    next_id = 0
    for _ in range(config.generations):
        generation = []
        for proposal in search.ask():
            generation.append(_evaluation(search, next_id, proposal.x))
            next_id += 1
        search.tell(generation)
        evaluations += generation
    return _front_hv(evaluations, reference)


class ProxyExecutor:
    """Answers every evaluation at once with the proxy (to time the loop itself)."""

    name = "proxy"

    def run(self, tasks, on_result) -> None:
        for task in tasks:
            on_result(EvalOutcome(task.id, proxy_psnr(parse_genome(task.genome)), 0.5, 0.0, "proxy"))

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--n-cells", type=int, default=7)
    args = parser.parse_args()
    config = load_config(preset="paper", overrides=[f"generations={args.generations}",
                                                    f"population={args.population}", f"n_cells={args.n_cells}"])
    print(f"{config.evaluations} evaluations per run ({args.population} x {args.generations}), n = {args.n_cells}, "
          f"seeds 0..{args.seeds - 1}; hypervolume of the front (reference {config.reference_point()}):")
    for name in ("hybrid", "nsga2", "random"):
        values = [run_algorithm(name, config, seed) for seed in range(args.seeds)]
        print(f"  {name:<7} mean {statistics.fmean(values):10.2f}  std {statistics.pstdev(values):8.2f}  "
              f"per seed {', '.join(f'{v:.1f}' for v in values)}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "img"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for index in range(2):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{index}.png")
        started = time.perf_counter()
        run_search(Path(tmp) / "run", config, data=str(folder), val=str(folder), executor=ProxyExecutor())
        loop = (time.perf_counter() - started) / config.evaluations
        budget = estimate_budget(load_config(preset="paper"), str(folder), str(folder))
    print(f"machinery per evaluation (store, ask/tell, controller, hypervolume): {1000 * loop:.2f} ms")
    print(f"one incomplete training here (paper preset, {budget.steps_per_evaluation} steps of a median genome): "
          f"{budget.seconds_per_evaluation:.0f} s -> overhead {100 * loop / budget.seconds_per_evaluation:.4f} %")


if __name__ == "__main__":
    main()
