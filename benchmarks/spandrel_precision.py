"""The spandrel module (RGB in, RGB out) against the project's pipeline, and its reduced precisions.

Usage:
    python benchmarks/spandrel_precision.py ../shared/falsr-official/dataset/Set5 [--device cpu]
        [--model FALSR-B ...] [--threads N]

For each FALSR model it runs :class:`~falsr_zoo.families.falsr.falsr_rgb.FALSRRGB` (what spandrel
loads) on every LR image as float RGB in [0, 1] and quantises the output as the release does
(truncation), then prints: the share of uint8 values that differ from the project's own
pipeline (``upscale_array``, PIL's 8-bit chroma) and the largest difference; the mean Y-PSNR; and,
with the network body in float16 and in bfloat16 (colour step in float32), the largest output
difference from float32 and the Y-PSNR change. This decides ``supports_half`` /
``supports_bfloat16`` in ``falsr_zoo.spandrel``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from falsr_zoo import load
from falsr_zoo.families.falsr.colour import to_uint8
from falsr_zoo.families.falsr.falsr_rgb import FALSRRGB
from falsr_zoo.sr.evaluate import iter_pairs
from falsr_zoo.sr.metrics import psnr
from falsr_zoo.sr.upscale import upscale_array

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")
PRECISIONS = {"fp16": torch.float16, "bf16": torch.bfloat16}


def _run(model: FALSRRGB, lr: np.ndarray, device: str) -> np.ndarray:
    x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float().div(255).to(device)
    with torch.inference_mode():
        return model(x)[0].permute(1, 2, 0).float().cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", action="append", choices=MODELS, help="Repeatable (default: all three).")
    parser.add_argument("--threads", type=int, help="torch CPU threads (CPU float16 kernels are slow: fewer "
                                                     "threads contend less on a busy machine).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = list(iter_pairs(args.data, 2))
    print("| model | uint8 values differing from the pipeline (max) | Y-PSNR fp32 / pipeline "
          "| fp16: max abs, ΔPSNR | bf16: max abs, ΔPSNR |")
    print("|---|---|---|---|---|", flush=True)
    for name in args.model or MODELS:
        net = load(name)
        rgb = FALSRRGB.from_model(net).to(args.device)
        outs = [_run(rgb, lr, args.device) for _, lr, _ in pairs]
        quantised = [to_uint8(o) for o in outs]
        pipeline = [upscale_array(net, lr) for _, lr, _ in pairs]
        differing = np.mean([np.mean(a != b) for a, b in zip(quantised, pipeline)])
        worst = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(quantised, pipeline))
        ours = np.mean([psnr(sr, hr) for sr, (_, _, hr) in zip(quantised, pairs)])
        theirs = np.mean([psnr(sr, hr) for sr, (_, _, hr) in zip(pipeline, pairs)])
        cells = []
        for dtype in PRECISIONS.values():
            reduced = FALSRRGB.from_model(net).to(args.device, dtype)
            low = [_run(reduced, lr, args.device) for _, lr, _ in pairs]
            max_abs = max(float(np.abs(a - b).max()) for a, b in zip(low, outs))
            value = np.mean([psnr(to_uint8(sr), hr) for sr, (_, _, hr) in zip(low, pairs)])
            cells.append(f"{max_abs:.2e}, {value - ours:+.4f} dB")
        print(f"| {name} | {differing:.4%} ({worst}) | {ours:.4f} / {theirs:.4f} | {cells[0]} | {cells[1]} |",
              flush=True)


if __name__ == "__main__":
    main()
