"""Reading TensorFlow 1 frozen graphs (``GraphDef`` protobufs) without TensorFlow.

Only the protobuf runtime is needed (a core dependency). The message types are
declared here at run time with the field numbers of TensorFlow's own ``.proto`` files
(``graph.proto``, ``node_def.proto``, ``attr_value.proto``, ``tensor.proto``,
``tensor_shape.proto``), restricted to the fields a frozen graph of constants uses; anything
else in a file is skipped by the parser as unknown fields.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from falsr_zoo.errors import ConversionError

__all__ = ["read_graph", "tensor_value"]

# TensorFlow DataType enum values this module can decode.
_DTYPES = {1: np.float32, 3: np.int32}
_VALUE_FIELDS = {1: "float_val", 3: "int_val"}

# (message, [(field name, number, type, label, type name)]) with descriptor_pb2 enum names.
_SCHEMA: list[tuple[str, list[tuple[str, int, str, str, str]]]] = [
    (
        "TensorShapeProto",
        [("dim", 2, "MESSAGE", "REPEATED", "TensorShapeProto.Dim"), ("unknown_rank", 3, "BOOL", "OPTIONAL", "")],
    ),
    ("TensorShapeProto.Dim", [("size", 1, "INT64", "OPTIONAL", ""), ("name", 2, "STRING", "OPTIONAL", "")]),
    (
        "TensorProto",
        [
            ("dtype", 1, "INT32", "OPTIONAL", ""),
            ("tensor_shape", 2, "MESSAGE", "OPTIONAL", "TensorShapeProto"),
            ("version_number", 3, "INT32", "OPTIONAL", ""),
            ("tensor_content", 4, "BYTES", "OPTIONAL", ""),
            ("float_val", 5, "FLOAT", "REPEATED", ""),
            ("double_val", 6, "DOUBLE", "REPEATED", ""),
            ("int_val", 7, "INT32", "REPEATED", ""),
            ("string_val", 8, "BYTES", "REPEATED", ""),
            ("int64_val", 10, "INT64", "REPEATED", ""),
            ("bool_val", 11, "BOOL", "REPEATED", ""),
        ],
    ),
    (
        "AttrValue",
        [
            ("list", 1, "MESSAGE", "OPTIONAL", "AttrValue.ListValue"),
            ("s", 2, "BYTES", "OPTIONAL", ""),
            ("i", 3, "INT64", "OPTIONAL", ""),
            ("f", 4, "FLOAT", "OPTIONAL", ""),
            ("b", 5, "BOOL", "OPTIONAL", ""),
            ("type", 6, "INT32", "OPTIONAL", ""),
            ("shape", 7, "MESSAGE", "OPTIONAL", "TensorShapeProto"),
            ("tensor", 8, "MESSAGE", "OPTIONAL", "TensorProto"),
            ("placeholder", 9, "STRING", "OPTIONAL", ""),
        ],
    ),
    (
        "AttrValue.ListValue",
        [
            ("s", 2, "BYTES", "REPEATED", ""),
            ("i", 3, "INT64", "REPEATED", ""),
            ("f", 4, "FLOAT", "REPEATED", ""),
            ("b", 5, "BOOL", "REPEATED", ""),
            ("type", 6, "INT32", "REPEATED", ""),
            ("shape", 7, "MESSAGE", "REPEATED", "TensorShapeProto"),
            ("tensor", 8, "MESSAGE", "REPEATED", "TensorProto"),
        ],
    ),
    (
        "NodeDef",
        [
            ("name", 1, "STRING", "OPTIONAL", ""),
            ("op", 2, "STRING", "OPTIONAL", ""),
            ("input", 3, "STRING", "REPEATED", ""),
            ("device", 4, "STRING", "OPTIONAL", ""),
            ("attr", 5, "MESSAGE", "REPEATED", "NodeDef.AttrEntry"),
        ],
    ),
    ("NodeDef.AttrEntry", [("key", 1, "STRING", "OPTIONAL", ""), ("value", 2, "MESSAGE", "OPTIONAL", "AttrValue")]),
    ("GraphDef", [("node", 1, "MESSAGE", "REPEATED", "NodeDef")]),
]
_PACKAGE = "falsr_zoo.tensorflow"


@lru_cache(maxsize=1)
def _graph_def_class() -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fdp = descriptor_pb2.FileDescriptorProto(name="falsr_zoo_tf_graph.proto", package=_PACKAGE, syntax="proto3")
    messages: dict[str, Any] = {}
    for path, fields in _SCHEMA:
        parent, _, leaf = path.rpartition(".")
        msg = messages[parent].nested_type.add() if parent else fdp.message_type.add()
        msg.name = leaf
        messages[path] = msg
        if leaf == "AttrEntry":
            msg.options.map_entry = True
        for name, number, type_, label, type_name in fields:
            field = msg.field.add(name=name, number=number)
            field.type = descriptor_pb2.FieldDescriptorProto.Type.Value(f"TYPE_{type_}")
            field.label = descriptor_pb2.FieldDescriptorProto.Label.Value(f"LABEL_{label}")
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.GraphDef"))


def read_graph(path: str | Path) -> dict[str, Any]:
    """Parse a frozen ``GraphDef`` file into ``{node name: NodeDef message}``.

    Raises:
        ConversionError: if the file is not a parseable GraphDef with uniquely named nodes.
    """
    from google.protobuf.message import DecodeError

    data = Path(path).read_bytes()
    graph = _graph_def_class()()
    try:
        graph.ParseFromString(data)
    except DecodeError as err:
        raise ConversionError(f"{path}: not a TensorFlow GraphDef protobuf ({err})") from None
    nodes = {node.name: node for node in graph.node}
    if not nodes or len(nodes) != len(graph.node):
        raise ConversionError(f"{path}: not a TensorFlow frozen graph (no nodes, or duplicate names)")
    return nodes


def tensor_value(node: Any) -> np.ndarray:
    """The value of a ``Const`` node as a NumPy array (float32 and int32 constants).

    Raises:
        ConversionError: for other ops or dtypes, or a size that does not match the shape.
    """
    if node.op != "Const" or "value" not in node.attr:
        raise ConversionError(f"node {node.name!r} is a {node.op}, not a constant")
    tensor = node.attr["value"].tensor
    dtype = _DTYPES.get(tensor.dtype)
    if dtype is None:
        raise ConversionError(f"constant {node.name!r} has unsupported TensorFlow dtype {tensor.dtype}")
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content:
        values = np.frombuffer(tensor.tensor_content, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        values = np.asarray(getattr(tensor, _VALUE_FIELDS[tensor.dtype]), dtype=dtype)
        if values.size == 1 and count > 1:  # TensorFlow stores splats as one value
            values = np.full(count, values[0], dtype=dtype)
    if values.size != count:
        raise ConversionError(f"constant {node.name!r} holds {values.size} values for shape {shape}")
    return values.astype(dtype).reshape(shape)
