"""Evaluating a RENAS candidate: train (from scratch, or inherited and fine-tuned), then top-1 on held-out images.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019), Sections
3 and 5.1. The search network (the config's ``num_cells``, ``filters``, CIFAR-10 layout) is
trained by the training engine in-process (:func:`falsr_zoo.train.train` with the network and
the data passed in):

* ``init`` (the initial population) and ``final`` (the final population, retrained): from
  scratch, the network initialised from the candidate's seed;
* a child (``controller`` / ``random``): the child's network is initialised from its seed, then
  every unchanged layer is copied from the parent's weights that came with the task
  (:mod:`falsr_zoo.search.renas.inherit`), and it is fine-tuned with the new parameters at
  ``lr_new`` and the inherited ones at ``lr_new * inherited_lr_ratio``.

The fitness is the top-1 accuracy on the validation images: ``val_split`` images held out of
the training folder (the paper: 5,000 of CIFAR-10's 50,000), the same for every candidate of a
run (drawn from the run's seed), or a separate ``--val`` folder. An evaluation is a pure
function of its task (config, data, genome, seed and parent weights): data order,
augmentation and initialisation are seeded, and on the CPU the arithmetic is deterministic,
so a re-run after a crash reproduces the same accuracy and the same weights.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
import traceback

import numpy as np
import torch
from safetensors.torch import load, save

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.plan import LAYOUTS
from falsr_zoo.search.budget import Budget
from falsr_zoo.search.contracts import EvalOutcome, EvalTask
from falsr_zoo.search.renas.config import RenasSearchConfig, SearchData, load_search_data
from falsr_zoo.search.renas.inherit import inherit
from falsr_zoo.search.renas.space import MUTATIONS, RenasSpace
from falsr_zoo.train import TrainData, build_network, train
from falsr_zoo.train.cls_images import ClassSampleDataset

__all__ = ["RenasEvaluator", "estimate_budget"]


def _kind(operator: str) -> str:
    return "final" if operator == "final" else "child" if operator in MUTATIONS else "init"


class RenasEvaluator:
    """Runs RENAS evaluations in this process; the images are loaded on first use and kept.

    Args:
        config: The search config.
        data: Training images (CIFAR-10 binary batches or ``DIR/<class>/<images>``).
        val: A validation folder, or ``""`` / ``None`` to hold out ``val_split`` training images.
        cache_dir: Unused (classification images are decoded in memory); kept for the evaluator
            signature every family shares.
        keep_weights: Return the trained weights (safetensors bytes) with each outcome.
    """

    def __init__(self, config: RenasSearchConfig, data: str, val: str | None, cache_dir: str | os.PathLike[str],
                 keep_weights: bool = True) -> None:
        self.config, self.data, self.val, self.keep_weights = config, data, val or None, keep_weights
        self.space = RenasSpace(config.num_blocks)
        self._data: SearchData | None = None
        self._validation: ClassSampleDataset | None = None
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _train_data(self, seed: int) -> TrainData:
        steps = LAYOUTS["cifar10"].preprocessing
        if self._data is None:
            self._data = load_search_data(self.config, self.data, self.val)
            self._validation = ClassSampleDataset(self._data.validation, steps.mean, steps.std, train=False)
        dataset = ClassSampleDataset(self._data.train, steps.mean, steps.std, seed, augment=True)
        return TrainData(dataset, len(self._data.train), self._validation, self._data.name, self._data.train.classes)

    def train_candidate(self, task: EvalTask) -> tuple[torch.nn.Module, dict[str, float]]:
        """Train one candidate as its task says; returns the trained network and its metrics."""
        kind = _kind(task.operator)
        data = self._train_data(task.seed)
        config = self.config.train_config(kind, task.genome, data=self.data, seed=task.seed,
                                          num_classes=len(data.classes))
        net = build_network(config)
        metrics: dict[str, float] = {}
        multipliers = None
        if kind == "child":
            if task.parent_genome is None or task.parent_weights is None:
                raise ConfigError(f"candidate {task.id} is a child but its task carries no parent weights")
            inheritance = inherit(net, self.space.parse(task.parent_genome), self.space.parse(task.genome),
                                  load(task.parent_weights))
            multipliers = inheritance.lr_multipliers(net, self.config.inherited_lr_ratio)
            inherited, new = inheritance.counts(net)
            metrics.update({"inherited_params": inherited, "new_params": new})
        result = train(config, None, data=data, net=net, lr_multipliers=multipliers, write_model_dir=False)
        metrics["top1"] = result.metrics["top1"]
        return result.model, metrics

    def evaluate(self, task: EvalTask) -> EvalOutcome:
        """Train and validate the candidate; an exception becomes a failed outcome."""
        started = time.perf_counter()
        try:
            model, metrics = self.train_candidate(task)
            weights = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}) \
                if self.keep_weights else None
            return EvalOutcome(task.id, metrics["top1"], metrics, time.perf_counter() - started, self.worker, weights)
        except Exception as err:  # a failed evaluation is recorded, the search goes on
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return EvalOutcome(task.id, None, None, time.perf_counter() - started, self.worker, error=detail[:2000])


# --------------------------------------------------------------------------------------------
# Budget


def estimate_budget(config: RenasSearchConfig, data: str, val: str | None, workers: int = 1,
                    steps: int = 3) -> Budget:
    """Time a few training steps of a random cell's search network and one validation pass,
    then scale by the run's training steps (initial population, children, final retraining)."""
    images = load_search_data(config, data, val)
    train_images, held = len(images.train), len(images.validation)
    cell = RenasSpace(config.num_blocks).random_cell(np.random.default_rng(config.seed))
    kinds = {"init": config.population, "child": config.steps * config.children_per_step,
             "final": config.population if config.final_epochs > 0 else 0}
    configs = {kind: config.train_config(kind, str(cell), data=data, seed=0, num_classes=len(images.train.classes))
               for kind in kinds}
    total = sum(count * configs[kind].total_steps(train_images) for kind, count in kinds.items())
    base = configs["child"]
    net = build_network(base).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=base.lr, momentum=base.momentum)
    x = torch.rand(base.batch_size, 3, config.image_size, config.image_size)
    labels = torch.zeros(base.batch_size, dtype=torch.long)
    times = []
    for index in range(steps + 1):
        started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if index:
            times.append(time.perf_counter() - started)
    net.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        net(torch.rand(min(held, 256), 3, config.image_size, config.image_size))
    per_image = (time.perf_counter() - started) / min(held, 256)
    return Budget(config.evaluations, total, held, statistics.median(times), per_image * held, workers)

