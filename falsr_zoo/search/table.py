"""The one search-family table: which family a run searches, and where its code lives.

As :mod:`falsr_zoo.families.table` chooses model families, this table chooses search
families. A :class:`SearchFamily` row names a family's code by dotted path (``"module:attr"``),
resolved on first use, so the generic core (contracts, loop, store, executors, worker, config
loading, budget, reports facade, NSGA-II and Pareto tools, REINFORCE) imports no family folder,
``falsr-search --help`` imports no torch, and a third family is a new folder under
``falsr_zoo/search/`` plus one row here.

What a family folder provides (the row's paths):

* ``config``: its frozen search-config class (:class:`~falsr_zoo.search.contracts.SearchConfig`),
  with ``from_values(values, train)`` built on :func:`falsr_zoo.search.config.parse_values`;
* ``presets``: name -> the values a preset sets (in a module that imports no torch);
* ``evaluator``: the class that trains and scores one candidate, ``(config, data, val,
  cache_dir, keep_weights)`` with ``evaluate(task) -> EvalOutcome``;
* ``budget``: ``(config, data, val, workers) -> Budget``, the run's size and a measured estimate;
* ``reports``: a module with the family's part of the reports (``status``, ``best_rows``,
  ``table``, ``generation_line``, ``plot``, ``export``, ``retrain``, ``resolve_picks``; see
  :mod:`falsr_zoo.search.reports`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Mapping

from falsr_zoo._plugins import resolve
from falsr_zoo.errors import ConfigError

__all__ = ["SEARCH_FAMILIES", "SearchFamily", "get_search_family"]


@dataclass(frozen=True)
class SearchFamily:
    """One row of the search-family table (see the module docstring).

    Attributes:
        name: The family key (a config's ``family``, ``falsr-search run --family``).
        summary: One line for ``--help``.
        config: Dotted path of the config class.
        presets: Dotted path of the presets mapping (name -> values).
        default_preset: The preset ``falsr-search run --family NAME`` starts from.
        evaluator: Dotted path of the evaluator class.
        budget: Dotted path of the budget estimator.
        reports: Dotted module path of the family's reports.
    """

    name: str
    summary: str
    config: str
    presets: str
    default_preset: str
    evaluator: str
    budget: str
    reports: str

    def config_class(self) -> Any:
        return resolve(self.config)

    def preset_values(self) -> Mapping[str, Mapping[str, Any]]:
        return resolve(self.presets)

    def evaluator_class(self) -> Callable[..., Any]:
        return resolve(self.evaluator)

    def estimate_budget(self) -> Callable[..., Any]:
        return resolve(self.budget)

    def report_module(self) -> ModuleType:
        return importlib.import_module(self.reports)


SEARCH_FAMILIES: dict[str, SearchFamily] = {
    row.name: row
    for row in (
        SearchFamily(
            name="falsr",
            summary="FALSR (Chu et al., ICPR 2020): NSGA-II with crossover, roulette wheel and an RL controller",
            config="falsr_zoo.search.falsr.config:FalsrSearchConfig",
            presets="falsr_zoo.search.falsr.config:PRESETS",
            default_preset="paper",
            evaluator="falsr_zoo.search.falsr.evaluator:FalsrEvaluator",
            budget="falsr_zoo.search.falsr.evaluator:estimate_budget",
            reports="falsr_zoo.search.falsr.reports",
        ),
        SearchFamily(
            name="renas",
            summary="RENAS (Chen et al., CVPR 2019): tournament evolution with a reinforced mutation controller",
            config="falsr_zoo.search.renas.config:RenasSearchConfig",
            presets="falsr_zoo.search.renas.config:PRESETS",
            default_preset="renas-paper",
            evaluator="falsr_zoo.search.renas.evaluator:RenasEvaluator",
            budget="falsr_zoo.search.renas.evaluator:estimate_budget",
            reports="falsr_zoo.search.renas.reports",
        ),
    )
}
"""Family name -> its row."""


def get_search_family(name: Any) -> SearchFamily:
    """The row of search family ``name``.

    Raises:
        ConfigError: an unknown family, naming the known ones.
    """
    try:
        return SEARCH_FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown search family {name!r}; expected one of {', '.join(SEARCH_FAMILIES)}") from None
