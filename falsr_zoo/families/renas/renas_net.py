"""The one generic RENAS builder: a cell genome and a layout in, a classifier module out.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Section 4. Every structural detail is the authors' MXNet code's (``eval/symbol_renasnet.py``,
``eval/nasnet_utils.py``), as summarised in ``../shared/docs/renasnet-reference.md``:
ReLU -> conv -> BN ordering, separable convolutions applied twice, factorized reduction with
a one-pixel shift, average pooling that counts padding, no biases but the classifiers, batch
norm with epsilon 2e-5. The network's plan (cells, channels, which input is reduced how) comes
from :class:`~falsr_zoo.families.renas.plan.RenasNetSpec`, which also computes the costs.

What a trainer needs and the authors' evaluation code leaves out: the auxiliary head (built
when ``aux_head=True``; its logits come back with ``model(x, return_aux=True)``), drop-path
(``drop_path_prob``, scheduled by the trainer through :meth:`RENASNet.set_drop_path_prob`)
and dropout before the classifier.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from falsr_zoo.families.renas.cell import OPERATORS, Operator, RenasCell, parse_renas_cell
from falsr_zoo.families.pretrained import PretrainedMixin
from falsr_zoo.families.renas.plan import AUX_CHANNELS, AUX_POOL, BN_EPS, BN_MOMENTUM, CellPlan, RenasNetSpec

__all__ = ["OPS", "AuxiliaryHead", "ClassifierOutput", "FactorizedReduce", "RENASNet", "RenasCellModule", "SeparableConv"]


def _bn(channels: int, eps: float = BN_EPS) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=eps, momentum=BN_MOMENTUM)


class ReLUConvBN(nn.Sequential):
    """ReLU -> 1x1 conv -> BN: the authors' ``Squeeze_channels``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), _bn(cout))


class SeparableConv(nn.Sequential):
    """Twice (ReLU -> depthwise k x k -> pointwise 1x1 -> BN), the first with ``stride``."""

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        layers: list[nn.Module] = []
        for s in (stride, 1):
            layers += [
                nn.ReLU(),
                nn.Conv2d(channels, channels, kernel, s, kernel // 2, groups=channels, bias=False),
                nn.Conv2d(channels, channels, 1, bias=False),
                _bn(channels),
            ]
        super().__init__(*layers)


class FactorizedReduce(nn.Module):
    """Halve the resolution of a map and bring it to ``cout`` channels (``cout`` even).

    ReLU, then two paths each a stride-2 1x1 average pool and a 1x1 conv to ``cout / 2``; the
    second path is shifted by one pixel (pad bottom/right, crop top/left) so the two paths
    sample complementary pixels; concatenated; BN.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.path1 = nn.Conv2d(cin, cout // 2, 1, bias=False)
        self.path2 = nn.Conv2d(cin, cout // 2, 1, bias=False)
        self.bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        # A 1x1 average pool with stride 2 is plain subsampling.
        return self.bn(torch.cat((self.path1(x[:, :, ::2, ::2]), self.path2(shifted[:, :, ::2, ::2])), 1))


def _separable(op: Operator, channels: int, stride: int) -> nn.Module:
    return SeparableConv(channels, op.kernel, stride)


def _avg_pool(op: Operator, channels: int, stride: int) -> nn.Module:
    # MXNet's average pooling divides by the full window, padding included.
    return nn.AvgPool2d(op.kernel, stride, op.kernel // 2, count_include_pad=True)


def _max_pool(op: Operator, channels: int, stride: int) -> nn.Module:
    return nn.MaxPool2d(op.kernel, stride, op.kernel // 2)


def _identity(op: Operator, channels: int, stride: int) -> nn.Module:
    # The authors' code turns a stride-2 identity into a 3x3 max pool.
    return nn.Identity() if stride == 1 else nn.MaxPool2d(3, stride, 1)


_KIND_FACTORIES: dict[str, Callable[[Operator, int, int], nn.Module]] = {
    "separable": _separable,
    "avg_pool": _avg_pool,
    "max_pool": _max_pool,
    "identity": _identity,
}
OPS: dict[str, Callable[[int, int], nn.Module]] = {
    name: (lambda channels, stride, op=op: _KIND_FACTORIES[op.kind](op, channels, stride))
    for name, op in OPERATORS.items()
}
"""Operator name -> factory ``(channels, stride) -> module``, derived from the operator table."""


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``prob`` and rescale the rest (NASNet's DropPath)."""
    keep = 1.0 - prob
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


def _input0_module(plan: CellPlan) -> nn.Module:
    if plan.input0 == "identity":
        return nn.Identity()
    if plan.input0 == "factorized":
        return FactorizedReduce(plan.in0_channels, plan.filters)
    return ReLUConvBN(plan.in0_channels, plan.filters)


def _op_stride(plan: CellPlan, source: int) -> int:
    # Reduction cells reduce where they read the two cell inputs; blocks are already reduced.
    return 2 if plan.reduction and source < 2 else 1


class RenasCellModule(nn.Module):
    """One cell: inputs brought to ``F`` channels, ``#B`` blocks, outputs concatenated."""

    def __init__(self, cell: RenasCell, plan: CellPlan, append_input0: bool) -> None:
        super().__init__()
        self.preprocess0 = _input0_module(plan)
        self.preprocess1 = ReLUConvBN(plan.in1_channels, plan.filters)
        self.inputs = tuple(block.inputs for block in cell.blocks)
        self.blocks = nn.ModuleList(
            nn.ModuleList(OPS[op.name](plan.filters, _op_stride(plan, i)) for op, i in block.pairs)
            for block in cell.blocks
        )
        self.skip_drop_path = tuple(
            tuple(isinstance(op, nn.Identity) for op in ops) for ops in self.blocks
        )
        self.concat = tuple(b + 2 for b in cell.output_blocks)
        if append_input0 and not plan.reduction:
            self.concat += (0,)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for ops, inputs, skips in zip(self.blocks, self.inputs, self.skip_drop_path):
            outs = [op(states[i]) for op, i in zip(ops, inputs)]
            if drop_prob > 0.0:
                # As in NASNet and DARTS, parameter-free identities are never dropped.
                outs = [o if skip else drop_path(o, drop_prob) for o, skip in zip(outs, skips)]
            states.append(outs[0] + outs[1])
        if len(self.concat) == 1:
            return states[self.concat[0]]
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """ReLU, 5x5/3 average pool, 1x1 conv 128, BN, ReLU, conv over the whole map to 768, BN,
    ReLU, dropout, classifier. Sized for one input resolution (the map side ``map_size``)."""

    def __init__(self, channels: int, num_classes: int, map_size: int, dropout: float) -> None:
        super().__init__()
        mid, out = AUX_CHANNELS
        self.map_size = map_size
        self.features = nn.Sequential(
            nn.ReLU(),
            nn.AvgPool2d(*AUX_POOL),
            nn.Conv2d(channels, mid, 1, bias=False),
            _bn(mid),
            nn.ReLU(),
            nn.Conv2d(mid, out, map_size, bias=False),
            _bn(out),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = AUX_POOL
        pooled = tuple((side - kernel) // stride + 1 for side in x.shape[-2:])
        if pooled != (self.map_size, self.map_size):
            raise ValueError(
                f"the auxiliary head was built for a {self.map_size}x{self.map_size} pooled map, "
                f"got {pooled[0]}x{pooled[1]}; build the network with image_size= the training input size"
            )
        return self.classifier(self.dropout(self.features(x).flatten(1)))


class ClassifierOutput(NamedTuple):
    """What ``model(x, return_aux=True)`` returns."""

    logits: torch.Tensor
    aux_logits: torch.Tensor | None


class RENASNet(
    nn.Module,
    PretrainedMixin,
    coders={RenasCell: (str, lambda text: parse_renas_cell(text, num_blocks=None))},
    pipeline_tag="image-classification",
    tags=["image-classification", "renas"],
):
    """A RENAS network built from a cell genome in the ImageNet or CIFAR-10 layout.

    Args:
        genome: The cell (a :class:`~falsr_zoo.families.renas.cell.RenasCell` or genome string, any
            ``#B``); used for normal and reduction cells alike.
        layout: ``"imagenet"`` (stem conv, two reduction stem cells) or ``"cifar10"``.
        num_cells: ``N``, normal cells per stage.
        filters: ``F``, filters of the first stage.
        num_classes: Classifier outputs (default: the layout's).
        stem_filters: Stem filters (default: the layout's).
        append_input0: Normal cells append their input 0 to their output (authors' code).
        aux_head: Build the auxiliary head after stage 2 (for training).
        dropout: Dropout before the classifier(s) (default: the layout's, 0.5 / 0.2).
        drop_path_prob: Drop-path probability applied in training mode.
        image_size: Input side the auxiliary head is sized for (default: the layout's).

    Example:
        >>> net = RENASNet("{0, 1, sep3x3, identity}", layout="cifar10", num_cells=1, filters=8)
        >>> net(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    family = "renas"

    def __init__(
        self,
        genome: RenasCell | str,
        *,
        layout: str,
        num_cells: int,
        filters: int,
        num_classes: int | None = None,
        stem_filters: int | None = None,
        append_input0: bool = True,
        aux_head: bool = False,
        dropout: float | None = None,
        drop_path_prob: float = 0.0,
        image_size: int | None = None,
    ) -> None:
        super().__init__()
        cell = parse_renas_cell(genome, num_blocks=None) if isinstance(genome, str) else genome
        self.spec = RenasNetSpec(cell, layout, num_cells, filters, num_classes, stem_filters, append_input0)
        self.genome = cell
        spec, rules = self.spec, self.spec.layout_spec
        self.image_size = image_size or rules.image_size
        self.stem = nn.Sequential(
            nn.Conv2d(3, spec.stem_filters, 3, rules.stem_stride, rules.stem_padding, bias=False),
            _bn(spec.stem_filters, rules.stem_bn_eps),
        )
        self.cells = nn.ModuleList(RenasCellModule(cell, plan, append_input0) for plan in spec.cells())
        dropout = rules.dropout if dropout is None else dropout
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(spec.out_channels, spec.num_classes)
        self.aux_index = spec.aux_index
        self.aux_head = (
            AuxiliaryHead(spec.cells()[self.aux_index].out_channels, spec.num_classes,
                          spec.aux_map_size(self.image_size), dropout)
            if aux_head else None
        )
        self.drop_path_prob = 0.0
        self.set_drop_path_prob(drop_path_prob)

    @property
    def preprocessing(self) -> dict[str, Any]:
        """How images are prepared for this layout (resize, crop, mean, std)."""
        return self.spec.layout_spec.preprocessing.as_dict()

    @property
    def labels(self) -> tuple[str, ...]:
        """The layout's class names, when it has a short fixed list (CIFAR-10), else ``()``."""
        return self.spec.layout_spec.labels

    def set_drop_path_prob(self, prob: float) -> None:
        """Set the drop-path probability used in training mode (trainers raise it over epochs)."""
        if not 0.0 <= prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {prob}")
        self.drop_path_prob = float(prob)

    def forward(self, x: torch.Tensor, *, return_aux: bool = False) -> torch.Tensor | ClassifierOutput:
        """Logits ``(N, num_classes)``; with ``return_aux`` a :class:`ClassifierOutput` whose
        ``aux_logits`` is ``None`` when the network has no auxiliary head."""
        s0 = s1 = self.stem(x)
        drop_prob = self.drop_path_prob if self.training else 0.0
        aux_input = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, drop_prob)
            if index == self.aux_index:
                aux_input = s1
        pooled = F.adaptive_avg_pool2d(F.relu(s1), 1).flatten(1)
        logits = self.classifier(self.dropout(pooled))
        if not return_aux:
            return logits
        aux = self.aux_head(aux_input) if self.aux_head is not None else None
        return ClassifierOutput(logits, aux)
