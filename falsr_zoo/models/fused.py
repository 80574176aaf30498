"""A CPU inference path for FALSR with oneDNN fused convolutions.

Eager PyTorch runs every convolution, bias, ReLU and residual addition as separate passes over
memory; the authors' TensorFlow graph fuses ``Conv2D + BiasAdd + Relu``. This module runs the
same network with ``torch.ops.mkldnn._convolution_pointwise`` (the op PyTorch's own compiler
emits for such fusions): ReLU is applied inside the convolution, and each bottleneck's
residual addition too. Weights are prepacked once into oneDNN's blocked layout (a copy the size of the weights). The result
equals :meth:`FALSR.forward` up to float rounding; the tests check it.

Used by the torch backend on CPU in float32 when the op exists; otherwise the eager module
runs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from falsr_zoo.models.falsr import FALSR, InvertedCell, PlainCell, _gather

__all__ = ["FusedFALSR", "fusion_available"]

_ONE = [1, 1]


def fusion_available() -> bool:
    """Whether this PyTorch build has oneDNN and the fused convolution op."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


class _Conv:
    """One convolution with its static arguments, run through the fused op."""

    def __init__(self, conv: nn.Conv2d) -> None:
        self.padding, self.groups = list(conv.padding), conv.groups
        self.bias = conv.bias.detach()
        # Prepacked into oneDNN's blocked layout once, instead of on every call.
        self.weight = torch.ops.mkldnn._reorder_convolution_weight(
            conv.weight.detach(), self.padding, _ONE, _ONE, self.groups
        )

    def __call__(self, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias, self.padding, _ONE, _ONE, self.groups, "relu" if relu else "none", [], ""
        )

    def plus(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """``conv(x) + other`` in one pass (a new tensor; ``other`` is left alone)."""
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, self.weight, self.bias, self.padding, _ONE, _ONE, self.groups, "add", None, None, [], None
        )


def _plain(cell: PlainCell) -> Callable[[torch.Tensor], torch.Tensor]:
    convs = [_Conv(c) for c in cell.convs]

    def run(x: torch.Tensor) -> torch.Tensor:
        first = x = convs[0](x, relu=True)
        for conv in convs[1:]:
            x = conv(x, relu=True)
        return x.add_(first) if cell.skip else x

    return run


def _inverted(cell: InvertedCell) -> Callable[[torch.Tensor], torch.Tensor]:
    supple_conv = _Conv(cell.supple)
    blocks = [(_Conv(b.expand), _Conv(b.depthwise), _Conv(b.project)) for b in cell.blocks]

    def run(x: torch.Tensor) -> torch.Tensor:
        supple = x = supple_conv(x)
        for expand, depthwise, project in blocks:
            x = project.plus(depthwise(expand(x, relu=True), relu=True), x)
        return x.add_(supple) if cell.skip else x

    return run


_CELL_RUNNERS: dict[type, Callable[[nn.Module], Callable[[torch.Tensor], torch.Tensor]]] = {
    PlainCell: _plain,
    InvertedCell: _inverted,
}


class FusedFALSR:
    """Callable with :meth:`FALSR.forward`'s contract, running fused oneDNN convolutions.

    Args:
        model: A float32 FALSR module on the CPU; later changes to its weights are not seen.
    """

    def __init__(self, model: FALSR) -> None:
        if not fusion_available():
            raise RuntimeError("this PyTorch build has no oneDNN fused convolution")
        self.model = model
        self.scale = model.scale
        self.stem, self.fuse, self.to_y = _Conv(model.stem), _Conv(model.fuse), _Conv(model.to_y)
        self.cells = [_CELL_RUNNERS[type(cell)](cell) for cell in model.cells]
        self.sources = model.genome.sources

    def forward_y(self, y: torch.Tensor) -> torch.Tensor:
        stem = self.stem(y, relu=True)
        sources = [stem]
        for cell, reads in zip(self.cells, self.sources):
            sources.append(cell(_gather(sources, reads)))
        fused = self.fuse(_gather(sources, self.sources[-1]), relu=True).add_(stem)
        return self.to_y(self.model.upsample(fused))

    def __call__(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        return self.model.to_rgb(self.forward_y(y), pbpr)
