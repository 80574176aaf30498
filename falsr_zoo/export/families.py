"""The export table: one row per model family, saying what its graphs look like.

A row names the core graph's inputs (with their dynamic axes) and outputs, the graph forms
that can be exported with their parity checks, the default form, and the family's float16
module. Everything generic (tracing with dynamic shapes, opset, metadata, the checker, ONNX
Runtime sessions, TensorRT profiles) reads the row, so a new family is a new row (the
``renas`` row below is a classifier's: one image in, logits out).
"""

from __future__ import annotations

from torch import nn

from falsr_zoo.errors import ExportError
from falsr_zoo.export.falsr_graphs import FALSRHalfBody, check_end_to_end, deployment_card, end_to_end_graph
from falsr_zoo.export.parity import check_core
from falsr_zoo.export.spec import ExportFamily, GraphForm, TensorSpec

__all__ = ["CORE", "FAMILIES", "deployment_section", "family_of", "family_name_of"]

CORE = GraphForm(
    name="core",
    summary="the network alone: the module's inputs and outputs",
    input_dtypes=("float32",),
    check=check_core,
)
"""The core graph, common to every family."""

FAMILIES: dict[str, ExportFamily] = {
    "falsr": ExportFamily(
        name="falsr",
        inputs=(
            TensorSpec("y", (("batch", 1), 1, ("height", 1), ("width", 1)), 0.0, 1.0),
            TensorSpec("pbpr", (("batch", 1), 2, ("height", 2), ("width", 2)), -0.5, 0.5),
        ),
        outputs=("rgb",),
        forms={
            "end-to-end": GraphForm(
                name="end-to-end",
                summary="image (N,H,W,3) uint8 or float RGB -> upscaled (N,2H,2W,3), chroma upsampling included",
                input_dtypes=("uint8", "float32"),
                check=check_end_to_end,
                wrap=end_to_end_graph,
            ),
            "core": GraphForm(
                name="core",
                summary="y (N,1,H,W) + pbpr (N,2,2H,2W) float32 -> rgb (N,3,2H,2W) in [0, 1]",
                input_dtypes=("float32",),
                check=check_core,
            ),
        },
        default_form="end-to-end",
        trace_sizes={"batch": 2, "height": 24, "width": 40},
        check_sizes=({"batch": 2, "height": 17, "width": 11}, {"batch": 3, "height": 9, "width": 24}),
        min_size=1,
        half=FALSRHalfBody,
        deployment_card=deployment_card,
    ),
    "renas": ExportFamily(
        name="renas",
        inputs=(TensorSpec("image", (("batch", 1), 3, ("height", 1), ("width", 1)), -2.5, 2.5),),
        outputs=("logits",),
        forms={"core": CORE},
        default_form="core",
        trace_sizes={"batch": 2, "height": 224, "width": 224},
        check_sizes=({"batch": 2, "height": 224, "width": 160}, {"batch": 1, "height": 96, "width": 256}),
        min_size=32,
    ),
}
"""Family name (as in :data:`falsr_zoo.models.BUILDERS`) -> its export row."""


def family_name_of(model: nn.Module) -> str:
    """The builder family a module was made by.

    Raises:
        ExportError: if no builder family makes this kind of module.
    """
    from falsr_zoo.models import BUILDERS

    for name, builder in BUILDERS.items():
        if isinstance(builder, type) and isinstance(model, builder):
            return name
    raise ExportError(f"cannot export a {type(model).__name__}: it is not a module of any model family")


def family_of(model: nn.Module) -> ExportFamily:
    """The export row of a module's family.

    Raises:
        ExportError: if the family has no row in :data:`FAMILIES` yet.
    """
    name = family_name_of(model)
    if name not in FAMILIES:
        raise ExportError(f"ONNX export is not implemented for the {name!r} family yet")
    return FAMILIES[name]


def deployment_section(family: str, name: str) -> str:
    """The model card's deployment section for zoo model ``name`` of ``family``.

    A family row may bring its own text (FALSR's end-to-end snippet); otherwise the section is
    made from the row's default graph: its inputs, outputs and an ONNX Runtime call.
    """
    row = FAMILIES.get(family)
    if row is None:
        return "## Deployment\n\nONNX export is not available for this model family yet."
    if row.deployment_card is not None:
        return row.deployment_card(name)
    feeds = ", ".join(f'"{spec.name}": {spec.name}' for spec in row.inputs)
    shapes = "; ".join(f"`{spec.name}` ({', '.join(map(str, spec.dim_names()))}) float32" for spec in row.inputs)
    return (
        "## Deployment\n\n"
        f"Export the ONNX graph (dynamic batch, height and width) and run it with ONNX Runtime alone:\n\n"
        f"```bash\nfalsr export {name} --format onnx -o {name}.onnx\n```\n\n"
        "```python\nimport onnxruntime as ort\n\n"
        f'session = ort.InferenceSession("{name}.onnx", providers=["CPUExecutionProvider"])\n'
        f"outputs = session.run(None, {{{feeds}}})\n```\n\n"
        f"Inputs: {shapes}. Outputs: {', '.join(f'`{o}`' for o in row.outputs)}."
    )
