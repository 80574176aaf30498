"""Evaluating a FALSR candidate: incomplete training by the training engine, then Y-PSNR on validation.

An evaluation is a pure function of the search config, the data folders, the genome and the
candidate's seed: the training engine's data order, crops and initialisation are seeded, and
on the CPU its arithmetic is deterministic, so a re-run (after a crash, or to export weights
that were not kept) gives the same PSNR and the same weights. The decoded training images and
the validation set are loaded once per process and reused by every evaluation it runs.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from falsr_zoo.search.budget import Budget
from falsr_zoo.search.contracts import EvalOutcome, EvalTask
from falsr_zoo.search.falsr.config import FalsrSearchConfig
from falsr_zoo.search.falsr.space import SearchSpace, initial_population
from falsr_zoo.train import TrainData, build_network, train
from falsr_zoo.train.sr_patches import PatchDataset, SRImages, ValidationSet, load_validation

__all__ = ["FalsrEvaluator", "estimate_budget"]


class FalsrEvaluator:
    """Runs evaluations in this process; data are loaded on first use and kept.

    Args:
        config: The search config (its ``train.*`` keys over the ``incomplete`` recipe).
        data: Training images (an HR folder or ``*_HR/*_LR`` pairs).
        val: Validation folder.
        cache_dir: Where decoded images are cached (shared by all workers of a machine).
        keep_weights: Return the trained weights (safetensors bytes) with each outcome.
    """

    def __init__(self, config: FalsrSearchConfig, data: str, val: str, cache_dir: str | os.PathLike[str],
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


def estimate_budget(config: FalsrSearchConfig, data: str, val: str | None, workers: int = 1, steps: int = 3) -> Budget:
    """Time a few training steps of a median-cost genome (the paper's initialisation, drawn from the
    run's seed) and one validation pass, then scale by the run's evaluations."""
    from PIL import Image

    from falsr_zoo.sr.evaluate import find_pairs

    train_config = config.train_config(data, val)
    pool = initial_population(SearchSpace(config.n_cells), 21, np.random.default_rng(config.seed))
    genome = sorted(pool, key=lambda g: g.macs(*config.macs_size))[len(pool) // 2]
    net = build_network(replace(train_config, model=str(genome))).train()
    batch, patch = train_config.batch_size, train_config.patch_size
    optimizer = torch.optim.Adam(net.parameters(), lr=train_config.lr)
    y, target = torch.rand(batch, 1, patch // 2, patch // 2), torch.rand(batch, 1, patch, patch)
    times = []
    for index in range(steps + 1):
        started = time.perf_counter()
        loss = (net.forward_y(y) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if index:
            times.append(time.perf_counter() - started)
    pairs = find_pairs(val)
    with Image.open(pairs[0][0]) as image:
        width, height = image.size
    net.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        net.forward_y(torch.rand(1, 1, height // 2, width // 2))
    per_image = time.perf_counter() - started
    per_evaluation = train_config.total_steps(len(find_pairs(data)))
    return Budget(config.evaluations, per_evaluation * config.evaluations, len(pairs), statistics.median(times),
                  per_image * len(pairs), workers)
