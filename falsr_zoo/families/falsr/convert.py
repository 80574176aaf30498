"""Converting the authors' FALSR frozen graphs into safetensors for :class:`~falsr_zoo.models.FALSR`.

The architecture is read off the graph itself: the cell scopes name each cell in the paper's
notation (``cell3/invertBotConE2_f32_k3_b4_noskip_...``) and the concatenations feeding each
cell and the fuse convolution give the macro links. From that genome the converter derives
the complete list of weight tensors the graph must hold (name and shape) and refuses a graph
with anything missing, extra, mis-shaped, or colour constants other than the release's.

Kernel layouts: TensorFlow ``(kh, kw, cin, cout)`` -> PyTorch ``(cout, cin, kh, kw)``; depthwise
``(kh, kw, C, 1)`` -> ``(C, 1, kh, kw)``; grouped kernels are stored whole with ``cin / g``
inputs and split along ``cout``, which is PyTorch's grouped layout already. Depth-to-space
needs no permutation because the module keeps TensorFlow's channel order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from falsr_zoo._files import discard, sha256_file, temporary_sibling
from falsr_zoo.errors import ConversionError, GenomeError, OutputExistsError
from falsr_zoo.families.falsr.colour import CHROMA_OFFSET, COLOR_BIAS, COLOR_KERNEL, PIXEL_MAX
from falsr_zoo.families.falsr.genome import STEM_WIDTH, UPSAMPLE_WIDTH, Genome, parse_cell
from falsr_zoo.families.falsr.tf_graph import read_graph, tensor_value
from falsr_zoo.zoo.registry import ModelEntry, find_by_genome
from falsr_zoo.zoo.weights import install, store_path, write_safetensors

__all__ = [
    "ConvertedGraph",
    "convert_graph",
    "convert_release",
    "genome_from_graph",
    "install_official",
    "official_tensor_map",
]

SCOPE = "test_sr_evaluator_i1_b0_g"
INPUTS = ("input_image_evaluate_y", "input_image_evaluate_pbpr")
OUTPUT = f"{SCOPE}/target"
STEM_OUT = f"{SCOPE}/n32s1/c/Relu"
FUSE_CONV = f"{SCOPE}/n32s1/2/0/Conv2D"

# Scalar and colour constants of the release's output step: name -> expected value.
_FIXED_CONSTANTS = {
    "mul/x": PIXEL_MAX,
    "add/y": CHROMA_OFFSET,
    "mul_1/y": PIXEL_MAX,
    "Mul_2/y": PIXEL_MAX,
    "div/y": PIXEL_MAX,
    "zeros/Const": 0.0,
    "ones/Const": 1.0,
    "Const": np.asarray(COLOR_KERNEL, dtype=np.float32).reshape(1, 1, 3, 3),
    "Const_1": np.asarray(COLOR_BIAS, dtype=np.float32),
}
_CELL_SCOPE = re.compile(rf"^{SCOPE}/cell(\d+)/([A-Za-z0-9]+_f\d+_k\d+_b\d+_(?:isskip|noskip))")


@dataclass(frozen=True)
class TensorSource:
    """Where one PyTorch parameter comes from in the graph and how to lay it out."""

    graph_name: str
    layout: str  # "conv", "depthwise" or "bias"
    shape: tuple[int, ...]  # shape in the graph


@dataclass(frozen=True)
class ConvertedGraph:
    """Result of converting one graph."""

    source: Path
    genome: Genome
    entry: ModelEntry | None
    path: Path
    sha256: str


def official_tensor_map(genome: Genome) -> dict[str, TensorSource]:
    """Every parameter of ``FALSR(genome)`` -> the graph constant it is read from."""
    table: dict[str, TensorSource] = {}

    def conv(torch_name: str, graph_prefix: str, cin: int, cout: int, k: int, groups: int = 1) -> None:
        weight, bias = ("W", "b") if groups > 1 else ("kernel", "bias")
        table[f"{torch_name}.weight"] = TensorSource(f"{SCOPE}/{graph_prefix}/{weight}", "conv", (k, k, cin // groups, cout))
        table[f"{torch_name}.bias"] = TensorSource(f"{SCOPE}/{graph_prefix}/{bias}", "bias", (cout,))

    conv("stem", "n32s1/c", 1, STEM_WIDTH, 3)
    for i, cell in enumerate(genome.cells):
        prefix, cin, f, k = f"cell{i}/{cell.to_string('_')}", genome.input_width(i), cell.filters, cell.kernel
        kind = cell.cell_type
        if kind.kind == "plain":
            for j in range(cell.repeats):
                conv(f"cells.{i}.convs.{j}", f"{prefix}_b{j}", cin if j == 0 else f, f, k, kind.groups)
            continue
        hidden = f * kind.expansion
        conv(f"cells.{i}.supple", f"{prefix}_conv_supple", cin, f, 1)
        for j in range(cell.repeats):
            block = f"cells.{i}.blocks.{j}"
            conv(f"{block}.expand", f"{prefix}_b{j}_conv_1", f, hidden, k)
            depthwise = f"{SCOPE}/{prefix}_b{j}depth_wise"
            table[f"{block}.depthwise.weight"] = TensorSource(f"{depthwise}/W_depthwise2d", "depthwise", (3, 3, hidden, 1))
            table[f"{block}.depthwise.bias"] = TensorSource(f"{depthwise}/b_depthwise2d", "bias", (hidden,))
            conv(f"{block}.project", f"{prefix}_b{j}_conv_2", hidden, f, k)
    conv("fuse", "n32s1/2/0", genome.input_width(genome.n_cells), STEM_WIDTH, 3)
    conv("to_y", "yout", UPSAMPLE_WIDTH, 1, 3)
    return table


def genome_from_graph(nodes: dict[str, Any]) -> Genome:
    """Read the cells and links a FALSR graph encodes.

    Raises:
        ConversionError: if the graph is not a FALSR evaluation graph.
    """
    for name in (*INPUTS, OUTPUT, STEM_OUT, FUSE_CONV):
        if name not in nodes:
            raise ConversionError(f"not a FALSR graph: node {name!r} is missing")
    found: dict[int, str] = {}
    for name in nodes:
        match = _CELL_SCOPE.match(name)
        if match:
            index, spec = int(match.group(1)), match.group(2)
            if found.setdefault(index, spec) != spec:
                raise ConversionError(f"cell {index} appears as both {found[index]!r} and {spec!r}")
    if sorted(found) != list(range(len(found))) or not found:
        raise ConversionError(f"not a FALSR graph: cell scopes {sorted(found)} are not 0..n-1")
    try:
        cells = [parse_cell(found[i]) for i in range(len(found))]
    except GenomeError as err:
        raise ConversionError(f"graph cell outside the FALSR space: {err}") from None
    sources = []
    for i, cell in enumerate(cells):
        prefix = f"{SCOPE}/cell{i}/{found[i]}"
        first = f"{prefix}_conv_supple/Conv2D" if cell.cell_type.expansion else f"{prefix}_b0/Conv2D"
        if cell.cell_type.groups > 1:
            first = f"{prefix}_b0/split"
        sources.append(_sources_read_by(nodes, first))
    sources.append(_sources_read_by(nodes, FUSE_CONV))
    try:
        return Genome(tuple(cells), tuple(sources))
    except GenomeError as err:
        raise ConversionError(f"graph links outside the FALSR space: {err}") from None


def _sources_read_by(nodes: dict[str, Any], consumer: str) -> tuple[int, ...]:
    node = nodes.get(consumer)
    if node is None:
        raise ConversionError(f"not a FALSR graph: node {consumer!r} is missing")
    data = node.input[1] if node.op == "Split" else node.input[0]
    producer = nodes.get(_node_name(data))
    if producer is None:
        raise ConversionError(f"{consumer!r} reads {data!r}, which is not in the graph")
    tensors = list(producer.input[:-1]) if producer.op == "ConcatV2" else [data]
    return tuple(_source_id(nodes, t) for t in tensors)


def _node_name(tensor: str) -> str:
    return tensor.split(":", 1)[0].lstrip("^")


def _source_id(nodes: dict[str, Any], tensor: str, depth: int = 0) -> int:
    name = _node_name(tensor)
    if name == STEM_OUT:
        return 0
    match = re.match(rf"^{SCOPE}/cell(\d+)/", name)
    if match:
        return int(match.group(1)) + 1
    node = nodes.get(name)
    if node is None or node.op != "Add" or depth > 64:
        raise ConversionError(f"cannot tell which cell produces {tensor!r}")
    return _source_id(nodes, node.input[0], depth + 1)


def _check_fixed_constants(nodes: dict[str, Any]) -> None:
    for short, expected in _FIXED_CONSTANTS.items():
        node = nodes.get(f"{SCOPE}/{short}")
        if node is None or node.op != "Const":
            raise ConversionError(f"not the FALSR release: output-step constant {short!r} is missing")
        value = tensor_value(node)
        if not np.array_equal(value, np.asarray(expected, dtype=np.float32)):
            raise ConversionError(f"output-step constant {short!r} is {value.ravel().tolist()}, not the release's")


def _weight_constants(nodes: dict[str, Any]) -> set[str]:
    """Graph constants that hold learned tensors (kernels and biases)."""
    fixed = {f"{SCOPE}/{short}" for short in _FIXED_CONSTANTS}
    return {
        name
        for name, node in nodes.items()
        if node.op == "Const" and name not in fixed and len(node.attr["value"].tensor.tensor_shape.dim) > 0
    }


def _to_torch(value: np.ndarray, layout: str) -> torch.Tensor:
    if layout == "conv":
        value = value.transpose(3, 2, 0, 1)
    elif layout == "depthwise":
        value = value.transpose(2, 3, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def extract_weights(nodes: dict[str, Any], genome: Genome) -> dict[str, torch.Tensor]:
    """The state dict of ``FALSR(genome)`` from a graph, after checking names and shapes.

    Raises:
        ConversionError: listing missing, mis-shaped and unexpected weight tensors.
    """
    table = official_tensor_map(genome)
    expected = {src.graph_name for src in table.values()}
    missing = sorted(n for n in expected if n not in nodes)
    unexpected = sorted(_weight_constants(nodes) - expected)
    if missing or unexpected:
        detail = "; ".join(
            f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected))
            if items
        )
        raise ConversionError(f"graph tensors do not match genome '{genome}' ({detail})")
    state = {}
    for torch_name, src in table.items():
        value = tensor_value(nodes[src.graph_name])
        if value.shape != src.shape:
            raise ConversionError(f"{src.graph_name} has shape {value.shape}, expected {src.shape}")
        state[torch_name] = _to_torch(value, src.layout)
    return state


def convert_graph(
    source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *, overwrite: bool = False
) -> ConvertedGraph:
    """Convert one official frozen graph into a safetensors file.

    Args:
        source: A ``FALSR-*.pb`` file.
        output: Where to write. Default: the local store, for a graph whose genome is a zoo
            entry (the file must then reproduce the entry's pinned sha256).
        overwrite: Replace an existing ``output`` file.

    Returns:
        What was converted and where it went.

    Raises:
        ConversionError: the file is not a FALSR graph, or not a zoo model and no output given.
        ChecksumError: the result for a zoo entry does not have the pinned sha256.
    """
    source = Path(source)
    if not source.is_file():
        raise ConversionError(f"{source}: no such file")
    nodes = read_graph(source)
    _check_fixed_constants(nodes)
    genome = genome_from_graph(nodes)
    state = extract_weights(nodes, genome)
    entry = find_by_genome(str(genome), "falsr")
    if output is None and entry is None:
        raise ConversionError(
            f"{source.name} encodes genome '{genome}', which is not a zoo model; pass -o FILE to write it anyway"
        )
    metadata = {"family": "falsr", "genome": str(genome), "source_sha256": sha256_file(source)}
    if output is not None:
        target = Path(output)
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} exists; pass --overwrite to replace it")
        if target.resolve() == source.resolve():
            raise OutputExistsError(f"refusing to overwrite the input {source}")
        return ConvertedGraph(source, genome, entry, target, write_safetensors(state, target, metadata))
    assert entry is not None
    staging = temporary_sibling(store_path(entry))  # unique: two processes may convert at once
    try:
        digest = write_safetensors(state, staging, metadata)
        path = install(entry, staging)
    finally:
        discard(staging)
    return ConvertedGraph(source, genome, entry, path, digest)


def install_official(source: Path) -> Path:
    """Convert an official graph into the local store and return the stored file.

    The family table names this as FALSR's source converter: the weights store calls it on a
    graph fetched from the authors' release (whose sha256 it has checked); the converted file
    must have its zoo entry's pinned sha256.
    """
    return convert_graph(source).path


def release_graphs(directory: str | os.PathLike[str]) -> list[Path]:
    """The ``*.pb`` files of a release directory (its root or ``pretrained_model/``)."""
    directory = Path(directory)
    found = sorted({*directory.glob("*.pb"), *directory.glob("pretrained_model/*.pb")})
    if not found:
        raise ConversionError(f"{directory}: no .pb files here or in pretrained_model/")
    return found


def convert_release(paths: list[str | os.PathLike[str]]) -> Iterator[ConvertedGraph]:
    """Convert files and release directories into the store, one graph at a time."""
    for path in paths:
        for graph in release_graphs(path) if Path(path).is_dir() else [Path(path)]:
            yield convert_graph(graph)
