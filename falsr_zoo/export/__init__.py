"""Deployment, generic over model families: ONNX export, the ONNX Runtime backend, TensorRT engines.

* :func:`export_onnx` - a zoo model or any genome to an ONNX file: the family's default graph
  form (for FALSR the end-to-end image graph) or the core network, dynamic batch/height/width,
  ``onnx.checker`` clean, checked against PyTorch before it is written.
* :func:`export_tensorrt` - a TensorRT engine from the core graph, with a profile that every
  tile of the upscaler fits, and its side metadata.
* Backends ``"onnxruntime"`` (:mod:`~falsr_zoo.export.ort_backend`) and ``"tensorrt"``
  (:mod:`~falsr_zoo.export.tensorrt_engine`), named by dotted path in
  :data:`falsr_zoo.runtime.backends.BACKENDS`.

What a family's graphs look like is its export row (:class:`~falsr_zoo.export.spec.ExportFamily`),
which lives with the family (``families/<name>/<name>_export.py``) and is found through the
family table. Importing this package imports neither onnx, onnxruntime nor tensorrt; each is
imported by the function that needs it, and its absence is a
:class:`~falsr_zoo.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

from falsr_zoo.export.onnx_export import (
    EXPORT_OPSET,
    OnnxExport,
    check_graph,
    core_graph,
    export_onnx,
    export_row,
    onnx_graph,
    wrap_core,
)
from falsr_zoo.export.ort_backend import OnnxRuntimeBackend
from falsr_zoo.export.spec import ExportFamily, GraphForm, ParityReport, TensorSpec
from falsr_zoo.export.tensorrt_engine import (
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
    "export_row",
    "export_tensorrt",
    "onnx_graph",
    "wrap_core",
]
