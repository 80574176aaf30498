"""RENAS's export row: a classifier's core graph, one normalised image in, logits out."""

from __future__ import annotations

from falsr_zoo.export.parity import CORE_FORM
from falsr_zoo.export.spec import ExportFamily, TensorSpec

__all__ = ["EXPORT_ROW"]

EXPORT_ROW = ExportFamily(
    name="renas",
    inputs=(TensorSpec("image", (("batch", 1), 3, ("height", 1), ("width", 1)), -2.5, 2.5),),
    outputs=("logits",),
    forms={"core": CORE_FORM},
    default_form="core",
    trace_sizes={"batch": 2, "height": 224, "width": 224},
    check_sizes=({"batch": 2, "height": 224, "width": 160}, {"batch": 1, "height": 96, "width": 256}),
    min_size=32,
)
"""RENAS's row of the export table (named by the family table)."""
