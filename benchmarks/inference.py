"""CPU inference benchmark: latency at 480x480 LR and peak memory of a 4000x3000 photo.

Usage:
    python benchmarks/inference.py                      # latency for FALSR-A/B/C, 480x480 LR
    python benchmarks/inference.py --backend torch --backend onnxruntime
    python benchmarks/inference.py --big                # + peak RSS of `falsr upscale` on 4000x3000
    python benchmarks/inference.py --tensorflow ../shared/falsr-official/pretrained_model
        # + the official TensorFlow graphs timed in the same run, interleaved with ours
        # (needs tensorflow importable; it is never a dependency of falsr-zoo)

Latency is the whole upscale of one image (colour conversion, tiles, network, quantisation),
median over ``--repeats`` runs after one warm-up run. Runs of the compared configurations
are interleaved so that machine noise hits them alike.
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

    from falsr_zoo.color import chroma_inputs, luma_input, to_uint8

    def run(lr: np.ndarray) -> np.ndarray:
        result = session.run(out, {y_in: [luma_input(lr)[..., None]], pbpr_in: [chroma_inputs(lr)]})
        return to_uint8(result[0])

    return run


def latency(size: tuple[int, int], repeats: int, tf_graphs: Path | None, backends: list[str]) -> list[dict]:
    from falsr_zoo.upscale import Upscaler

    lr = _photo(*size)
    rows = []
    for name in MODELS:
        runners = {f"falsr-zoo ({backend})": Upscaler(name, backend=backend).upscale for backend in backends}
        if tf_graphs is not None:
            runners["official graph (TensorFlow)"] = _tensorflow_runner(tf_graphs / f"{name}.pb")
        for run in runners.values():
            run(lr)  # warm-up
        times: dict[str, list[float]] = {label: [] for label in runners}
        for _ in range(repeats):
            for label, run in runners.items():
                start = time.perf_counter()
                run(lr)
                times[label].append(time.perf_counter() - start)
        for label, values in times.items():
            rows.append({"model": name, "runner": label, "size": list(size), "median_s": statistics.median(values),
                         "mp_per_s": size[0] * size[1] / 1e6 / statistics.median(values)})
    return rows


def big_photo_rss(model: str) -> dict:
    """Peak RSS of a `falsr upscale` process on a 4000x3000 JPEG, default settings."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "photo.jpg"
        Image.fromarray(_photo(3000, 4000)).save(source, quality=92)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "falsr_zoo.cli", "upscale", str(source), "--model", model, "-q"],
                       check=True, env=os.environ.copy())
        seconds = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"model": model, "size": [3000, 4000], "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", nargs=2, type=int, default=(480, 480), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big", action="store_true", help="also measure the 4000x3000 FALSR-A run")
    parser.add_argument("--tensorflow", type=Path, metavar="DIR", help="official .pb directory to time alongside")
    parser.add_argument("--backend", action="append", help="backends to time (default: torch); repeatable")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    from falsr_zoo.perf import tune_allocator

    tune_allocator()  # as the falsr command does

    results = {"threads": torch.get_num_threads(), "latency": latency(tuple(args.size), args.repeats, args.tensorflow,
                                                                       args.backend or ["torch"])}
    if args.big:
        results["big"] = big_photo_rss("FALSR-A")
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"torch threads: {results['threads']}")
    for row in results["latency"]:
        print(f"{row['model']}  {row['runner']:<28} {row['size'][0]}x{row['size'][1]}  "
              f"median {row['median_s']:.3f} s  {row['mp_per_s']:.3f} MP/s")
    if "big" in results:
        big = results["big"]
        print(f"{big['model']} 4000x3000 photo: {big['seconds']:.1f} s, peak RSS {big['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
