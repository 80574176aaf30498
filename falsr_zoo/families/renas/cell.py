"""RENAS genomes: the cell grammar of the RENAS search space.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Section 3.1 (search space). Where the paper and the authors' code differ, this follows the
authors' MXNet code (repository yukang2017/RENAS, ``eval/symbol_renasnet.py`` and
``eval/nasnet_utils.py``) where it differs from the paper; see
``../shared/docs/renasnet-reference.md``.

**Cell.** A cell has ``#B`` blocks (``#B = 5`` in the paper). Block ``b`` reads two inputs
``i1, i2``, applies one operator to each (``o1, o2``) and adds the results; the paper encodes
it as ``{i1, i2, o1, o2}``. Inputs are numbered as in the authors' code: ``0`` is the cell
before the previous one, ``1`` the previous cell, and ``k >= 2`` the output of block ``k - 2``
of the same cell, so block ``b`` may read inputs ``0 .. b + 1``. The cell's output
concatenates the blocks no other block reads.

A genome string lists the blocks, separated by ``;`` or newlines, in the paper's order::

    {0, 1, sep5x5, sep3x3}; {1, 1, identity, sep3x3}; {0, 0, sep3x3, avg3x3}; ...

Braces and commas are optional on input (``0 1 sep5x5 sep3x3``) and ``#`` starts a comment;
the authors' code form, a list of ``[operator id, input]`` pairs (``[[1, 0], [0, 1], ...]``),
is accepted too. The canonical form written by :func:`format_renas_cell` always uses braces
and ``", "``. The two halves of a block keep the order they are written in: the sum does not
depend on it, but it names the parameters (``ops.0`` / ``ops.1``), as it names the layers of
the authors' code.

Networks built from a cell (layouts, plan, costs) are :mod:`falsr_zoo.families.renas.plan`.
This module is pure Python (no torch), so the CLI and a search can check genomes cheaply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from falsr_zoo.errors import GenomeError

__all__ = [
    "NUM_BLOCKS",
    "NUM_INPUTS",
    "OPERATORS",
    "OPERATORS_BY_CODE",
    "Operator",
    "RenasBlock",
    "RenasCell",
    "format_renas_cell",
    "parse_renas_cell",
]

NUM_BLOCKS = 5
"""``#B``, the number of blocks of a cell in the paper's search space."""
NUM_INPUTS = 2
"""Inputs every cell receives: the cell before the previous one (0) and the previous one (1)."""


@dataclass(frozen=True)
class Operator:
    """One row of the operator table.

    Attributes:
        name: The genome token.
        code: The operator's id in the authors' code (``choose_layer``).
        kind: Which module implements it: ``"separable"``, ``"avg_pool"``, ``"max_pool"`` or
            ``"identity"`` (a 3x3 max pool with stride 2 in reduction cells).
        kernel: Kernel size (1 for identity).
        description: The paper's name of the operator.
    """

    name: str
    code: int
    kind: str
    kernel: int
    description: str

    @property
    def has_weights(self) -> bool:
        """Whether the operator has parameters (only separable convolutions do)."""
        return self.kind == "separable"


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("sep3x3", 0, "separable", 3, "3x3 depthwise-separable convolution"),
        Operator("sep5x5", 1, "separable", 5, "5x5 depthwise-separable convolution"),
        Operator("sep7x7", 2, "separable", 7, "7x7 depthwise-separable convolution"),
        Operator("avg3x3", 3, "avg_pool", 3, "3x3 average pooling"),
        Operator("max3x3", 4, "max_pool", 3, "3x3 max pooling"),
        Operator("identity", 7, "identity", 1, "identity"),
    )
}
"""The one operator table: the grammar's vocabulary, the code ids and the builders derive from it."""

OPERATORS_BY_CODE: dict[int, Operator] = {op.code: op for op in OPERATORS.values()}
# Ids the authors' code defines outside the paper's search space, named in error messages.
_CODES_OUTSIDE_SPACE = {5: "conv 3x3", 6: "conv 1x7 then 7x1"}
_INPUT_HELP = "0 and 1 = the two previous cells, k >= 2 = block k-2"


def _operator_choices() -> str:
    return ", ".join(OPERATORS)


@dataclass(frozen=True)
class RenasBlock:
    """One block, the paper's ``{i1, i2, o1, o2}``: ``o1(input i1) + o2(input i2)``.

    Attributes:
        i1: The input of the first operator (see the module docstring for the numbering).
        i2: The input of the second operator.
        o1: The first operator, a key of :data:`OPERATORS`.
        o2: The second operator.
    """

    i1: int
    i2: int
    o1: str
    o2: str

    def __post_init__(self) -> None:
        for value in (self.i1, self.i2):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise GenomeError(
                    f"input {value!r} is not an input number; expected an integer >= 0 ({_INPUT_HELP})",
                    token=str(value),
                )
        for op in (self.o1, self.o2):
            if op not in OPERATORS:
                raise GenomeError(
                    f"unknown operator {op!r}; expected one of {_operator_choices()}", token=str(op)
                )

    @property
    def inputs(self) -> tuple[int, int]:
        """``(i1, i2)``."""
        return (self.i1, self.i2)

    @property
    def pairs(self) -> tuple[tuple[Operator, int], tuple[Operator, int]]:
        """``((o1, i1), (o2, i2))`` with the operators' table rows."""
        return ((OPERATORS[self.o1], self.i1), (OPERATORS[self.o2], self.i2))

    def to_string(self) -> str:
        """The paper's encoding, e.g. ``{0, 1, sep5x5, sep3x3}``."""
        return f"{{{self.i1}, {self.i2}, {self.o1}, {self.o2}}}"

    def __str__(self) -> str:
        return self.to_string()


@dataclass(frozen=True)
class RenasCell:
    """A cell genome: ``#B >= 1`` blocks, each reading only the two inputs and earlier blocks.

    Attributes:
        blocks: The blocks in order; block ``b`` reads inputs ``0 .. b + 1``.
    """

    blocks: tuple[RenasBlock, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if not self.blocks:
            raise GenomeError("a cell needs at least one block")
        for index, block in enumerate(self.blocks):
            if not isinstance(block, RenasBlock):
                raise GenomeError(f"block {index} is not a RenasBlock: {block!r}", token=repr(block))
            for value in block.inputs:
                _check_input(index, value)

    @property
    def num_blocks(self) -> int:
        """``#B``."""
        return len(self.blocks)

    @property
    def output_blocks(self) -> tuple[int, ...]:
        """Indices of the blocks no other block reads, ascending: what the cell concatenates."""
        read = {i - NUM_INPUTS for block in self.blocks for i in block.inputs}
        return tuple(b for b in range(self.num_blocks) if b not in read)

    def num_outputs(self, reduction: bool, append_input0: bool) -> int:
        """Tensors the cell concatenates: its output blocks, plus input 0 in normal cells when
        ``append_input0`` (the authors' code's choice)."""
        return len(self.output_blocks) + int(append_input0 and not reduction)

    def to_code(self) -> list[list[int]]:
        """The authors' code form: ``2 * #B`` pairs ``[operator id, input]``."""
        return [[op.code, i] for block in self.blocks for op, i in block.pairs]

    @classmethod
    def from_code(cls, pairs: Sequence[Sequence[int]]) -> RenasCell:
        """Build a cell from the authors' ``[[operator id, input], ...]`` list.

        Raises:
            GenomeError: for an odd number of pairs, a malformed pair, an unknown or
                out-of-space operator id, or an invalid input.
        """
        pairs = list(pairs)
        if len(pairs) % 2:
            raise GenomeError(
                f"{len(pairs)} [operator, input] pairs do not make whole blocks; "
                "a block is two pairs, so the count must be even",
                token=str(len(pairs)),
            )
        decoded = [_decode_pair(index, pair) for index, pair in enumerate(pairs)]
        blocks = [
            RenasBlock(i1, i2, o1, o2) for (o1, i1), (o2, i2) in zip(decoded[0::2], decoded[1::2])
        ]
        return cls(tuple(blocks))

    def to_string(self, sep: str = "; ") -> str:
        """The canonical genome string (``sep="\\n"`` gives one block per line)."""
        return sep.join(block.to_string() for block in self.blocks)

    def __str__(self) -> str:
        return self.to_string()

    def describe(self) -> list[str]:
        """One line per block, e.g. ``block 0: sep5x5(input 0) + sep3x3(input 1)``."""
        return [
            f"block {b}: " + " + ".join(f"{op.name}({_input_name(i)})" for op, i in block.pairs)
            for b, block in enumerate(self.blocks)
        ]


def _input_name(index: int) -> str:
    return f"input {index}" if index < NUM_INPUTS else f"block {index - NUM_INPUTS}"


def _check_input(block: int, value: int) -> None:
    if value > block + 1:
        later = value - NUM_INPUTS
        what = "itself" if later == block else f"block {later}, which comes later"
        raise GenomeError(
            f"block {block}: input {value} points at {what}; block {block} can read inputs "
            f"0..{block + 1} ({_INPUT_HELP})",
            token=str(value),
        )


def _decode_pair(index: int, pair: Any) -> tuple[str, int]:
    block = index // 2
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in pair)
    ):
        raise GenomeError(
            f"block {block}: {pair!r} is not an [operator id, input] pair of integers", token=str(pair)
        )
    code, value = pair
    if code not in OPERATORS_BY_CODE:
        outside = _CODES_OUTSIDE_SPACE.get(code)
        reason = f" ({outside} in the authors' code, not in the paper's search space)" if outside else ""
        choices = ", ".join(f"{op.code} {op.name}" for op in OPERATORS.values())
        raise GenomeError(
            f"block {block}: operator id {code}{reason} is not allowed; expected one of {choices}",
            token=str(code),
        )
    return OPERATORS_BY_CODE[code].name, value


# --------------------------------------------------------------------------------------------
# Parsing

_SPLIT_BLOCKS = re.compile(r"[;\n]")
_SPLIT_ITEMS = re.compile(r"[\s,]+")
_BLOCK_FORM = "'{i1, i2, o1, o2}' (two input numbers, then two operators)"


def parse_renas_cell(text: str, num_blocks: int | None = NUM_BLOCKS) -> RenasCell:
    """Parse a cell genome.

    Args:
        text: Blocks ``{i1, i2, o1, o2}`` separated by ``;`` or newlines (``#`` starts a
            comment), or the authors' ``[[operator id, input], ...]`` list.
        num_blocks: The block count the cell must have (the paper's ``#B = 5``); ``None``
            accepts any count.

    Returns:
        The validated cell; ``str(cell)`` is its canonical form.

    Raises:
        GenomeError: quoting the offending token and saying what was expected.

    Example:
        >>> cell = parse_renas_cell("{0, 1, sep5x5, sep3x3}; {2, 1, identity, avg3x3}", num_blocks=2)
        >>> cell.output_blocks
        (1,)
    """
    if not isinstance(text, str):
        raise GenomeError(f"a cell genome must be a string, got {type(text).__name__}")
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines()).strip()
    if not body:
        raise GenomeError("empty cell genome; expected blocks like '{0, 1, sep5x5, sep3x3}'", text=text)
    try:
        cell = _parse_code(body) if body.startswith("[") else _parse_blocks(body)
        _check_count(cell, num_blocks)
    except GenomeError as err:
        raise GenomeError(str(err), text=text, token=err.token) from None
    return cell


def _parse_blocks(body: str) -> RenasCell:
    parts = [p.strip() for p in _SPLIT_BLOCKS.split(body) if p.strip()]
    blocks = []
    for index, part in enumerate(parts):
        try:
            blocks.append(_parse_block(part))
        except GenomeError as err:
            raise GenomeError(f"block {index}: {err}", token=err.token) from None
    return RenasCell(tuple(blocks))


def _parse_block(part: str) -> RenasBlock:
    inner = part
    if part.startswith("{") or part.endswith("}"):
        if not (part.startswith("{") and part.endswith("}")):
            raise GenomeError(f"unbalanced braces in {part!r}; expected {_BLOCK_FORM}", token=part)
        inner = part[1:-1]
    items = [item for item in _SPLIT_ITEMS.split(inner.strip()) if item]
    if len(items) != 4:
        raise GenomeError(f"expected a block {_BLOCK_FORM}, got {len(items)} items in {part!r}", token=part)
    i1, i2, o1, o2 = items
    for item in (i1, i2):
        if not re.fullmatch(r"\d+", item):
            hint = " (inputs come first: {i1, i2, o1, o2})" if item in OPERATORS else ""
            raise GenomeError(f"{item!r} is not an input number{hint}; expected an integer ({_INPUT_HELP})", token=item)
    for item in (o1, o2):
        if item not in OPERATORS:
            hint = " (operators come last: {i1, i2, o1, o2})" if re.fullmatch(r"\d+", item) else ""
            raise GenomeError(f"unknown operator {item!r}{hint}; expected one of {_operator_choices()}", token=item)
    return RenasBlock(int(i1), int(i2), o1, o2)


def _parse_code(body: str) -> RenasCell:
    try:
        pairs = json.loads(body)
    except json.JSONDecodeError as err:
        raise GenomeError(
            f"cannot read the authors' [[operator id, input], ...] form ({err.msg} at character {err.pos})",
            token=body[err.pos : err.pos + 10],
        ) from None
    if not isinstance(pairs, list):
        raise GenomeError("the authors' form must be a list of [operator id, input] pairs", token=body)
    return RenasCell.from_code(pairs)


def _check_count(cell: RenasCell, num_blocks: int | None) -> None:
    if num_blocks is not None and cell.num_blocks != num_blocks:
        raise GenomeError(
            f"expected {num_blocks} blocks (#B of the search space), got {cell.num_blocks}",
            token=str(cell.num_blocks),
        )


def format_renas_cell(cell: RenasCell, sep: str = "; ") -> str:
    """The canonical string of ``cell`` (the inverse of :func:`parse_renas_cell`)."""
    return cell.to_string(sep)
