"""The README's figure: mult-adds against Set5 PSNR (x2) for the zoo and the paper's Table I baselines,
like the paper's Fig. 5.

Usage:
    python benchmarks/zoo_figure.py [--data ../shared/falsr-official/dataset/Set5] [-o docs/figures/zoo_set5.png]

The zoo's points are measured: mult-adds counted from each genome at 480x480 (the registry's
figure, as in the paper) and the mean Set5 Y-PSNR of ``falsr eval`` (the release's protocol); pass
``--paper`` to plot the registry's paper figures instead (no data needed). The baselines are the
numbers printed in the paper's Table I (Chu et al., ICPR 2020, arXiv:1901.07261v3; most of them
the CARN paper's): they are transcribed in :data:`BASELINES`, not re-measured. Needs matplotlib
(the ``plot`` extra); nothing in the package imports it.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

BASELINES: dict[str, tuple[float, float]] = {
    # name: (Mult-Adds in G as printed, Set5 x2 PSNR in dB)
    "SRCNN": (52.7, 36.66),
    "FSRCNN": (6.0, 37.00),
    "VDSR": (612.6, 37.53),
    "DRCN": (17974.3, 37.63),
    "DRRN": (6796.9, 37.74),
    "MemNet": (2662.4, 37.78),
    "CARN-M": (91.2, 37.53),
    "CARN": (222.8, 37.76),
    "SelNet": (225.7, 37.89),
    "MoreMNAS-A": (238.6, 37.63),
}
"""The paper's Table I baselines: Mult-Adds (G) and Set5 PSNR (dB) at x2, as printed there."""

_LABEL_OFFSETS = {"FALSR-B": (-46, -3), "CARN": (6, -4)}
"""Points whose labels would overlap a neighbour's."""

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "zoo_set5.png"


def zoo_points(data: Path | None) -> dict[str, tuple[float, float]]:
    """Zoo name -> (mult-adds in G at 480x480, Set5 PSNR): measured on ``data``, or the paper's."""
    from falsr_zoo import list_entries
    from falsr_zoo.sr.evaluate import evaluate
    from falsr_zoo.sr.upscale import Upscaler

    points = {}
    for entry in list_entries("falsr"):
        if data is None:
            psnr = entry.paper_metrics["Set5"]["psnr"]
        else:
            psnr = evaluate(Upscaler(entry.name).upscale, data, model=entry.name).mean_psnr
        points[entry.name] = (entry.mult_adds / 1e9, psnr)
    return points


def figure_png(zoo: dict[str, tuple[float, float]], baselines: dict[str, tuple[float, float]] = BASELINES) -> bytes:
    """The scatter plot as PNG bytes (deterministic: no date in the metadata)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, points, style in (("paper's Table I baselines", baselines, {"color": "0.45", "marker": "o"}),
                                 ("falsr-zoo (measured)", zoo, {"color": "tab:red", "marker": "*", "s": 140})):
        xs, ys = zip(*points.values())
        ax.scatter(xs, ys, label=label, zorder=3, **{"s": 36, **style})
        for name, (x, y) in points.items():
            offset = _LABEL_OFFSETS.get(name, (5, 4))
            ax.annotate(name, (x, y), textcoords="offset points", xytext=offset, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("Mult-Adds (G, log scale; counted at 480x480 as in the paper)")
    ax.set_ylabel("Set5 PSNR, x2 (dB)")
    ax.set_title("Where the zoo stands (cf. the FALSR paper's Fig. 5)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/falsr-official/dataset/Set5"))
    parser.add_argument("--paper", action="store_true", help="Plot the registry's paper PSNRs (no data needed).")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    zoo = zoo_points(None if args.paper else args.data)
    for name, (macs, psnr) in zoo.items():
        print(f"{name}: {macs:.2f} G, Set5 {psnr:.2f} dB")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(figure_png(zoo))
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
