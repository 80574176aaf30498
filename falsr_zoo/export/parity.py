"""Parity of exported graphs with PyTorch: the reference run and the comparison.

Every export runs its graph with ONNX Runtime (or its engine with TensorRT) on random inputs of
odd sizes, portrait and landscape, with a batch above one, and compares with the PyTorch
module on the same inputs (timm's ``onnx_export`` check, made a hard gate: a graph that fails
is not written).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from falsr_zoo.export.spec import ExportFamily, GraphForm, ParityReport

__all__ = ["CORE_FORM", "CORE_TOLERANCE", "check_core", "float_report", "image_report", "run_reference"]

CORE_TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}
"""Largest max-abs difference from the float32 PyTorch module accepted for float outputs.

float32 graphs differ from PyTorch only by summation order (about 1e-7 on [0, 1] outputs); a
float16 network body rounds every activation to 11 significant bits (about 1e-3 here).
"""


def run_reference(model: nn.Module, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The module's outputs for float32 array inputs, as float32 arrays."""
    with torch.inference_mode():
        out = model(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.float().cpu().numpy() for o in outs]


def _max_abs(reference: np.ndarray, actual: np.ndarray) -> float:
    if reference.shape != actual.shape:
        return float("inf")
    if reference.size == 0:
        return 0.0
    return float(np.max(np.abs(reference.astype(np.float64) - actual.astype(np.float64))))


def float_report(form: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], tolerance: float) -> ParityReport:
    """Compare float outputs: ``pairs`` of (reference, actual)."""
    return ParityReport(
        form=form,
        max_abs=max(_max_abs(ref, out) for ref, out in pairs),
        tolerance=tolerance,
        values=sum(ref.size for ref, _ in pairs),
    )


def image_report(form: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], tolerance: float,
                 max_mismatched_fraction: float) -> ParityReport:
    """Compare uint8 images: ``pairs`` of (reference, actual); counts differing values too."""
    return ParityReport(
        form=form,
        max_abs=max(_max_abs(ref, out) for ref, out in pairs),
        tolerance=tolerance,
        values=sum(ref.size for ref, _ in pairs),
        mismatched=sum(int(np.count_nonzero(ref != out)) if ref.shape == out.shape else ref.size for ref, out in pairs),
        max_mismatched_fraction=max_mismatched_fraction,
        unit="grey levels",
    )


def check_core(model: nn.Module, session: Any, family: ExportFamily, input_dtype: str, precision: str,
               rng: np.random.Generator) -> ParityReport:
    """Run the core graph and the module on random inputs at the family's check sizes.

    Args:
        model: The float32 module on the CPU (the reference, also for a float16 graph).
        session: An ``onnxruntime.InferenceSession`` of the core graph (or anything with its
            ``run(output_names, feeds)``).
        family: The model's export row.
        input_dtype: Unused (the core graph's inputs are the network's own, float32).
        precision: ``"fp32"`` or ``"fp16"``: picks the tolerance.
        rng: Source of the random inputs.
    """
    names = [spec.name for spec in family.inputs]
    pairs = []
    for sizes in family.check_sizes:
        inputs = family.example_inputs(sizes, rng)
        outputs = session.run(list(family.outputs), dict(zip(names, inputs)))
        pairs.extend(zip(run_reference(model, inputs), outputs))
    return float_report("core", pairs, CORE_TOLERANCE[precision])


CORE_FORM = GraphForm(
    name="core",
    summary="the network alone: the module's inputs and outputs",
    input_dtypes=("float32",),
    check=check_core,
)
"""The core graph, common to every family."""
