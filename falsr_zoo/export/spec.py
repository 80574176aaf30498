"""The vocabulary of exports: tensor specs, graph forms, family rows, parity reports.

Pure data (no torch, onnx or onnxruntime at import), so the model cards and the CLI can read
the export rows cheaply. Each family's row lives with the family and is named by the family
table (:meth:`falsr_zoo.families.table.Family.export`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

__all__ = ["ExportFamily", "GraphForm", "ParityReport", "TensorSpec", "Dim", "SYMBOLS"]

Dim = Union[int, tuple[str, int]]
"""One axis of a graph input: a fixed size, or ``(symbol, factor)`` for ``factor * symbol``."""

SYMBOLS = ("batch", "height", "width")
"""The dynamic axes every exported graph has; ``height`` and ``width`` are the LR input size."""


@dataclass(frozen=True)
class TensorSpec:
    """One input of a family's core graph, in the order of the module's ``forward`` arguments.

    Attributes:
        name: The graph input name.
        dims: Per axis, a fixed size or ``(symbol, factor)``: ``("height", 2)`` is ``2*height``.
        low: Lower bound of the uniform random values used for tracing and parity checks.
        high: Upper bound of those values.
    """

    name: str
    dims: tuple[Dim, ...]
    low: float = 0.0
    high: float = 1.0

    def shape(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape for symbol values ``sizes`` (``{"batch": 2, "height": 9, ...}``)."""
        return tuple(d if isinstance(d, int) else sizes[d[0]] * d[1] for d in self.dims)

    def dim_names(self) -> list[int | str]:
        """Axis sizes as ONNX writes them: ``["batch", 1, "height", "width"]``, ``"2*height"``."""
        return [d if isinstance(d, int) else (d[0] if d[1] == 1 else f"{d[1]}*{d[0]}") for d in self.dims]


@dataclass(frozen=True)
class ParityReport:
    """How far an exported graph's outputs are from PyTorch's on the same inputs.

    Attributes:
        form: The graph form that was checked.
        max_abs: Largest absolute difference (in the output's own units: [0, 1] floats, or grey
            levels for uint8 images).
        tolerance: The largest ``max_abs`` accepted.
        values: How many output values were compared.
        mismatched: How many of them differ at all.
        max_mismatched_fraction: The largest accepted ``mismatched / values`` (1.0: no limit).
        unit: ``""`` for floats, ``"grey levels"`` for uint8 images.
    """

    form: str
    max_abs: float
    tolerance: float
    values: int
    mismatched: int = 0
    max_mismatched_fraction: float = 1.0
    unit: str = ""

    @property
    def ok(self) -> bool:
        """Whether the graph is within tolerance."""
        return self.max_abs <= self.tolerance and self.mismatched <= self.max_mismatched_fraction * self.values

    def summary(self) -> str:
        """One line for logs and the CLI."""
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.form}: max abs {self.max_abs:.3g}{unit} (tolerance {self.tolerance:g})"
        if self.unit:
            text += f", {self.mismatched} of {self.values} values differ"
        return text + ("" if self.ok else " - FAILED")


@dataclass(frozen=True)
class GraphForm:
    """One exportable graph of a family, made from the core graph.

    Attributes:
        name: ``"core"``, ``"end-to-end"``, ...
        summary: One line for help texts: inputs and outputs.
        input_dtypes: Accepted values of ``input_dtype``, the first being the default
            (``("float32",)`` for graphs whose inputs are the network's own).
        wrap: ``(core graph, model, input_dtype) -> graph``; ``None`` for the core graph itself.
        check: ``(model, session, family, input_dtype, precision, rng) -> ParityReport``: runs
            the exported graph and the PyTorch reference on the family's check sizes.
    """

    name: str
    summary: str
    input_dtypes: tuple[str, ...]
    check: Callable[..., ParityReport]
    wrap: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ExportFamily:
    """One row of the export table: what a model family's graphs look like.

    Attributes:
        name: The family (key of :data:`falsr_zoo.families.table.FAMILIES`).
        inputs: The core graph's inputs, in ``forward`` order.
        outputs: The core graph's output names.
        forms: Graph forms by name.
        default_form: The form ``falsr export`` writes without ``--core``.
        trace_sizes: Symbol values of the example inputs used for tracing.
        check_sizes: Symbol values of the parity checks (odd sizes, portrait and landscape,
            a batch above one).
        min_size: Smallest height and width the network accepts (the engine profile minimum).
        half: ``model -> module`` computing in float16 with float32 inputs and outputs;
            ``None`` when the family has no float16 graph.
        deployment_card: ``model name -> Markdown`` body of the card's deployment section.
    """

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[str, ...]
    forms: Mapping[str, GraphForm]
    default_form: str
    trace_sizes: Mapping[str, int]
    check_sizes: tuple[Mapping[str, int], ...]
    min_size: int = 1
    half: Callable[[nn.Module], nn.Module] | None = None
    deployment_card: Callable[[str], str] | None = None

    def example_inputs(self, sizes: Mapping[str, int], rng: np.random.Generator) -> list[np.ndarray]:
        """Random float32 inputs of the core graph for symbol values ``sizes``."""
        import numpy as np

        return [rng.uniform(s.low, s.high, s.shape(sizes)).astype(np.float32) for s in self.inputs]

    def form(self, name: str | None) -> GraphForm:
        """The form ``name`` (the default form for ``None``).

        Raises:
            ValueError: for a form this family does not have.
        """
        key = self.default_form if name is None else name
        if key not in self.forms:
            raise ValueError(f"the {self.name} family has no {key!r} graph; expected one of {', '.join(self.forms)}")
        return self.forms[key]
