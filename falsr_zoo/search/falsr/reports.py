"""FALSR's part of the reports: hypervolume, the Pareto front, the paper's Fig. 6, exports, retraining.

The facade is :mod:`falsr_zoo.search.reports`; everything here reads the run store. The figure
is the paper's Fig. 6: PSNR against mult-adds, every evaluated model in grey, the front
highlighted, the zoo's FALSR-A/B/C marked for reference (their Set5 PSNR measured with the
official weights, their mult-adds at the search's size) and bicubic's PSNR on the run's
validation set drawn as a line, so that a run whose trainings are too short to beat bicubic
says so. ``crowding:K`` picks the paper's final models: "4 models with large crowding distance"
on the PSNR / mult-adds front (Section V-B).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from safetensors.torch import load, load_file

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.falsr.genome import parse_genome
from falsr_zoo.families.table import get_family
from falsr_zoo.search.contracts import EvalTask, candidate_seed
from falsr_zoo.search.falsr.config import FalsrSearchConfig
from falsr_zoo.search.falsr.evaluator import FalsrEvaluator
from falsr_zoo.search.falsr.hybrid import front_of
from falsr_zoo.search.loop import weights_path
from falsr_zoo.search.reports import pyplot, save_figure
from falsr_zoo.search.pareto import crowding_distance
from falsr_zoo.search.store import Candidate, RunStore
from falsr_zoo.train import TrainResult, make_config, train
from falsr_zoo.zoo.registry import list_entries

__all__ = ["best_rows", "crowding_pick", "export", "front_rows", "generation_line", "pick", "plot", "retrain",
           "status", "status_lines", "table"]

pick_help = "crowding:K (the K largest crowding distances of the PSNR / mult-adds front)"


def status(store: RunStore, config: FalsrSearchConfig) -> dict[str, Any]:
    """Hypervolume (now and after every generation) and the front."""
    reports = store.reports()
    return {"population": config.population,
            "hypervolume": reports[-1][1]["hypervolume"] if reports else 0.0,
            "hypervolume_history": [report["hypervolume"] for _, report in reports],
            "front": front_rows(front_of(store.candidates()))}


def status_lines(report: Mapping[str, Any]) -> list[str]:
    reused = f" ({report['reused']} repeats reused a stored result)" if report.get("reused") else ""
    return [f"{report['run_dir']}: generation {report['generation']}/{report['generations']}, "
            f"{report['done']} evaluated{reused}, {report['pending'] + report['running']} pending, "
            f"{report['failed']} failed, {report['untrained']} over the mult-adds bound; "
            f"hypervolume {report['hypervolume']:.4g}; front of {len(report['front'])}"]


def front_rows(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    """Plain rows: ``id``, ``genome``, ``psnr``, ``ssim``, ``mult_adds``, ``params``, ``generation``, ``operator``."""
    return [{"id": c.id, "genome": c.genome, "psnr": c.score, "ssim": (c.metrics or {}).get("ssim"),
             "mult_adds": c.mult_adds, "params": c.params, "generation": c.generation, "operator": c.operator}
            for c in candidates]


def best_rows(store: RunStore, config: FalsrSearchConfig) -> list[dict[str, Any]]:
    return front_rows(front_of(store.candidates()))


def table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [f"{'id':>5}  {'PSNR':>8}  {'mult-adds':>10}  {'params':>9}  genome"]
    lines += [f"{r['id']:>5}  {r['psnr']:8.4f}  {r['mult_adds'] / 1e9:9.2f}G  {r['params']:>9,}  {r['genome']}"
              for r in rows]
    return lines


def generation_line(generation: int, report: Mapping[str, Any], config: FalsrSearchConfig) -> str:
    reward = f", controller reward {report['controller_reward']:.3f}" if "controller_reward" in report else ""
    return (f"generation {generation + 1}/{config.generations}: hypervolume {report.get('hypervolume', 0.0):.4g}, "
            f"front {len(report.get('front', []))}{reward}")


def _bicubic_psnr(val: str) -> float | None:
    from falsr_zoo.sr.evaluate import evaluate
    from falsr_zoo.sr.resize import imresize

    try:
        return evaluate(lambda lr: imresize(lr, 2), val, model="bicubic").mean_psnr
    except (OSError, ValueError):  # the validation folder moved or changed since the run: no line
        return None


def plot(run_dir: str | os.PathLike[str], store: RunStore, config: FalsrSearchConfig,
         path: str | os.PathLike[str]) -> Path:
    """Write the PSNR / mult-adds figure of a run as a PNG (atomically)."""
    plt = pyplot()
    candidates = [c for c in store.candidates() if c.status == "done"]
    front = front_of(store.candidates())
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    axes.scatter([c.mult_adds / 1e9 for c in candidates], [c.score for c in candidates], s=12, c="0.7",
                 label=f"evaluated ({len(candidates)})")
    axes.plot([c.mult_adds / 1e9 for c in front], [c.score for c in front], "o-", c="tab:red", ms=5,
              label=f"Pareto front ({len(front)})")
    h, w = config.macs_size
    for entry in list_entries("falsr"):
        psnr = entry.reproduced_metrics.get("Set5", {}).get("psnr")
        if psnr is not None:
            macs = parse_genome(entry.genome).macs(h, w) / 1e9
            axes.scatter([macs], [psnr], marker="*", s=90, c="tab:blue", zorder=3)
            axes.annotate(entry.name, (macs, psnr), textcoords="offset points", xytext=(4, 4), fontsize=8)
    bicubic = _bicubic_psnr(store.meta("val"))
    title = f"falsr-search: {Path(run_dir).name}"
    if bicubic is not None:
        axes.axhline(bicubic, c="tab:green", ls="--", lw=1, label=f"bicubic, validation set ({bicubic:.2f} dB)")
        if candidates and max(c.score for c in candidates) < bicubic:
            title += "\n(no candidate beats bicubic: trainings too short to rank models)"
    axes.set_xlabel(f"mult-adds (G) at {h}x{w}")
    axes.set_ylabel("PSNR (dB), validation set; zoo models: Set5")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def crowding_pick(candidates: Sequence[Candidate], count: int) -> list[int]:
    """The ``count`` candidates of largest crowding distance on the PSNR / mult-adds front.

    The front is the feasible, trained candidates not dominated in (PSNR up, mult-adds down);
    its two ends have infinite distance. Ties go to the cheaper candidate, then the lower id.
    """
    from falsr_zoo.search.pareto import fronts

    feasible = [c for c in candidates if c.status == "done" and (c.violation or 0) <= 0 and c.reused_from is None]
    if not feasible:
        return []
    points = np.array([(-c.score, c.mult_adds / 1e9) for c in feasible])
    front = [c for c, rank in zip(feasible, fronts(points)) if rank == 0]
    distance = crowding_distance(np.array([(-c.score, c.mult_adds / 1e9) for c in front]))
    order = sorted(range(len(front)), key=lambda i: (-distance[i], front[i].mult_adds, front[i].id))
    return [front[i].id for i in order[:count]]


def pick(store: RunStore, config: FalsrSearchConfig, token: str) -> list[int]:
    """``crowding:K``: :func:`crowding_pick` of the run's candidates.

    Raises:
        ConfigError: any other token.
    """
    name, _, count = token.partition(":")
    if name != "crowding" or not count.isdigit() or int(count) < 1:
        raise ConfigError(f"--pick {token!r}: a FALSR run takes candidate ids or {pick_help}")
    chosen = crowding_pick(store.candidates(), int(count))
    if not chosen:
        raise ConfigError("the run has no trained feasible candidate yet, so no front to pick from")
    return chosen


def export(run_dir: str | os.PathLike[str], store: RunStore, config: FalsrSearchConfig, ids: Sequence[int],
           out: str | os.PathLike[str]) -> list[Path]:
    """Model directories ``OUT/candidate-<id>`` with the candidates' incomplete-training weights.

    Weights the run did not keep are recomputed: an evaluation is a pure function of its task,
    so re-running it gives the same weights (on the CPU), at the cost of one training. A
    candidate that reused another's result is trained as that candidate was.
    """
    written = []
    evaluator = None
    for candidate in map(store.trained, ids):
        source = store.candidate(candidate.reused_from) if candidate.reused_from is not None else candidate
        net = get_family("falsr").build(candidate.genome)
        kept = weights_path(Path(run_dir), source.id)
        if kept.is_file():
            net.load_state_dict(load_file(os.fspath(kept)))
        else:
            evaluator = evaluator or FalsrEvaluator(config, store.meta("data"), store.meta("val"),
                                                    Path(run_dir) / "cache")
            outcome = evaluator.evaluate(EvalTask(source.id, source.genome, candidate_seed(config.seed, source.id)))
            if outcome.error:
                raise ConfigError(f"candidate {candidate.id}: re-training its weights failed: {outcome.error}")
            net.load_state_dict(load(outcome.weights))
        directory = Path(out) / f"candidate-{candidate.id}"
        metrics = {"psnr": candidate.score, "ssim": (candidate.metrics or {}).get("ssim")}
        net.save_pretrained(directory, metrics={Path(store.meta("val")).name: metrics})
        written.append(directory)
    return written


def retrain(store: RunStore, config: FalsrSearchConfig, ids: Sequence[int], *, data: str, val: str | None,
            out: str | os.PathLike[str], recipe: str = "full", overrides: Sequence[str] = (),
            progress: Callable[[Any], None] | None = None, options: Mapping[str, Any] | None = None
            ) -> list[TrainResult]:
    """Fully train the picked candidates (the ``full`` recipe: the paper's final training).

    Raises:
        ConfigError: family options (``--network``, ``--layout``), which FALSR does not have.
    """
    if options:
        raise ConfigError(f"{', '.join('--' + k for k in options)} apply to RENAS runs")
    results = []
    for candidate in map(store.trained, ids):
        train_config = make_config("falsr", candidate.genome, recipe=recipe, data=data, val=val, seed=config.seed,
                                   overrides=list(overrides))
        results.append(train(train_config, Path(out) / f"candidate-{candidate.id}", progress=progress))
    return results
