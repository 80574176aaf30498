"""Our outputs against the authors' TensorFlow graphs, value by value, on Set5 and Set14.

Usage (in an environment where TensorFlow is importable; it is never a dependency of falsr-zoo):
    python benchmarks/tf_parity.py ../shared/falsr-official

For every FALSR model it runs the official frozen graph with TensorFlow and this package's two
CPU paths (the eager module, ``upscale_array``; the Upscaler's defaults, i.e. what ``falsr
upscale`` runs: oneDNN fused convolutions) on the same inputs (the release's colour path: LR luma,
PIL bicubic chroma), and prints, per path: the share of uint8 RGB output values equal to
TensorFlow's, the largest difference in grey levels, and the largest per-image Y-PSNR difference
(against the HR image, the release's protocol). The tests check the per-image Y-PSNR against the
stored TensorFlow figures (``tests/falsr/test_official.py``); this script is what the README's
value-by-value figures come from.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from inference import tensorflow_runner  # the sibling benchmark's runner (benchmarks/ is on sys.path)

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("release", type=Path, help="the official release (pretrained_model/, dataset/)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from falsr_zoo.api import load
    from falsr_zoo.sr.evaluate import iter_pairs
    from falsr_zoo.sr.metrics import psnr
    from falsr_zoo.sr.upscale import Upscaler, upscale_array

    pairs = [pair for name in ("Set5", "Set14") for pair in iter_pairs(args.release / "dataset" / name, 2)]
    print("| model | path | uint8 values equal to TensorFlow's | largest difference | largest per-image Y-PSNR difference |")
    print("|---|---|---|---|---|")
    totals = {"eager": [0, 0, 0], "fused": [0, 0, 0]}
    for name in MODELS:
        official = tensorflow_runner(args.release / "pretrained_model" / f"{name}.pb")
        model = load(name)
        paths = {"eager": lambda lr, m=model: upscale_array(m, lr), "fused": Upscaler(model).upscale}
        stats = {path: [0, 0, 0, 0.0] for path in paths}  # equal, values, max diff, max dPSNR
        for _, lr, hr in pairs:
            reference = official(lr)
            for path, run in paths.items():
                ours = run(lr)
                diff = np.abs(ours.astype(int) - reference.astype(int))
                row = stats[path]
                row[0] += int((diff == 0).sum())
                row[1] += diff.size
                row[2] = max(row[2], int(diff.max()))
                row[3] = max(row[3], abs(psnr(ours, hr) - psnr(reference, hr)))
        for path, (equal, values, worst, dpsnr) in stats.items():
            print(f"| {name} | {path} | {100 * equal / values:.4f} % ({values - equal} of {values} differ) | "
                  f"{worst} | {dpsnr:.2e} dB |")
            totals[path][0] += equal
            totals[path][1] += values
            totals[path][2] = max(totals[path][2], worst)
    for path, (equal, values, worst) in totals.items():
        print(f"all models, {path}: {100 * equal / values:.4f} % equal, largest difference {worst}")


if __name__ == "__main__":
    main()
