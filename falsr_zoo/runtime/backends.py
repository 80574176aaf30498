"""Inference backends for super-resolution: one interface, one table of names.

A backend runs the *core* network of a super-resolution model on arrays: LR luma ``(N, 1, h, w)``
and the PbPr of the bicubic x``scale`` image ``(N, 2, s*h, s*w)`` (float32) in, RGB in [0, 1]
``(N, 3, s*h, s*w)`` (float32) out - the same contract as ``FALSR.forward`` and as the core ONNX
graph. Upscaling (colour preparation, tiling, quantisation) sits above it in
:mod:`falsr_zoo.sr.upscale`, so every backend gets the same pipeline.

:data:`BACKENDS` names every backend's factory by dotted path (``"module:attribute"``), resolved
on first use: ``torch`` is here; ``onnxruntime`` and ``tensorrt`` live in :mod:`falsr_zoo.export`
and load only when asked for. This module imports nothing of the families or of the export
package: a faster forward for a family's module (FALSR's fused CPU path) is handed in by the
caller, which knows the family.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from falsr_zoo._plugins import resolve

__all__ = ["BACKENDS", "Backend", "TorchBackend", "create_backend"]


@runtime_checkable
class Backend(Protocol):
    """What the upscaler needs from an inference engine."""

    name: str
    scale: int
    # Optional: a backend that can only take inputs up to some size (a TensorRT engine's
    # optimisation profile) sets ``max_input_size = (max_batch, max_height, max_width)`` of the
    # LR luma input; the upscaler then tiles so that every call fits. ``None``: no limit.

    def __call__(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """``(N,1,h,w)`` + ``(N,2,sh,sw)`` float32 -> ``(N,3,sh,sw)`` float32 RGB in [0, 1]."""
        ...


class TorchBackend:
    """Runs a super-resolution module with PyTorch (inference mode, on the module's device and dtype;
    the PbPr input is passed as float32).

    Args:
        model: The module; it is used as is (put it on its device and dtype first).
        channels_last: Feed inputs in channels-last layout (pair with a channels-last module).
        forward: A callable with ``model``'s forward contract to run instead of the module (a
            family's fast path, e.g. FALSR's oneDNN fused convolutions); ``None``: the module.
    """

    name = "torch"
    max_input_size = None

    def __init__(self, model: nn.Module, *, channels_last: bool = False,
                 forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
        self.model = model.eval()
        self.scale = int(model.scale)
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = forward or self.model

    def _tensor(self, array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self.device, dtype)
        return tensor.contiguous(memory_format=self.memory_format)

    def __call__(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        # the luma in the module's type; the PbPr feeds only the colour step, which runs in float32
        with torch.inference_mode():
            out = self.forward(self._tensor(y, self.dtype), self._tensor(pbpr, torch.float32))
        return out.float().cpu().numpy()

    def run_tensors(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        """The same on tensors, on the module's device: float32 RGB ``(N,3,sh,sw)``, never through NumPy."""
        with torch.inference_mode():
            luma = y.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)
            chroma = pbpr.to(self.device, torch.float32).contiguous(memory_format=self.memory_format)
            return self.forward(luma, chroma).float()


BACKENDS: dict[str, str | Callable[..., Backend]] = {
    "torch": "falsr_zoo.runtime.backends:TorchBackend",
    "onnxruntime": "falsr_zoo.export.ort_backend:create",
    "tensorrt": "falsr_zoo.export.tensorrt_engine:create",
}
"""Backend name -> its factory ``(model: nn.Module, **options) -> Backend``, by dotted path (resolved
on first use) or, for a backend a program adds at run time, the callable itself."""


def create_backend(name: str, model: nn.Module, **options: Any) -> Backend:
    """Instantiate backend ``name`` for ``model``.

    Raises:
        ValueError: for an unknown backend name.
        MissingDependencyError: when the backend's extra is not installed.
    """
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(sorted(BACKENDS))}") from None
    return (resolve(factory) if isinstance(factory, str) else factory)(model, **options)
