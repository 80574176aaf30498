"""ONNX export: core graphs traced from PyTorch, graph forms built on them, a parity gate.

The core graph is traced with PyTorch's ``torch.export``-based exporter (``dynamo=True``) with
dynamic batch, height and width, then wrapped into the requested form (see
:meth:`falsr_zoo.families.table.Family.export`), stamped with metadata, checked with ``onnx.checker`` and run
with ONNX Runtime against PyTorch before anything is written (timm's
``timm/utils/onnx.py::onnx_export``, with the check made a gate).

``onnx``, ``onnxscript`` and ``onnxruntime`` are imported inside the functions: they are the
``onnx`` extra.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
from torch import nn

from falsr_zoo._files import atomic_write_bytes, check_writable
from falsr_zoo._optional import require
from falsr_zoo._version import __version__
from falsr_zoo.errors import ExportError, OutputExistsError
from falsr_zoo.export.spec import ExportFamily, GraphForm, ParityReport
from falsr_zoo.families.table import family_of

if TYPE_CHECKING:
    import onnx

__all__ = [
    "EXPORT_OPSET",
    "METADATA_PREFIX",
    "OnnxExport",
    "check_graph",
    "core_graph",
    "export_onnx",
    "export_row",
    "graph_metadata",
    "onnx_graph",
    "require_onnx",
    "wrap_core",
]

logger = logging.getLogger(__name__)

EXPORT_OPSET = 20
"""Default ONNX opset: the exporter's own default in torch 2.13, run by ONNX Runtime >= 1.17 and
parsed by TensorRT >= 10.0 (a newer opset would shut out TensorRT 10 engines)."""
METADATA_PREFIX = "falsr_zoo."
PRECISIONS = ("fp32", "fp16")
PARITY_SEED = 20190121
"""Seed of the parity checks' random inputs (a fixed one: a failure is reproducible)."""


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: The graph file.
        form: The graph form.
        opset: The default-domain opset.
        precision: ``"fp32"`` or ``"fp16"`` (of the network body; inputs and outputs stay float32
            or uint8).
        inputs: ``(name, element type, dims)`` of each graph input.
        outputs: The same for each output.
        parity: The parity reports (empty when the check was skipped).
        num_bytes: Size of the file.
    """

    path: Path
    form: str
    opset: int
    precision: str
    inputs: tuple[tuple[str, str, tuple[int | str, ...]], ...]
    outputs: tuple[tuple[str, str, tuple[int | str, ...]], ...]
    parity: tuple[ParityReport, ...]
    num_bytes: int


def require_onnx() -> Any:
    """Import ``onnx`` (and check that ``onnxscript``, which the exporter needs, is there).

    Raises:
        MissingDependencyError: naming the ``onnx`` extra.
    """
    onnx = require("onnx", "onnx", "ONNX export")
    require("onnxscript", "onnx", "ONNX export")  # torch.onnx.export(dynamo=True) imports it
    return onnx


def export_row(model: nn.Module) -> ExportFamily:
    """The export row of ``model``'s family (looked up once per public call, then passed down).

    Raises:
        ExportError: for a module of no family, or of a family without an export row.
    """
    try:
        family = family_of(model)
    except ValueError as err:
        raise ExportError(f"cannot export: {err}") from None
    row = family.export()
    if row is None:
        raise ExportError(f"ONNX export is not implemented for the {family.name!r} family yet")
    return row


def _reference_module(model: nn.Module) -> nn.Module:
    """The module as a float32 CPU module in eval mode (a copy only when it is not one already)."""
    param = next(model.parameters(), None)
    if param is not None and (param.device.type != "cpu" or param.dtype != torch.float32):
        model = copy.deepcopy(model).float().cpu()
    return model.eval()


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress logs and deprecation chatter while tracing.

    The exporter logs at WARNING about optional packages it does not need (torchvision ops),
    and torch internals warn about their own deprecations; neither concerns the caller.
    """
    names = ("torch.onnx", "torch.export", "torch._export", "torch.__trace", "onnxscript", "onnx_ir")
    saved = {name: logging.getLogger(name).level for name in names}
    try:
        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(torch|onnxscript|onnx_ir)(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def core_graph(model: nn.Module, *, precision: str = "fp32", opset: int = EXPORT_OPSET,
               row: ExportFamily | None = None) -> onnx.ModelProto:
    """Trace ``model``'s core network into an ONNX graph with dynamic batch, height and width.

    Args:
        model: A module of a family with an export row (:func:`export_row`).
        precision: ``"fp32"``, or ``"fp16"`` for the family's float16 module.
        opset: Default-domain opset of the graph.
        row: The model's export row, when the caller has it already.

    Returns:
        The graph, inputs and outputs named as the family row says.

    Raises:
        ExportError: unknown precision, a family without a float16 module, or a tracing failure.
        MissingDependencyError: without the ``onnx`` extra.
    """
    require_onnx()
    family = row or export_row(model)
    module = _reference_module(model)
    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "fp16":
        if family.half is None:
            raise ExportError(f"the {family.name} family has no float16 graph")
        module = family.half(module).eval()
    inputs = tuple(torch.from_numpy(x) for x in family.example_inputs(family.trace_sizes, np.random.default_rng(0)))
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                module, inputs, dynamo=True, opset_version=opset, verbose=False, external_data=False,
                input_names=[spec.name for spec in family.inputs], output_names=list(family.outputs),
                dynamic_shapes=_dynamic_shapes(family),
            )
    except Exception as err:  # the exporter raises many unrelated types; report them as one
        raise ExportError(f"tracing the {family.name} network failed: {' '.join(str(err).split())[:500]}") from err
    return program.model_proto


def _dynamic_shapes(family: ExportFamily) -> tuple[dict[int, Any], ...]:
    """``torch.export`` dims for the symbolic axes of each input (``2*height`` as ``2 * Dim``)."""
    symbols = {d[0] for spec in family.inputs for d in spec.dims if not isinstance(d, int)}
    dims = {s: torch.export.Dim(s, min=1 if s == "batch" else family.min_size) for s in sorted(symbols)}
    return tuple(
        {axis: dims[d[0]] if d[1] == 1 else d[1] * dims[d[0]] for axis, d in enumerate(spec.dims) if not isinstance(d, int)}
        for spec in family.inputs
    )


def _resolve(family: ExportFamily, form: str | None, input_dtype: str | None) -> tuple[GraphForm, str]:
    graph_form = family.form(form)
    dtype = input_dtype or graph_form.input_dtypes[0]
    if dtype not in graph_form.input_dtypes:
        raise ValueError(
            f"the {graph_form.name} graph takes {' or '.join(graph_form.input_dtypes)} inputs, not {dtype!r}"
        )
    return graph_form, dtype


def onnx_graph(model: nn.Module, *, form: str | None = None, input_dtype: str | None = None,
               precision: str = "fp32", opset: int = EXPORT_OPSET, name: str | None = None,
               row: ExportFamily | None = None) -> onnx.ModelProto:
    """The ONNX graph of ``model`` in one of its family's forms, checked by ``onnx.checker``.

    Args:
        model: The module.
        form: A form of the family (``"end-to-end"``, ``"core"``); ``None``: the family default.
        input_dtype: Input type of the form (``"uint8"``/``"float32"``); ``None``: its default.
        precision: ``"fp32"`` or ``"fp16"`` (the network body).
        opset: Default-domain opset.
        name: Zoo name recorded in the metadata, if any.
        row: The model's export row, when the caller has it already.

    Raises:
        ValueError: a form or input type the family does not have.
        ExportError: tracing or checking failed.
    """
    row = row or export_row(model)
    graph_form, dtype = _resolve(row, form, input_dtype)
    core = core_graph(model, precision=precision, opset=opset, row=row)
    return wrap_core(model, core, form=graph_form.name, input_dtype=dtype, precision=precision, name=name, row=row)


def wrap_core(model: nn.Module, core: onnx.ModelProto, *, form: str | None = None, input_dtype: str | None = None,
              precision: str = "fp32", name: str | None = None, row: ExportFamily | None = None) -> onnx.ModelProto:
    """Make a form's graph from an already traced core graph: wrap, stamp metadata, check.

    :func:`onnx_graph` is :func:`core_graph` then this; calling them apart traces once for
    several forms. ``precision`` is recorded only (it was fixed when ``core`` was traced).

    Raises:
        ValueError: a form or input type the family does not have.
        ExportError: the graph fails ``onnx.checker``.
    """
    onnx = require_onnx()
    family = row or export_row(model)
    graph_form, input_dtype = _resolve(family, form, input_dtype)
    graph = copy.deepcopy(core) if graph_form.wrap is None else graph_form.wrap(core, model, input_dtype)
    meta = {
        "version": __version__,
        "family": family.name,
        "genome": str(getattr(model, "genome", "")),
        "form": graph_form.name,
        "input_dtype": input_dtype,
        "precision": precision,
        "scale": str(getattr(model, "scale", "")),
        **({"model": name} if name else {}),
    }
    onnx.helper.set_model_props(graph, {METADATA_PREFIX + k: v for k, v in meta.items()})
    graph.producer_name, graph.producer_version = "falsr-zoo", meta["version"]
    graph.doc_string = f"{name or family.name} {graph_form.name} graph: {graph_form.summary}"
    try:
        onnx.checker.check_model(graph, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the exported graph fails onnx.checker: {' '.join(str(err).split())[:500]}") from err
    return graph


def graph_metadata(graph: onnx.ModelProto | bytes | str | os.PathLike[str]) -> dict[str, str]:
    """The falsr-zoo metadata of a graph (``{"form": ..., "genome": ...}``; ``{}`` if none)."""
    onnx = require_onnx()
    if not isinstance(graph, onnx.ModelProto):
        graph = onnx.load_from_string(graph) if isinstance(graph, bytes) else onnx.load(os.fspath(graph))
    return {p.key[len(METADATA_PREFIX):]: p.value for p in graph.metadata_props if p.key.startswith(METADATA_PREFIX)}


def check_graph(model: nn.Module, graph: onnx.ModelProto, *, form: str | None = None, input_dtype: str | None = None,
                precision: str = "fp32", row: ExportFamily | None = None) -> ParityReport:
    """Run ``graph`` with ONNX Runtime (CPU) and ``model`` with PyTorch on the same random inputs.

    Returns:
        The parity report of the form (see :class:`~falsr_zoo.export.spec.ParityReport`).
    """
    ort = require("onnxruntime", "onnx", "checking ONNX graphs")
    family = row or export_row(model)
    graph_form, dtype = _resolve(family, form, input_dtype)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(PARITY_SEED)
    return graph_form.check(_reference_module(model), session, family, dtype, precision, rng)


def export_onnx(model: nn.Module, path: str | os.PathLike[str], *, form: str | None = None,
                input_dtype: str | None = None, precision: str = "fp32", opset: int = EXPORT_OPSET,
                check: bool = True, overwrite: bool = False, name: str | None = None) -> OnnxExport:
    """Export ``model`` to an ONNX file, after checking it against PyTorch.

    Args:
        model: A FALSR module (any genome) or another exportable family's module.
        path: Where to write the graph (atomically).
        form: ``"end-to-end"`` (default for FALSR) or ``"core"``.
        input_dtype: ``"uint8"`` (default) or ``"float32"`` for the end-to-end graph.
        precision: ``"fp32"``, or ``"fp16"`` for a float16 network body.
        opset: Default-domain opset.
        check: Run the parity check (the core graph's, and the form's) and refuse to write a
            graph outside tolerance.
        overwrite: Replace an existing file.
        name: Zoo name recorded in the metadata.

    Returns:
        What was written.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        OutputError: ``path`` cannot be written (checked first; nothing is left behind).
        ExportError: tracing, ``onnx.checker`` or the parity check failed.
        MissingDependencyError: without the ``onnx`` extra.

    Example:
        >>> from falsr_zoo import load
        >>> from falsr_zoo.export import export_onnx
        >>> export_onnx(load("FALSR-B"), "FALSR-B.onnx", name="FALSR-B")  # doctest: +SKIP
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite (overwrite=True) to replace it")
    check_writable(path)  # before minutes of tracing and checking
    row = export_row(model)
    graph_form, dtype = _resolve(row, form, input_dtype)
    core = core_graph(model, precision=precision, opset=opset, row=row)
    graph = wrap_core(model, core, form=graph_form.name, input_dtype=dtype, precision=precision, name=name, row=row)
    parity: list[ParityReport] = []
    if check:
        if graph_form.wrap is not None:
            parity.append(check_graph(model, core, form="core", precision=precision, row=row))
        parity.append(check_graph(model, graph, form=graph_form.name, input_dtype=dtype, precision=precision, row=row))
        failed = [report.summary() for report in parity if not report.ok]
        if failed:
            raise ExportError(f"the graph does not match PyTorch, not written: {'; '.join(failed)}")
        for report in parity:
            logger.info("parity %s", report.summary())
    data = graph.SerializeToString()
    atomic_write_bytes(path, data)
    return OnnxExport(
        path=path, form=graph_form.name, opset=_default_opset(graph), precision=precision,
        inputs=tuple(_describe(v) for v in graph.graph.input), outputs=tuple(_describe(v) for v in graph.graph.output),
        parity=tuple(parity), num_bytes=len(data),
    )


def _default_opset(graph: onnx.ModelProto) -> int:
    return next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))


def _describe(value: Any) -> tuple[str, str, tuple[int | str, ...]]:
    onnx = require_onnx()
    tensor = value.type.tensor_type
    dims = tuple(d.dim_param or d.dim_value for d in tensor.shape.dim)
    return value.name, onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name, dims
