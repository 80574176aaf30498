"""Parity matrix of reduced precisions against fp32, on Set5, for every FALSR model.

Usage:
    python benchmarks/precision.py ../shared/falsr-official/dataset/Set5 [--device cuda]

For each model and precision available on the device (cpu: bf16; cuda: fp16, bf16) it prints
the max abs difference of the RGB output (in [0, 1]) from fp32, the mean Y-PSNR and its
change, and the share of output values that differ after quantisation. This is what decides
which precisions the CLI offers by default (fp32 everywhere until a GPU run shows the others
within 0.01 dB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from falsr_zoo.sr.evaluate import iter_pairs
from falsr_zoo.sr.metrics import psnr
from falsr_zoo.sr.upscale import Upscaler

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    precisions = ["bf16"] if args.device == "cpu" else ["fp16", "bf16"]
    pairs = list(iter_pairs(args.data, 2))
    print("| model | precision | max abs (RGB, 0-1) | mean Y-PSNR | ΔPSNR vs fp32 | values changed |")
    print("|---|---|---|---|---|---|")
    for name in MODELS:
        reference = Upscaler(name, device=args.device, precision="fp32")
        ref_out = [reference.upscale(lr) for _, lr, _ in pairs]
        ref_psnr = np.mean([psnr(sr, hr) for sr, (_, _, hr) in zip(ref_out, pairs)])
        print(f"| {name} | fp32 | 0 | {ref_psnr:.4f} | 0 | 0 |")
        for precision in precisions:
            upscaler = Upscaler(name, device=args.device, precision=precision)
            outs = [upscaler.upscale(lr) for _, lr, _ in pairs]
            max_abs = max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(outs, ref_out)) / 255
            changed = np.mean([np.mean(a != b) for a, b in zip(outs, ref_out)])
            value = np.mean([psnr(sr, hr) for sr, (_, _, hr) in zip(outs, pairs)])
            print(f"| {name} | {precision} | {max_abs:.4f} | {value:.4f} | {value - ref_psnr:+.4f} | {changed:.2%} |")


if __name__ == "__main__":
    main()
