"""RENAS networks: a cell stacked in a layout, its plan and its analytic costs.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Section 4. :class:`RenasNetSpec` stacks a cell NASNet-style in one of the :data:`LAYOUTS`
(the mobile ImageNet layout or the CIFAR-10 one), following the authors' MXNet code
(``eval/symbol_renasnet.py``, ``eval/nasnet_utils.py``; see
``../shared/docs/renasnet-reference.md``), and computes the network's plan, parameter count
and mult-adds. Pure Python (no torch): the CLI and a search can cost networks cheaply; the
tests recount the costs on built modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Mapping

from falsr_zoo.errors import GenomeError
from falsr_zoo.families.renas.cell import Operator, RenasCell, parse_renas_cell

__all__ = [
    "AUX_CHANNELS",
    "AUX_POOL",
    "BN_EPS",
    "BN_MOMENTUM",
    "CIFAR10_LABELS",
    "CIFAR10_PREPROCESSING",
    "IMAGENET_PREPROCESSING",
    "LAYOUTS",
    "CellPlan",
    "Layout",
    "Preprocessing",
    "RenasNetSpec",
]

@dataclass(frozen=True)
class Preprocessing:
    """How an RGB image becomes the network's input (what weights for a layout expect).

    Attributes:
        resize: Shorter side after resizing, or ``None`` for no resize.
        crop: Side of the centre crop.
        mean: Per-channel (R, G, B) mean, for pixels scaled to [0, 1].
        std: Per-channel standard deviation, same scale.
        interpolation: Resampling filter of the resize (PIL's name).
    """

    resize: int | None
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for registry metadata and cards."""
        return asdict(self)


# The authors' evaluation (eval/eval.py) feeds RGB pixels minus (123.68, 116.78, 103.94),
# times 0.017; in [0, 1] units that is the mean below and std 1 / (0.017 * 255) per channel.
# Resizing the shorter side to 256 before the 224 centre crop is the usual packing of the
# ImageNet validation records their iterator reads (the packing itself is not in their code).
IMAGENET_PREPROCESSING = Preprocessing(
    resize=256,
    crop=224,
    mean=(123.68 / 255, 116.78 / 255, 103.94 / 255),
    std=(1 / (0.017 * 255),) * 3,
)
# CIFAR-10 statistics of the training set, as in the NASNet/DARTS CIFAR pipelines; the
# authors published no CIFAR-10 input pipeline.
CIFAR10_PREPROCESSING = Preprocessing(
    resize=32,  # a no-op on CIFAR-10's own 32x32 images; lets any photo be classified
    crop=32,
    mean=(0.49139968, 0.48215827, 0.44653124),
    std=(0.24703233, 0.24348505, 0.26158768),
)
CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class Layout:
    """How a task stacks the cell (the authors' ``renasnet_backbone``).

    Attributes:
        name: Key of :data:`LAYOUTS`.
        stem_filters: Filters of the stem convolution.
        stem_stride: Its stride.
        stem_padding: Its padding.
        stem_bn_eps: Epsilon of the stem's batch norm.
        stem_cells: Reduction cells between the stem convolution and the first stage, as
            divisors of ``F`` (ImageNet: ``F/4`` then ``F/2``).
        num_classes: Classifier outputs.
        dropout: Dropout before the classifier (and in the auxiliary head).
        image_size: The input side the layout is designed for (sizes the auxiliary head).
        preprocessing: Input preparation for the layout's data set.
        labels: Class names, when the layout's data set has a short fixed list.
    """

    name: str
    stem_filters: int
    stem_stride: int
    stem_padding: int
    stem_bn_eps: float
    stem_cells: tuple[int, ...]
    num_classes: int
    dropout: float
    image_size: int
    preprocessing: Preprocessing
    labels: tuple[str, ...] = ()


BN_EPS = 2e-5
"""Batch-norm epsilon of the authors' code (``nasnet_utils.eps``)."""
BN_MOMENTUM = 0.1
"""PyTorch momentum equal to MXNet's ``momentum=0.9``."""
NUM_STAGES = 3
AUX_CHANNELS = (128, 768)
AUX_POOL = (5, 3)
"""Kernel and stride of the auxiliary head's average pooling."""

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("imagenet", stem_filters=32, stem_stride=2, stem_padding=0, stem_bn_eps=BN_EPS,
               stem_cells=(4, 2), num_classes=1000, dropout=0.5, image_size=224,
               preprocessing=IMAGENET_PREPROCESSING),
        # The authors' CIFAR-10 stem batch norm leaves MXNet's default epsilon, 1e-3.
        Layout("cifar10", stem_filters=96, stem_stride=1, stem_padding=1, stem_bn_eps=1e-3,
               stem_cells=(), num_classes=10, dropout=0.2, image_size=32,
               preprocessing=CIFAR10_PREPROCESSING, labels=CIFAR10_LABELS),
    )
}
"""The two layouts of Section 4: mobile ImageNet (224x224) and CIFAR-10 (32x32)."""


@dataclass(frozen=True)
class CellPlan:
    """One cell of a network, as the builder makes it.

    Attributes:
        index: Position in the network (stem cells first).
        stage: ``"stem"``, ``"stage1"`` .. ``"stage3"`` or ``"reduction1"``, ``"reduction2"``.
        reduction: Whether the cell halves the resolution.
        filters: ``F`` of the cell: channels of every block.
        in0_channels: Channels of the tensor behind input 0 (the cell before the previous
            one, or the previous one when there is none).
        in1_channels: Channels of the previous cell's output.
        input0: How input 0 is brought to ``filters`` channels: ``"identity"`` (already
            ``filters`` channels, first cell only), ``"squeeze"`` (ReLU, 1x1 conv, BN) or
            ``"factorized"`` (factorized reduction of a map at twice the resolution).
        out_channels: Channels of the cell's output.
    """

    index: int
    stage: str
    reduction: bool
    filters: int
    in0_channels: int
    in1_channels: int
    input0: str
    out_channels: int


@dataclass(frozen=True)
class RenasNetSpec:
    """A whole RENAS network: a cell stacked in a layout. Pure Python; costs computed here.

    Attributes:
        cell: The cell genome (the same for normal and reduction cells, as in RENASNet).
        layout: A key of :data:`LAYOUTS`.
        num_cells: ``N``, normal cells per stage.
        filters: ``F``, the first stage's filters (doubled at each reduction).
        num_classes: Classifier outputs; ``None`` takes the layout's.
        stem_filters: Stem convolution filters; ``None`` takes the layout's.
        append_input0: Normal cells append their (adjusted) input 0 to the output, as the
            authors' code does (``bang=True``); the paper's figures describe cells without it.
    """

    cell: RenasCell
    layout: str
    num_cells: int
    filters: int
    num_classes: int | None = None
    stem_filters: int | None = None
    append_input0: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.cell, str):
            object.__setattr__(self, "cell", parse_renas_cell(self.cell, num_blocks=None))
        if not isinstance(self.cell, RenasCell):
            raise GenomeError(f"cell must be a RenasCell or a genome string, got {self.cell!r}")
        if self.layout not in LAYOUTS:
            raise GenomeError(
                f"unknown layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}", token=str(self.layout)
            )
        layout = LAYOUTS[self.layout]
        if self.num_classes is None:
            object.__setattr__(self, "num_classes", layout.num_classes)
        if self.stem_filters is None:
            object.__setattr__(self, "stem_filters", layout.stem_filters)
        for name in ("num_cells", "filters", "num_classes", "stem_filters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GenomeError(f"{name} must be a positive integer, got {value!r}", token=f"{name}={value}")
        if not isinstance(self.append_input0, bool):
            raise GenomeError(f"append_input0 must be a bool, got {self.append_input0!r}")
        for plan in self.cells():
            if plan.input0 == "factorized" and plan.filters % 2:
                raise GenomeError(
                    f"filters={self.filters} gives cell {plan.index} ({plan.stage}) {plan.filters} filters, "
                    "but a factorized reduction splits them in two halves; choose an F that keeps them even",
                    token=f"filters={self.filters}",
                )

    @classmethod
    def from_options(cls, cell: RenasCell | str, options: Mapping[str, Any]) -> RenasNetSpec:
        """The spec part of a builder's options (training-only options are ignored)."""
        names = {f.name for f in fields(cls)} - {"cell"}
        return cls(cell, **{k: v for k, v in options.items() if k in names})

    @property
    def layout_spec(self) -> Layout:
        """The :class:`Layout` row."""
        return LAYOUTS[self.layout]

    def to_string(self, sep: str = "; ") -> str:
        """The cell's canonical genome string."""
        return self.cell.to_string(sep)

    def cells(self) -> tuple[CellPlan, ...]:
        """Every cell in order: stem cells, then 3 stages of ``N`` normal cells with a
        reduction cell between stages (filters ``F``, ``2F``, ``4F``)."""
        layout = self.layout_spec
        f = self.filters
        stages = [("stem", True, f // d) for d in layout.stem_cells]
        for stage in range(NUM_STAGES):
            if stage:
                stages.append((f"reduction{stage}", True, f * 2**stage))
            stages += [(f"stage{stage + 1}", False, f * 2**stage)] * self.num_cells
        plans: list[CellPlan] = []
        # (channels, relative scale) of the previous two outputs; the first cell sees the stem twice.
        prev_prev = prev = (self.stem_filters, 0)
        for index, (stage, reduction, filters) in enumerate(stages):
            input0 = _input0_mode(index, prev_prev, prev, filters)
            out = filters * self.cell.num_outputs(reduction, self.append_input0)
            plans.append(CellPlan(index, stage, reduction, filters, prev_prev[0], prev[0], input0, out))
            prev_prev, prev = prev, (out, prev[1] + int(reduction))
        return tuple(plans)

    @property
    def aux_index(self) -> int:
        """Index of the cell the auxiliary head reads: the last normal cell of stage 2."""
        return max(p.index for p in self.cells() if p.stage == "stage2")

    @property
    def out_channels(self) -> int:
        """Channels before global pooling and the classifier."""
        return self.cells()[-1].out_channels

    def resolutions(self, height: int, width: int) -> list[tuple[int, int]]:
        """Output ``(height, width)`` of the stem, then of every cell, for an input size."""
        layout = self.layout_spec
        size = (
            _conv_out(height, 3, layout.stem_stride, layout.stem_padding),
            _conv_out(width, 3, layout.stem_stride, layout.stem_padding),
        )
        sizes = [size]
        for plan in self.cells():
            if plan.reduction:
                size = (_halve(size[0]), _halve(size[1]))
            sizes.append(size)
        return sizes

    def aux_map_size(self, image_size: int) -> int:
        """Side of the auxiliary head's map after its 5x5 / stride-3 pooling.

        Raises:
            GenomeError: if the map after stage 2 is smaller than the pooling window.
        """
        side = min(self.resolutions(image_size, image_size)[self.aux_index + 1])
        kernel, stride = AUX_POOL
        if side < kernel:
            raise GenomeError(
                f"an auxiliary head needs a map of at least {kernel}x{kernel} after stage 2; "
                f"{image_size}x{image_size} inputs give {side}x{side}",
                token=f"image_size={image_size}",
            )
        return (side - kernel) // stride + 1

    def num_params(self) -> int:
        """Parameters of the network (batch-norm affine included, auxiliary head excluded)."""
        total = _conv_params(3, self.stem_filters, 3) + _bn_params(self.stem_filters)
        total += sum(self._cell_params(plan) for plan in self.cells())
        return total + self.out_channels * self.num_classes + self.num_classes

    def aux_head_params(self, image_size: int | None = None) -> int:
        """Parameters of the auxiliary head for ``image_size`` inputs (default: the layout's)."""
        k = self.aux_map_size(image_size or self.layout_spec.image_size)
        mid, out = AUX_CHANNELS
        channels = self.cells()[self.aux_index].out_channels
        return (
            _conv_params(channels, mid, 1) + _bn_params(mid) + _conv_params(mid, out, k) + _bn_params(out)
            + out * self.num_classes + self.num_classes
        )

    def macs(self, height: int, width: int) -> int:
        """Multiply-accumulates for one ``height x width`` image, auxiliary head excluded.

        Counts every convolution at its own resolution (depthwise at its true cost) and the
        classifier; pools, batch norms, additions and biases are not counted.
        """
        sizes = self.resolutions(height, width)
        total = _conv_params(3, self.stem_filters, 3) * sizes[0][0] * sizes[0][1]
        for plan, (h_in, w_in), (h_out, w_out) in zip(self.cells(), sizes, sizes[1:]):
            total += self._cell_macs(plan, h_in * w_in, h_out * w_out)
        return total + self.out_channels * self.num_classes

    def _cell_params(self, plan: CellPlan) -> int:
        f = plan.filters
        total = _conv_params(plan.in1_channels, f, 1) + _bn_params(f)
        if plan.input0 != "identity":  # factorized: two 1x1 convs to f/2, same count as one to f
            total += _conv_params(plan.in0_channels, f, 1) + _bn_params(f)
        return total + sum(_separable_params(f, op.kernel) for op in self._ops() if op.has_weights)

    def _cell_macs(self, plan: CellPlan, pixels_in: int, pixels_out: int) -> int:
        f = plan.filters
        total = plan.in1_channels * f * pixels_in
        if plan.input0 != "identity":  # a factorized reduction's output has the input's size too
            total += plan.in0_channels * f * pixels_in
        per_pixel = sum(_separable_params(f, op.kernel, bn=False) for op in self._ops() if op.has_weights)
        return total + per_pixel * pixels_out

    def _ops(self) -> Iterable[Operator]:
        return (op for block in self.cell.blocks for op, _ in block.pairs)


def _input0_mode(index: int, prev_prev: tuple[int, int], prev: tuple[int, int], filters: int) -> str:
    if prev_prev[1] < prev[1]:
        return "factorized"
    if index == 0 and prev_prev[0] == filters:
        return "identity"
    return "squeeze"


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _halve(size: int) -> int:
    """Output side of every stride-2 operator of a reduction cell (odd kernel, padding k // 2)."""
    return (size + 1) // 2


def _conv_params(cin: int, cout: int, kernel: int) -> int:
    return kernel * kernel * cin * cout


def _bn_params(channels: int) -> int:
    return 2 * channels


def _separable_params(channels: int, kernel: int, bn: bool = True) -> int:
    """Two (depthwise k x k, pointwise 1x1[, BN]) stages; also mult-adds per output pixel."""
    stage = channels * kernel * kernel + channels * channels + (_bn_params(channels) if bn else 0)
    return 2 * stage
