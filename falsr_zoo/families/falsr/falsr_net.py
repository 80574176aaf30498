"""The one generic FALSR builder: a :class:`~falsr_zoo.families.falsr.genome.Genome` in, a module out.

The module computes exactly what the authors' frozen graphs compute (see
``docs/official-release.md`` in the shared data): Y + PbPr design, ReLU activations, "SAME"
padding, concatenated cell inputs, a global residual from the stem, TensorFlow-ordered
depth-to-space, and a fixed YCbCr -> RGB colour step whose constants are the graphs' float32
values, kept as (non-persistent) buffers rather than parameters.

The weights file of a model directory (``save_pretrained``) describes its own architecture: beside
the state dict it holds the genome as a ``uint8`` tensor (:data:`GENOME_KEY`,
:meth:`FALSR.architecture_tensors`), so loaders that see only the tensors (spandrel, hence ComfyUI
and chaiNNer) can rebuild the network.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from falsr_zoo.families.falsr.colour import CHROMA_OFFSET, COLOR_BIAS, COLOR_KERNEL, PIXEL_MAX
from falsr_zoo.families.falsr.genome import STEM_WIDTH, UPSAMPLE_WIDTH, CellSpec, Genome, parse_genome
from falsr_zoo.families.pretrained import PretrainedMixin

__all__ = ["FALSR", "DepthToSpace", "InvertedCell", "PlainCell", "CELL_BUILDERS", "GENOME_KEY", "genome_tensor"]

GENOME_KEY = "falsr_genome"
"""Tensor name of the genome in a weights file: a ``uint8`` vector of the canonical genome string's UTF-8 bytes."""


def genome_tensor(genome: Genome) -> torch.Tensor:
    """The :data:`GENOME_KEY` tensor of ``genome``: its canonical string's UTF-8 bytes, ``uint8``."""
    return torch.tensor(list(str(genome).encode("utf-8")), dtype=torch.uint8)


def _conv(cin: int, cout: int, kernel: int, groups: int = 1) -> nn.Conv2d:
    """A stride-1 convolution with bias and TensorFlow "SAME" padding (odd kernels)."""
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=True)


class PlainCell(nn.Module):
    """``conv`` / ``groupConG*`` cell: ``repeats`` convolutions, each followed by ReLU.

    With skip and two or more repeats the output is ``relu(conv_0) + relu(conv_last)``.
    """

    def __init__(self, spec: CellSpec, in_width: int) -> None:
        super().__init__()
        groups = spec.cell_type.groups
        self.convs = nn.ModuleList(
            _conv(in_width if j == 0 else spec.filters, spec.filters, spec.kernel, groups)
            for j in range(spec.repeats)
        )
        self.skip = spec.skip and spec.repeats >= 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x = F.relu(self.convs[0](x))
        for conv in self.convs[1:]:
            x = F.relu(conv(x))
        return first + x if self.skip else x


class InvertedBottleneck(nn.Module):
    """``x + project(relu(depthwise3x3(relu(expand(x)))))``; the depthwise is always 3x3."""

    def __init__(self, width: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.expand = _conv(width, hidden, kernel)
        self.depthwise = _conv(hidden, hidden, 3, groups=hidden)
        self.project = _conv(hidden, width, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(F.relu(self.depthwise(F.relu(self.expand(x)))))


class InvertedCell(nn.Module):
    """``invertBotConE2`` cell: a 1x1 ``supple`` conv (always present), then bottleneck blocks.

    With skip and two or more repeats the ``supple`` output is added once more at the end.
    """

    def __init__(self, spec: CellSpec, in_width: int) -> None:
        super().__init__()
        hidden = spec.filters * spec.cell_type.expansion
        self.supple = _conv(in_width, spec.filters, 1)
        self.blocks = nn.ModuleList(
            InvertedBottleneck(spec.filters, hidden, spec.kernel) for _ in range(spec.repeats)
        )
        self.skip = spec.skip and spec.repeats >= 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        supple = x = self.supple(x)
        for block in self.blocks:
            x = block(x)
        return supple + x if self.skip else x


CELL_BUILDERS: dict[str, Callable[[CellSpec, int], nn.Module]] = {
    "plain": PlainCell,
    "inverted": InvertedCell,
}
"""Cell kind (:attr:`CellType.kind`) -> module factory with one signature ``(spec, in_width)``."""


class DepthToSpace(nn.Module):
    """TensorFlow's ``DepthToSpace`` (ONNX mode ``DCR``): channel ``(i*b + j)*C + c`` -> ``c``.

    ``nn.PixelShuffle`` orders channels ``c*b*b + i*b + j`` instead; keeping TensorFlow's
    order here lets the official weights load unchanged (the global residual adds the stem
    output before this step, so permuting weights instead would ripple through every cell).
    """

    def __init__(self, block: int) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        b = self.block
        x = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        return x.reshape(n, c // (b * b), h * b, w * b)


class FALSR(
    nn.Module,
    PretrainedMixin,
    coders={Genome: (str, parse_genome)},
    pipeline_tag="image-to-image",
    tags=["super-resolution", "falsr"],
):
    """A FALSR x2 network built from a genome.

    Inputs follow the official graphs: ``y`` is the LR luma ``(N, 1, H, W)`` in [0, 1] and
    ``pbpr`` the Pb, Pr of the bicubically upscaled LR image ``(N, 2, 2H, 2W)``. The output
    is RGB in [0, 1], ``(N, 3, 2H, 2W)``. ``save_pretrained`` / ``from_pretrained`` /
    ``push_to_hub`` come from :class:`~falsr_zoo.families.pretrained.PretrainedMixin`.

    Args:
        genome: A :class:`Genome` or genome string.

    Example:
        >>> net = FALSR("conv f32 k3 b1 noskip <- 0; out <- 0,1")
        >>> net(torch.rand(1, 1, 8, 8), torch.zeros(1, 2, 16, 16)).shape
        torch.Size([1, 3, 16, 16])
    """

    family = "falsr"
    scale = 2

    def __init__(self, genome: Genome | str) -> None:
        super().__init__()
        self.genome = parse_genome(genome) if isinstance(genome, str) else genome
        self.stem = _conv(1, STEM_WIDTH, 3)
        self.cells = nn.ModuleList(
            CELL_BUILDERS[spec.cell_type.kind](spec, self.genome.input_width(node))
            for node, spec in enumerate(self.genome.cells)
        )
        self.fuse = _conv(self.genome.input_width(self.genome.n_cells), STEM_WIDTH, 3)
        self.upsample = DepthToSpace(self.scale)
        self.to_y = _conv(UPSAMPLE_WIDTH, 1, 3)
        kernel = torch.tensor(COLOR_KERNEL, dtype=torch.float32).t().reshape(3, 3, 1, 1)
        self.register_buffer("color_kernel", kernel, persistent=False)
        self.register_buffer("color_bias", torch.tensor(COLOR_BIAS), persistent=False)

    def forward_y(self, y: torch.Tensor) -> torch.Tensor:
        """The network proper: LR luma ``(N, 1, H, W)`` -> HR luma ``(N, 1, 2H, 2W)``."""
        stem = F.relu(self.stem(y))
        sources = [stem]
        for cell, reads in zip(self.cells, self.genome.sources):
            sources.append(cell(_gather(sources, reads)))
        fused = F.relu(self.fuse(_gather(sources, self.genome.sources[-1]))) + stem
        return self.to_y(self.upsample(fused))

    def to_rgb(self, y_hr: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        """The graphs' colour step: HR luma and PbPr -> RGB clipped to [0, 1], in float32.

        A body run in bfloat16 or float16 hands its luma up to float32 here: the step works on
        values up to 255, where bfloat16 numbers are a whole grey level apart. Keep the module's
        own buffers float32 for that (cast the body, ``module.children()``, not the module).
        """
        ycbcr = torch.cat((y_hr.float() * PIXEL_MAX, (pbpr.float() + CHROMA_OFFSET) * PIXEL_MAX), dim=1)
        rgb = F.conv2d(ycbcr, self.color_kernel.float(), self.color_bias.float())
        return rgb.clamp(0.0, PIXEL_MAX) / PIXEL_MAX

    def forward(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        return self.to_rgb(self.forward_y(y), pbpr)

    def architecture_tensors(self) -> dict[str, torch.Tensor]:
        """The genome, as :meth:`save_pretrained` writes it beside the state dict (:data:`GENOME_KEY`).

        Not a buffer: the official weights files, whose sha256 the registry pins, hold none.
        """
        return {GENOME_KEY: genome_tensor(self.genome)}


def _gather(sources: list[torch.Tensor], reads: tuple[int, ...]) -> torch.Tensor:
    if len(reads) == 1:
        return sources[reads[0]]
    return torch.cat([sources[s] for s in reads], dim=1)
