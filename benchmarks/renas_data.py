"""Real trainings of RENAS cells: the data of the RENAS half of the search benchmark.

No CIFAR-10 here, so the cells are trained on a generated 10-class image set (:func:`make_dataset`:
16x16 textures of ten patterns whose colour carries no information, strong noise; 300 images
per class, 1,000 held out for validation by the run's seed), in the search network at N = 1,
F = 8 (#B = 5), through the project's own RENAS evaluator (``falsr_zoo.search.renas.evaluator``,
the training engine underneath). A user with CIFAR-10 runs the search on it; this table exists
to benchmark the search.

Jobs (:func:`make_plan`, written once to ``benchmarks/data/renas_plan.csv`` and committed):

* ``scratch``: 300 uniformly random cells trained from scratch the way the search retrains its
  final population (the RENAS ``incomplete`` recipe, SGD 0.025 with a cosine decay, ``EPOCHS``
  passes): the from-scratch accuracy the paper's Fig. 4 is about. 10 of them also at seeds 1, 2.
* ``pair``: 100 parent -> child pairs, each parent one of the 300 cells: the parent trained as the
  search trains its initial population (``EPOCHS`` passes at ``lr_new`` 0.01, from scratch; one
  pass leaves these cells near chance), then three
  children fine-tuned for one pass with inheritance (new parameters at 0.01, inherited ones at
  0.001), as the search evaluates a child: a mutation that never keeps the current value (the
  paper's), one that may (the earlier reading), and the null child (the parent's own cell: what
  "changing nothing" earns); each real child is also trained from scratch. What inheritance and
  the reset of mutated operators do to the accuracy, measured.

``collect`` runs the jobs the results table (``benchmarks/data/renas_results.csv``) lacks, several
collectors sharing the plan as in ``falsr_data.py``; ``summary`` prints what the table holds.

    python benchmarks/renas_data.py plan
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/renas_data.py collect &
    python benchmarks/renas_data.py summary

Status: plan drawn and committed, not collecting yet (the FALSR collection has the two cores).
Measured on the set (one thread, a loaded machine): from scratch, 3 passes gave 13.7-20.3 % top-1
on three cells (chance 10 %), 5 passes 90.8 and 88.2 % on two others (about 55 s each), 10 passes
94.1 and 83.0 %: the accuracy rises steeply between 3 and 5 passes, so ``EPOCHS`` is 5. Whether
``lr_new`` 0.01 constant for 5 passes trains the parents as well is not measured yet.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from falsr_data import _alive, _append, _claim, cpu_kind  # noqa: E402

DATA = HERE / "data"
PLAN = DATA / "renas_plan.csv"
RESULTS = DATA / "renas_results.csv"
CLASSES, PER_CLASS, IMAGE_SIZE, VAL_SPLIT = 10, 300, 16, 1000
EPOCHS = 5
SETTINGS = ["num_cells=1", "filters=8", "stem_filters=16", "num_blocks=5", f"image_size={IMAGE_SIZE}",
            f"val_split={VAL_SPLIT}", f"final_epochs={EPOCHS}", f"init_epochs={EPOCHS}", "finetune_epochs=1",
            "train.batch_size=32"]
PLAN_FIELDS = ["job", "kind", "cell", "parent", "seed", "changed"]
RESULT_FIELDS = ["job", "kind", "cell", "parent", "seed", "changed", "top1", "parent_top1", "mult_adds", "params",
                 "seconds", "cpu_seconds", "cpu", "host", "finished"]
_ = _alive  # re-exported helpers of the FALSR collector (claims, appends)


# ---------------------------------------------------------------------------------------------
# the data set


def _pattern(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One grey texture in [-1, 1] of class ``label``: ten patterns, each at a random phase and scale."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    scale, phase = rng.uniform(0.6, 1.1), rng.uniform(0, 2 * math.pi)
    waves = {
        0: lambda: np.sin(yy * scale + phase),
        1: lambda: np.sin(xx * scale + phase),
        2: lambda: np.sin((xx + yy) * scale / math.sqrt(2) + phase),
        3: lambda: np.sin((xx - yy) * scale / math.sqrt(2) + phase),
        4: lambda: np.sign(np.sin(yy * scale + phase) * np.sin(xx * scale + phase)),
        5: lambda: np.sin(np.hypot(*(np.array([yy, xx]) - rng.uniform(size / 4, 3 * size / 4, 2)[:, None, None]))
                          * scale + phase),
        6: lambda: np.sin(np.maximum(abs(yy - size / 2), abs(xx - size / 2)) * scale + phase),
        7: lambda: np.clip(2 * sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0)
                                   for cy, cx in rng.uniform(0, size, (5, 2))) - 1, -1, 1),
        8: lambda: np.sin(yy * scale + phase) * np.sin(xx * scale * 0.5 + phase),
        9: lambda: np.clip(rng.normal(0, 0.6, (size, size)), -1, 1),
    }
    return waves[label % len(waves)]()


def make_dataset(root: Path, classes: int = CLASSES, per_class: int = PER_CLASS, size: int = IMAGE_SIZE,
                 seed: int = 0) -> Path:
    """``root/class<k>/<i>.png`` (written once; an existing complete set is kept)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            colour = rng.uniform(60, 196, 3)
            image = colour + 55 * _pattern(label, size, rng)[..., None] + rng.normal(0, 35, (size, size, 3))
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"{index}.png")
    marker.write_text("ok\n")
    return root


# ---------------------------------------------------------------------------------------------
# the plan


@dataclass(frozen=True)
class Job:
    job: str
    kind: str
    cell: str
    parent: str
    seed: int
    changed: int


def make_plan(seed: int = 2026) -> list[Job]:
    from falsr_zoo.search.renas.space import RenasSpace

    space, rng = RenasSpace(5), np.random.default_rng(seed)
    cells: list[str] = []
    while len(cells) < 300:
        cell = str(space.random_cell(rng))
        if cell not in cells:
            cells.append(cell)
    jobs: list[Job] = []

    def add(kind: str, cell: str, parent: str = "", job_seed: int = 0, changed: int = 0) -> None:
        jobs.append(Job(f"r{len(jobs):04d}", kind, cell, parent, job_seed, changed))

    for index, cell in enumerate(cells):
        add("scratch", cell)
        if index < 10:
            add("scratch", cell, job_seed=1)
            add("scratch", cell, job_seed=2)
        if index < 100:  # a pair per parent among the first hundred cells
            parsed = space.parse(cell)
            add("parent", cell)
            for keep in (False, True):
                child = space.apply(parsed, space.random_action(rng, parsed, keep))
                changed = sum(a != b for a, b in zip(child.blocks, parsed.blocks))
                add("child-keep" if keep else "child", str(child), cell, changed=changed)
                add("child-scratch", str(child), cell, changed=changed)
            add("null-child", cell, cell)
    return jobs


def write_plan() -> None:
    if PLAN.exists():
        sys.exit(f"{PLAN} exists: the plan is fixed once written (delete it to draw a new one)")
    PLAN.parent.mkdir(parents=True, exist_ok=True)
    jobs = make_plan()
    with open(PLAN.with_suffix(".part"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, PLAN_FIELDS)
        writer.writeheader()
        writer.writerows(job.__dict__ for job in jobs)
    os.replace(PLAN.with_suffix(".part"), PLAN)
    print(f"{len(jobs)} jobs -> {PLAN}")


def read_plan() -> list[Job]:
    with open(PLAN, newline="") as handle:
        return [Job(r["job"], r["kind"], r["cell"], r["parent"], int(r["seed"]), int(r["changed"]))
                for r in csv.DictReader(handle)]


def read_results() -> list[dict]:
    if not RESULTS.exists():
        return []
    with open(RESULTS, newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# collection

_OPERATOR = {"scratch": "final", "child-scratch": "final", "parent": "init", "child": "random",
             "child-keep": "random", "null-child": "random"}


def _task(job: Job, weights: dict[str, bytes], parent_top1: dict[str, float]):
    from falsr_zoo.search.contracts import EvalTask

    inherits = job.kind in ("child", "child-keep", "null-child")
    return EvalTask(int(job.job[1:]), job.cell, job.seed * 1_000_003 + int(job.job[1:]), _OPERATOR[job.kind],
                    job.parent if inherits else None, weights.get(job.parent) if inherits else None)


def collect(args: argparse.Namespace) -> None:
    import torch

    from falsr_zoo.search.config import load_config
    from falsr_zoo.search.renas.evaluator import RenasEvaluator

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    data = make_dataset(work / "textures")
    claims = work / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    config = load_config(preset="renas-smoke", overrides=SETTINGS)
    evaluator = RenasEvaluator(config, str(data), None, work / "cache", keep_weights=True)
    costs = config.algorithm().costs
    weights: dict[str, bytes] = {}  # a parent's search-trained weights, for its children
    parent_top1: dict[str, float] = {}
    jobs = read_plan()
    while True:
        done = {row["job"] for row in read_results()}
        by_parent = {j.cell: j for j in jobs if j.kind == "parent"}
        todo = None
        for job in jobs:
            if job.job in done:
                continue
            if job.kind in ("child", "child-keep", "null-child") and job.parent not in weights:
                continue  # its parent is trained first, by this collector (below)
            if _claim(claims, job):
                todo = job
                break
        if todo is None:
            pending = [j for j in jobs if j.job not in done and j.kind in ("child", "child-keep", "null-child")]
            parents = {j.parent for j in pending} - set(weights)
            if not parents:
                break
            todo = by_parent[sorted(parents)[0]]  # retrain a parent whose children remain (deterministic)
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = evaluator.evaluate(_task(todo, weights, parent_top1))
        if outcome.error:
            sys.exit(f"{todo.job}: {outcome.error}")
        if todo.kind == "parent":
            weights[todo.cell], parent_top1[todo.cell] = outcome.weights, outcome.score
        if todo.job not in done:
            macs, params = costs(todo.cell)
            _append([{**todo.__dict__, "top1": f"{outcome.score:.3f}",
                      "parent_top1": f"{parent_top1[todo.parent]:.3f}" if todo.parent in parent_top1 else "",
                      "mult_adds": macs, "params": params, "seconds": f"{time.perf_counter() - started:.1f}",
                      "cpu_seconds": f"{time.process_time() - cpu_started:.1f}", "cpu": cpu_kind(),
                      "host": socket.gethostname(), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}],
                    RESULTS, RESULT_FIELDS)
            print(f"{todo.job} {todo.kind}: {outcome.score:.2f} % in {time.perf_counter() - started:.1f} s", flush=True)
        (claims / todo.job).unlink(missing_ok=True)
        args.max_jobs -= 1
        if args.max_jobs == 0:
            break


def summary(args: argparse.Namespace) -> None:
    rows = read_results()
    plan = read_plan()
    print(f"plan {len(plan)} jobs; done {len(rows)}")
    scratch = [float(r["top1"]) for r in rows if r["kind"] == "scratch" and r["seed"] == "0"]
    if scratch:
        print(f"from scratch ({EPOCHS} passes): {len(scratch)} cells, top-1 {statistics.fmean(scratch):.1f} % "
              f"(min {min(scratch):.1f}, max {max(scratch):.1f}); CPU time per cell "
              f"{statistics.median(float(r['cpu_seconds']) for r in rows if r['kind'] == 'scratch'):.0f} s")
    by_kind: dict[str, list[float]] = {}
    for row in rows:
        if row["parent_top1"]:
            by_kind.setdefault(row["kind"], []).append(float(row["top1"]) - float(row["parent_top1"]))
    for kind, gains in sorted(by_kind.items()):
        print(f"{kind}: {len(gains)} fine-tuned with inheritance, top-1 minus the parent's "
              f"{statistics.fmean(gains):+.2f} points (std {statistics.pstdev(gains):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan")
    run = sub.add_parser("collect")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--work", default=os.path.expanduser("~/.cache/falsr-zoo/bench-renas-data"))
    run.add_argument("--max-jobs", type=int, default=-1, help="stop after this many jobs (-1: all)")
    sub.add_parser("summary")
    args = parser.parse_args()
    {"plan": lambda a: write_plan(), "collect": collect, "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
