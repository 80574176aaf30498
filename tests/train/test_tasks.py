"""The tasks' losses on batches whose values are worked out here by hand (L1 or L2; cross-entropy plus the auxiliary head)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from falsr_zoo.train import make_config
from falsr_zoo.train.tasks import Classification, SuperResolution
from tests.train.conftest import TINY, TINY_CELL

RENAS_OPTIONS = {"layout": "cifar10", "num_cells": 1, "filters": 8}


class _Fixed(nn.Module):
    """A stand-in network whose output is given: the loss is then a closed-form number."""

    def __init__(self, *outputs: torch.Tensor) -> None:
        super().__init__()
        self.outputs = outputs

    def forward(self, x: torch.Tensor, return_aux: bool = False):
        return self.outputs if return_aux else self.outputs[0]


# output - target = [0.5, -0.25, 2, 0] (image 1) and [-1.5, 0.75, 0, 0.25] (image 2)
_DIFFERENCES = [0.5, -0.25, 2.0, 0.0, -1.5, 0.75, 0.0, 0.25]
_TARGET = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


@pytest.mark.parametrize(("loss", "expected"), [
    ("l1", sum(abs(d) for d in _DIFFERENCES) / 8),  # 5.25 / 8
    ("l2", sum(d * d for d in _DIFFERENCES) / 8),   # 7.375 / 8
])
def test_the_sr_loss_is_the_mean_l1_or_l2_error_on_the_hr_luma(loss: str, expected: float) -> None:
    config = make_config("falsr", TINY, data="unused", overrides=[f"loss={loss}"])
    target = torch.tensor(_TARGET).reshape(2, 1, 2, 2)
    output = target + torch.tensor(_DIFFERENCES).reshape(2, 1, 2, 2)
    low_resolution = torch.zeros(2, 1, 1, 1)
    value = SuperResolution().loss(_Fixed(output), (low_resolution, target), torch.device("cpu"), config)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_the_sr_loss_defaults_to_l1_as_the_paper_trains() -> None:
    assert make_config("falsr", TINY, data="unused").loss == "l1"
    assert make_config("falsr", TINY, data="unused", recipe="full").loss == "l1"


def _cross_entropy(logits: list[float], label: int) -> float:
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


def test_the_classification_loss_adds_the_weighted_auxiliary_cross_entropy() -> None:
    logits = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]
    aux = [[0.0, 1.0, 0.0], [3.0, 0.0, 0.0]]
    labels = [0, 2]
    batch = (torch.zeros(2, 3, 4, 4), torch.tensor(labels))
    module = _Fixed(torch.tensor(logits), torch.tensor(aux))
    main = sum(_cross_entropy(row, label) for row, label in zip(logits, labels)) / 2
    side = sum(_cross_entropy(row, label) for row, label in zip(aux, labels)) / 2
    for weight, expected in ((0.0, main), (0.4, main + 0.4 * side)):
        config = make_config("renas", TINY_CELL, data="unused", options=RENAS_OPTIONS,
                             overrides=[f"aux_weight={weight}"])
        value = Classification().loss(module, batch, torch.device("cpu"), config)
        assert value.item() == pytest.approx(expected, rel=1e-6), weight
