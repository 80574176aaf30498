"""FALSR as an RGB-in, RGB-out module that carries its genome in its state dict (for spandrel & co.).

Front ends such as ComfyUI and chaiNNer (through spandrel) call a model on RGB in [0, 1],
``(N, 3, H, W)``, and rebuild it from a bare state dict. :class:`FALSRRGB` wraps a
:class:`~falsr_zoo.families.falsr.falsr_net.FALSR` in the release's colour path:

* luma: ``rgb2ypbpr`` row Y of the input;
* chroma: PIL's bicubic x2 of the input (Keys' cubic, a = -0.5, half-pixel centres, taps
  outside the image dropped and the rest renormalised, width pass then height pass: PIL's float
  "F" mode, as the float32 end-to-end ONNX graph), then rows Pb, Pr;
* the network on the luma, in the module's dtype;
* the graphs' colour step, always in float32 from constants that ``.half()`` cannot reach (its
  bias, -179.456, would be -179.5 in float16).

The genome travels in the state dict as the UTF-8 bytes of its canonical string in a ``uint8``
buffer named :data:`GENOME_KEY`, so a ``.safetensors`` or ``.pth`` file of this module is
self-describing: :func:`from_state_dict` rebuilds it with nothing else. It also rebuilds it from
the weights of a model directory (``model.safetensors``, written by ``save_pretrained``), which
hold the bare network's tensors and the same genome tensor (:data:`LAYOUTS`).
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from falsr_zoo.errors import WeightsMismatchError
from falsr_zoo.families.falsr.colour import (
    BICUBIC_X2_TAPS,
    CHROMA_OFFSET,
    COLOR_BIAS,
    COLOR_KERNEL,
    PIXEL_MAX,
    RGB_TO_YPBPR,
)
from falsr_zoo.families.falsr.falsr_net import FALSR, GENOME_KEY, genome_tensor
from falsr_zoo.families.falsr.genome import Genome, parse_genome

__all__ = ["FALSRRGB", "GENOME_KEY", "LAYOUTS", "bicubic_x2", "genome_from_state_dict", "state_dict_layout"]

LAYOUTS = {"rgb": "net.", "network": ""}
"""The state-dict layouts of a FALSR file that carries its genome, by the prefix of the network's
tensor names: this module's own (``falsr export --format spandrel``) and the bare network's (a
model directory's ``model.safetensors``)."""


def _bicubic_x2_width(x: torch.Tensor) -> torch.Tensor:
    """x2 along the last axis of a float32 ``(B, 1, H, W)`` tensor, PIL's way (renormalised edges;
    the weights are :data:`~falsr_zoo.families.falsr.colour.BICUBIC_X2_TAPS`, shared with the NumPy path)."""
    width = x.shape[-1]
    kernel = torch.tensor(BICUBIC_X2_TAPS, dtype=torch.float32, device=x.device).reshape(2, 1, 1, 4)
    # Sources k-2..k+1 of output 2k sit at padded positions k..k+3; those of 2k+1 one further.
    sums = F.conv2d(F.pad(x, (2, 2)), kernel)
    weights = F.conv2d(F.pad(torch.ones(1, 1, 1, width, device=x.device), (2, 2)), kernel)
    even = sums[:, 0:1, :, :width] / weights[:, 0:1, :, :width]
    odd = sums[:, 1:2, :, 1 : width + 1] / weights[:, 1:2, :, 1 : width + 1]
    return torch.stack((even, odd), dim=-1).reshape(*x.shape[:-1], 2 * width)


def _levels(x: torch.Tensor) -> torch.Tensor:
    """PIL's 8-bit pass output: rounded half up and clipped to 0..255."""
    return torch.floor(x + 0.5).clamp_(0.0, 255.0)


def bicubic_x2(image: torch.Tensor, *, levels: bool = False, clip: bool = False) -> torch.Tensor:
    """PIL's float bicubic x2 (``Image.resize(..., BICUBIC)`` in "F" mode) of ``(N, C, H, W)``, in float32.

    Width first, then height, as PIL does; no clipping (overshoot is kept, as in "F" mode). With
    ``clip`` each pass is clipped to [0, 1] (as ``colour.bicubic_x2_float``). With ``levels`` the
    input holds 0..255 values and each pass is rounded half up and clipped as PIL's 8-bit path
    does (equal to it but for rare ties of its fixed-point weights).
    """
    n, c, h, w = image.shape
    out = image.float().reshape(n * c, 1, h, w)
    for transpose in (False, True):
        out = out.transpose(-1, -2) if transpose else out
        out = _bicubic_x2_width(out)
        out = out.transpose(-1, -2) if transpose else out
        if levels:
            out = _levels(out)
        elif clip:
            out = out.clamp(0.0, 1.0)
    return out.reshape(n, c, 2 * h, 2 * w)


def genome_from_state_dict(state: Mapping[str, torch.Tensor]) -> Genome | None:
    """The genome a :class:`FALSRRGB` state dict carries, or ``None`` if it carries none.

    Raises:
        GenomeError: the bytes are there but are not a valid genome.
    """
    tensor = state.get(GENOME_KEY)
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.ndim != 1:
        return None
    return parse_genome(bytes(tensor.cpu().tolist()).decode("utf-8"))


def state_dict_layout(state: Mapping[str, torch.Tensor]) -> str | None:
    """Which of :data:`LAYOUTS` ``state`` has (a ``uint8`` genome vector and the network's first and
    last tensors under that prefix), or ``None``: not a FALSR state dict that carries its genome.

    The genome's bytes are not parsed here: a file whose genome is not valid is recognised, and
    refused with the grammar's message when it is loaded.
    """
    tensor = state.get(GENOME_KEY)
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.ndim != 1:
        return None
    return next((layout for layout, prefix in LAYOUTS.items()
                 if f"{prefix}stem.weight" in state and f"{prefix}to_y.weight" in state), None)


def _as_rgb_layout(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with the network's tensors under :class:`FALSRRGB`'s names (a model directory's file
    names them as :class:`FALSR` does)."""
    if state_dict_layout(state) != "network":
        return dict(state)
    return {name if name == GENOME_KEY else LAYOUTS["rgb"] + name: tensor for name, tensor in state.items()}


class FALSRRGB(nn.Module):
    """A FALSR network behind the release's colour path: RGB in [0, 1] -> RGB in [0, 1], x2.

    Args:
        genome: A :class:`Genome` or genome string.

    Example:
        >>> rgb = FALSRRGB("conv f16 k3 b1 noskip <- 0; out <- 0,1")
        >>> rgb(torch.rand(1, 3, 5, 7)).shape
        torch.Size([1, 3, 10, 14])
    """

    family = "falsr"
    scale = 2

    def __init__(self, genome: Genome | str) -> None:
        super().__init__()
        self.net = FALSR(genome)
        self.register_buffer(GENOME_KEY, genome_tensor(self.net.genome))

    @property
    def genome(self) -> Genome:
        return self.net.genome

    @classmethod
    def from_model(cls, model: nn.Module) -> FALSRRGB:
        """Wrap a copy of a FALSR module's weights, on the CPU in float32 (``model`` is left alone)."""
        rgb = cls(model.genome)
        rgb.net.load_state_dict(model.state_dict())
        return rgb.eval()

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> FALSRRGB:
        """Rebuild the module from a state dict that carries its genome and load it strictly: its own,
        or a model directory's (the bare network's tensors and the genome, :data:`LAYOUTS`).

        Raises:
            WeightsMismatchError: no genome in ``state``, or tensors that do not fit it.
        """
        genome = genome_from_state_dict(state)
        if genome is None:
            raise WeightsMismatchError(f"the state dict carries no FALSR genome (no uint8 {GENOME_KEY!r} tensor)")
        model = cls(genome)
        try:
            model.load_state_dict(_as_rgb_layout(state))
        except RuntimeError as error:
            raise WeightsMismatchError(f"the state dict does not fit genome '{genome}': {error}") from None
        return model.eval()

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` RGB in [0, 1] -> ``(N, 3, 2H, 2W)`` RGB in [0, 1], in ``rgb``'s dtype."""
        x = rgb.float()
        matrix = torch.tensor(RGB_TO_YPBPR, dtype=torch.float32, device=x.device).reshape(3, 3, 1, 1)
        y = F.conv2d(x, matrix[0:1])
        pbpr = F.conv2d(bicubic_x2(x), matrix[1:3])
        dtype = self.net.stem.weight.dtype
        y_hr = self.net.forward_y(y.to(dtype)).float()
        return self._colour_step(y_hr, pbpr).to(rgb.dtype)

    @staticmethod
    def _colour_step(y_hr: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        # FALSR.to_rgb's formula, with float32 constants made here: module buffers would follow .half().
        kernel = torch.tensor(COLOR_KERNEL, dtype=torch.float32, device=y_hr.device).t().reshape(3, 3, 1, 1)
        bias = torch.tensor(COLOR_BIAS, dtype=torch.float32, device=y_hr.device)
        ycbcr = torch.cat((y_hr * PIXEL_MAX, (pbpr + CHROMA_OFFSET) * PIXEL_MAX), dim=1)
        return F.conv2d(ycbcr, kernel, bias).clamp(0.0, PIXEL_MAX) / PIXEL_MAX
