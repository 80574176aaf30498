"""What a search will cost, before it runs: evaluations, steps, and a time estimate measured here.

The estimate times a few training steps and one validation pass of a genome of median cost in
the space (drawn with the paper's initialisation), on this machine and device, then scales by
the number of evaluations and workers. Candidates over the mult-adds bound are not trained,
so the estimate is an upper bound when there is one.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from falsr_zoo.search.renas_evaluator import RenasBudget, estimate_renas_budget
from falsr_zoo.search.renas_settings import RenasSearchConfig
from falsr_zoo.search.settings import SearchConfig
from falsr_zoo.search.space import SearchSpace, initial_population
from falsr_zoo.sr.evaluate import find_pairs
from falsr_zoo.train.engine import build_network

__all__ = ["Budget", "estimate_budget"]


@dataclass(frozen=True)
class Budget:
    """The run's size and the measured estimate."""

    evaluations: int
    steps_per_evaluation: int
    validation_images: int
    seconds_per_step: float
    seconds_per_validation: float
    workers: int

    @property
    def seconds_per_evaluation(self) -> float:
        return self.steps_per_evaluation * self.seconds_per_step + self.seconds_per_validation

    @property
    def hours(self) -> float:
        return self.evaluations * self.seconds_per_evaluation / max(1, self.workers) / 3600

    def to_json(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "steps_per_evaluation": self.steps_per_evaluation,
                "validation_images": self.validation_images, "seconds_per_step": self.seconds_per_step,
                "seconds_per_evaluation": self.seconds_per_evaluation, "workers": self.workers,
                "estimated_hours": self.hours}


def estimate_budget(config: SearchConfig | RenasSearchConfig, data: str, val: str | None, workers: int = 1,
                    steps: int = 3) -> Budget | RenasBudget:
    """Measure a median-cost genome's training step and validation pass (see the module docstring;
    RENAS: :func:`~falsr_zoo.search.renas_evaluator.estimate_renas_budget`)."""
    if isinstance(config, RenasSearchConfig):
        return estimate_renas_budget(config, data, val, workers, steps)
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
    from PIL import Image

    with Image.open(pairs[0][0]) as image:
        width, height = image.size
    net.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        net.forward_y(torch.rand(1, 1, height // 2, width // 2))
    per_image = time.perf_counter() - started
    total_steps = train_config.total_steps(len(find_pairs(data)))
    return Budget(config.evaluations, total_steps, len(pairs), statistics.median(times), per_image * len(pairs),
                  workers)
