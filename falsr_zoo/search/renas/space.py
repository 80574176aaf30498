"""The RENAS search space as the mutation controller sees it: token sequences and mutation actions.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019), Sections
3.1 and 3.3. A cell is the zoo's :class:`~falsr_zoo.families.renas.cell.RenasCell`: ``#B``
blocks ``{i1, i2, o1, o2}`` (inputs ``0``/``1`` are the two previous cells, ``k >= 2`` block
``k - 2``; operators from the one operator table). Pure Python and numpy: no torch.

**Tokens** (the encoder's input, Fig. 1). The paper encodes a cell as ``5 * #B`` tokens; it
names four per block. Our fifth token per block is the block's combination, ``add`` (the sum of
its two halves, NASNet's fifth step, which RENAS fixes to addition): its encoder state stands
for the block's *output*, which later blocks' inputs point at. The sequence the encoder reads is
the two begin tokens (the cell before the previous one, the previous cell; their states stand
for inputs 0 and 1), then ``i1, i2, o1, o2, add`` of each block in order: ``2 + 5 * #B`` steps.
Input tokens are embedded by value (``in0`` .. ``in{#B+1}``), operators by name.

**Mutation action** (Algorithm 2). For every block, one position among ``i1, i2, o1, o2``
(the mutation-router's choice) and a new value for it: an allowed input (``0 .. b + 1`` for
block ``b``, the input-mutator's choice) or an operator (the op-mutator's choice). The paper
replaces the chosen input or operator "with each substitute": the new value differs from the
current one, so every block changes and a child never equals its parent (``keep = False``,
the default). With ``keep = True`` (our earlier reading, kept as an option for the ablation)
the mutators choose among all allowed values, the current one included, and a block stays
unchanged when its mutator picks what it already has; with parameter inheritance that lets a
child that changes nothing earn the highest reward. Every action gives a valid cell: inputs
only point backwards, and the last block is never read by another block, so the cell always
has an output.

**Random mutation** (the plain EA baseline): the same action space with a uniform policy (a
uniform position per block, a uniform value for it among the allowed ones), so the ablation
compares a learned policy with a uniform one over the same moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.cell import NUM_INPUTS, OPERATORS, RenasBlock, RenasCell, parse_renas_cell

__all__ = [
    "MUTATIONS",
    "OP_NAMES",
    "REWARDS",
    "POSITIONS",
    "TOKENS_PER_BLOCK",
    "MutationAction",
    "RenasSpace",
]

OP_NAMES: tuple[str, ...] = tuple(OPERATORS)
"""The operator vocabulary, in the operator table's order (the op-mutator's outputs)."""
POSITIONS = ("i1", "i2", "o1", "o2")
"""The mutation-router's outputs: which element of a block is mutated."""
TOKENS_PER_BLOCK = 5
"""``i1, i2, o1, o2, add``."""

MUTATIONS = ("controller", "random")
"""How children are made: ``controller``, RENAS's reinforced mutation; ``random``, the plain-EA baseline."""
REWARDS = ("accuracy", "improvement")
"""The controller's reward: the child's ``tan(f pi / 2)`` (the paper), or its gain over the parent's."""

MutationAction = tuple[tuple[int, int], ...]
"""Per block ``(position index into POSITIONS, new value)``: an input number, or an index into OP_NAMES."""


@dataclass(frozen=True)
class RenasSpace:
    """The cell space of ``num_blocks`` blocks and its token vocabulary.

    Attributes:
        num_blocks: ``#B`` (5 in the paper).
    """

    num_blocks: int = 5

    def __post_init__(self) -> None:
        if isinstance(self.num_blocks, bool) or not isinstance(self.num_blocks, int) or self.num_blocks < 1:
            raise ConfigError(f"num_blocks must be a positive integer, got {self.num_blocks!r}")

    # -- vocabulary ---------------------------------------------------------------------------

    @property
    def num_input_values(self) -> int:
        """Input numbers ``0 .. #B + 1`` (the last block may read every earlier block)."""
        return self.num_blocks + NUM_INPUTS

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every token: the begin tokens, input numbers, operators and ``add``."""
        inputs = tuple(f"in{i}" for i in range(self.num_input_values))
        return ("cell-2", "cell-1", *inputs, *OP_NAMES, "add")

    @property
    def sequence_length(self) -> int:
        """``2 + 5 * #B``: the begin tokens, then five tokens per block."""
        return NUM_INPUTS + TOKENS_PER_BLOCK * self.num_blocks

    def token_index(self, block: int, slot: int) -> int:
        """Position in the sequence of slot ``slot`` (0..4 for ``i1, i2, o1, o2, add``) of ``block``."""
        return NUM_INPUTS + TOKENS_PER_BLOCK * block + slot

    def input_state_index(self, value: int) -> int:
        """Position of the token whose state stands for input ``value``: a begin token for the two
        previous cells, the ``add`` token of block ``value - 2`` otherwise."""
        return value if value < NUM_INPUTS else self.token_index(value - NUM_INPUTS, TOKENS_PER_BLOCK - 1)

    def tokens(self, cell: RenasCell) -> list[int]:
        """The cell as vocabulary indices (``sequence_length`` of them)."""
        self._check(cell)
        index = {token: i for i, token in enumerate(self.vocabulary)}
        sequence = [index["cell-2"], index["cell-1"]]
        for block in cell.blocks:
            sequence += [index[f"in{block.i1}"], index[f"in{block.i2}"], index[block.o1], index[block.o2], index["add"]]
        return sequence

    def choices(self, block: int, position: int) -> int:
        """How many values ``position`` of ``block`` can take (the current one included)."""
        return block + NUM_INPUTS if position < 2 else len(OP_NAMES)

    def current_values(self, cell: RenasCell) -> list[list[int]]:
        """Per block, the current value at each position: input numbers, operator indices."""
        self._check(cell)
        return [[block.i1, block.i2, OP_NAMES.index(block.o1), OP_NAMES.index(block.o2)] for block in cell.blocks]

    # -- cells and actions --------------------------------------------------------------------

    def _check(self, cell: RenasCell) -> None:
        if cell.num_blocks != self.num_blocks:
            raise ConfigError(f"a cell of {cell.num_blocks} blocks is outside a {self.num_blocks}-block search space")

    def parse(self, text: str) -> RenasCell:
        """A cell genome string of this space."""
        return parse_renas_cell(text, num_blocks=self.num_blocks)

    def random_cell(self, rng: np.random.Generator) -> RenasCell:
        """A uniformly random cell (the paper's random initial population)."""
        blocks = []
        for b in range(self.num_blocks):
            i1, i2 = (int(v) for v in rng.integers(0, b + NUM_INPUTS, size=2))
            o1, o2 = (OP_NAMES[int(v)] for v in rng.integers(0, len(OP_NAMES), size=2))
            blocks.append(RenasBlock(i1, i2, o1, o2))
        return RenasCell(tuple(blocks))

    def random_action(self, rng: np.random.Generator, cell: RenasCell, keep: bool = False) -> MutationAction:
        """A uniform position and a uniform value for it, per block (plain EA); ``keep=False``:
        among the values other than the current one."""
        current = self.current_values(cell)
        action = []
        for b in range(self.num_blocks):
            position = int(rng.integers(0, len(POSITIONS)))
            if keep:
                value = int(rng.integers(0, self.choices(b, position)))
            else:
                value = int(rng.integers(0, self.choices(b, position) - 1))
                value += value >= current[b][position]
            action.append((position, value))
        return tuple(action)

    def apply(self, cell: RenasCell, action: Sequence[Sequence[int]]) -> RenasCell:
        """The child of ``cell`` under ``action``.

        Raises:
            ConfigError: an action of the wrong length or with a value out of range.
        """
        self._check(cell)
        if len(action) != self.num_blocks:
            raise ConfigError(f"a mutation action needs one (position, value) per block, got {len(action)}")
        blocks = []
        for b, (block, (position, value)) in enumerate(zip(cell.blocks, action)):
            if not 0 <= position < len(POSITIONS) or not 0 <= value < self.choices(b, position):
                raise ConfigError(f"block {b}: ({position}, {value}) is not a mutation of this space")
            fields = {"i1": block.i1, "i2": block.i2, "o1": block.o1, "o2": block.o2}
            fields[POSITIONS[position]] = value if position < 2 else OP_NAMES[value]
            blocks.append(RenasBlock(**fields))
        return RenasCell(tuple(blocks))
