"""The shape of the RENAS paper's ablation (Fig. 4): RENAS vs plain EA vs RENAS "non-bi", same budget.

Chen et al., "RENAS" (CVPR 2019), Fig. 4 compares, over the search's steps, the population's
mean validation accuracy of three variants of the same loop:

* ``renas`` - reinforced mutation, bidirectional LSTM encoder (``mutation=controller``);
* ``ea`` - the plain EA, random mutation (``mutation=random``);
* ``non-bi`` - reinforced mutation with a unidirectional LSTM (``encoder=unidirectional``).

The paper runs this on CIFAR-10 with the #B = 5, N = 2, F = 24 search network for hundreds of
GPU-hours. Here two cheap proxies, each over several seeds, every variant with the same number
of evaluations and the same initial population for a given seed (the seed draws it):

1. **Trained** (the real search loop, ``run_search`` with the real evaluator): the search
   network at N = 1, F = 8 on generated 32x32 images (``--classes`` classes of textures whose
   colour carries no information: stripes at two orientations, checkerboards, rings, blobs and
   noise, each with a random colour, phase and scale and strong noise), a held-out validation
   split, the initial population trained one pass from scratch and each child inherited and
   fine-tuned for one pass (learning rates 0.01 and 0.001), no final retraining. Reported: the
   population's mean top-1 after the initial population and after the last step, and the best.
2. **Synthetic** (the evolution alone, no training): the paper's population (#P = 20, S = 5) and
   controller on a fitness computed from the cell, whose optimum is known: each of the cell's
   20 inputs and operators scores when it matches a hidden target cell (drawn per seed), the
   fitness in [0, 90] "per cent". Reported: the population's mean fitness after the last step.

    python benchmarks/renas_ablation.py                       # the README's figures (12-19 min, 2 cores)
    python benchmarks/renas_ablation.py --skip-trained --synthetic-steps 500
    python benchmarks/renas_ablation.py --seeds 5 --steps 40  # longer, more seeds
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from falsr_zoo.families.renas.cell import RenasCell, parse_renas_cell
from falsr_zoo.search.contracts import Evaluation
from falsr_zoo.search.renas.controller import MutationControllerSettings
from falsr_zoo.search.renas.evolution import EvolutionSettings, RenasEvolution
from falsr_zoo.search.renas.reports import renas_status
from falsr_zoo.search.renas.space import RenasSpace
from falsr_zoo.search.loop import run_search
from falsr_zoo.search.config import load_config

VARIANTS = {"renas": ["mutation=controller"], "ea": ["mutation=random"],
            "non-bi": ["mutation=controller", "encoder=unidirectional"]}
_PATTERNS = 6


def _texture(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One grey texture in [-1, 1] of class ``label`` (a pattern; colour is added by the caller)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    scale, phase = rng.uniform(0.5, 0.9), rng.uniform(0, 2 * math.pi)
    kind = label % _PATTERNS
    if kind == 0:
        return np.sin(yy * scale + phase)
    if kind == 1:
        return np.sin(xx * scale + phase)
    if kind == 2:
        return np.sign(np.sin(yy * scale + phase) * np.sin(xx * scale + phase))
    if kind == 3:
        cy, cx = rng.uniform(size / 4, 3 * size / 4, 2)
        return np.sin(np.hypot(yy - cy, xx - cx) * scale + phase)
    if kind == 4:
        image = np.zeros((size, size))
        for cy, cx in rng.uniform(0, size, (6, 2)):
            image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
        return np.clip(2 * image - 1, -1, 1)
    return np.clip(rng.normal(0, 0.6, (size, size)), -1, 1)


def make_dataset(root: Path, classes: int, per_class: int, size: int = 32, seed: int = 0) -> Path:
    """``root/<class>/<image>.png``: textures, a random colour each, plus noise."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            colour = rng.uniform(60, 196, 3)
            texture = _texture(label, size, rng)[..., None]
            image = colour + 50 * texture + rng.normal(0, 40, (size, size, 3))
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"{index}.png")
    return root


def trained_run(variant: str, seed: int, data: Path, run_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    config = load_config(preset="renas-smoke", overrides=[
        *VARIANTS[variant], f"seed={seed}", f"population={args.population}", f"sample_size={args.sample_size}",
        f"steps={args.steps}", f"val_split={args.val_split}", "final_epochs=0", "num_blocks=5",
        f"controller_embedding={args.controller_size}", f"controller_hidden={args.controller_size}",
        f"image_size={args.image_size}", f"init_epochs={args.init_epochs}", f"finetune_epochs={args.finetune_epochs}",
        f"lr_new={args.lr_new}", "train.batch_size=32"])
    started = time.perf_counter()
    store = run_search(run_dir, config, data=str(data))
    status = renas_status(run_dir, store, config)
    store.close()
    history = status["history"]
    return {"start": history[0]["population_mean"], "end": history[-1]["population_mean"],
            "best": max(row["top1"] for row in status["population"]), "seconds": time.perf_counter() - started}


def _target_fitness(target: RenasCell) -> Callable[[str], float]:
    def fitness(genome: str) -> float:
        cell = parse_renas_cell(genome)
        good = sum((a.i1 == b.i1) + (a.i2 == b.i2) + (a.o1 == b.o1) + (a.o2 == b.o2)
                   for a, b in zip(cell.blocks, target.blocks))
        return 90.0 * good / (4 * cell.num_blocks)
    return fitness


def synthetic_run(variant: str, seed: int, steps: int) -> float:
    mutation = "random" if variant == "ea" else "controller"
    settings = EvolutionSettings(population=20, sample_size=5, steps=steps, mutation=mutation, final_retrain=False,
                                 controller=MutationControllerSettings(bidirectional=variant != "non-bi"))
    fitness = _target_fitness(RenasSpace(5).random_cell(np.random.default_rng(10_000 + seed)))
    evolution, next_id = RenasEvolution(settings, seed), 0
    for _ in range(settings.generations):
        evaluations = []
        for proposal in evolution.ask():
            next_id += 1
            evaluations.append(Evaluation(next_id, proposal.x, fitness(proposal.x), 0, 0))
        evolution.tell(evaluations)
    return statistics.fmean(member.top1 for member in evolution.population)


def _summary(values: list[float]) -> str:
    return (f"mean {statistics.fmean(values):6.2f}  std {statistics.pstdev(values):5.2f}  "
            f"per seed {', '.join(f'{v:.1f}' for v in values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--sample-size", type=int, default=3)
    parser.add_argument("--steps", type=int, default=24, help="steps of the trained proxy")
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--val-split", type=int, default=120)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--init-epochs", type=float, default=4.0)
    parser.add_argument("--finetune-epochs", type=float, default=1.0)
    parser.add_argument("--lr-new", type=float, default=0.05)
    parser.add_argument("--controller-size", type=int, default=100)
    parser.add_argument("--synthetic-steps", type=int, default=200, help="0: skip the synthetic proxy")
    parser.add_argument("--synthetic-seeds", type=int, default=5)
    parser.add_argument("--skip-trained", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one: the search network's many "
                        "small operators run faster on one thread than on two busy ones)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_trained:
        print(f"trained proxy: #P = {args.population}, S = {args.sample_size}, {args.steps} steps "
              f"({args.population + args.steps} trainings per run), #B = 5, N = 1, F = 8; {args.classes} classes x "
              f"{args.per_class} generated images, {args.val_split} held out; seeds 0..{args.seeds - 1}")
        results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        with tempfile.TemporaryDirectory() as tmp:
            data = make_dataset(Path(tmp) / "data", args.classes, args.per_class, args.image_size)
            for seed in range(args.seeds):
                for name in VARIANTS:
                    results[name].append(trained_run(name, seed, data, Path(tmp) / f"{name}-{seed}", args))
                    row = results[name][-1]
                    print(f"  seed {seed} {name:<7} population mean {row['start']:.1f} -> {row['end']:.1f} %, "
                          f"best {row['best']:.1f} % ({row['seconds']:.0f} s)", flush=True)
        print("population mean top-1 after the last step (initial population's in brackets):")
        for name, rows in results.items():
            start = statistics.fmean(r["start"] for r in rows)
            print(f"  {name:<7} {_summary([r['end'] for r in rows])}  (initial {start:.2f})")
        print("best living individual after the last step:")
        for name, rows in results.items():
            print(f"  {name:<7} {_summary([r['best'] for r in rows])}")
    if args.synthetic_steps:
        print(f"synthetic proxy (hidden target cell, optimum 90): #P = 20, S = 5, {args.synthetic_steps} steps, "
              f"paper controller; population mean fitness after the last step, seeds 0..{args.synthetic_seeds - 1}:")
        for name in VARIANTS:
            started = time.perf_counter()
            values = [synthetic_run(name, seed, args.synthetic_steps) for seed in range(args.synthetic_seeds)]
            print(f"  {name:<7} {_summary(values)}  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
