"""RENAS's part of the reports: the population, the paper's Fig. 4, exports and retraining.

The facade is :mod:`falsr_zoo.search.reports`; everything here reads the run store.

* :func:`status` - the steps done, the living population with its mean and spread, the history
  of every step (the children's accuracy, the population's mean, spread and best: the data of
  the paper's Fig. 4), the controller's rewards, and the result of the final retraining (the
  best cell);
* :func:`best_rows` - the living population, best first (``falsr-search front``);
* :func:`plot` - Fig. 4 as a PNG: every child's accuracy over the steps, the population's mean
  with a band of one standard deviation (clipped to 0-100 %), and its best (matplotlib, the
  ``plot`` extra);
* :func:`export` - model directories of the search network with the kept weights (a living
  individual's fine-tuned weights, or a final individual's weights retrained from scratch);
* :func:`retrain` - the chosen cell trained by the training engine's RENAS recipe at
  ``(N, F)`` = ``(6, 32)`` (CIFAR-10) or any other size and layout, ending in a model directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from safetensors.torch import load_file

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.table import get_family
from falsr_zoo.search.loop import weights_path
from falsr_zoo.search.reports import pyplot, save_figure
from falsr_zoo.search.renas.config import RenasSearchConfig
from falsr_zoo.search.store import Candidate, RunStore
from falsr_zoo.train import TrainResult, make_config, train

__all__ = ["BEST", "best_rows", "export", "generation_line", "pick", "plot", "retrain", "status", "status_lines",
           "table"]

BEST = "best"
"""``--pick best``: the best of the final retraining (or the best living individual without one)."""
pick_help = "best (the best of the final retraining, or the best living individual before it)"


def _row(candidate: Candidate) -> dict[str, Any]:
    return {"id": candidate.id, "genome": candidate.genome, "top1": candidate.score, "mult_adds": candidate.mult_adds,
            "params": candidate.params, "step": candidate.generation, "operator": candidate.operator,
            "parents": list(candidate.parents)}


def best_rows(store: RunStore, config: RenasSearchConfig | None = None) -> list[dict[str, Any]]:
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


def status(store: RunStore, config: RenasSearchConfig) -> dict[str, Any]:
    """The steps done, the population, its history and the best cell (module docstring)."""
    reports = store.reports()
    told = reports[-1][0] + 1 if reports else 0
    last = reports[-1][1] if reports else {}
    best = None
    if "best" in last:
        best = {**_row(store.candidate(last["best"])), "source": store.candidate(last["best"]).parents[0]}
    return {
        "mutation": config.mutation,
        "encoder": config.encoder if config.mutation == "controller" else None,
        "step": max(0, min(told - 1, config.steps)),
        "steps": config.steps,
        "population_size": config.population,
        "population": best_rows(store),
        "population_mean": last.get("population_mean"),
        "population_std": last.get("population_std"),
        "history": _history(reports),
        "best": best,
    }


def status_lines(report: Mapping[str, Any]) -> list[str]:
    mean, std = report["population_mean"], report["population_std"]
    population = f"population {mean:.2f} ± {std:.2f} % top-1" if mean is not None else "no population yet"
    lines = [f"{report['run_dir']}: step {report['step']}/{report['steps']}, {report['done']} evaluated, "
             f"{report['pending'] + report['running']} pending, {report['failed']} failed; {population}"]
    if report["best"] is not None:
        best = report["best"]
        lines.append(f"best after retraining the final population from scratch: {best['id']} "
                     f"({best['top1']:.2f} % top-1): {best['genome']}")
    return lines


def table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [f"{'id':>5}  {'top-1':>7}  {'retrained':>9}  {'mult-adds':>10}  {'params':>9}  genome"]
    for row in rows:
        retrained = f"{row['retrained_top1']:8.2f}%" if "retrained_top1" in row else f"{'-':>9}"
        lines.append(f"{row['id']:>5}  {row['top1']:6.2f}%  {retrained}  {row['mult_adds'] / 1e6:9.1f}M  "
                     f"{row['params']:>9,}  {row['genome']}")
    return lines


def generation_line(generation: int, report: Mapping[str, Any], config: RenasSearchConfig) -> str:
    if "final" in report:
        return f"final population retrained from scratch: best {report['best']} at {report['best_top1']:.2f} % top-1"
    mean, std = report.get("population_mean"), report.get("population_std")
    population = f"population {mean:.2f} ± {std:.2f} % top-1" if mean is not None else "no population"
    if generation == 0:
        return f"initial population: {population}"
    children = ", ".join(f"{c['id']} {c['top1']:.2f} %" if c["top1"] is not None else f"{c['id']} failed"
                         for c in report.get("children", []))
    reward = f", controller reward {report['controller_reward']:.3f}" if "controller_reward" in report else ""
    return f"step {generation}/{config.steps}: child {children}; {population}{reward}"


def plot(run_dir: str | os.PathLike[str], store: RunStore, config: RenasSearchConfig,
         path: str | os.PathLike[str]) -> Path:
    """Write the paper's Fig. 4 for a run as a PNG (atomically): accuracy over the steps."""
    plt = pyplot()
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
    axes.fill_between(steps, [max(0.0, m - s) for m, s in zip(mean, spread)],
                      [min(100.0, m + s) for m, s in zip(mean, spread)],
                      color="tab:blue", alpha=0.2, label="population mean ± std")
    axes.plot(steps, mean, c="tab:blue", lw=1.5, label="population mean")
    axes.plot(steps, [h["population_best_top1"] for h in history], c="tab:red", lw=1.2, label="population best")
    axes.set_xlabel("step")
    axes.set_ylabel("validation top-1 (%)")
    label = config.mutation if config.mutation == "random" else f"controller, {config.encoder}"
    axes.set_title(f"RENAS search ({label}): {Path(run_dir).name}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def pick(store: RunStore, config: RenasSearchConfig, token: str) -> list[int]:
    """``best``: the final retraining's best, else the best living individual.

    Raises:
        ConfigError: any other token, or ``best`` before the run has a population.
    """
    if token != BEST:
        raise ConfigError(f"--pick {token!r}: a RENAS run takes candidate ids or {pick_help}")
    reports = store.reports()
    last = reports[-1][1] if reports else {}
    best = last.get("best", last.get("population_best"))
    if best is None:
        raise ConfigError("the run has no evaluated population yet, so no best candidate")
    return [int(best)]


def export(run_dir: str | os.PathLike[str], store: RunStore, config: RenasSearchConfig,
           ids: Sequence[int], out: str | os.PathLike[str]) -> list[Path]:
    """Model directories ``OUT/candidate-<id>`` of the search network with the candidates' kept weights.

    Raises:
        ConfigError: a candidate without a trained evaluation, or whose weights were removed
            (it died; its weights came from a chain of fine-tunings: retrain it instead).
    """
    written = []
    for candidate_id in ids:
        candidate = store.trained(candidate_id)
        kept = weights_path(Path(run_dir), candidate.id)
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


def retrain(store: RunStore, config: RenasSearchConfig, ids: Sequence[int], *, data: str, val: str | None,
            out: str | os.PathLike[str], recipe: str = "full", overrides: Sequence[str] = (),
            progress: Callable[[Any], None] | None = None, options: Mapping[str, Any] | None = None
            ) -> list[TrainResult]:
    """Train the picked cells with the training engine's RENAS recipe at ``options["network"] = (N, F)``
    (default ``(6, 32)``) and ``options["layout"]`` (default ``cifar10``): training runs
    ``OUT/candidate-<id>`` ending in ``model/``.

    Raises:
        ConfigError: an unknown option.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - {"network", "layout"})
    if unknown:
        raise ConfigError(f"unknown RENAS retraining options: {', '.join(unknown)}")
    num_cells, filters = options.get("network", (6, 32))
    layout = options.get("layout", "cifar10")
    results = []
    for candidate_id in ids:
        candidate = store.trained(candidate_id)
        train_config = make_config("renas", candidate.genome, recipe=recipe, data=data, val=val, seed=config.seed,
                                   options={"layout": layout, "num_cells": num_cells, "filters": filters,
                                            "append_input0": config.append_input0},
                                   overrides=list(overrides))
        results.append(train(train_config, Path(out) / f"candidate-{candidate.id}", progress=progress))
    return results
