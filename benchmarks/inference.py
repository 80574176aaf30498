"""CPU inference benchmark: the whole upscale, side by side with the authors' TensorFlow graphs.

Usage:
    python benchmarks/inference.py                      # latency for FALSR-A/B/C, 480x480 LR
    python benchmarks/inference.py --backend torch --backend onnxruntime --backend torch:bf16
    python benchmarks/inference.py --size 540 960       # 1920x1080 output
    python benchmarks/inference.py --big                # + peak RSS of `falsr upscale` on 4000x3000
    python benchmarks/inference.py --tensorflow ../shared/falsr-official/pretrained_model \\
        --tensorflow-python /work/tfenv/bin/python
        # + the official TensorFlow graphs timed in the same run, alternating with ours; the
        # TensorFlow side runs in the interpreter given (a separate environment: TensorFlow is
        # never a dependency of falsr-zoo), default this one

A runner is ``BACKEND[:PRECISION][@CHECKOUT]`` (``torch``, ``torch:bf16``, ``onnxruntime``,
``onnxruntime:int8``, ``torch@../main``): the :class:`~falsr_zoo.sr.upscale.Upscaler` with that
backend and precision, from this checkout or, after ``@``, from another checkout of falsr-zoo
(put first on the child's ``PYTHONPATH``), to compare revisions in one run. Latency is the whole upscale of one uint8 RGB image (colour conversion, tiles,
network, quantisation); the official graphs run the way the release's ``calculate.py`` runs
them (rgb2ypbpr, PIL bicubic chroma, session, truncation). Every runner runs in its own process
(thread pools and heaps of one engine must not slow the others); the processes alternate for
``--rounds`` rounds so that machine noise hits them alike. Each process times its first call
(the warm-up: primitive creation, compilation, first page faults) apart from ``--repeats``
timed calls, and reports its peak resident memory.

Reported per runner: the median of all timed calls, the spread (lowest and highest per-round
median), the first-call latency (median over rounds), the peak RSS (highest over rounds); and
per model the ratio to the official graph, computed round by round (our round median over the
graph's round median), as the median of those ratios with their lowest and highest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")
OFFICIAL = "official graph (TensorFlow)"
REPO = Path(__file__).resolve().parents[1]


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random image (noise would be an unrealistically hard input for nothing)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 10 + 1, width // 10 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))


def tensorflow_runner(graph: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The official graph as ``lr uint8 -> sr uint8``, run as the release's ``calculate.py`` runs it."""
    import tensorflow as tf  # only in a comparison environment

    tf.compat.v1.disable_eager_execution()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=g)
    y_in = g.get_tensor_by_name("input_image_evaluate_y:0")
    pbpr_in = g.get_tensor_by_name("input_image_evaluate_pbpr:0")
    out = g.get_tensor_by_name("test_sr_evaluator_i1_b0_g/target:0")

    from falsr_zoo.families.falsr.colour import chroma_inputs, luma_input, to_uint8

    def run(lr: np.ndarray) -> np.ndarray:
        result = session.run(out, {y_in: [luma_input(lr)[..., None]], pbpr_in: [chroma_inputs(lr)]})
        return to_uint8(result[0])

    return run


def _label(runner: str) -> str:
    if runner == "tensorflow":
        return OFFICIAL
    engine, _, checkout = runner.partition("@")
    return f"falsr-zoo ({engine.replace(':', ', ')})" + (f" @{checkout}" if checkout else "")


def _runner(name: str, runner: str, tf_graphs: Path | None) -> Callable[[np.ndarray], np.ndarray]:
    if runner == "tensorflow":
        assert tf_graphs is not None
        return tensorflow_runner(tf_graphs / f"{name}.pb")
    from falsr_zoo.sr.upscale import Upscaler

    backend, _, precision = runner.partition("@")[0].partition(":")
    if backend == "torch":
        return Upscaler(name, backend="torch", precision=precision or "fp32").upscale_pixels
    options = {"precision": precision} if precision else {}
    return Upscaler(name, backend=backend, backend_options=options).upscale_pixels


def _child(name: str, runner: str, size: tuple[int, int], repeats: int, tf_graphs: Path | None) -> None:
    from falsr_zoo.runtime.perf import tune_allocator

    tune_allocator()  # as the falsr command does (both sides: it can only help TensorFlow's heap too)
    lr = _photo(*size)
    begin = time.perf_counter()
    run = _runner(name, runner, tf_graphs)
    created = time.perf_counter()
    run(lr)
    first = time.perf_counter() - created
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(lr)
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "first_s": first, "create_s": created - begin, "peak_rss_mb": peak_mb}))


def _spawn(name: str, runner: str, args: argparse.Namespace) -> dict:
    python = args.tensorflow_python if runner == "tensorflow" and args.tensorflow_python else sys.executable
    command = [str(python), __file__, "--child", name, runner, "--size", *map(str, args.size),
               "--repeats", str(args.repeats)]
    env = os.environ.copy()
    if args.tensorflow is not None:
        command += ["--tensorflow", str(args.tensorflow)]
    checkout = str(REPO) if runner == "tensorflow" else runner.partition("@")[2]
    if checkout:
        # the TensorFlow interpreter finds this checkout's (torch-free) colour path; a torch@CHECKOUT
        # runner imports falsr_zoo from that checkout
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(checkout).resolve()), env.get("PYTHONPATH")) if p)
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def latency(args: argparse.Namespace) -> list[dict]:
    """One row per model and runner: medians, spreads, first call, peak RSS, ratio to the graph."""
    runners = list(args.backend or ["torch"]) + (["tensorflow"] if args.tensorflow else [])
    rows = []
    for name in args.models:
        rounds: dict[str, list[dict]] = {runner: [] for runner in runners}
        for _ in range(args.rounds):
            for runner in runners:
                rounds[runner].append(_spawn(name, runner, args))
        round_medians = {r: [statistics.median(x["times"]) for x in results] for r, results in rounds.items()}
        for runner, results in rounds.items():
            medians = round_medians[runner]
            row = {"model": name, "runner": _label(runner), "size": list(args.size),
                   "median_s": statistics.median(t for x in results for t in x["times"]),
                   "round_min_s": min(medians), "round_max_s": max(medians),
                   "first_s": statistics.median(x["first_s"] for x in results),
                   "peak_rss_mb": max(x["peak_rss_mb"] for x in results),
                   "runs": sum(len(x["times"]) for x in results)}
            if "tensorflow" in rounds and runner != "tensorflow":
                ratios = [ours / theirs for ours, theirs in zip(medians, round_medians["tensorflow"])]
                row.update(ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)  # progress: a long run's finished rows
    return rows


def big_photo_rss(model: str) -> dict:
    """Peak RSS of a `falsr upscale` process on a 4000x3000 JPEG, default settings."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "photo.jpg"
        Image.fromarray(_photo(3000, 4000)).save(source, quality=92)
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "falsr_zoo.cli", "upscale", str(source), "--model", model, "-q"],
                                 env=os.environ.copy())
        # this child's own peak (RUSAGE_CHILDREN would report the largest of every child so far,
        # the latency runs included)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            raise SystemExit(f"falsr upscale failed with status {child.returncode}")
        peak_kb = usage.ru_maxrss
    return {"model": model, "size": [3000, 4000], "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def _print(results: dict) -> None:
    height, width = results["size"]
    print(f"{height}x{width} LR -> {2 * height}x{2 * width}; {results['rounds']} rounds x {results['repeats']} "
          f"timed calls per runner; torch threads: {results['threads']}; 1-minute load average "
          f"{results['load_average'][0]:.1f} before, {results['load_average'][1]:.1f} after")
    print("| model | runner | median | spread (round medians) | first call | peak RSS | ratio to the graph |")
    print("|---|---|---|---|---|---|---|")
    for row in results["latency"]:
        ratio = (f"{row['ratio']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})" if "ratio" in row else "")
        print(f"| {row['model']} | {row['runner']} | {row['median_s']:.3f} s | {row['round_min_s']:.3f}-"
              f"{row['round_max_s']:.3f} s | {row['first_s']:.2f} s | {row['peak_rss_mb']:.0f} MiB | {ratio} |")
    if "big" in results:
        big = results["big"]
        print(f"{big['model']} 4000x3000 photo: {big['seconds']:.1f} s, peak RSS {big['peak_rss_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", nargs=2, type=int, default=(480, 480), metavar=("H", "W"), help="LR size")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per process, after one warm-up")
    parser.add_argument("--big", action="store_true", help="also measure the 4000x3000 FALSR-A run")
    parser.add_argument("--tensorflow", type=Path, metavar="DIR", help="official .pb directory to time alongside")
    parser.add_argument("--tensorflow-python", type=Path, metavar="PYTHON",
                        help="interpreter that has tensorflow (default: this one)")
    parser.add_argument("--backend", action="append", metavar="BACKEND[:PRECISION]",
                        help="runners to time (default: torch); repeatable")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the runners")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="which FALSR models")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "RUNNER"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(*args.child, tuple(args.size), args.repeats, args.tensorflow)
        return
    import torch

    load_before = os.getloadavg()[0]
    results = {"threads": torch.get_num_threads(), "size": list(args.size), "rounds": args.rounds,
               "repeats": args.repeats, "latency": latency(args)}
    results["load_average"] = [load_before, os.getloadavg()[0]]  # other processes on the machine
    if args.big:
        results["big"] = big_photo_rss("FALSR-A")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)


if __name__ == "__main__":
    main()
