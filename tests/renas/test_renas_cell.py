"""The RENAS cell grammar: round trips, canonical form, the whole space, precise errors."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falsr_zoo.errors import GenomeError
from falsr_zoo.families.renas.cell import (
    NUM_BLOCKS,
    OPERATORS,
    RenasBlock,
    RenasCell,
    format_renas_cell,
    parse_renas_cell,
)
from falsr_zoo.families.renas.plan import LAYOUTS, RenasNetSpec
from falsr_zoo.families.renas.renas_entries import RENASNET_CELL
from falsr_zoo.zoo.registry import list_entries

# The authors' code, eval/symbol_renasnet.py: renasnet = [[op, input], ...]
AUTHORS_CODE = [[1, 0], [0, 1], [7, 1], [0, 1], [0, 0], [3, 0], [1, 1], [0, 0], [7, 2], [0, 2]]


@st.composite
def renas_cells(draw: st.DrawFn, min_blocks: int = 1, max_blocks: int = 7) -> RenasCell:
    """Any valid cell: block b reads inputs 0..b+1, any of the six operators on each side."""
    n = draw(st.integers(min_blocks, max_blocks))
    ops = st.sampled_from(sorted(OPERATORS))
    blocks = [
        RenasBlock(draw(st.integers(0, b + 1)), draw(st.integers(0, b + 1)), draw(ops), draw(ops))
        for b in range(n)
    ]
    return RenasCell(tuple(blocks))


@settings(derandomize=True, max_examples=300)
@given(renas_cells())
def test_format_then_parse_is_identity(cell: RenasCell) -> None:
    text = format_renas_cell(cell)
    assert parse_renas_cell(text, num_blocks=None) == cell
    assert format_renas_cell(parse_renas_cell(text, num_blocks=None)) == text  # canonical is a fixed point
    assert parse_renas_cell(cell.to_string("\n"), num_blocks=None) == cell
    assert parse_renas_cell(text, num_blocks=cell.num_blocks) == cell


@settings(derandomize=True, max_examples=200)
@given(renas_cells())
def test_authors_code_form_round_trips(cell: RenasCell) -> None:
    code = cell.to_code()
    assert len(code) == 2 * cell.num_blocks
    assert RenasCell.from_code(code) == cell
    assert parse_renas_cell(json.dumps(code), num_blocks=None) == cell


@settings(derandomize=True, max_examples=200)
@given(renas_cells())
def test_lenient_spellings_normalise(cell: RenasCell) -> None:
    # no braces, no commas, blocks on lines with comments: same cell, same canonical string
    loose = "\n".join(f"{b.i1} {b.i2}   {b.o1} {b.o2}  # block" for b in cell.blocks)
    assert str(parse_renas_cell(loose, num_blocks=None)) == str(cell)


@settings(derandomize=True, max_examples=200)
@given(renas_cells())
def test_outputs_are_the_unread_blocks(cell: RenasCell) -> None:
    read = {i for block in cell.blocks for i in block.inputs}
    assert cell.output_blocks == tuple(b for b in range(cell.num_blocks) if b + 2 not in read)
    assert cell.output_blocks[-1] == cell.num_blocks - 1  # the last block is never read
    assert cell.num_outputs(reduction=True, append_input0=True) == len(cell.output_blocks)
    assert cell.num_outputs(reduction=False, append_input0=True) == len(cell.output_blocks) + 1


def test_the_space_is_every_wiring_and_nothing_else() -> None:
    # Three blocks, every input pair in 0..5: exactly those with input <= b + 1 are accepted.
    accepted = 0
    for wiring in itertools.product(itertools.product(range(6), repeat=2), repeat=3):
        text = "; ".join(f"{{{a}, {b}, sep3x3, identity}}" for a, b in wiring)
        valid = all(max(pair) <= block + 1 for block, pair in enumerate(wiring))
        try:
            parse_renas_cell(text, num_blocks=3)
        except GenomeError as err:
            assert not valid, text
            assert "points at" in str(err)
            continue
        assert valid, text
        accepted += 1
    assert accepted == 2**2 * 3**2 * 4**2
    # every operator token of the table is accepted on both sides
    for o1, o2 in itertools.product(OPERATORS, repeat=2):
        assert parse_renas_cell(f"{{0, 1, {o1}, {o2}}}", num_blocks=1).blocks[0].pairs[1][0].name == o2


def test_renasnet_cell_is_the_authors_code() -> None:
    cell = parse_renas_cell(RENASNET_CELL)
    assert cell == RenasCell.from_code(AUTHORS_CODE)
    assert cell.to_code() == AUTHORS_CODE
    assert parse_renas_cell(str(AUTHORS_CODE)) == cell
    assert cell.num_blocks == NUM_BLOCKS
    assert cell.output_blocks == (1, 2, 3, 4)  # only block 0 is read (by block 4)
    assert cell.describe()[0] == "block 0: sep5x5(input 0) + sep3x3(input 1)"
    assert cell.describe()[4] == "block 4: identity(block 0) + sep3x3(block 0)"


def test_zoo_genomes_are_canonical() -> None:
    entries = list_entries("renas")
    assert [e.name for e in entries] == ["RENASNet", "RENASNet-CIFAR10"]
    for entry in entries:
        assert str(parse_renas_cell(entry.genome)) == entry.genome


def test_operator_table() -> None:
    # six operators, the paper's search space, with the authors' code ids
    assert {name: op.code for name, op in OPERATORS.items()} == {
        "sep3x3": 0, "sep5x5": 1, "sep7x7": 2, "avg3x3": 3, "max3x3": 4, "identity": 7}


@pytest.mark.parametrize(
    ("text", "token", "fragment"),
    [
        # an input that points at a later block, or at the block itself
        ("{0, 1, sep5x5, sep3x3}; {0, 4, sep3x3, sep3x3}", "4", "block 1: input 4 points at block 2, which comes later"),
        ("{0, 1, sep5x5, sep3x3}; {3, 0, sep3x3, sep3x3}", "3", "block 1: input 3 points at itself"),
        ("{2, 1, sep5x5, sep3x3}", "2", "block 0 can read inputs 0..1"),
        # unknown operators
        ("{0, 1, sep9x9, sep3x3}", "sep9x9", "block 0: unknown operator 'sep9x9'; expected one of sep3x3, sep5x5"),
        ("{0, 1, sep3x3, conv3x3}", "conv3x3", "expected one of sep3x3, sep5x5, sep7x7, avg3x3, max3x3, identity"),
        ("{0, 1, 2, sep3x3}", "2", "operators come last"),
        ("{sep3x3, 1, sep3x3, sep3x3}", "sep3x3", "inputs come first"),
        ("{x, 1, sep3x3, sep3x3}", "x", "'x' is not an input number"),
        # malformed blocks
        ("{0, 1, sep3x3}", "{0, 1, sep3x3}", "expected a block '{i1, i2, o1, o2}'"),
        ("{0, 1, sep3x3, sep3x3", "{0, 1, sep3x3, sep3x3", "unbalanced braces"),
        ("", "", "empty cell genome"),
        ("# only a comment", "", "empty cell genome"),
        # the authors' code form
        ("[[1, 0], [5, 1]]", "5", "operator id 5 (conv 3x3 in the authors' code, not in the paper's search space)"),
        ("[[1, 0], [0, 1], [7, 1]]", "3", "3 [operator, input] pairs do not make whole blocks"),
        ("[[1, 0], [0, 1, 2]]", "[0, 1, 2]", "is not an [operator id, input] pair"),
        ("[[1, 0], [0, 3]]", "3", "block 0: input 3 points at block 1"),
        ("[[1, 0], [0, 1]", "", "cannot read the authors'"),
    ],
)
def test_errors_quote_the_token(text: str, token: str, fragment: str) -> None:
    with pytest.raises(GenomeError) as info:
        parse_renas_cell(text, num_blocks=None)
    assert info.value.token == token
    assert fragment in str(info.value)
    if token:
        assert token in str(info.value)
    assert info.value.text == text


@pytest.mark.parametrize("count", [1, 4, 6])
def test_block_count_must_match(count: int) -> None:
    text = "; ".join(["{0, 1, sep3x3, sep3x3}"] * count)
    with pytest.raises(GenomeError) as info:
        parse_renas_cell(text)  # the paper's #B = 5
    assert str(info.value) == f"expected 5 blocks (#B of the search space), got {count}"
    assert info.value.token == str(count) and info.value.text == text
    with pytest.raises(GenomeError, match="expected 5 blocks"):
        parse_renas_cell(json.dumps([[0, 0]] * (2 * count)))
    assert parse_renas_cell(text, num_blocks=count).num_blocks == count


def test_spec_validation_in_code() -> None:
    with pytest.raises(GenomeError, match="unknown operator 'conv'"):
        RenasBlock(0, 1, "conv", "sep3x3")
    with pytest.raises(GenomeError, match="not an input number"):
        RenasBlock(-1, 1, "sep3x3", "sep3x3")
    with pytest.raises(GenomeError, match="not an input number"):
        RenasBlock(True, 1, "sep3x3", "sep3x3")
    with pytest.raises(GenomeError, match="block 0: input 2 points at itself"):
        RenasCell((RenasBlock(2, 1, "sep3x3", "sep3x3"),))
    with pytest.raises(GenomeError, match="at least one block"):
        RenasCell(())
    assert isinstance(GenomeError("x"), ValueError)


def test_network_spec_validation() -> None:
    cell = parse_renas_cell(RENASNET_CELL)
    with pytest.raises(GenomeError, match="unknown layout 'mobile'; expected one of imagenet, cifar10"):
        RenasNetSpec(cell, "mobile", 4, 44)
    with pytest.raises(GenomeError, match="num_cells must be a positive integer"):
        RenasNetSpec(cell, "imagenet", 0, 44)
    # F = 42: the second stem cell has F/2 = 21 filters, which a factorized reduction cannot halve
    with pytest.raises(GenomeError, match="cell 1 \\(stem\\) 21 filters") as info:
        RenasNetSpec(cell, "imagenet", 4, 42)
    assert info.value.token == "filters=42"
    with pytest.raises(GenomeError, match="needs a map of at least 5x5 after stage 2; 64x64 inputs give 4x4"):
        RenasNetSpec(cell, "imagenet", 4, 44).aux_map_size(64)
    assert RenasNetSpec(cell, "imagenet", 4, 44).aux_map_size(224) == 4  # 14x14 -> 5x5/3 pool -> 4x4
    assert RenasNetSpec(cell, "cifar10", 6, 32).aux_map_size(32) == 4  # 16x16 -> 4x4


def test_imagenet_layout_plan() -> None:
    spec = RenasNetSpec(parse_renas_cell(RENASNET_CELL), "imagenet", 4, 44)
    plans = spec.cells()
    assert [p.stage for p in plans] == ["stem", "stem", *["stage1"] * 4, "reduction1", *["stage2"] * 4,
                                        "reduction2", *["stage3"] * 4]
    assert [p.filters for p in plans] == [11, 22, *[44] * 4, 88, *[88] * 4, 176, *[176] * 4]
    # the first normal cell after each reduction sees the cell before it at twice the resolution
    assert [p.index for p in plans if p.input0 == "factorized"] == [1, 2, 7, 12]
    assert plans[0].input0 == "squeeze"  # stem conv has 32 channels, not F/4 = 11
    assert plans[2].out_channels == 5 * 44 and plans[6].out_channels == 4 * 88
    sizes = spec.resolutions(224, 224)
    assert sizes[0] == (111, 111) and sizes[1] == (56, 56) and sizes[2] == (28, 28)
    assert sizes[-1] == (7, 7) and spec.aux_index == 10


def test_cifar_first_cell_without_a_cell_before_the_previous() -> None:
    cell = parse_renas_cell(RENASNET_CELL)
    assert RenasNetSpec(cell, "cifar10", 6, 32).cells()[0].input0 == "squeeze"  # 96 stem filters != 32
    assert RenasNetSpec(cell, "cifar10", 6, 96).cells()[0].input0 == "identity"  # already F channels
    assert LAYOUTS["cifar10"].stem_cells == ()


def test_reference_sizes_analytically() -> None:
    # ../shared/docs/renasnet-reference.md, "Sizes"
    cell = parse_renas_cell(RENASNET_CELL)
    imagenet = RenasNetSpec(cell, "imagenet", 4, 44)
    assert imagenet.num_params() == 5_677_268
    assert round(imagenet.macs(224, 224) / 1e6, 1) == 608.2
    code_cifar = RenasNetSpec(cell, "cifar10", 6, 32)
    assert code_cifar.num_params() == 3_737_578 and round(code_cifar.macs(32, 32) / 1e6, 1) == 581.3
    paper_cifar = RenasNetSpec(cell, "cifar10", 6, 32, append_input0=False)
    assert paper_cifar.num_params() == 3_512_042 and round(paper_cifar.macs(32, 32) / 1e6, 1) == 543.5


def test_grammar_imports_no_torch() -> None:
    code = "import sys, falsr_zoo.families.renas.cell, falsr_zoo.families.table; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
