"""FALSR's export row: the core graph's shape, the end-to-end image graph and the float16 body.

The end-to-end graph is the official colour path (``docs/official-release.md``; the release's
``calculate.py``) written in ONNX operators around the core graph, so that a deployment needs
nothing but ONNX Runtime:

* LR luma: ``rgb2ypbpr`` row Y on RGB / 255 (a 1x1 convolution);
* chroma: PIL's bicubic x2 of the LR image, done as PIL does it: Keys' cubic with a = -0.5,
  half-pixel centres, taps outside the image dropped and the rest renormalised (ONNX ``Resize``
  ``cubic_coeff_a=-0.5``, ``exclude_outside=1``, ``half_pixel``), horizontal pass then vertical
  pass, and, for uint8 input, each pass rounded half up and clipped to 0..255 as PIL's 8-bit
  path does; then ``rgb2ypbpr`` rows Pb, Pr;
* output: NHWC, and for uint8 input the release's ``clip(x * 255, 0, 255)`` truncated to uint8.

PIL computes with 22-bit fixed-point weights, ONNX Runtime in float32. Inside the image the
x2 weights are dyadic fractions, exact in both, so the chroma matches PIL bit for bit; within
two pixels of the border the renormalised weights are not, and a value that lands exactly on
a rounding tie can round the other way (0.7 % of the border values on Set5, 0.9 % on Set14,
never by more than 2 levels; ``benchmarks/export_parity.py``). A float32 input (RGB in [0, 1])
skips every quantisation and matches PIL's float ("F" mode) bicubic.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from falsr_zoo.export.parity import CORE_FORM, CORE_TOLERANCE, float_report, image_report, run_reference
from falsr_zoo.export.spec import ExportFamily, GraphForm, ParityReport, TensorSpec
from falsr_zoo.families.falsr.colour import RGB_TO_YPBPR, upscale_rgb8

if TYPE_CHECKING:
    import onnx

__all__ = [
    "EXPORT_ROW",
    "IMAGE_INPUT",
    "IMAGE_OUTPUT",
    "FALSRHalfBody",
    "check_end_to_end",
    "colour_graph",
    "deployment_card",
    "end_to_end_graph",
]

IMAGE_INPUT = "image"
IMAGE_OUTPUT = "upscaled"
_PREFIX = "e2e/"

IMAGE_TOLERANCE = {"fp32": 4.0, "fp16": 8.0}
"""Largest accepted grey-level difference from the PyTorch pipeline (uint8 end-to-end graph)."""
IMAGE_MISMATCH = {"fp32": 0.01, "fp16": 0.5}
"""Largest accepted fraction of differing uint8 values.

float32: truncation to uint8 turns a 1e-7 difference into one grey level when a value sits on
an integer, and border chroma ties (module docstring) add a few more: a Cr off by 2 levels
moves R by 2.8, hence 4 levels at most. A wrong resampling kernel or colour matrix changes most
values and fails the fraction. float16 moves many values by a level.
"""


class FALSRHalfBody(nn.Module):
    """A FALSR module whose network runs in float16, inputs, colour step and output in float32.

    The colour step works on values up to 255, where float16 numbers are 0.125 apart: each of its
    roundings could move a value by 1/16 of a grey level and its bias (-179.456) would become
    -179.5, so it stays float32.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.body = copy.deepcopy(model)
        for part in (self.body.stem, self.body.cells, self.body.fuse, self.body.to_y):
            part.half()

    def forward(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        return self.body.to_rgb(self.body.forward_y(y.half()).float(), pbpr)


def end_to_end_graph(core: onnx.ModelProto, model: nn.Module, input_dtype: str) -> onnx.ModelProto:
    """Wrap a FALSR core graph (``y``, ``pbpr`` -> ``rgb``) into ``image`` -> ``upscaled``.

    Args:
        core: The core graph, as :func:`falsr_zoo.export.onnx_export.core_graph` makes it.
        model: The module (for its scale).
        input_dtype: ``"uint8"`` (RGB 0..255 in, uint8 out) or ``"float32"`` (RGB in [0, 1]
            in, float32 in [0, 1] out).

    Returns:
        A graph with input ``image`` ``(batch, height, width, 3)`` and output ``upscaled``
        ``(batch, s*height, s*width, 3)``, both NHWC, of type ``input_dtype``.
    """
    from onnx import TensorProto, helper

    scale = int(model.scale)
    y_name, pbpr_name = (value.name for value in core.graph.input)
    (rgb_name,) = (value.name for value in core.graph.output)
    quantise = input_dtype == "uint8"
    elem = TensorProto.UINT8 if quantise else TensorProto.FLOAT
    nodes, constants = _colour_in(y_name, pbpr_name, scale, quantise)
    post, post_constants = _colour_out(rgb_name, quantise)
    graph = helper.make_graph(
        [*nodes, *core.graph.node, *post],
        "falsr_end_to_end",
        [helper.make_tensor_value_info(IMAGE_INPUT, elem, ["batch", "height", "width", 3])],
        [helper.make_tensor_value_info(IMAGE_OUTPUT, elem, ["batch", f"{scale}*height", f"{scale}*width", 3])],
        initializer=[*constants, *core.graph.initializer, *post_constants],
        value_info=[*core.graph.input, *core.graph.output, *core.graph.value_info],
    )
    wrapped = helper.make_model(graph, opset_imports=list(core.opset_import), ir_version=core.ir_version)
    wrapped.functions.extend(core.functions)
    return wrapped


def colour_graph(scale: int, input_dtype: str, opset: int) -> onnx.ModelProto:
    """The end-to-end graph's input half alone: ``image`` -> ``y``, ``pbpr`` (the core inputs).

    For checking the colour path against :mod:`falsr_zoo.families.falsr.colour`, and for pipelines that feed
    a core graph from elsewhere.
    """
    from onnx import TensorProto, helper

    elem = TensorProto.UINT8 if input_dtype == "uint8" else TensorProto.FLOAT
    nodes, constants = _colour_in("y", "pbpr", scale, input_dtype == "uint8")
    graph = helper.make_graph(
        nodes,
        "falsr_colour_in",
        [helper.make_tensor_value_info(IMAGE_INPUT, elem, ["batch", "height", "width", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, "height", "width"]),
         helper.make_tensor_value_info("pbpr", TensorProto.FLOAT, ["batch", 2, f"{scale}*height", f"{scale}*width"])],
        initializer=constants,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _constant(name: str, value: Any) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), _PREFIX + name)


def _round_half_up(source: str, target: str) -> list[Any]:
    """PIL's 8-bit rounding between and after its passes: ``clip(floor(x + 0.5), 0, 255)``."""
    from onnx import helper

    p = _PREFIX
    return [
        helper.make_node("Add", [source, p + "half"], [target + "_plus_half"]),
        helper.make_node("Floor", [target + "_plus_half"], [target + "_floor"]),
        helper.make_node("Clip", [target + "_floor", p + "zero", p + "max_level"], [target]),
    ]


def _resize(source: str, target: str, scales: str) -> Any:
    from onnx import helper

    return helper.make_node(
        "Resize", [source, "", scales], [target], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1,
        coordinate_transformation_mode="half_pixel",
    )


def _colour_in(y_name: str, pbpr_name: str, scale: int, quantise: bool) -> tuple[list[Any], list[Any]]:
    """NHWC RGB image -> the core graph's ``y`` and ``pbpr`` (nodes, initializers)."""
    from onnx import TensorProto, helper

    p = _PREFIX
    constants = [
        # float64 matrix / 255, rounded once to float32, as the release feeds float32 inputs.
        _constant("luma", (RGB_TO_YPBPR[0] / 255.0).reshape(1, 3, 1, 1)),
        _constant("chroma", (RGB_TO_YPBPR[1:] / 255.0).reshape(2, 3, 1, 1)),
        _constant("scales_w", [1.0, 1.0, 1.0, float(scale)]),
        _constant("scales_h", [1.0, 1.0, float(scale), 1.0]),
    ]
    constants += ([_constant("half", 0.5), _constant("zero", 0.0), _constant("max_level", 255.0)] if quantise
                  else [_constant("levels", 255.0)])
    to_levels = (helper.make_node("Cast", [IMAGE_INPUT], [p + "rgb"], to=TensorProto.FLOAT) if quantise
                 else helper.make_node("Mul", [IMAGE_INPUT, p + "levels"], [p + "rgb"]))
    nodes = [
        to_levels,
        helper.make_node("Transpose", [p + "rgb"], [p + "rgb_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", [p + "rgb_nchw", p + "luma"], [y_name]),
        # PIL resizes the width first, then the height.
        _resize(p + "rgb_nchw", p + "wide", p + "scales_w"),
    ]
    wide = p + "wide"
    if quantise:
        nodes += _round_half_up(wide, p + "wide_u8")
        wide = p + "wide_u8"
    nodes.append(_resize(wide, p + "up", p + "scales_h"))
    up = p + "up"
    if quantise:
        nodes += _round_half_up(up, p + "up_u8")
        up = p + "up_u8"
    nodes.append(helper.make_node("Conv", [up, p + "chroma"], [pbpr_name]))
    return nodes, constants


def _colour_out(rgb_name: str, quantise: bool) -> tuple[list[Any], list[Any]]:
    """The core graph's NCHW ``rgb`` in [0, 1] -> the NHWC output (nodes, initializers)."""
    from onnx import TensorProto, helper

    p = _PREFIX
    if not quantise:
        return [helper.make_node("Transpose", [rgb_name], [IMAGE_OUTPUT], perm=[0, 2, 3, 1])], []
    nodes = [
        helper.make_node("Transpose", [rgb_name], [p + "rgb_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Mul", [p + "rgb_nhwc", p + "out_levels"], [p + "out_scaled"]),
        helper.make_node("Clip", [p + "out_scaled", p + "out_zero", p + "out_max"], [p + "out_clipped"]),
        # The release truncates (astype(np.uint8)); Floor makes that explicit before the Cast.
        helper.make_node("Floor", [p + "out_clipped"], [p + "out_floor"]),
        helper.make_node("Cast", [p + "out_floor"], [IMAGE_OUTPUT], to=TensorProto.UINT8),
    ]
    return nodes, [_constant("out_levels", 255.0), _constant("out_zero", 0.0), _constant("out_max", 255.0)]


def pil_float_resize(levels: np.ndarray, scale: int) -> np.ndarray:
    """PIL's float ("F" mode) bicubic x``scale`` of an ``(H, W, C)`` float array, per channel."""
    height, width = levels.shape[:2]
    size = (width * scale, height * scale)
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(levels[..., c], dtype=np.float32), "F")
                                .resize(size, Image.BICUBIC)) for c in range(levels.shape[2])], axis=-1)


def float_pipeline(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The PyTorch pipeline for float RGB in [0, 1] ``(N, H, W, 3)``: no quantisation anywhere."""
    scale = int(model.scale)
    y = (images.astype(np.float64) @ RGB_TO_YPBPR[0]).astype(np.float32)[:, None]
    up = np.stack([pil_float_resize(image * np.float32(255.0), scale) for image in images])
    pbpr = (up / 255.0 @ RGB_TO_YPBPR[1:].T).astype(np.float32).transpose(0, 3, 1, 2)
    return run_reference(model, [y, pbpr])[0].transpose(0, 2, 3, 1)


def uint8_pipeline(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The PyTorch pipeline (the official colour path, untiled) over a uint8 ``(N, H, W, 3)`` batch."""
    scale = int(model.scale)
    return np.stack([upscale_rgb8(lambda y, pbpr: run_reference(model, [y, pbpr])[0], image, scale) for image in images])


def check_end_to_end(model: nn.Module, session: Any, family: ExportFamily, input_dtype: str, precision: str,
                     rng: np.random.Generator) -> ParityReport:
    """Run the end-to-end graph and the PyTorch pipeline on random images at the check sizes."""
    pairs = []
    for sizes in family.check_sizes:
        shape = (sizes["batch"], sizes["height"], sizes["width"], 3)
        if input_dtype == "uint8":
            images = rng.integers(0, 256, shape, dtype=np.uint8)
            reference = uint8_pipeline(model, images)
        else:
            images = rng.random(shape, dtype=np.float32)
            reference = float_pipeline(model, images)
        (out,) = session.run([IMAGE_OUTPUT], {IMAGE_INPUT: images})
        pairs.append((reference, out))
    if input_dtype == "uint8":
        return image_report("end-to-end", pairs, IMAGE_TOLERANCE[precision], IMAGE_MISMATCH[precision])
    return float_report("end-to-end", pairs, CORE_TOLERANCE[precision])


def deployment_card(name: str) -> str:
    """The model card's deployment section for a FALSR model."""
    return (
        "## Deployment\n\n"
        "Export the end-to-end ONNX graph (RGB uint8 image in, the x2 RGB uint8 image out, chroma "
        "upsampling included; dynamic batch, height and width) and run it with ONNX Runtime alone:\n\n"
        f"```bash\nfalsr export {name} --format onnx -o {name}.onnx\n```\n\n"
        "```python\nimport numpy as np\nimport onnxruntime as ort\nfrom PIL import Image\n\n"
        f'session = ort.InferenceSession("{name}.onnx", providers=["CPUExecutionProvider"])\n'
        'lr = np.asarray(Image.open("photo.png").convert("RGB"))[None]  # (1, H, W, 3) uint8\n'
        '(sr,) = session.run(None, {"image": lr})                        # (1, 2H, 2W, 3) uint8\n'
        'Image.fromarray(sr[0]).save("photo_x2.png")\n```\n\n'
        "The graph reproduces the package's pipeline (official colour path, PIL bicubic chroma, "
        "truncation to uint8); `--input-dtype float32` takes and returns RGB in [0, 1] instead. "
        "`--core` exports the network alone: `y` (N, 1, H, W) and `pbpr` (N, 2, 2H, 2W) float32 "
        "in, `rgb` (N, 3, 2H, 2W) in [0, 1] out. On an NVIDIA GPU, "
        f"`falsr export {name} --format tensorrt` writes a TensorRT engine of the core graph (`--fp16` "
        "optional), and the upscaler's `tensorrt` backend runs the model through TensorRT."
    )


EXPORT_ROW = ExportFamily(
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
            input_dtypes=CORE_FORM.input_dtypes,
            check=CORE_FORM.check,
        ),
    },
    default_form="end-to-end",
    trace_sizes={"batch": 2, "height": 24, "width": 40},
    check_sizes=({"batch": 2, "height": 17, "width": 11}, {"batch": 3, "height": 9, "width": 24}),
    min_size=1,
    half=FALSRHalfBody,
    deployment_card=deployment_card,
)
"""FALSR's row of the export table (named by the family table)."""
