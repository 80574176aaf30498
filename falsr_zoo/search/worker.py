"""What a worker process runs: one evaluation by the run's family's evaluator, kept per process.

Executors (:mod:`falsr_zoo.search.executors`) send :func:`evaluate_in_process` and its
arguments to worker processes (a local pool, Ray tasks) or call it here. The evaluator of the
config's family (the search-family table) is built once per process and config, so the data
it loads are reused by every evaluation the process runs. Workers only return outcomes: the
process that holds the run's lock stores them (:mod:`falsr_zoo.search.loop`), so a worker that
outlives a killed driver cannot write into the run.
"""

from __future__ import annotations

import json
from typing import Any

from falsr_zoo.search.config import config_from_json
from falsr_zoo.search.contracts import EvalOutcome, EvalTask
from falsr_zoo.search.table import get_search_family

__all__ = ["evaluate_in_process", "make_evaluator"]

_CACHED: dict[tuple[Any, ...], Any] = {}


def make_evaluator(config: Any, data: str, val: str | None, cache_dir: str, keep_weights: bool) -> Any:
    """A new evaluator of ``config``'s family."""
    return get_search_family(config.family).evaluator_class()(config, data, val, cache_dir, keep_weights)


def evaluate_in_process(config_json: dict[str, Any], data: str, val: str, cache_dir: str, keep_weights: bool,
                        task: EvalTask) -> EvalOutcome:
    """Evaluate ``task`` with this process's cached evaluator for the config."""
    key = (json.dumps(config_json, sort_keys=True), data, val, cache_dir, keep_weights)
    evaluator = _CACHED.get(key)
    if evaluator is None:
        evaluator = _CACHED[key] = make_evaluator(config_from_json(config_json), data, val, cache_dir, keep_weights)
    return evaluator.evaluate(task)
