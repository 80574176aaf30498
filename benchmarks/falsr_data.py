"""Real trainings of FALSR genomes: the data of the search benchmark (its step 1).

Every job trains one genome of the paper's space (n = 7) with one fixed short recipe through the
project's training engine (a resumable run directory per job) and validates it on Set5:

* the recipe: HR patches of 32 from ``../shared/falsr-official/dataset/Set14`` (its official LR
  images), batch 16, Adam (0.9, 0.999) at a constant 1e-3, L1 on the luma, ``SHORT_STEPS``
  (600) steps with a validation every ``UNIT`` (300) steps, seed-controlled data order, crops
  and initialisation; Y-PSNR / SSIM on Set5 as ``falsr eval`` measures them. The learning rate
  is constant, so the validation at 300 steps is a 300-step run: the table holds both lengths
  (the plan was revised from 300 to 600 steps after the first fidelity figures: Kendall tau of
  300 against 3,000 steps was 0.36 over 8 genomes, of 600 steps 0.64);
* the genomes (:func:`make_plan`): 200 drawn from the paper's initial distribution (one cell
  repeated n times; random / dense / no links, one third each), 200 from mutation and crossover
  chains of those (the regions a search visits), all under ``MAX_MULT_ADDS`` at 480 x 480
  (rejection sampling: the distribution is the paper's conditioned on the bound), plus FALSR-A,
  B and C (over the bound: they are references);
* the seed spread: 10 genomes (spread over the cost range) at seeds 1 and 2 besides seed 0;
* the fidelity: 24 genomes (spread over the cost range) trained ``LONG_STEPS`` (6,000: 10x the
  short recipe) with a validation every ``UNIT`` steps. The first steps of a long run are the
  short run itself (same seed; two "twin" jobs check it): the table holds the value at every
  multiple of 300, and Kendall tau between any length and the longest is one query.

The plan is written once (``plan``) and committed (``benchmarks/data/falsr_plan.csv``), so the
jobs stay the same when the search operators change. ``collect`` runs the jobs the results table
(``benchmarks/data/falsr_results.csv``) does not hold yet, appending one row per validation;
several collectors share the plan (each claims a job with an exclusive file that names its pid;
a claim whose process is gone is taken over), a killed collector resumes its job from the
engine's last checkpoint. ``summary`` prints what the table holds: counts, time per genome, the
seed-to-seed spread, and Kendall tau of every short length against the long runs.

    python benchmarks/falsr_data.py plan
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/falsr_data.py collect &
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/falsr_data.py collect --prefer short &
    python benchmarks/falsr_data.py summary
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PLAN = DATA / "falsr_plan.csv"
RESULTS = DATA / "falsr_results.csv"
SHARED = HERE.parent.parent / "shared" / "falsr-official" / "dataset"

N_CELLS = 7
MAX_MULT_ADDS = 60e9  # at 480 x 480: keeps a CPU step short; FALSR-B is 74.5 G, FALSR-C 98 G
UNIT = 300
SHORT_STEPS = 600
LONG_STEPS = 6000
RECIPE = {"patch_size": 32, "batch_size": 16, "optimizer": "adam", "lr": 1e-3, "schedule": "constant",
          "loss": "l1", "augment": True}
PLAN_FIELDS = ["job", "genome", "origin", "seed", "steps", "mult_adds", "params"]
RESULT_FIELDS = ["job", "genome", "origin", "seed", "steps", "psnr", "ssim", "mult_adds", "params",
                 "seconds", "cpu_seconds", "threads", "cpu", "host", "finished"]


@dataclass(frozen=True)
class Job:
    job: str
    genome: str
    origin: str
    seed: int
    steps: int
    mult_adds: int
    params: int


# ---------------------------------------------------------------------------------------------
# the plan


def _costs(genome) -> tuple[int, int]:
    return genome.macs(480, 480), genome.num_params()


def _spread(genomes: list, count: int) -> list:
    """``count`` genomes evenly spaced over the mult-adds order."""
    ordered = sorted(genomes, key=lambda g: _costs(g))
    picks = np.linspace(0, len(ordered) - 1, count).round().astype(int)
    return [ordered[i] for i in picks]


def make_plan(seed: int = 2026) -> list[Job]:
    """The jobs (deterministic in ``seed`` and the search operators); see the module docstring.

    The committed plan was drawn by this function with the operators of its first version
    (commit 76eeef4: roulette wheel of one cell toward costlier cells, one crossover cut for
    cells and links), before the search-faithfulness changes; drawn today, the chains differ.
    Its lengths were then revised from 300 / 3,000 to 600 / 6,000 steps, the jobs unchanged.
    """
    from falsr_zoo.search.falsr.space import (SearchSpace, crossover, initial_population, random_mutation,
                                        roulette_mutation)
    from falsr_zoo.zoo.registry import get_entry
    from falsr_zoo.families.falsr.genome import parse_genome

    rng = np.random.default_rng(seed)
    space = SearchSpace(N_CELLS)
    seen: set[str] = set()

    def keep(genome) -> bool:
        text = str(genome)
        if text in seen or genome.macs(480, 480) > MAX_MULT_ADDS:
            return False
        seen.add(text)
        return True

    initial = []
    while len(initial) < 200:
        genome = initial_population(space, 1, rng)[0]
        if keep(genome):
            initial.append(genome)
    chains = []
    while len(chains) < 200:
        genome = initial[int(rng.integers(len(initial)))]
        length = int(rng.integers(1, 9))
        for _ in range(length):
            operator = rng.choice(["random", "crossover", "rws_mult_adds", "rws_params"], p=[0.35, 0.35, 0.15, 0.15])
            if operator == "random":
                genome = random_mutation(space, genome, rng, 0.1)
            elif operator == "crossover":
                other = initial[int(rng.integers(len(initial)))]
                genome = crossover(space, genome, other, rng)[int(rng.integers(2))]
            else:
                genome = roulette_mutation(space, genome, rng, operator.removeprefix("rws_"))
        if keep(genome):
            chains.append((genome, length))

    jobs: list[Job] = []

    def add(genome, origin: str, seed: int, steps: int) -> None:
        macs, params = _costs(genome)
        jobs.append(Job(f"j{len(jobs):04d}", str(genome), origin, seed, steps, macs, params))

    everything = initial + [g for g, _ in chains]
    long_runs = _spread(everything, 24)
    seeds = _spread([g for g in everything if g not in long_runs], 10)
    # order: the fidelity runs first (they decide whether the short recipe is long enough), the
    # seed repeats early (the noise the surrogate needs), the main sample interleaved
    for genome in long_runs:
        add(genome, "initial" if genome in initial else "chain", 0, LONG_STEPS)
    for genome in (long_runs[0], long_runs[12]):  # twins: a short run equals a long run's first steps
        add(genome, "twin", 0, SHORT_STEPS)
    for name in ("FALSR-A", "FALSR-B", "FALSR-C"):
        add(parse_genome(get_entry(name).genome), f"zoo:{name}", 0, SHORT_STEPS)
    for genome in seeds:
        for s in (0, 1, 2):
            add(genome, "initial" if genome in initial else "chain", s, SHORT_STEPS)
    rest_initial = [g for g in initial if g not in long_runs and g not in seeds]
    rest_chains = [(g, n) for g, n in chains if g not in long_runs and g not in seeds]
    for index in range(max(len(rest_initial), len(rest_chains))):
        if index < len(rest_initial):
            add(rest_initial[index], "initial", 0, SHORT_STEPS)
        if index < len(rest_chains):
            genome, length = rest_chains[index]
            add(genome, f"chain:{length}", 0, SHORT_STEPS)
    return jobs


def write_plan(path: Path = PLAN) -> None:
    if path.exists():
        sys.exit(f"{path} exists: the plan is fixed once written (delete it to draw a new one)")
    path.parent.mkdir(parents=True, exist_ok=True)
    jobs = make_plan()
    tmp = path.with_suffix(".part")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, PLAN_FIELDS)
        writer.writeheader()
        for job in jobs:
            writer.writerow(job.__dict__)
    os.replace(tmp, path)
    print(f"{len(jobs)} jobs -> {path}")


def read_plan(path: Path = PLAN) -> list[Job]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [Job(r["job"], r["genome"], r["origin"], int(r["seed"]), int(r["steps"]), int(r["mult_adds"]),
                    int(r["params"])) for r in csv.DictReader(handle)]


def read_results(path: Path = RESULTS) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# collection


def cpu_kind() -> str:
    flags = set()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
                break
    except OSError:
        return platform.machine()
    if "avx512_bf16" in flags:
        return "avx512-bf16-vnni" if "avx512_vnni" in flags else "avx512-bf16"
    return "avx2" if "avx2" in flags else platform.machine()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(claims: Path, job: Job) -> bool:
    """Claim ``job`` for this process (exclusive create); a claim of a dead process is taken over."""
    path = claims / job.job
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and (pid == os.getpid() or _alive(pid)):
                return pid == os.getpid()
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        return True
    return False


def _append(rows: list[dict], path: Path = RESULTS, fields: list[str] = RESULT_FIELDS) -> None:
    """Append rows under an exclusive lock (several collectors share the table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", newline="", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0, os.SEEK_END)
        writer = csv.DictWriter(handle, fields)
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def run_job(job: Job, work: Path, threads: int) -> list[dict]:
    """Train one job in its resumable run directory; one row per validation."""
    from falsr_zoo.train import make_config, resume, train

    run_dir = work / job.job
    started, cpu_started = time.perf_counter(), time.process_time()
    config_file = run_dir / "config.json"
    if config_file.is_file() and json.loads(config_file.read_text())["config"]["steps"] == job.steps:
        result = resume(run_dir, write_model_dir=False)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        config = make_config("falsr", job.genome, data=str(SHARED / "Set14"), val=str(SHARED / "Set5"),
                             steps=job.steps, seed=job.seed, cache_dir=str(work / "cache"),
                             overrides={**RECIPE, "val_every": UNIT if job.steps > UNIT else 0,
                                        "checkpoint_every": UNIT, "log_every": UNIT})
        result = train(config, run_dir, write_model_dir=False)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    finished = time.strftime("%Y-%m-%dT%H:%M:%S")
    rows = []
    for line in result.history:
        rows.append({"job": job.job, "genome": job.genome, "origin": job.origin, "seed": job.seed,
                     "steps": int(line["step"]), "psnr": f"{line['psnr']:.4f}", "ssim": f"{line['ssim']:.5f}",
                     "mult_adds": job.mult_adds, "params": job.params, "seconds": f"{seconds:.1f}",
                     "cpu_seconds": f"{cpu_seconds:.1f}", "threads": threads, "cpu": cpu_kind(),
                     "host": socket.gethostname(), "finished": finished})
    shutil.rmtree(run_dir, ignore_errors=True)
    return rows


def collect(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if not SHARED.is_dir():
        sys.exit(f"no test sets at {SHARED}: ../shared/falsr-official must lie beside the project")
    work = Path(args.work)
    claims = work / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    jobs = read_plan(args.plan)
    if args.prefer == "short":
        jobs = [j for j in jobs if j.steps <= SHORT_STEPS] + [j for j in jobs if j.steps > SHORT_STEPS]
    steps = {job.job: job.steps for job in jobs}
    done_count = 0
    while True:
        done = {row["job"] for row in read_results(args.results) if int(row["steps"]) == steps.get(row["job"])}
        job = next((job for job in jobs if job.job not in done and _claim(claims, job)), None)
        if job is None:
            break
        rows = run_job(job, work, args.threads)
        _append(rows, args.results)
        (claims / job.job).unlink(missing_ok=True)
        done_count += 1
        last = rows[-1]
        print(f"{job.job} {job.origin} seed {job.seed} {job.steps} steps {job.mult_adds / 1e9:.1f} G: "
              f"{last['psnr']} dB in {last['seconds']} s ({len(done) + 1}/{len(jobs)} jobs)", flush=True)
        if args.max_jobs and done_count >= args.max_jobs:
            break


# ---------------------------------------------------------------------------------------------
# summary


def values_at(rows: list[dict], steps: int) -> dict[tuple[str, int], float]:
    """``(genome, seed) -> PSNR`` after ``steps`` steps, from every job that validated there (the
    last row wins where a job was run twice)."""
    return {(r["genome"], int(r["seed"])): float(r["psnr"]) for r in rows if int(r["steps"]) == steps}


def summary(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau

    plan, rows = read_plan(args.plan), read_results(args.results)
    jobs = {job.job: job for job in plan}
    finished = {r["job"] for r in rows if r["job"] in jobs and int(r["steps"]) == jobs[r["job"]].steps}
    long_done = [j for j in finished if jobs[j].steps == LONG_STEPS]
    print(f"plan {len(plan)} jobs; done {len(finished)} ({len(finished) - len(long_done)} short, "
          f"{len(long_done)} long); {len({r['genome'] for r in rows})} genomes with a value")
    short = [r for r in rows if r["job"] in finished and int(r["steps"]) == jobs[r["job"]].steps == SHORT_STEPS]
    if short:
        secs = [float(r["cpu_seconds"]) for r in short]
        print(f"CPU time per {SHORT_STEPS}-step job: median {statistics.median(secs):.0f} s, mean "
              f"{statistics.mean(secs):.0f} s ({', '.join(sorted({r['cpu'] for r in short}))}, 1 thread each)")
    for length in (UNIT, SHORT_STEPS):
        by_genome: dict[str, list[float]] = {}
        for (genome, _), value in values_at(rows, length).items():
            by_genome.setdefault(genome, []).append(value)
        triples = [v for v in by_genome.values() if len(v) >= 3]
        if triples:
            stds = [statistics.stdev(v) for v in triples]
            print(f"seed spread at {length} steps over {len(triples)} genomes x 3 seeds: pooled std "
                  f"{np.sqrt(np.mean(np.square(stds))):.3f} dB (max {max(stds):.3f})")
    curves = {job: {int(r["steps"]): float(r["psnr"]) for r in rows if r["job"] == job} for job in long_done}
    if len(curves) >= 3:
        final = [c[LONG_STEPS] for c in curves.values()]
        smooth = [np.mean([c[LONG_STEPS - k * UNIT] for k in range(3)]) for c in curves.values()]
        print(f"Kendall tau against the long runs ({LONG_STEPS} steps; and the mean of their last three "
              f"validations), {len(curves)} genomes:")
        for length in sorted({s for c in curves.values() for s in c if s < LONG_STEPS}):
            values = [c[length] for c in curves.values()]
            print(f"  {length:>5} steps: {kendalltau(values, final).statistic:.3f} "
                  f"({kendalltau(values, smooth).statistic:.3f})")
    pairs = [(j, k) for j in plan for k in plan if j.origin == "twin" and k.steps == LONG_STEPS
             and j.genome == k.genome and j.seed == k.seed]
    gaps = []
    for twin, long_job in pairs:
        for length in (UNIT, SHORT_STEPS):
            a = [float(r["psnr"]) for r in rows if r["job"] == twin.job and int(r["steps"]) == length]
            b = [float(r["psnr"]) for r in rows if r["job"] == long_job.job and int(r["steps"]) == length]
            if a and b:
                gaps.append(abs(a[-1] - b[-1]))
    if gaps:
        print(f"twin short runs against the long runs' first steps: {len(gaps)} values, max |diff| {max(gaps):.4f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan", help="draw the jobs once and write the plan")
    run = sub.add_parser("collect", help="run the jobs the results table lacks")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--prefer", choices=["plan", "short"], default="plan",
                     help="plan order (the long fidelity runs first) or the short runs first")
    run.add_argument("--work", default=os.path.expanduser("~/.cache/falsr-zoo/bench-falsr-data"),
                     help="run directories and claims (not committed)")
    run.add_argument("--max-jobs", type=int, default=0, help="stop after this many jobs (0: all)")
    sub.add_parser("summary", help="what the table holds")
    for command in sub.choices.values():
        command.add_argument("--plan", type=Path, default=PLAN, help="the plan (default: the committed one)")
        command.add_argument("--results", type=Path, default=RESULTS, help="the results table (likewise)")
    args = parser.parse_args()
    {"plan": lambda a: write_plan(a.plan), "collect": collect, "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
