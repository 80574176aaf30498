"""Parameter inheritance: a child keeps its parent's tensors for every unchanged layer, only the
mutated layers are new, and fine-tuning gives the two learning rates to the right parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from falsr_zoo.families.renas.cell import parse_renas_cell
from falsr_zoo.families.renas.renas_net import RENASNet
from falsr_zoo.search.contracts import EvalTask
from falsr_zoo.search.renas.evaluator import RenasEvaluator
from falsr_zoo.search.renas.inherit import changed_slots, inherit, layer_of
from falsr_zoo.search.config import load_config
from falsr_zoo.train import engine

PARENT = "{0, 1, sep3x3, sep5x5}; {1, 2, identity, sep3x3}; {2, 0, avg3x3, sep3x3}"
# block 0: o2 sep5x5 -> sep7x7 (a mutated operator); block 1: i1 1 -> 0 (an input only); the cell
# still concatenates blocks 1 and 2
SAME_WIDTH = "{0, 1, sep3x3, sep7x7}; {0, 2, identity, sep3x3}; {2, 0, avg3x3, sep3x3}"
# blocks 1 and 2 stop reading block 0 (inputs only): blocks 0, 1 and 2 are all concatenated, the
# cell's output widens from 2F to 3F
WIDER = "{0, 1, sep3x3, sep5x5}; {1, 0, identity, sep3x3}; {1, 0, avg3x3, sep3x3}"
OPTIONS = {"layout": "cifar10", "num_cells": 1, "filters": 8, "stem_filters": 16, "num_classes": 3,
           "append_input0": False}

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(genome: str, seed: int) -> RENASNet:
    torch.manual_seed(seed)
    return RENASNet(genome, **OPTIONS)


def _trained_parent() -> dict[str, torch.Tensor]:
    parent = _net(PARENT, 0)
    with torch.no_grad():  # weights and batch-norm statistics unlike any fresh initialisation
        for tensor in parent.state_dict().values():
            if tensor.dtype.is_floating_point:
                tensor.add_(torch.randn_like(tensor))
            else:
                tensor.add_(7)
    return {k: v.clone() for k, v in parent.state_dict().items()}


def test_layers_and_changed_slots() -> None:
    assert layer_of("cells.3.blocks.1.0.1.weight") == "cells.3.blocks.1.0"
    assert layer_of("cells.0.preprocess1.1.weight") == "cells.0.preprocess1"
    assert layer_of("stem.1.running_mean") == "stem" and layer_of("classifier.bias") == "classifier"
    assert changed_slots(parse_renas_cell(PARENT, None), parse_renas_cell(SAME_WIDTH, None)) == {(0, 1)}


@pytest.mark.parametrize("child_genome", [SAME_WIDTH, WIDER])
def test_inherited_tensors_equal_the_parents_and_only_mutated_layers_are_new(child_genome: str) -> None:
    parent_state = _trained_parent()
    child = _net(child_genome, 1)
    fresh = {k: v.clone() for k, v in child.state_dict().items()}
    result = inherit(child, parse_renas_cell(PARENT, None), parse_renas_cell(child_genome, None), parent_state)
    state = child.state_dict()
    if child_genome == SAME_WIDTH:
        expected_new = {f"cells.{i}.blocks.0.1" for i in range(5)}  # the mutated operator, in every cell
    else:
        # no operator changed; wider cell outputs: the next cells' preprocess1 (and preprocess0 where it
        # reads the cell before the previous one) and the classifier change shape
        widths = {name for name, tensor in state.items() if tensor.shape != parent_state[name].shape}
        expected_new = {layer_of(name) for name in widths}
        assert expected_new == {"cells.1.preprocess1", "cells.2.preprocess0", "cells.2.preprocess1",
                                "cells.3.preprocess0", "cells.3.preprocess1", "cells.4.preprocess0",
                                "cells.4.preprocess1", "classifier"}  # cell 1's input 0 is the stem
    assert result.new == expected_new
    for name, tensor in state.items():
        if layer_of(name) in expected_new:
            assert torch.equal(tensor, fresh[name]), name  # the child's own initialisation
        else:
            assert torch.equal(tensor, parent_state[name]), name  # every unchanged layer, BN statistics too
    inherited, new = result.counts(child)
    assert new == sum(p.numel() for n, p in child.named_parameters() if layer_of(n) in expected_new) > 0
    assert inherited + new == sum(p.numel() for p in child.parameters()) and inherited > new


def test_fine_tuning_gives_the_two_learning_rates_to_the_right_parameters(renas_data: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(preset="renas-smoke", overrides=["num_blocks=3"])
    evaluator = RenasEvaluator(config, str(renas_data), None, "")
    parent = evaluator.evaluate(EvalTask(1, PARENT, 11, "init"))
    assert parent.error is None and parent.weights is not None
    captured = {}

    def optimizer(train_config, net, multipliers):
        made = original(train_config, net, multipliers)
        captured.update(net=net, optimizer=made, config=train_config)
        return made

    original = engine._optimizer
    monkeypatch.setattr(engine, "_optimizer", optimizer)
    outcome = evaluator.evaluate(EvalTask(2, SAME_WIDTH, 12, "controller", PARENT, parent.weights))
    assert outcome.error is None, outcome.error
    assert captured["config"].lr == 0.01 and captured["config"].schedule == "constant"
    assert captured["config"].epochs == 1.0 and captured["config"].optimizer == "sgd"
    lr_of = {id(p): group["base_lr"] for group in captured["optimizer"].param_groups for p in group["params"]}
    names = dict(captured["net"].named_parameters())
    mutated = {name for name in names if ".blocks.0.1." in name}
    assert mutated and all(lr_of[id(names[n])] == pytest.approx(0.01) for n in mutated)
    assert all(lr_of[id(p)] == pytest.approx(0.001) for n, p in names.items() if n not in mutated)
    assert outcome.metrics["new_params"] == sum(names[n].numel() for n in mutated)
    # from scratch (the initial population): every parameter at 0.01
    evaluator.evaluate(EvalTask(3, PARENT, 13, "init"))
    assert {group["base_lr"] for group in captured["optimizer"].param_groups} == {0.01}


def test_a_child_is_a_pure_function_of_its_task(renas_data: Path) -> None:
    config = load_config(preset="renas-smoke", overrides=["num_blocks=3"])
    parent = RenasEvaluator(config, str(renas_data), None, "").evaluate(EvalTask(1, PARENT, 11, "init"))
    task = EvalTask(2, WIDER, 12, "random", PARENT, parent.weights)
    a = RenasEvaluator(config, str(renas_data), None, "").evaluate(task)
    b = RenasEvaluator(config, str(renas_data), None, "").evaluate(task)
    assert a.error is None and a.weights == b.weights and a.metrics == b.metrics
