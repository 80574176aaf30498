"""Training speed: the engine against a minimal hand-written PyTorch loop, and the data-wait share.

Both sides train the same network from the same initial weights on the same batches (the
engine's patch dataset and step sampler), with the same optimiser, loss and batch size; the
minimal loop is the ten lines any PyTorch user would write. Rounds alternate between the two
(each round times ``--steps`` steps after ``--warmup`` untimed ones); the overhead is the median of
the per-round ratios of the median time of one step (robust to bursts of other jobs on a shared
machine) and of the mean. The data-wait share is the engine's own
measurement: time spent in ``next(loader)`` during the timed steps over their wall time.

    python benchmarks/train_speed.py                      # FALSR-B, generated 256x256 images, CPU
    python benchmarks/train_speed.py --model FALSR-A --data DIV2K_train_HR --device cuda --precision bf16
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from falsr_zoo.train import make_config, train
from falsr_zoo.train.engine import build_network
from falsr_zoo.train.sr_patches import StepSampler
from falsr_zoo.train.tasks import TASKS


def _images(folder: Path, count: int, side: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        coarse = rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((side, side), Image.BICUBIC).save(folder / f"{index:04d}.png")


def _engine(config, data, steps: int, warmup: int) -> tuple[float, float]:
    marks: dict[int, tuple[float, float]] = {}
    def mark(p) -> None:
        if config.device and config.device.startswith("cuda"):
            torch.cuda.synchronize()
        marks.setdefault(p.step, (time.perf_counter(), p.data_wait_s))

    train(config, None, data=data, write_model_dir=False, progress=mark)
    (t0, w0), (t1, w1) = marks[warmup], marks[warmup + steps]
    per_step = [marks[s + 1][0] - marks[s][0] for s in range(warmup, warmup + steps)]
    return steps / (t1 - t0), statistics.median(per_step), (w1 - w0) / (t1 - t0)


def _minimal(config, data, steps: int, warmup: int) -> tuple[float, float]:
    """Steps/s over the timed steps and the median time of one step."""
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = build_network(config).to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    loader = DataLoader(data.dataset, batch_sampler=StepSampler(0, warmup + steps, config.batch_size),
                        num_workers=config.num_workers or 0, pin_memory=device.type == "cuda")
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if config.precision == "bf16"
                else torch.autocast("cpu", enabled=False))
    start, marks = 0.0, []
    for step, (y_lr, y_hr) in enumerate(loader):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            marks.append(start)
        y_lr, y_hr = y_lr.to(device, non_blocking=True), y_hr.to(device, non_blocking=True)
        with autocast:
            loss = F.l1_loss(net.forward_y(y_lr).float(), y_hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            marks.append(time.perf_counter())
    per_step = [b - a for a, b in zip(marks, marks[1:])]
    return steps / (marks[-1] - start), statistics.median(per_step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="FALSR-B")
    parser.add_argument("--data", type=Path, help="HR training folder (default: 16 generated 256x256 images)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data
        if data_dir is None:
            data_dir = Path(tmp) / "hr"
            data_dir.mkdir()
            _images(data_dir, 16, 256)
        overrides = [f"batch_size={args.batch_size}", f"patch_size={args.patch_size}",
                     f"precision={args.precision}", "log_every=1000000", "checkpoint_every=0"]
        if args.workers is not None:
            overrides.append(f"num_workers={args.workers}")
        config = make_config("falsr", args.model, data=str(data_dir), steps=args.warmup + args.steps,
                             device=args.device, cache_dir=str(Path(tmp) / "cache"), overrides=overrides)
        data = TASKS["falsr"]().prepare(config, Path(tmp) / "cache")
        engine, minimal, waits, wall_ratio, step_ratio = [], [], [], [], []
        for round_ in range(args.rounds):
            rate, step_time, wait = _engine(config, data, args.steps, args.warmup)
            m_rate, m_step_time = _minimal(config, data, args.steps, args.warmup)
            engine.append(rate)
            minimal.append(m_rate)
            waits.append(wait)
            wall_ratio.append(m_rate / rate)
            step_ratio.append(step_time / m_step_time)
            print(f"round {round_ + 1}: engine {rate:.3f} steps/s, minimal loop {m_rate:.3f} steps/s (wall); "
                  f"time per step engine/minimal: mean {wall_ratio[-1]:.3f}, median step {step_ratio[-1]:.3f}; "
                  f"data wait {100 * wait:.1f} %", file=sys.stderr)
    e, m = statistics.median(engine), statistics.median(minimal)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{args.model}, batch {args.batch_size}, HR patch {args.patch_size}, {args.precision} on {device}, "
          f"{torch.get_num_threads()} threads; {args.rounds} rounds of {args.steps} steps, load average "
          f"{os.getloadavg()[0]:.1f}:")
    print(f"  engine        {e:.3f} steps/s  (spread {min(engine):.3f}-{max(engine):.3f})")
    print(f"  minimal loop  {m:.3f} steps/s  (spread {min(minimal):.3f}-{max(minimal):.3f})")
    print(f"  overhead      {100 * (statistics.median(step_ratio) - 1):+.1f} % (median step time, median over rounds; "
          f"rounds {100 * (min(step_ratio) - 1):+.1f} to {100 * (max(step_ratio) - 1):+.1f} %)")
    print(f"                {100 * (statistics.median(wall_ratio) - 1):+.1f} % (mean step time, median over rounds; "
          f"rounds {100 * (min(wall_ratio) - 1):+.1f} to {100 * (max(wall_ratio) - 1):+.1f} %)")
    print(f"  data wait     {100 * statistics.median(waits):.1f} % of the engine's step time")

if __name__ == "__main__":
    main()
