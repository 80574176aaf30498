"""Reading a search run, for every family: status, the best candidates, a figure, exports, retraining.

The facade the command line calls. What every run has (generation, candidates by status,
timings) is computed here; what a family adds (FALSR: hypervolume and the Pareto front, the
paper's Fig. 6; RENAS: the population, the paper's Fig. 4, the best retrained cell) comes from
the ``reports`` module of its row in the search-family table (:mod:`falsr_zoo.search.table`),
which provides:

* ``status(store, config) -> dict`` - the family's part of :func:`status`;
* ``status_lines(report) -> list[str]`` - the report in a few lines for people;
* ``best_rows(store, config) -> list[dict]`` and ``table(rows) -> list[str]``;
* ``generation_line(generation, report, config) -> str`` - one progress line per generation;
* ``plot(run_dir, store, config, path) -> Path``;
* ``pick(store, config, token) -> list[int]`` - the ids a named pick stands for (``best``,
  ``crowding:4``); ``pick_help``, what the family's named picks are;
* ``export(run_dir, store, config, ids, out) -> list[Path]``;
* ``retrain(store, config, ids, *, data, val, out, recipe, overrides, progress, options)``.

Everything here reads the run store; nothing changes a running search (no lock is taken).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping, Sequence

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo._optional import require
from falsr_zoo.errors import ConfigError
from falsr_zoo.search.loop import load_run
from falsr_zoo.search.store import RunStore
from falsr_zoo.search.table import get_search_family

__all__ = ["best_rows", "export_candidates", "generation_line", "plot_run", "pyplot", "resolve_picks",
           "retrain_candidates", "save_figure", "status", "status_lines", "table_lines"]

_STATES = ("done", "pending", "running", "failed", "untrained")


def _family(config: Any) -> ModuleType:
    return get_search_family(config.family).report_module()


def status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Where a run stands: generation, candidates by status, timings, and the family's part."""
    store, config = load_run(run_dir)
    candidates = store.candidates()
    reports = store.reports()
    told = reports[-1][0] + 1 if reports else 0
    seconds = [c.seconds for c in candidates if c.status == "done" and c.reused_from is None and c.seconds is not None]
    report: dict[str, Any] = {
        "run_dir": str(Path(run_dir)),
        "family": config.family,
        "generation": told,
        "generations": config.generations,
        "candidates": len(candidates),
        "evaluations": config.evaluations,
        **{state: sum(1 for c in candidates if c.status == state) for state in _STATES},
        "reused": sum(1 for c in candidates if c.reused_from is not None),
        "evaluation_seconds": {"mean": statistics.fmean(seconds) if seconds else None, "total": sum(seconds)},
        "complete": told >= config.generations,
    }
    report.update(_family(config).status(store, config))
    return report


def status_lines(report: Mapping[str, Any]) -> list[str]:
    """A status report (:func:`status`) in a few lines for people."""
    return get_search_family(report["family"]).report_module().status_lines(report)


def best_rows(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """What ``falsr-search front`` lists: the Pareto front (FALSR), the living population best first (RENAS)."""
    store, config = load_run(run_dir)
    return _family(config).best_rows(store, config)


def table_lines(family: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Rows of :func:`best_rows` as a table."""
    return get_search_family(family).report_module().table(rows)


def generation_line(config: Any, generation: int, report: Mapping[str, Any]) -> str:
    """The progress line after a generation was told."""
    return _family(config).generation_line(generation, report, config)


def plot_run(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Write the run's figure as a PNG (atomically): FALSR's PSNR / mult-adds (Fig. 6), RENAS's
    accuracy over the steps (Fig. 4). Needs matplotlib (the ``plot`` extra)."""
    store, config = load_run(run_dir)
    return _family(config).plot(run_dir, store, config, path)


def resolve_picks(store: RunStore, config: Any, picks: str | Sequence[int | str]) -> list[int]:
    """Candidate ids from ``"12,40"`` and the family's named picks (``best``, ``crowding:4``), in order, once each.

    Raises:
        ConfigError: an empty pick, or a token that is neither an id nor a named pick of the family.
    """
    tokens = [t.strip() for t in picks.split(",")] if isinstance(picks, str) else [str(t).strip() for t in picks]
    family = _family(config)
    ids: list[int] = []
    for token in filter(None, tokens):
        found = [int(token)] if token.isdigit() else family.pick(store, config, token)
        ids += [i for i in found if i not in ids]
    if not ids:
        raise ConfigError(f"--pick {picks!r}: expected candidate ids like 12,40 or {family.pick_help}")
    return ids


def export_candidates(run_dir: str | os.PathLike[str], picks: str | Sequence[int | str],
                      out: str | os.PathLike[str]) -> list[Path]:
    """Model directories ``OUT/candidate-<id>`` of the picked candidates with their search weights."""
    store, config = load_run(run_dir)
    return _family(config).export(run_dir, store, config, resolve_picks(store, config, picks), out)


def retrain_candidates(run_dir: str | os.PathLike[str], picks: str | Sequence[int | str], *, data: str,
                       val: str | None, out: str | os.PathLike[str], recipe: str = "full",
                       overrides: Sequence[str] = (), progress: Callable[[Any], None] | None = None,
                       options: Mapping[str, Any] | None = None) -> list[Any]:
    """Fully train the picked candidates: training runs ``OUT/candidate-<id>`` ending in ``model/``.

    ``options`` are the family's (RENAS: ``network = (N, F)``, ``layout``); a family refuses
    options it does not have with a ``ConfigError``.
    """
    store, config = load_run(run_dir)
    ids = resolve_picks(store, config, picks)
    return _family(config).retrain(store, config, ids, data=data, val=val, out=out, recipe=recipe,
                                   overrides=overrides, progress=progress,
                                   options={k: v for k, v in (options or {}).items() if v is not None})


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (the ``plot`` extra), for the families' figures."""
    matplotlib = require("matplotlib", "plot", "falsr-search front --plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Lay out ``figure``, write it as a PNG atomically (nothing half-written) and close it."""
    import io

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot().close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
