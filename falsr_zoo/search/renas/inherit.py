"""Parameter inheritance: a RENAS child starts from its parent's weights wherever its layers are unchanged.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019), Section
3 (parameter inheritance): a child keeps every parameter of its parent whose layer the mutation did not change; only
the mutated layers are new. It is then fine-tuned for one pass over the training set, the new
parameters at learning rate 0.01 and the inherited ones ten times lower (the training engine's
``lr_multipliers``).

**Layers.** The unit of inheritance is a layer of the builder
(:mod:`falsr_zoo.families.renas.renas_net`): the stem, the classifier, the auxiliary head, each
cell's ``preprocess0`` / ``preprocess1``, and each operator slot ``cells.<i>.blocks.<b>.<k>``
(operator ``k`` of block ``b``; the same cell is used for every normal and reduction cell, so a
mutated slot is new in every cell). A layer is inherited, all its tensors (batch-norm
statistics included), when

* it is not an operator slot whose operator the mutation changed (an input mutation changes no
  operator: the slot keeps its layer and only reads another tensor), and
* the parent has every one of its tensors with the same shapes. An input mutation can change
  which blocks the cell concatenates; where that changes the width of the cell's output, the
  next cell's ``preprocess`` convolution and the classifier change shape, so they are new.
  Where the width is unchanged they are kept, although a different block now feeds some of
  their input channels, as an inherited operator keeps its weights behind a mutated input.

New layers keep the child's own seeded initialisation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from falsr_zoo.families.renas.cell import RenasCell

__all__ = ["Inheritance", "changed_slots", "inherit", "layer_of"]


def layer_of(name: str) -> str:
    """The layer a state-dict key belongs to (``cells.3.blocks.1.0.1.weight`` -> ``cells.3.blocks.1.0``)."""
    parts = name.split(".")
    if parts[0] == "cells" and len(parts) > 2:
        return ".".join(parts[:5] if parts[2] == "blocks" else parts[:3])
    return parts[0]


def changed_slots(parent: RenasCell, child: RenasCell) -> set[tuple[int, int]]:
    """``(block, k)`` of every operator slot whose operator differs between the two cells."""
    return {(b, k) for b, (old, new) in enumerate(zip(parent.blocks, child.blocks))
            for k, (o_old, o_new) in enumerate(((old.o1, new.o1), (old.o2, new.o2))) if o_old != o_new}


def _slot(layer: str) -> tuple[int, int] | None:
    parts = layer.split(".")
    if len(parts) == 5 and parts[0] == "cells" and parts[2] == "blocks":
        return int(parts[3]), int(parts[4])
    return None


@dataclass(frozen=True)
class Inheritance:
    """What a child took from its parent.

    Attributes:
        inherited: Layers copied from the parent.
        new: Layers left at the child's initialisation.
    """

    inherited: frozenset[str]
    new: frozenset[str]

    def lr_multipliers(self, net: nn.Module, inherited_ratio: float) -> dict[str, float]:
        """Parameter name -> learning-rate multiplier: ``inherited_ratio`` for inherited
        parameters, 1 for new ones."""
        return {name: inherited_ratio if layer_of(name) in self.inherited else 1.0
                for name, _ in net.named_parameters()}

    def counts(self, net: nn.Module) -> tuple[int, int]:
        """``(inherited, new)`` parameter counts."""
        inherited = sum(p.numel() for name, p in net.named_parameters() if layer_of(name) in self.inherited)
        return inherited, sum(p.numel() for p in net.parameters()) - inherited


def inherit(net: nn.Module, parent: RenasCell, child: RenasCell, parent_state: Mapping[str, torch.Tensor]) -> Inheritance:
    """Copy the parent's tensors into ``net`` (built from ``child``) for every unchanged layer.

    Args:
        net: The child's network, freshly initialised.
        parent: The parent's cell.
        child: The child's cell (``net``'s).
        parent_state: The parent's state dict (same network options).

    Returns:
        Which layers were inherited and which are new.
    """
    state = net.state_dict()
    layers: dict[str, list[str]] = defaultdict(list)
    for key in state:
        layers[layer_of(key)].append(key)
    mutated = changed_slots(parent, child)
    inherited, new = set(), set()
    for layer, keys in layers.items():
        fits = all(key in parent_state and parent_state[key].shape == state[key].shape for key in keys)
        if fits and _slot(layer) not in mutated:
            inherited.add(layer)
            for key in keys:
                state[key] = parent_state[key].clone()
        else:
            new.add(layer)
    net.load_state_dict(state)
    return Inheritance(frozenset(inherited), frozenset(new))
