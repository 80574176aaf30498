"""The comparison pictures of the README and the model cards, made with ``falsr compare``.

Usage:
    python benchmarks/compare_pictures.py [-o docs/figures]

The input is synthetic, drawn here with Pillow (rings, fine lines, text, a soft gradient) and
reduced x2 with MATLAB's bicubic ``imresize``, because the Set5/Set14 images that ship with the
authors' release carry no licence that allows redistributing them. Writes ``synthetic_lr.png``,
``compare_all.png`` (LR | bicubic | FALSR-A | FALSR-B | FALSR-C, for the README) and
``compare_<MODEL>.png`` (LR | bicubic | that model, for each card); needs the three models' weights.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from falsr_zoo.sr.resize import imresize

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "docs" / "figures"


def synthetic_hr(size: int = 176) -> np.ndarray:
    """A ``size`` x ``size`` RGB test card: a zone plate, thin lines, text and a colour gradient."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r2 = (x - size * 0.3) ** 2 + (y - size * 0.3) ** 2
    rings = 0.5 + 0.5 * np.cos(np.pi * r2 / (size * 0.9))
    rgb = np.stack([0.25 + 0.6 * x / size, 0.3 + 0.4 * y / size, 0.8 - 0.5 * x / size], axis=-1)
    card = (rgb * (0.35 + 0.65 * rings[..., None]) * 255).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(card)
    draw = ImageDraw.Draw(image)
    for i in range(0, size // 2, 6):  # converging lines, bottom left
        draw.line((0, size - 1, i * 2, size // 2), fill=(250, 250, 240), width=1)
    draw.rectangle((size * 0.55, size * 0.55, size * 0.95, size * 0.95), fill=(30, 40, 60))
    draw.text((size * 0.58, size * 0.6), "FALSR", fill=(255, 220, 90))
    draw.text((size * 0.58, size * 0.75), "x2 zoo", fill=(140, 220, 255))
    draw.ellipse((size * 0.6, size * 0.08, size * 0.92, size * 0.4), outline=(20, 20, 20), width=2)
    return np.asarray(image)


def compare(lr: Path, models: tuple[str, ...], target: Path) -> None:
    command = [sys.executable, "-m", "falsr_zoo", "compare", str(lr), "-o", str(target), "--overwrite"]
    for model in models:
        command += ["-m", model]
    subprocess.run(command, check=True)
    print(f"{target}: {target.stat().st_size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    lr = args.output / "synthetic_lr.png"
    Image.fromarray(imresize(synthetic_hr(), 0.5)).save(lr, optimize=True)
    compare(lr, MODELS, args.output / "compare_all.png")
    for model in MODELS:
        compare(lr, (model,), args.output / f"compare_{model}.png")


if __name__ == "__main__":
    main()
