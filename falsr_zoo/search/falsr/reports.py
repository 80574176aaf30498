"""Reading a search run: its status, its Pareto front (table, JSON, figure), exports and retraining.

Each function serves both families: a RENAS run is handed to :mod:`falsr_zoo.search.renas_reports`
(its population and the paper's Fig. 4 instead of a front); what follows describes FALSR runs.

Everything here reads the run store; nothing changes a running search. The figure is the
paper's Fig. 6: PSNR against mult-adds, every evaluated model in grey, the front highlighted,
and the zoo's FALSR-A/B/C marked for reference (their Set5 PSNR measured with the official
weights, and their mult-adds at the search's size); it needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

from safetensors.torch import load_file

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo._optional import require
from falsr_zoo.errors import ConfigError
from falsr_zoo.families.falsr.genome import parse_genome
from falsr_zoo.families.table import get_family
from falsr_zoo.search.evaluator import EvalTask, Evaluator, candidate_seed
from falsr_zoo.search.renas_reports import export_renas, plot_progress, population_rows, renas_status, retrain_renas
from falsr_zoo.search.renas_settings import RenasSearchConfig
from falsr_zoo.search.search_loop import front_of, load_run, weights_path
from falsr_zoo.search.store import Candidate, RunStore
from falsr_zoo.train import TrainResult, make_config, train
from falsr_zoo.zoo.registry import list_entries

__all__ = ["best_rows", "export_candidates", "front_rows", "plot_front", "retrain_candidates", "status"]


def status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Generation, counts by status, hypervolume, the front and timings of a run (RENAS:
    :func:`~falsr_zoo.search.renas_reports.renas_status`)."""
    store, config = load_run(run_dir)
    if isinstance(config, RenasSearchConfig):
        return renas_status(run_dir, store, config)
    candidates = store.candidates()
    counts = {state: sum(1 for c in candidates if c.status == state)
              for state in ("done", "pending", "running", "failed", "untrained")}
    reports = store.reports()
    told = reports[-1][0] + 1 if reports else 0
    seconds = [c.seconds for c in candidates if c.status == "done" and c.seconds is not None]
    return {
        "run_dir": str(Path(run_dir)),
        "family": "falsr",
        "generation": told,
        "generations": config.generations,
        "population": config.population,
        "candidates": len(candidates),
        "evaluations": config.evaluations,
        **counts,
        "hypervolume": reports[-1][1]["hypervolume"] if reports else 0.0,
        "hypervolume_history": [report["hypervolume"] for _, report in reports],
        "front": front_rows(front_of(candidates)),
        "evaluation_seconds": {"mean": statistics.fmean(seconds) if seconds else None,
                               "total": sum(seconds)},
        "complete": told >= config.generations,
    }


def best_rows(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """What ``falsr-search front`` lists: the Pareto front (FALSR), or the living population, best first (RENAS)."""
    store, config = load_run(run_dir)
    if isinstance(config, RenasSearchConfig):
        return population_rows(store)
    return front_rows(front_of(store.candidates()))


def front_rows(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    """Plain rows: ``id``, ``genome``, ``psnr``, ``ssim``, ``mult_adds``, ``params``, ``generation``, ``operator``."""
    return [{"id": c.id, "genome": c.genome, "psnr": c.psnr, "ssim": c.ssim, "mult_adds": c.mult_adds,
             "params": c.params, "generation": c.generation, "operator": c.operator} for c in candidates]


def plot_front(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Write the PSNR / mult-adds figure of a run as a PNG (atomically); for RENAS, the accuracy
    over the steps (:func:`~falsr_zoo.search.renas_reports.plot_progress`)."""
    store, config = load_run(run_dir)
    if isinstance(config, RenasSearchConfig):
        return plot_progress(run_dir, store, config, path)
    matplotlib = require("matplotlib", "plot", "falsr-search front --plot")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    candidates = [c for c in store.candidates() if c.status == "done"]
    front = front_of(store.candidates())
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    axes.scatter([c.mult_adds / 1e9 for c in candidates], [c.psnr for c in candidates], s=12, c="0.7",
                 label=f"evaluated ({len(candidates)})")
    axes.plot([c.mult_adds / 1e9 for c in front], [c.psnr for c in front], "o-", c="tab:red", ms=5,
              label=f"Pareto front ({len(front)})")
    h, w = config.macs_size
    for entry in list_entries("falsr"):
        psnr = entry.reproduced_metrics.get("Set5", {}).get("psnr")
        if psnr is not None:
            macs = parse_genome(entry.genome).macs(h, w) / 1e9
            axes.scatter([macs], [psnr], marker="*", s=90, c="tab:blue", zorder=3)
            axes.annotate(entry.name, (macs, psnr), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xlabel(f"mult-adds (G) at {h}x{w}")
    axes.set_ylabel("PSNR (dB), validation set; zoo models: Set5")
    axes.set_title(f"falsr-search: {Path(run_dir).name}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _picked(store: RunStore, ids: Sequence[int]) -> list[Candidate]:
    picked = []
    for candidate_id in ids:
        candidate = store.candidate(candidate_id)
        if candidate.status != "done":
            raise ConfigError(f"candidate {candidate_id} has no trained evaluation (status {candidate.status})")
        picked.append(candidate)
    return picked


def export_candidates(run_dir: str | os.PathLike[str], ids: Sequence[int | str], out: str | os.PathLike[str]) -> list[Path]:
    """Model directories ``OUT/candidate-<id>`` with the candidates' incomplete-training weights.

    Weights the run did not keep are recomputed: an evaluation is a pure function of its task,
    so re-running it gives the same weights (on the CPU), at the cost of one training. (RENAS:
    :func:`~falsr_zoo.search.renas_reports.export_renas`; ids may include ``best``.)
    """
    store, config = load_run(run_dir)
    if isinstance(config, RenasSearchConfig):
        return export_renas(run_dir, store, config, ids, out)
    written = []
    evaluator = None
    for candidate in _picked(store, ids):
        net = get_family("falsr").build(candidate.genome)
        kept = weights_path(Path(run_dir), candidate.id)
        if kept.is_file():
            net.load_state_dict(load_file(os.fspath(kept)))
        else:
            evaluator = evaluator or Evaluator(config, store.meta("data"), store.meta("val"), Path(run_dir) / "cache")
            outcome = evaluator.evaluate(EvalTask(candidate.id, candidate.genome, candidate_seed(config.seed, candidate.id)))
            if outcome.error:
                raise ConfigError(f"candidate {candidate.id}: re-training its weights failed: {outcome.error}")
            from safetensors.torch import load

            net.load_state_dict(load(outcome.weights))
        directory = Path(out) / f"candidate-{candidate.id}"
        val_name = Path(store.meta("val")).name
        net.save_pretrained(directory, metrics={val_name: {"psnr": candidate.psnr, "ssim": candidate.ssim}})
        written.append(directory)
    return written


def retrain_candidates(run_dir: str | os.PathLike[str], ids: Sequence[int | str], *, data: str, val: str | None,
                       out: str | os.PathLike[str], recipe: str = "full", overrides: Sequence[str] = (),
                       progress: Callable[[Any], None] | None = None,
                       network: tuple[int, int] | None = None, layout: str | None = None) -> list[TrainResult]:
    """Fully train the picked candidates: training runs ``OUT/candidate-<id>`` ending in ``model/``.

    RENAS runs (:func:`~falsr_zoo.search.renas_reports.retrain_renas`) take ``network = (N, F)``
    (default ``(6, 32)``) and ``layout`` (default ``cifar10``); ids may include ``best``.

    Raises:
        ConfigError: ``network`` or ``layout`` for a FALSR run.
    """
    store, config = load_run(run_dir)
    if isinstance(config, RenasSearchConfig):
        return retrain_renas(store, config, ids, data=data, val=val, out=out, recipe=recipe,
                             network=network or (6, 32), layout=layout or "cifar10", overrides=overrides,
                             progress=progress)
    if network is not None or layout is not None:
        raise ConfigError("--network and --layout apply to RENAS runs")
    results = []
    for candidate in _picked(store, ids):
        train_config = make_config("falsr", candidate.genome, recipe=recipe, data=data, val=val, seed=config.seed,
                                   overrides=list(overrides))
        results.append(train(train_config, Path(out) / f"candidate-{candidate.id}", progress=progress))
    return results
