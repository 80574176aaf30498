"""Training: ``falsr train`` for any FALSR genome and any RENAS cell, resumable, ending in a model directory.

The searches call the same engine in-process to evaluate candidates (:func:`train` with
``run_dir=None`` and the data loaded once). See :mod:`falsr_zoo.train.engine` for the loop and
its guarantees, :mod:`falsr_zoo.train.recipes` for the settings and the recipes.

Example:
    >>> from falsr_zoo.train import make_config, train
    >>> config = make_config("falsr", "FALSR-B", recipe="full", data="DIV2K_train_HR", val="Set5")  # doctest: +SKIP
    >>> result = train(config, "runs/falsr-b")                                                      # doctest: +SKIP
    >>> result.metrics                                                                              # doctest: +SKIP
"""

from __future__ import annotations

from falsr_zoo.train.engine import Progress, TrainingInterrupted, TrainResult, build_network, resume, train
from falsr_zoo.train.recipes import RECIPES, TrainConfig, apply_overrides, make_config
from falsr_zoo.train.tasks import TASKS, TrainData

__all__ = [
    "RECIPES",
    "TASKS",
    "Progress",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "TrainingInterrupted",
    "apply_overrides",
    "build_network",
    "make_config",
    "resume",
    "train",
]
