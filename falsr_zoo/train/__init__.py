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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from falsr_zoo.train.engine import Progress, TrainingInterrupted, TrainResult, build_network, resume, train
    from falsr_zoo.train.recipes import RECIPES, TrainConfig, apply_overrides, make_config
    from falsr_zoo.train.tasks import TASKS, TrainData

_LAZY = {
    **dict.fromkeys(("Progress", "TrainingInterrupted", "TrainResult", "build_network", "resume", "train"),
                    "falsr_zoo.train.engine"),
    **dict.fromkeys(("RECIPES", "TrainConfig", "apply_overrides", "make_config"), "falsr_zoo.train.recipes"),
    **dict.fromkeys(("TASKS", "TrainData"), "falsr_zoo.train.tasks"),
}
"""Name -> the module it comes from, imported on first use: importing ``falsr_zoo.train`` (or
``falsr_zoo.train.recipes`` for the settings alone) imports no torch."""

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'falsr_zoo.train' has no attribute {name!r}")
