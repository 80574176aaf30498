"""Shared by the export tests: one small FALSR network, its core graph traced once, and a way to
make a genuinely wrong graph from a right one."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from falsr_zoo.families.falsr.falsr_net import FALSR

SMALL = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; out <- 0,1,2"


def perturbed(graph, initializer: str, delta: float):
    """A copy of an ONNX ``graph`` with ``delta`` added to one initializer: a genuinely wrong graph."""
    from onnx import numpy_helper

    wrong = copy.deepcopy(graph)
    tensor = next(t for t in wrong.graph.initializer if t.name == initializer)
    tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) + np.float32(delta), initializer))
    return wrong


@pytest.fixture(scope="session")
def small_model() -> FALSR:
    torch.manual_seed(0)
    return FALSR(SMALL).eval()


@pytest.fixture(scope="session")
def small_core(small_model: FALSR):
    """The core ONNX graph of :func:`small_model` (tracing takes seconds: once per session)."""
    from falsr_zoo.export import core_graph

    return core_graph(small_model)
