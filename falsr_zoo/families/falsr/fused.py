"""A CPU inference path for FALSR with oneDNN fused convolutions.

Eager PyTorch runs every convolution, bias, ReLU and residual addition as separate passes over
memory; the authors' TensorFlow graph fuses ``Conv2D + BiasAdd + Relu``. This module runs the
same network with ``torch.ops.mkldnn._convolution_pointwise`` (the op PyTorch's own compiler
emits for such fusions): ReLU is applied inside the convolution, and each bottleneck's
residual addition too. Weights are prepacked once into oneDNN's blocked layout (a copy the size of the weights). The result
equals :meth:`FALSR.forward` up to float rounding; the tests check it.

The family table names :func:`fused_forward` as FALSR's fast CPU path: the upscaler passes it
to the torch backend on CPU in float32 when the op exists; otherwise the eager module runs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from falsr_zoo.families.falsr.falsr_net import FALSR, InvertedCell, PlainCell

__all__ = ["FusedFALSR", "fused_forward", "fusion_available"]

_ONE = [1, 1]
_PACK_SIDE = 64
"""Spatial size the weights are prepacked for. Without an input size oneDNN prepacks for a
plain-layout input and every call of a channels-last convolution reorders the weights again
(12 reorders per FALSR-B call); with any size the format matches what the primitive uses at
every tile size measured (17x23 to 540x960), so the calls run on the prepacked copy."""


def fusion_available() -> bool:
    """Whether this PyTorch build has oneDNN and the fused convolution op."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


class _Conv:
    """One convolution with its static arguments, run through the fused op."""

    def __init__(self, conv: nn.Conv2d, weight: torch.Tensor | None = None) -> None:
        self.padding, self.groups = list(conv.padding), conv.groups
        self.bias = conv.bias.detach()
        # Prepacked into oneDNN's blocked layout once, instead of on every call.
        weight = conv.weight.detach() if weight is None else weight
        self.weight = torch.ops.mkldnn._reorder_convolution_weight(
            weight, self.padding, _ONE, _ONE, self.groups, [1, weight.shape[1] * self.groups, _PACK_SIDE, _PACK_SIDE]
        )

    def __call__(self, x: torch.Tensor, relu: bool = False, with_bias: bool = True) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias if with_bias else None, self.padding, _ONE, _ONE, self.groups,
            "relu" if relu else "none", [], "",
        )

    def accumulate(self, acc: torch.Tensor, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
        """``acc + conv(x)`` without bias: in place into ``acc``, or ReLU'd into a new tensor."""
        if relu:  # the in-place variant takes no unary post-op
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, acc, self.weight, None, self.padding, _ONE, _ONE, self.groups, "add", None, "relu", [], None
            )
        return torch.ops.mkldnn._convolution_pointwise_.binary(
            acc, x, self.weight, None, self.padding, _ONE, _ONE, self.groups, "add", None, None, [], None
        )

    def plus(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """``conv(x) + other`` in one pass (a new tensor; ``other`` is left alone)."""
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, self.weight, self.bias, self.padding, _ONE, _ONE, self.groups, "add", None, None, [], None
        )


class _SourcesConv:
    """A convolution over concatenated sources, without building the concatenation.

    ``conv(cat(x_0, ..., x_k), W)`` is computed as ``conv(x_0, W_0) + ... + conv(x_k, W_k)``
    with ``W`` split along its input channels, each partial accumulated in place by oneDNN's
    binary ``add`` post-op (the last one also applying the ReLU). This saves the copy of every source
    into a wide tensor, a third of FALSR-A's run time in channels-last layout. Grouped
    convolutions, whose groups would straddle sources, concatenate as usual.
    """

    def __init__(self, conv: nn.Conv2d, widths: list[int]) -> None:
        self.whole = _Conv(conv)
        self.split = conv.groups == 1 and len(widths) > 1
        if not self.split:
            return
        edges = [0]
        for width in widths:
            edges.append(edges[-1] + width)
        weight = conv.weight.detach()
        self.parts = [_Conv(conv, weight[:, a:b].contiguous()) for a, b in zip(edges[:-1], edges[1:])]

    def __call__(self, xs: list[torch.Tensor], relu: bool) -> torch.Tensor:
        if not self.split:
            return self.whole(xs[0] if len(xs) == 1 else torch.cat(xs, dim=1), relu=relu)
        acc = self.parts[0](xs[0], with_bias=True)
        last = len(xs) - 1
        for index, (part, x) in enumerate(zip(self.parts[1:], xs[1:]), start=1):
            acc = part.accumulate(acc, x, relu=relu and index == last)
        return acc


def _plain(cell: PlainCell, widths: list[int]) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    first_conv = _SourcesConv(cell.convs[0], widths)
    convs = [_Conv(c) for c in cell.convs[1:]]

    def run(xs: list[torch.Tensor]) -> torch.Tensor:
        first = x = first_conv(xs, relu=True)
        for conv in convs:
            x = conv(x, relu=True)
        return x.add_(first) if cell.skip else x

    return run


def _inverted(cell: InvertedCell, widths: list[int]) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    supple_conv = _SourcesConv(cell.supple, widths)
    blocks = [(_Conv(b.expand), _Conv(b.depthwise), _Conv(b.project)) for b in cell.blocks]

    def run(xs: list[torch.Tensor]) -> torch.Tensor:
        supple = x = supple_conv(xs, relu=False)
        for expand, depthwise, project in blocks:
            x = project.plus(depthwise(expand(x, relu=True), relu=True), x)
        return x.add_(supple) if cell.skip else x

    return run


_CELL_RUNNERS: dict[type, Callable[[nn.Module, list[int]], Callable[[list[torch.Tensor]], torch.Tensor]]] = {
    PlainCell: _plain,
    InvertedCell: _inverted,
}


def _depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """:class:`~falsr_zoo.families.falsr.falsr_net.DepthToSpace` for a channels-last ``x``, into channels-last.

    In channels-last memory the LR pixel ``(h, w)`` holds channels ``(i, j, c)`` and the HR
    pixel ``(h*b + i, w*b + j)`` wants ``c``: a copy of contiguous runs of ``b*C`` floats, an
    order of magnitude faster than the generic six-dimensional permutation followed by the
    convolution's own conversion back to channels-last. The values are the same.
    """
    n, c, h, w = x.shape
    out = x.permute(0, 2, 3, 1).reshape(n, h, w, block, c // block).transpose(2, 3).contiguous()
    return out.reshape(n, h * block, w * block, c // (block * block)).permute(0, 3, 1, 2)


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
        genome = model.genome
        widths = genome.source_widths
        self.sources = genome.sources
        self.stem, self.to_y = _Conv(model.stem), _Conv(model.to_y)
        self.fuse = _SourcesConv(model.fuse, [widths[s] for s in self.sources[-1]])
        self.cells = [
            _CELL_RUNNERS[type(cell)](cell, [widths[s] for s in reads]) for cell, reads in zip(model.cells, self.sources)
        ]

    def forward_y(self, y: torch.Tensor) -> torch.Tensor:
        stem = self.stem(y, relu=True)
        sources = [stem]
        for cell, reads in zip(self.cells, self.sources):
            sources.append(cell([sources[s] for s in reads]))
        fused = self.fuse([sources[s] for s in self.sources[-1]], relu=True).add_(stem)
        return self.to_y(_depth_to_space(fused, self.scale))

    def __call__(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        return self.model.to_rgb(self.forward_y(y), pbpr)


def fused_forward(model: FALSR) -> FusedFALSR | None:
    """The fused path for ``model`` when it can run it (a float32 CPU module, a oneDNN build), else ``None``."""
    param = next(model.parameters())
    if param.device.type != "cpu" or param.dtype != torch.float32 or not fusion_available():
        return None
    return FusedFALSR(model)
