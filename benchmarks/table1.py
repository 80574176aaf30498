"""Regenerate the README's Table I: every FALSR model on every data set found, vs the paper.

Usage:
    python benchmarks/table1.py ../shared/falsr-official/dataset

Any data-set directory under the argument is evaluated (Set5 and Set14 ship with the release;
add B100 / Urban100 folders of *_HR/*_LR pairs, or HR-only folders, to cover the rest).
"""

from __future__ import annotations

import sys
from pathlib import Path

from falsr_zoo import list_entries, load
from falsr_zoo.sr.evaluate import evaluate
from falsr_zoo.sr.upscale import upscale_array


def main(root: str) -> None:
    datasets = sorted(p for p in Path(root).iterdir() if p.is_dir())
    print("| model | params | mult-adds (480x480) | " + " | ".join(f"{d.name} ours | {d.name} paper" for d in datasets) + " |")
    print("|---" * (3 + 2 * len(datasets)) + "|")
    for entry in list_entries("falsr"):
        model = load(entry.name)
        cells = [entry.name, f"{entry.num_params:,}", f"{entry.mult_adds / 1e9:.2f} G"]
        for dataset in datasets:
            result = evaluate(lambda lr: upscale_array(model, lr), dataset, model=entry.name)
            paper = entry.paper_metrics.get(dataset.name)
            cells.append(f"{result.mean_psnr:.2f} / {result.mean_ssim:.4f}")
            cells.append(f"{paper['psnr']:.2f} / {paper['ssim']:.4f}" if paper else "-")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/falsr-official/dataset")
