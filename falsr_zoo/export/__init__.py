"""Deployment: ONNX export, the ONNX Runtime backend, TensorRT engines.

* :func:`export_onnx` - a zoo model or any genome to an ONNX file: the end-to-end image graph
  (default for FALSR) or the core network, dynamic batch/height/width, ``onnx.checker`` clean,
  checked against PyTorch before it is written.
* :func:`export_tensorrt` - a TensorRT engine from the core graph, with a profile that every
  tile of the upscaler fits, and its side metadata.
* Backends ``"onnxruntime"`` and ``"tensorrt"``, registered here in
  :data:`falsr_zoo.backends.BACKENDS`, so ``create_backend("onnxruntime", model)`` and the
  upscaler's ``backend=`` find them.

Importing this package imports neither onnx, onnxruntime nor tensorrt; each is imported by
the function that needs it, and its absence is a :class:`~falsr_zoo.errors.MissingDependencyError`
naming the extra to install. Graph shapes per model family: :mod:`falsr_zoo.export.families`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from falsr_zoo.backends import Backend, register_backend
from falsr_zoo.export.families import FAMILIES, family_of
from falsr_zoo.export.onnx import EXPORT_OPSET, OnnxExport, check_graph, core_graph, export_onnx, onnx_graph, wrap_core
from falsr_zoo.export.ort_backend import OnnxRuntimeBackend
from falsr_zoo.export.spec import ExportFamily, GraphForm, ParityReport, TensorSpec
from falsr_zoo.export.tensorrt import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_TILE,
    EngineInfo,
    EngineProfile,
    TensorRTBackend,
    TensorRTExport,
    export_tensorrt,
)

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_TILE",
    "EXPORT_OPSET",
    "FAMILIES",
    "EngineInfo",
    "EngineProfile",
    "ExportFamily",
    "GraphForm",
    "OnnxExport",
    "OnnxRuntimeBackend",
    "ParityReport",
    "TensorRTBackend",
    "TensorRTExport",
    "TensorSpec",
    "check_graph",
    "core_graph",
    "export_onnx",
    "export_tensorrt",
    "family_of",
    "onnx_graph",
    "wrap_core",
]


def _onnxruntime_backend(model: nn.Module, **options: Any) -> Backend:
    """``create_backend("onnxruntime", model, graph=None, precision="fp32", device="auto", threads=None)``."""
    return OnnxRuntimeBackend.from_model(model, **options)


def _tensorrt_backend(model: nn.Module, **options: Any) -> Backend:
    """``create_backend("tensorrt", model, engine=None, precision="fp32", max_tile=(640, 640), max_batch=4)``."""
    return TensorRTBackend.from_model(model, **options)


register_backend("onnxruntime", _onnxruntime_backend)
register_backend("tensorrt", _tensorrt_backend)
