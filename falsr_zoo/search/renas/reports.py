"""Reading a RENAS search run: its status, its population, the paper's Fig. 4, exports and retraining.

Everything here reads the run store; nothing changes a running search.

* :func:`renas_status` - the steps done, evaluations by status, the living population with its
  mean and spread, the history of every step (the children's accuracy, the population's mean,
  spread and best: the data of the paper's Fig. 4), the controller's rewards, and the result of
  the final retraining (the best cell);
* :func:`population_rows` - the living population, best first (``falsr-search front``);
* :func:`plot_progress` - Fig. 4 as a PNG: every child's accuracy over the steps, the
  population's mean with a band of one standard deviation, and its best (matplotlib, the
  ``plot`` extra);
* :func:`export_renas` - model directories of the search network with the kept weights (a living
  individual's fine-tuned weights, or a final individual's weights retrained from scratch);
* :func:`retrain_renas` - the chosen cell trained by the training engine's RENAS recipe at
  ``(N, F)`` = ``(6, 32)`` (CIFAR-10) or any other size and layout, ending in a model directory.
"""

from __future__ import annotations

import io
import os
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

from safetensors.torch import load_file

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo._optional import require
from falsr_zoo.errors import ConfigError
from falsr_zoo.families.table import get_family
from falsr_zoo.search.renas_settings import RenasSearchConfig
from falsr_zoo.search.store import Candidate, RunStore
from falsr_zoo.train import TrainResult, make_config, train

__all__ = ["BEST", "export_renas", "plot_progress", "population_rows", "renas_status", "resolve_picks",
           "retrain_renas"]

BEST = "best"
"""``--pick best``: the best of the final retraining (or the best living individual without one)."""


def _weights(run_dir: Path, candidate_id: int) -> Path:
    return Path(run_dir) / "weights" / f"{candidate_id}.safetensors"


def _row(candidate: Candidate) -> dict[str, Any]:
    return {"id": candidate.id, "genome": candidate.genome, "top1": candidate.score, "mult_adds": candidate.mult_adds,
            "params": candidate.params, "step": candidate.generation, "operator": candidate.operator,
            "parents": list(candidate.parents)}


def population_rows(store: RunStore) -> list[dict[str, Any]]:
    """The living population after the last tell, best first; each row with ``retrained_top1``
    (and ``retrained_id``) once the final retraining has scored it."""
    reports = store.reports()
    if not reports:
        return []
    last = reports[-1][1]
    by_id = {c.id: c for c in store.candidates()}
    retrained = {by_id[int(i)].parents[0]: (int(i), top1) for i, top1 in last.get("final", {}).items()}
    rows = []
    for member in last["population"]:
        row = _row(by_id[member])
        if member in retrained:
            row["retrained_id"], row["retrained_top1"] = retrained[member]
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["top1"], r["id"]))


def _history(reports: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    keys = ("step", "population_mean", "population_std", "population_best", "population_best_top1", "children",
            "controller_reward", "controller_loss")
    return [{key: report[key] for key in keys if key in report} for _, report in reports if "final" not in report]


def renas_status(run_dir: str | os.PathLike[str], store: RunStore, config: RenasSearchConfig) -> dict[str, Any]:
    """Where a RENAS run stands (see the module docstring); plain JSON-able data."""
    candidates = store.candidates()
    counts = {state: sum(1 for c in candidates if c.status == state)
              for state in ("done", "pending", "running", "failed", "untrained")}
    reports = store.reports()
    told = reports[-1][0] + 1 if reports else 0
    last = reports[-1][1] if reports else {}
    seconds = [c.seconds for c in candidates if c.status == "done" and c.seconds is not None]
    best = None
    if "best" in last:
        best = {**_row(store.candidate(last["best"])), "source": store.candidate(last["best"]).parents[0]}
    return {
        "run_dir": str(Path(run_dir)),
        "family": "renas",
        "mutation": config.mutation,
        "encoder": config.encoder if config.mutation == "controller" else None,
        "generation": told,
        "generations": config.generations,
        "step": max(0, min(told - 1, config.steps)),
        "steps": config.steps,
        "population_size": config.population,
        "candidates": len(candidates),
        "evaluations": config.evaluations,
        **counts,
        "population": population_rows(store),
        "population_mean": last.get("population_mean"),
        "population_std": last.get("population_std"),
        "history": _history(reports),
        "best": best,
        "evaluation_seconds": {"mean": statistics.fmean(seconds) if seconds else None, "total": sum(seconds)},
        "complete": told >= config.generations,
    }


def plot_progress(run_dir: str | os.PathLike[str], store: RunStore, config: RenasSearchConfig,
                  path: str | os.PathLike[str]) -> Path:
    """Write the paper's Fig. 4 for a run as a PNG (atomically): accuracy over the steps."""
    matplotlib = require("matplotlib", "plot", "falsr-search front --plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = _history(store.reports())
    steps = [h["step"] for h in history]
    mean = [h["population_mean"] for h in history]
    spread = [h["population_std"] for h in history]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    initial = [(0, c.score) for c in store.candidates(generation=0) if c.score is not None]
    children = [(h["step"], child["top1"]) for h in history for child in h.get("children", []) if child["top1"] is not None]
    if initial or children:
        axes.scatter(*zip(*initial, *children), s=10, c="0.65", zorder=1,
                     label=f"initial population and children ({len(initial) + len(children)})")
    axes.fill_between(steps, [m - s for m, s in zip(mean, spread)], [m + s for m, s in zip(mean, spread)],
                      color="tab:blue", alpha=0.2, label="population mean ± std")
    axes.plot(steps, mean, c="tab:blue", lw=1.5, label="population mean")
    axes.plot(steps, [h["population_best_top1"] for h in history], c="tab:red", lw=1.2, label="population best")
    axes.set_xlabel("step")
    axes.set_ylabel("validation top-1 (%)")
    label = config.mutation if config.mutation == "random" else f"controller, {config.encoder}"
    axes.set_title(f"RENAS search ({label}): {Path(run_dir).name}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def resolve_picks(store: RunStore, picks: Sequence[int | str]) -> list[int]:
    """Candidate ids, ``best`` resolved (the final retraining's best, else the best living individual).

    Raises:
        ConfigError: ``best`` before the run has a population.
    """
    reports = store.reports()
    last = reports[-1][1] if reports else {}
    ids = []
    for pick in picks:
        if pick == BEST:
            best = last.get("best", last.get("population_best"))
            if best is None:
                raise ConfigError("the run has no evaluated population yet, so no best candidate")
            ids.append(int(best))
        else:
            ids.append(int(pick))
    return ids


def _done(store: RunStore, candidate_id: int) -> Candidate:
    candidate = store.candidate(candidate_id)
    if candidate.status != "done":
        raise ConfigError(f"candidate {candidate_id} has no trained evaluation (status {candidate.status})")
    return candidate


def export_renas(run_dir: str | os.PathLike[str], store: RunStore, config: RenasSearchConfig,
                 picks: Sequence[int | str], out: str | os.PathLike[str]) -> list[Path]:
    """Model directories ``OUT/candidate-<id>`` of the search network with the candidates' kept weights.

    Raises:
        ConfigError: a candidate without a trained evaluation, or whose weights were removed
            (it died; its weights came from a chain of fine-tunings: retrain it instead).
    """
    written = []
    for candidate_id in resolve_picks(store, picks):
        candidate = _done(store, candidate_id)
        kept = _weights(Path(run_dir), candidate.id)
        if not kept.is_file():
            raise ConfigError(f"candidate {candidate.id} is no longer in the population, so its weights were removed; "
                              f"export a living or finally retrained one, or retrain it: falsr-search retrain "
                              f"{run_dir} --pick {candidate.id}")
        state = load_file(os.fspath(kept))
        options = config.network_options(num_classes=int(state["classifier.weight"].shape[0]))
        net = get_family("renas").build(candidate.genome, **options)
        net.load_state_dict(state)
        val = store.meta("val")
        name = Path(val).name if val else f"{Path(store.meta('data')).name} (held out {config.val_split})"
        directory = Path(out) / f"candidate-{candidate.id}"
        net.save_pretrained(directory, metrics={name: {"top1": candidate.score}})
        written.append(directory)
    return written


def retrain_renas(store: RunStore, config: RenasSearchConfig, picks: Sequence[int | str], *, data: str,
                  val: str | None, out: str | os.PathLike[str], recipe: str = "full",
                  network: tuple[int, int] = (6, 32), layout: str = "cifar10", overrides: Sequence[str] = (),
                  progress: Callable[[Any], None] | None = None) -> list[TrainResult]:
    """Train the picked cells with the training engine's RENAS recipe at ``network = (N, F)``:
    training runs ``OUT/candidate-<id>`` ending in ``model/``."""
    results = []
    num_cells, filters = network
    for candidate_id in resolve_picks(store, picks):
        candidate = _done(store, candidate_id)
        train_config = make_config("renas", candidate.genome, recipe=recipe, data=data, val=val, seed=config.seed,
                                   options={"layout": layout, "num_cells": num_cells, "filters": filters,
                                            "append_input0": config.append_input0},
                                   overrides=list(overrides))
        results.append(train(train_config, Path(out) / f"candidate-{candidate.id}", progress=progress))
    return results
