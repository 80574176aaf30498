"""Neural architecture search: ``falsr-search`` (FALSR's hybrid NSGA-II, RENAS's reinforced evolution).

A generic core, which names no family, and one folder per search family:

* the core: :mod:`~falsr_zoo.search.contracts` (what a config, an algorithm and an evaluation
  are), :mod:`~falsr_zoo.search.table` (the search-family table), :mod:`~falsr_zoo.search.config`
  (TOML files, presets, overrides, one parser), :mod:`~falsr_zoo.search.loop` (ask, evaluate,
  tell, store, resume), :mod:`~falsr_zoo.search.store` (the SQLite run store and its lock),
  :mod:`~falsr_zoo.search.executors` and :mod:`~falsr_zoo.search.worker` (where evaluations run),
  :mod:`~falsr_zoo.search.budget`, :mod:`~falsr_zoo.search.reports` (the reports facade),
  :mod:`~falsr_zoo.search.nsga2` and :mod:`~falsr_zoo.search.pareto` (NSGA-II, fronts,
  hypervolume), :mod:`~falsr_zoo.search.reinforce` (REINFORCE for both controllers);
* :mod:`falsr_zoo.search.falsr` - Chu et al., ICPR 2020: the micro + macro space, crossover,
  roulette wheel, the RL controller, the hybrid algorithm, its evaluator and reports;
* :mod:`falsr_zoo.search.renas` - Chen et al., CVPR 2019: the cell space as tokens, the
  reinforced mutation controller, tournament evolution, parameter inheritance, its evaluator
  and reports.

import-linter keeps the shape: the core imports no family folder (it reaches them through the
table's dotted paths), and the family folders do not import each other.
"""
