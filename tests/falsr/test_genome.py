"""The FALSR genome grammar: round trips, canonical form, links, precise errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falsr_zoo.errors import GenomeError
from falsr_zoo.families.falsr.genome import (
    CELL_TYPES,
    FILTERS,
    KERNELS,
    REPEATS,
    CellSpec,
    Genome,
    format_genome,
    parse_cell,
    parse_genome,
)
from falsr_zoo.zoo.registry import list_entries

cells = st.builds(
    CellSpec,
    type=st.sampled_from(sorted(CELL_TYPES)),
    filters=st.sampled_from(FILTERS),
    kernel=st.sampled_from(KERNELS),
    repeats=st.sampled_from(REPEATS),
    skip=st.booleans(),
)


@st.composite
def genomes(draw: st.DrawFn, max_cells: int = 9) -> Genome:
    n = draw(st.integers(1, max_cells))
    specs = draw(st.lists(cells, min_size=n, max_size=n))
    bits = draw(st.lists(st.integers(0, 1), min_size=n * (n + 1) // 2, max_size=n * (n + 1) // 2))
    return Genome.from_link_bits(specs, bits)


@settings(derandomize=True, max_examples=300)
@given(genomes())
def test_format_then_parse_is_identity(genome: Genome) -> None:
    text = format_genome(genome)
    assert parse_genome(text) == genome
    assert format_genome(parse_genome(text)) == text
    assert parse_genome(genome.to_string("\n")) == genome


@settings(derandomize=True, max_examples=200)
@given(genomes())
def test_link_bits_round_trip_and_count(genome: Genome) -> None:
    n = genome.n_cells
    assert len(genome.link_bits) == n * (n + 1) // 2
    assert Genome.from_link_bits(genome.cells, genome.link_bits) == genome


@settings(derandomize=True, max_examples=100)
@given(cells)
def test_cell_notations(cell: CellSpec) -> None:
    assert parse_cell(cell.to_string()) == cell
    assert parse_cell(cell.to_string("_")) == cell  # the graphs' node names


def test_space_has_192_choices_per_cell() -> None:
    assert len(CELL_TYPES) * len(FILTERS) * len(KERNELS) * len(REPEATS) * 2 == 192


def test_zoo_genomes_are_canonical() -> None:
    for entry in list_entries("falsr"):
        assert str(parse_genome(entry.genome)) == entry.genome


def test_lenient_forms_normalise() -> None:
    text = """
    # FALSR-like, one node per line
    conv_f64_k3_b4_isskip
    groupConG2 f32 k1 b1 noskip <- 0, 1
    out <- 0,2
    """
    genome = parse_genome(text)
    assert str(genome) == "conv f64 k3 b4 isskip <- 0; groupConG2 f32 k1 b1 noskip <- 0,1; out <- 0,2"
    assert genome.link_bits == (1, 1, 0)


def test_falsr_c_has_eight_links() -> None:
    # The paper: FALSR-C has 8 of the 28 optional links.
    genome = parse_genome(next(e for e in list_entries() if e.name == "FALSR-C").genome)
    assert len(genome.link_bits) == 28 and sum(genome.link_bits) == 8


@pytest.mark.parametrize(
    ("text", "token", "fragment"),
    [
        ("conv f60 k3 b4 isskip <- 0; out <- 0,1", "f60", "expected one of f16, f32, f48, f64"),
        ("conv f64 k5 b4 isskip <- 0; out <- 0,1", "k5", "expected one of k1, k3"),
        ("conv f64 k3 b3 isskip <- 0; out <- 0,1", "b3", "expected one of b1, b2, b4"),
        ("conv f64 k3 b4 skip <- 0; out <- 0,1", "skip", "expected isskip or noskip"),
        ("convv f64 k3 b4 isskip <- 0; out <- 0,1", "convv", "expected one of conv, groupConG2"),
        ("conv f64 k3 isskip <- 0; out <- 0,1", "conv f64 k3 isskip", "expected a cell of 5 tokens"),
        ("conv f64 k3 b4 isskip <- 0; out <- 0,2", "2", "out: source 2 does not exist"),
        ("conv f64 k3 b4 isskip <- 0; conv f16 k1 b1 noskip <- 0; out <- 2", "0", "cell 1 must read source 1"),
        ("conv f64 k3 b4 isskip <- 0; out <- 1,0", "1,0", "ascending and distinct"),
        ("conv f64 k3 b4 isskip <- 0; out <- 0,x", "x", "not a source number"),
        ("conv f64 k3 b4 isskip <- 0", "conv f64 k3 b4 isskip <- 0", "must end with the output node"),
        ("out <- 0", "out <- 0", "at least one cell"),
        ("", "", "empty genome"),
    ],
)
def test_errors_quote_the_token(text: str, token: str, fragment: str) -> None:
    with pytest.raises(GenomeError) as info:
        parse_genome(text)
    assert info.value.token == token
    assert fragment in str(info.value)
    if token:
        assert repr(token) in str(info.value) or token in str(info.value)
    assert info.value.text == text


def test_spec_validation_in_code() -> None:
    with pytest.raises(GenomeError, match="repeat count"):
        CellSpec("conv", 64, 3, 3, True)
    with pytest.raises(GenomeError, match="2 source lists"):
        Genome((CellSpec("conv", 64, 3, 1, True),), ((0,),))
    with pytest.raises(GenomeError, match="3 link bits"):
        Genome.from_link_bits([CellSpec("conv", 64, 3, 1, True)] * 2, [0, 1])
    assert isinstance(GenomeError("x"), ValueError)
