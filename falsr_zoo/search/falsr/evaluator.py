"""Evaluating a FALSR candidate: incomplete training by the training engine, then Y-PSNR on validation.

(The RENAS evaluator is :mod:`falsr_zoo.search.renas_evaluator`; :func:`evaluate_in_process`
picks a run's evaluator by family.)

An evaluation is a pure function of the search config, the data folders, the genome and the
candidate's seed: the training engine's data order, crops and initialisation are seeded, and
on the CPU its arithmetic is deterministic, so a re-run (after a crash, or to export weights
that were not kept) gives the same PSNR and the same weights. The decoded training images and
the validation set are loaded once per process and reused by every evaluation it runs.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from safetensors.torch import save

from falsr_zoo.search.interfaces import EvalOutcome, EvalTask, candidate_seed
from falsr_zoo.search.renas_evaluator import RenasEvaluator
from falsr_zoo.search.settings import SearchConfig, config_from_json
from falsr_zoo.train import TrainData, train
from falsr_zoo.train.sr_patches import PatchDataset, SRImages, ValidationSet, load_validation

__all__ = ["EVALUATORS", "EvalOutcome", "EvalTask", "Evaluator", "candidate_seed", "evaluate_in_process"]


class Evaluator:
    """Runs evaluations in this process; data are loaded on first use and kept.

    Args:
        config: The search config (its ``train.*`` keys over the ``incomplete`` recipe).
        data: Training images (an HR folder or ``*_HR/*_LR`` pairs).
        val: Validation folder.
        cache_dir: Where decoded images are cached (shared by all workers of a machine).
        keep_weights: Return the trained weights (safetensors bytes) with each outcome.
    """

    def __init__(self, config: SearchConfig, data: str, val: str, cache_dir: str | os.PathLike[str],
                 keep_weights: bool = True) -> None:
        self.config, self.data, self.val, self.cache_dir = config, data, val, Path(cache_dir)
        self.keep_weights = keep_weights
        self.base = config.train_config(data, val)
        self._images: SRImages | None = None
        self._validation: ValidationSet | None = None
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _train_data(self, seed: int) -> TrainData:
        if self._images is None:
            self._images = SRImages.load(self.data, self.cache_dir)
            self._validation = load_validation(self.val)
        dataset = PatchDataset(self._images, self.base.patch_size, seed, self.base.augment)
        return TrainData(dataset, len(self._images), self._validation, self._validation.name)

    def evaluate(self, task: EvalTask) -> EvalOutcome:
        """Train the candidate and validate it; an exception becomes a failed outcome."""
        started = time.perf_counter()
        try:
            config = replace(self.base, model=task.genome, seed=task.seed)
            result = train(config, None, data=self._train_data(task.seed), write_model_dir=False)
            weights = save({k: v.contiguous() for k, v in result.model.state_dict().items()}) \
                if self.keep_weights else None
            metrics = {"psnr": result.metrics["psnr"], "ssim": result.metrics["ssim"]}
            return EvalOutcome(task.id, metrics["psnr"], metrics, time.perf_counter() - started, self.worker, weights)
        except Exception as err:  # a failed evaluation is recorded, the search goes on
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return EvalOutcome(task.id, None, None, time.perf_counter() - started, self.worker, error=detail[:2000])


EVALUATORS: dict[str, Callable[..., Any]] = {"falsr": Evaluator, "renas": RenasEvaluator}
"""Family -> its evaluator class, ``(config, data, val, cache_dir, keep_weights)``, with ``evaluate(task)``."""

_CACHED: dict[tuple[Any, ...], Any] = {}


def evaluate_in_process(config_json: dict[str, Any], data: str, val: str, cache_dir: str, keep_weights: bool,
                        task: EvalTask) -> EvalOutcome:
    """Evaluate with this process's cached evaluator for the config (for worker processes)."""
    key = (json.dumps(config_json, sort_keys=True), data, val, cache_dir, keep_weights)
    evaluator = _CACHED.get(key)
    if evaluator is None:
        config = config_from_json(config_json)
        evaluator = _CACHED[key] = EVALUATORS[config.family](config, data, val, cache_dir, keep_weights)
    return evaluator.evaluate(task)
