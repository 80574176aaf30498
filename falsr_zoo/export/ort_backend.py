"""The ONNX Runtime backend: a core graph run by ``onnxruntime`` behind the backend interface.

``create_backend("onnxruntime", model)`` traces the model's core graph in memory (a second or
a few) and opens a session; ``graph=PATH`` runs an exported core graph file instead. The CPU
provider is used unless ONNX Runtime offers CUDA (``onnxruntime-gpu``), which is then preferred;
``device="cpu"`` or ``"cuda"`` forces one.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from torch import nn

from falsr_zoo._optional import require
from falsr_zoo.errors import BackendUnavailableError, ExportError
from falsr_zoo.export.onnx_export import EXPORT_OPSET, METADATA_PREFIX, onnx_graph

__all__ = ["OnnxRuntimeBackend", "create", "providers_for"]

DEVICES = ("auto", "cpu", "cuda")
_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"


def _onnxruntime() -> Any:
    return require("onnxruntime", "onnx", "the onnxruntime backend")


def providers_for(device: str, available: list[str]) -> list[str]:
    """Execution providers for ``device`` given ONNX Runtime's ``available`` providers.

    Raises:
        ValueError: for an unknown device.
        BackendUnavailableError: ``device="cuda"`` without the CUDA provider.
    """
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "cuda" and _CUDA not in available:
        raise BackendUnavailableError(
            "ONNX Runtime has no CUDA provider here; install onnxruntime-gpu on a machine with an NVIDIA GPU"
        )
    if device != "cpu" and _CUDA in available:
        return [_CUDA, _CPU]
    return [_CPU]


class OnnxRuntimeBackend:
    """Runs a core graph (``y``, ``pbpr`` -> ``rgb``) with ONNX Runtime.

    Args:
        graph: The serialized graph, or a path to a core ``.onnx`` file.
        scale: Upscaling factor; read from the graph's metadata when ``None``.
        device: ``"auto"`` (CUDA when ONNX Runtime has it, else CPU), ``"cpu"`` or ``"cuda"``.
        threads: Intra-op threads (ONNX Runtime's default: one per physical core).

    Raises:
        ExportError: the graph is not a core graph.
    """

    name = "onnxruntime"
    max_input_size = None

    def __init__(self, graph: bytes | str | os.PathLike[str], *, scale: int | None = None, device: str = "auto",
                 threads: int | None = None) -> None:
        ort = _onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.providers = providers_for(device, ort.get_available_providers())
        source = graph if isinstance(graph, bytes) else os.fspath(graph)
        self.session = ort.InferenceSession(source, options, providers=self.providers)
        self.metadata = {k[len(METADATA_PREFIX):]: v for k, v in self.session.get_modelmeta().custom_metadata_map.items()
                         if k.startswith(METADATA_PREFIX)}
        if self.metadata.get("form", "core") != "core":
            raise ExportError(
                f"{graph if not isinstance(graph, bytes) else 'the graph'} holds the {self.metadata['form']} graph; "
                "the backend runs core graphs (falsr export --core)"
            )
        self.input_names = [value.name for value in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        self.scale = int(scale if scale is not None else self.metadata.get("scale", 2))

    @classmethod
    def from_model(cls, model: nn.Module, *, graph: str | os.PathLike[str] | None = None, precision: str = "fp32",
                   device: str = "auto", threads: int | None = None, opset: int = EXPORT_OPSET) -> OnnxRuntimeBackend:
        """The backend for ``model``: its core graph traced in memory, or the file ``graph``.

        Raises:
            ExportError: ``graph`` holds another architecture than ``model``.
            MissingDependencyError: without onnxruntime (checked before tracing).
        """
        _onnxruntime()
        if graph is not None:
            backend = cls(graph, scale=int(model.scale), device=device, threads=threads)
            declared, actual = backend.metadata.get("genome"), str(getattr(model, "genome", ""))
            if declared is not None and declared != actual:
                raise ExportError(f"{graph} holds the graph of genome '{declared}', not '{actual}'")
            return backend
        data = onnx_graph(model, form="core", precision=precision, opset=opset).SerializeToString()
        return cls(data, scale=int(model.scale), device=device, threads=threads)

    def __call__(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """``(N,1,h,w)`` + ``(N,2,sh,sw)`` float32 -> ``(N,3,sh,sw)`` float32 RGB in [0, 1]."""
        feeds = {
            self.input_names[0]: np.ascontiguousarray(y, dtype=np.float32),
            self.input_names[1]: np.ascontiguousarray(pbpr, dtype=np.float32),
        }
        return self.session.run([self.output_name], feeds)[0]


def create(model: nn.Module, **options: Any) -> OnnxRuntimeBackend:
    """``create_backend("onnxruntime", model, graph=None, precision="fp32", device="auto", threads=None)``."""
    return OnnxRuntimeBackend.from_model(model, **options)
