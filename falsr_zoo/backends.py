"""Inference backends for super-resolution: one interface, one table.

A backend runs the *core* network of a FALSR model on arrays: LR luma ``(N, 1, h, w)`` and
the PbPr of the bicubic x``scale`` image ``(N, 2, s*h, s*w)`` (float32) in, RGB in [0, 1]
``(N, 3, s*h, s*w)`` (float32) out — the same contract as :meth:`FALSR.forward` and as the
core ONNX graph. Upscaling (colour preparation, tiling, quantisation) sits above it in
:mod:`falsr_zoo.upscale`, so every backend gets the same pipeline.

``torch`` is built in; other backends register themselves in :data:`BACKENDS` (the ONNX
Runtime and TensorRT backends live in :mod:`falsr_zoo.export`).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

__all__ = ["BACKENDS", "Backend", "TorchBackend", "create_backend", "register_backend"]


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
    """Runs a FALSR module with PyTorch (inference mode, on the module's device and dtype).

    Args:
        model: The module; it is used as is (put it on its device and dtype first).
        channels_last: Feed inputs in channels-last layout (pair with a channels-last module).
        fuse: On CPU in float32, run oneDNN fused convolutions
            (:class:`~falsr_zoo.models.fused.FusedFALSR`) when the build has them.
    """

    name = "torch"
    max_input_size = None

    def __init__(self, model: nn.Module, *, channels_last: bool = False, fuse: bool = False) -> None:
        self.model = model.eval()
        self.scale = int(model.scale)
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = self.model
        if fuse and self.device.type == "cpu" and self.dtype == torch.float32:
            from falsr_zoo.models.fused import FusedFALSR, fusion_available

            if fusion_available():
                self.forward = FusedFALSR(self.model)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self.device, self.dtype)
        return tensor.contiguous(memory_format=self.memory_format)

    def __call__(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.forward(self._tensor(y), self._tensor(pbpr))
        return out.float().cpu().numpy()


BACKENDS: dict[str, Callable[..., Backend]] = {"torch": TorchBackend}
"""Backend name -> factory ``(model: nn.Module, **options) -> Backend``."""


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``factory`` available as ``backend=name``."""
    BACKENDS[name] = factory


def create_backend(name: str, model: nn.Module, **options: Any) -> Backend:
    """Instantiate backend ``name`` for ``model``.

    Raises:
        ValueError: for an unknown backend name.
    """
    if name not in BACKENDS:
        _load_optional_backends()
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(sorted(BACKENDS))}") from None
    return factory(model, **options)


def _load_optional_backends() -> None:
    """Import the modules that register optional backends (they import nothing heavy at import)."""
    try:
        import falsr_zoo.export  # noqa: F401
    except ImportError:
        pass
