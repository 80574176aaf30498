"""CPU inference benchmark: latency at 480x480 LR and peak memory of a 4000x3000 photo.

Usage:
    python benchmarks/inference.py                      # latency for FALSR-A/B/C, 480x480 LR
    python benchmarks/inference.py --backend torch --backend onnxruntime
    python benchmarks/inference.py --big                # + peak RSS of `falsr upscale` on 4000x3000
    python benchmarks/inference.py --tensorflow ../shared/falsr-official/pretrained_model
        # + the official TensorFlow graphs timed in the same run, interleaved with ours
        # (needs tensorflow importable; it is never a dependency of falsr-zoo)

Latency is the whole upscale of one image (colour conversion, tiles, network, quantisation),
median over ``--rounds`` x ``--repeats`` runs, each process after one warm-up run. Every
runner runs in its own process, and the processes alternate so that machine noise hits them
alike.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random image (noise would be an unrealistically hard input for nothing)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 10 + 1, width // 10 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))


def _tensorflow_runner(graph: Path) -> Callable[[np.ndarray], np.ndarray]:
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


def _runners(name: str, backends: list[str], tf_graphs: Path | None) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from falsr_zoo.sr.upscale import Upscaler

    runners = {f"falsr-zoo ({backend})": Upscaler(name, backend=backend).upscale for backend in backends}
    if tf_graphs is not None:
        runners["official graph (TensorFlow)"] = _tensorflow_runner(tf_graphs / f"{name}.pb")
    return runners


def _time(run: Callable[[np.ndarray], np.ndarray], lr: np.ndarray, repeats: int) -> list[float]:
    run(lr)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(lr)
        times.append(time.perf_counter() - start)
    return times


def latency(size: tuple[int, int], repeats: int, tf_graphs: Path | None, backends: list[str],
            rounds: int, models: list[str]) -> list[dict]:
    """Each runner in its own process (thread pools and heaps of one engine must not slow the
    others), alternating runners for ``rounds`` rounds so that machine noise hits them alike."""
    labels = [f"falsr-zoo ({b})" for b in backends] + (["official graph (TensorFlow)"] if tf_graphs else [])
    rows = []
    for name in models:
        times: dict[str, list[float]] = {label: [] for label in labels}
        for _ in range(rounds):
            for label in labels:
                command = [sys.executable, __file__, "--child", name, label, "--size", *map(str, size),
                           "--repeats", str(repeats)]
                if tf_graphs is not None:
                    command += ["--tensorflow", str(tf_graphs)]
                for backend in backends:
                    command += ["--backend", backend]
                out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                times[label] += json.loads(out.strip().splitlines()[-1])
        for label, values in times.items():
            median = statistics.median(values)
            rows.append({"model": name, "runner": label, "size": list(size), "median_s": median,
                         "mp_per_s": size[0] * size[1] / 1e6 / median, "runs": len(values)})
    return rows


def _child(name: str, label: str, size: tuple[int, int], repeats: int, tf_graphs: Path | None,
           backends: list[str]) -> None:
    run = _runners(name, [b for b in backends if label == f"falsr-zoo ({b})"],
                   tf_graphs if label.startswith("official") else None)[label]
    print(json.dumps(_time(run, _photo(*size), repeats)))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", nargs=2, type=int, default=(480, 480), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also measure the 4000x3000 FALSR-A run")
    parser.add_argument("--tensorflow", type=Path, metavar="DIR", help="official .pb directory to time alongside")
    parser.add_argument("--backend", action="append", help="backends to time (default: torch); repeatable")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the runners")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="which FALSR models")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "RUNNER"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    from falsr_zoo.runtime.perf import tune_allocator

    tune_allocator()  # as the falsr command does
    if args.child:
        _child(*args.child, tuple(args.size), args.repeats, args.tensorflow, args.backend or ["torch"])
        return

    results = {"threads": torch.get_num_threads(), "latency": latency(tuple(args.size), args.repeats, args.tensorflow,
                                                                       args.backend or ["torch"], args.rounds, args.models)}
    if args.big:
        results["big"] = big_photo_rss("FALSR-A")
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"torch threads: {results['threads']}")
    for row in results["latency"]:
        print(f"{row['model']}  {row['runner']:<28} {row['size'][0]}x{row['size'][1]}  "
              f"median {row['median_s']:.3f} s  {row['mp_per_s']:.3f} MP/s  ({row['runs']} runs)")
    if "big" in results:
        big = results["big"]
        print(f"{big['model']} 4000x3000 photo: {big['seconds']:.1f} s, peak RSS {big['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
