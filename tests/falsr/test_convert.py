"""The converter: pinned, deterministic output; refusal of anything but the expected graphs."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from falsr_zoo.errors import ChecksumError, ConversionError, OutputExistsError
from falsr_zoo.families.falsr.convert import convert_graph, official_tensor_map
from falsr_zoo.families.falsr.tf_graph import _graph_def_class, read_graph
from falsr_zoo.zoo.registry import get_entry
from falsr_zoo.zoo.weights import read_metadata, sha256_file
from tests.conftest import MODELS

SCOPE = "test_sr_evaluator_i1_b0_g"


def _graph(official: Path, name: str) -> Path:
    return official / "pretrained_model" / f"{name}.pb"


@pytest.mark.parametrize("name", MODELS)
def test_conversion_reproduces_the_pin(official: Path, tmp_path: Path, name: str) -> None:
    entry = get_entry(name)
    assert sha256_file(_graph(official, name)) == entry.weights.source_sha256
    result = convert_graph(_graph(official, name), tmp_path / "w.safetensors")
    assert result.entry is entry
    assert str(result.genome) == entry.genome
    assert result.sha256 == entry.weights.sha256 == sha256_file(result.path)
    assert result.path.stat().st_size == entry.weights.num_bytes
    assert read_metadata(result.path)["genome"] == entry.genome


def test_converting_twice_gives_the_same_bytes_across_processes(official: Path, tmp_path: Path) -> None:
    first = convert_graph(_graph(official, "FALSR-C"), tmp_path / "a.safetensors")
    code = (
        "import sys; from falsr_zoo.families.falsr.convert import convert_graph; "
        "print(convert_graph(sys.argv[1], sys.argv[2]).sha256)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(_graph(official, "FALSR-C")), str(tmp_path / "b.safetensors")],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert out == first.sha256
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_store_conversion_and_refusals(official: Path, empty_home: Path, tmp_path: Path) -> None:
    result = convert_graph(_graph(official, "FALSR-B"))
    assert result.path == empty_home / "weights" / "FALSR-B.safetensors"
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["FALSR-B.safetensors"]
    target = tmp_path / "x.safetensors"
    convert_graph(_graph(official, "FALSR-B"), target)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        convert_graph(_graph(official, "FALSR-B"), target)
    with pytest.raises(OutputExistsError, match="input"):
        convert_graph(_graph(official, "FALSR-B"), _graph(official, "FALSR-B"), overwrite=True)


def _mutated(official: Path, tmp_path: Path, mutate) -> Path:
    graph = _graph_def_class()()
    graph.ParseFromString(_graph(official, "FALSR-B").read_bytes())
    mutate(graph)
    path = tmp_path / "mutated.pb"
    path.write_bytes(graph.SerializeToString())
    return path


def _node(graph, name: str):
    return next(n for n in graph.node if n.name == f"{SCOPE}/{name}")


def test_refuses_non_graphs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xfe not a protobuf" * 10)
    with pytest.raises(ConversionError, match="not a TensorFlow"):
        convert_graph(junk, tmp_path / "o.safetensors")
    with pytest.raises(ConversionError, match="no such file"):
        convert_graph(tmp_path / "missing.pb", tmp_path / "o.safetensors")


def test_refuses_a_missing_tensor(official: Path, tmp_path: Path) -> None:
    def drop(graph) -> None:
        graph.node.remove(_node(graph, "cell5/groupConG4_f16_k3_b4_noskip_b2/b"))
    with pytest.raises(ConversionError, match=r"missing: .*cell5/groupConG4_f16_k3_b4_noskip_b2/b"):
        convert_graph(_mutated(official, tmp_path, drop), tmp_path / "o.safetensors")


def test_refuses_a_wrong_shape(official: Path, tmp_path: Path) -> None:
    def reshape(graph) -> None:
        dims = _node(graph, "yout/kernel").attr["value"].tensor.tensor_shape.dim
        dims[2].size, dims[3].size = 1, 8
    with pytest.raises(ConversionError, match=r"yout/kernel has shape \(3, 3, 1, 8\), expected \(3, 3, 8, 1\)"):
        convert_graph(_mutated(official, tmp_path, reshape), tmp_path / "o.safetensors")


def test_refuses_an_extra_tensor(official: Path, tmp_path: Path) -> None:
    def extra(graph) -> None:
        node = graph.node.add()
        node.CopyFrom(_node(graph, "yout/kernel"))
        node.name = f"{SCOPE}/extra/kernel"
    with pytest.raises(ConversionError, match=r"unexpected: .*extra/kernel"):
        convert_graph(_mutated(official, tmp_path, extra), tmp_path / "o.safetensors")


def test_refuses_other_colour_constants(official: Path, tmp_path: Path) -> None:
    def recolour(graph) -> None:
        tensor = _node(graph, "add/y").attr["value"].tensor
        tensor.float_val[0] = 0.0
    with pytest.raises(ConversionError, match="add/y"):
        convert_graph(_mutated(official, tmp_path, recolour), tmp_path / "o.safetensors")


def test_refuses_a_graph_without_the_falsr_nodes(official: Path, tmp_path: Path) -> None:
    def rename(graph) -> None:
        _node(graph, "target").name = "something/else"
    with pytest.raises(ConversionError, match="not a FALSR graph"):
        convert_graph(_mutated(official, tmp_path, rename), tmp_path / "o.safetensors")


def test_a_non_zoo_genome_needs_an_output(official: Path, tmp_path: Path, empty_home: Path) -> None:
    # Rewire: the output node reads one source less -> a valid genome that is no zoo entry.
    def rewire(graph) -> None:
        concat = next(n for n in graph.node if n.name == read_fuse_input(graph))
        del concat.input[0]
        concat.attr["N"].i -= 1
        fuse = _node(graph, "n32s1/2/0/kernel")
        fuse.attr["value"].tensor.tensor_shape.dim[2].size -= 16  # source 1 = cell 0, f16
        fuse.attr["value"].tensor.tensor_content = fuse.attr["value"].tensor.tensor_content[: 3 * 3 * 64 * 32 * 4]

    def read_fuse_input(graph) -> str:
        return _node(graph, "n32s1/2/0/Conv2D").input[0]

    path = _mutated(official, tmp_path, rewire)
    with pytest.raises(ConversionError, match="not a zoo model; pass -o"):
        convert_graph(path)
    result = convert_graph(path, tmp_path / "custom.safetensors")
    assert result.entry is None and str(result.genome).endswith("out <- 4,6,7")


def test_a_store_file_with_the_wrong_pin_is_not_installed(official: Path, empty_home: Path, monkeypatch) -> None:
    import dataclasses

    import falsr_zoo.zoo.registry as registry

    entry = get_entry("FALSR-B")
    wrong = dataclasses.replace(entry, weights=dataclasses.replace(entry.weights, sha256="0" * 64))
    monkeypatch.setitem(registry._REGISTRY, "falsr-b", wrong)
    with pytest.raises(ChecksumError, match="pins 0000"):
        convert_graph(_graph(official, "FALSR-B"))
    assert not any((empty_home / "weights").iterdir())


@pytest.mark.parametrize("name", MODELS)
def test_the_colour_step_uses_the_constants_read_from_the_graph(official: Path, name: str) -> None:
    """Golden values from the graphs themselves, not from the package: the module's colour step
    must hold exactly the float32 constants of each .pb (1.4019995, not BT.601's 1.402)."""
    import torch

    from falsr_zoo.families.falsr.falsr_net import FALSR
    from falsr_zoo.families.falsr.tf_graph import tensor_value

    nodes = read_graph(_graph(official, name))
    kernel = tensor_value(nodes[f"{SCOPE}/Const"])  # (1, 1, 3, 3): rows Y, Cb, Cr -> columns R, G, B
    bias = tensor_value(nodes[f"{SCOPE}/Const_1"])
    offset, levels = (float(tensor_value(nodes[f"{SCOPE}/{n}"])) for n in ("add/y", "mul/x"))
    model = FALSR(get_entry(name).genome)
    assert torch.equal(model.color_kernel[:, :, 0, 0].t(), torch.from_numpy(kernel[0, 0]))
    assert torch.equal(model.color_bias, torch.from_numpy(bias))
    # and the step computes with them: float64 from the graph's constants on float32 inputs,
    # compared where nothing is clipped
    g = torch.Generator().manual_seed(0)
    y, pbpr = torch.rand(1, 1, 32, 32, generator=g), torch.rand(1, 2, 32, 32, generator=g) - 0.5
    ycbcr = torch.cat([y.double() * levels, (pbpr.double() + offset) * levels], 1)
    expected = torch.einsum("nchw,cd->ndhw", ycbcr, torch.from_numpy(kernel[0, 0]).double())
    expected = expected + torch.from_numpy(bias).double()[:, None, None]
    with torch.no_grad():
        out = model.to_rgb(y, pbpr).double() * levels
    inside = (expected > 0.5) & (expected < levels - 0.5)
    assert inside.float().mean() > 0.5
    # grey levels: float32 rounding of values up to 255 reaches 4.6e-5 (measured); a wrong offset or
    # scale moves values by tenths of a level. The constants themselves are pinned exactly above.
    assert (out - expected)[inside].abs().max() <= 1e-4


def test_tensor_map_covers_every_parameter() -> None:
    from falsr_zoo.families.falsr.falsr_net import FALSR

    for name in MODELS:
        entry = get_entry(name)
        table = official_tensor_map(__import__("falsr_zoo").parse_genome(entry.genome))
        assert set(table) == set(FALSR(entry.genome).state_dict())


def test_read_graph_node_count(official: Path) -> None:
    assert len(read_graph(_graph(official, "FALSR-B"))) == 327
    assert hashlib.sha256(_graph(official, "FALSR-B").read_bytes()).hexdigest().startswith("463de824")
