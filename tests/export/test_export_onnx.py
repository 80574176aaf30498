"""ONNX export: graph shape and metadata, parity with PyTorch, the colour path, any genome, the CLI.

Tolerances, from what was measured with the official weights (ONNX Runtime CPU, torch 2.13):

* core graph, random inputs: max abs 1.55e-6 (A), 1.19e-6 (B), 1.49e-6 (C); tests 5e-6.
* end-to-end uint8 graph, random images of the shapes below: at most 1 grey level apart, on
  0.096-0.105 % of the values (border chroma ties, see
  :mod:`falsr_zoo.families.falsr.falsr_export`; tiny images are mostly border); tests: 2 levels,
  0.3 %. The export gate itself is looser (4 levels, 1 %: any genome, any weights).
* Set5 Y-PSNR of the end-to-end graph: per image and on average within the tolerances of
  ``tests/falsr/test_official.py`` of the TensorFlow graphs' figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.cards import render_card
from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_USAGE
from falsr_zoo.errors import ExportError, OutputExistsError
from falsr_zoo.export import EXPORT_OPSET, core_graph, export_onnx, wrap_core
from falsr_zoo.export.onnx_export import check_graph, graph_metadata
from falsr_zoo.families.falsr.colour import chroma_inputs, luma_input
from falsr_zoo.families.falsr.falsr_export import colour_graph, uint8_pipeline
from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.families.table import get_family
from falsr_zoo.runtime.backends import TorchBackend
from falsr_zoo.sr.evaluate import evaluate
from falsr_zoo.zoo.registry import get_entry, list_entries
from tests.conftest import MODELS
from tests.falsr.test_official import MEAN_PSNR_TOL, PSNR_TOL
from tests.export.conftest import SMALL, perturbed
from tests.falsr.test_genome import genomes

CORE_TOL = 5e-6
E2E_LEVELS = 2
E2E_MISMATCH = 3e-3
# (batch, height, width): odd sizes, landscape and portrait, batch above one, a 1x1 image
SHAPES = [(1, 7, 13), (3, 15, 9), (2, 1, 1), (2, 33, 32)]


def session(graph: onnx.ModelProto | bytes | Path) -> ort.InferenceSession:
    source = graph.SerializeToString() if isinstance(graph, onnx.ModelProto) else graph
    return ort.InferenceSession(source if isinstance(source, bytes) else str(source), providers=["CPUExecutionProvider"])


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def official_models(weights_home: Path) -> dict[str, FALSR]:
    return {name: load(name, weights=weights_home / "weights" / f"{name}.safetensors") for name in MODELS}


@pytest.fixture(scope="module")
def official_graphs(official_models) -> dict[str, dict[str, onnx.ModelProto]]:
    """Core and end-to-end graphs of A, B, C, from one trace each."""
    graphs = {}
    for name, model in official_models.items():
        core = core_graph(model)
        graphs[name] = {
            "core": wrap_core(model, core, form="core", name=name),
            "end-to-end": wrap_core(model, core, name=name),
        }
    return graphs


@pytest.mark.parametrize("name", MODELS)
def test_graphs_are_checker_clean_with_dynamic_axes_and_metadata(official_graphs, name) -> None:
    core, e2e = official_graphs[name]["core"], official_graphs[name]["end-to-end"]
    for graph in (core, e2e):
        onnx.checker.check_model(graph, full_check=True)
        assert {(o.domain or "ai.onnx"): o.version for o in graph.opset_import}["ai.onnx"] == EXPORT_OPSET
    assert [(v.name, dims(v)) for v in core.graph.input] == [
        ("y", ["batch", 1, "height", "width"]), ("pbpr", ["batch", 2, "2*height", "2*width"])]
    assert [(v.name, dims(v)) for v in core.graph.output] == [("rgb", ["batch", 3, "2*height", "2*width"])]
    assert [(v.name, dims(v), v.type.tensor_type.elem_type) for v in e2e.graph.input] == [
        ("image", ["batch", "height", "width", 3], onnx.TensorProto.UINT8)]
    assert [(v.name, dims(v), v.type.tensor_type.elem_type) for v in e2e.graph.output] == [
        ("upscaled", ["batch", "2*height", "2*width", 3], onnx.TensorProto.UINT8)]
    meta = graph_metadata(e2e)
    assert meta["genome"] == get_entry(name).genome and meta["model"] == name
    assert (meta["form"], meta["input_dtype"], meta["precision"], meta["scale"]) == ("end-to-end", "uint8", "fp32", "2")
    assert graph_metadata(core)["form"] == "core"


@pytest.mark.parametrize("name", MODELS)
def test_core_graph_matches_pytorch_on_random_inputs(official_models, official_graphs, name) -> None:
    run = session(official_graphs[name]["core"])
    rng = np.random.default_rng(1)
    for n, h, w in SHAPES:
        y = rng.random((n, 1, h, w), dtype=np.float32)
        pbpr = rng.random((n, 2, 2 * h, 2 * w), dtype=np.float32) - 0.5
        (out,) = run.run(["rgb"], {"y": y, "pbpr": pbpr})
        reference = TorchBackend(official_models[name])(y, pbpr)
        assert out.shape == (n, 3, 2 * h, 2 * w)
        assert np.abs(out - reference).max() <= CORE_TOL, (n, h, w)


@pytest.mark.parametrize("name", MODELS)
def test_end_to_end_graph_matches_the_pytorch_pipeline_on_random_images(official_models, official_graphs, name) -> None:
    run = session(official_graphs[name]["end-to-end"])
    rng = np.random.default_rng(2)
    for n, h, w in SHAPES:
        images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
        (out,) = run.run(None, {"image": images})
        reference = uint8_pipeline(official_models[name], images)
        assert out.dtype == np.uint8 and out.shape == reference.shape
        diff = np.abs(out.astype(int) - reference.astype(int))
        assert diff.max() <= E2E_LEVELS and np.count_nonzero(diff) <= E2E_MISMATCH * diff.size, (n, h, w, diff.max())


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_set5_core_parity_and_end_to_end_psnr(official, official_models, official_graphs, reference_metrics, name) -> None:
    model = official_models[name]
    core, e2e = session(official_graphs[name]["core"]), session(official_graphs[name]["end-to-end"])
    data = official / "dataset" / "Set5"
    for path in sorted(data.glob("*_LR.png")):
        lr = np.asarray(Image.open(path).convert("RGB"))
        y, pbpr = luma_input(lr)[None, None], chroma_inputs(lr).transpose(2, 0, 1)[None]
        (out,) = core.run(["rgb"], {"y": y, "pbpr": pbpr})
        assert np.abs(out - TorchBackend(model)(y, pbpr)).max() <= CORE_TOL, path.name
    result = evaluate(lambda lr: e2e.run(None, {"image": lr[None]})[0][0], data, model=name)
    reference = reference_metrics[name]["Set5"]
    for image, ours in result.images.items():
        assert abs(ours["psnr"] - reference["images"][image]["psnr"]) <= PSNR_TOL, image
    assert abs(result.mean_psnr - reference["mean_psnr"]) <= MEAN_PSNR_TOL


def test_colour_path_is_the_package_colour_path(official) -> None:
    """y as ``luma_input``; PbPr as ``chroma_inputs`` (PIL bicubic) bit for bit inside, ties at the border."""
    run = session(colour_graph(2, "uint8", EXPORT_OPSET))
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(1, 1, 3), (1, 6, 3), (2, 2, 3), (5, 3, 3), (37, 23, 3)]]
    images += [np.asarray(Image.open(p).convert("RGB")) for p in sorted((official / "dataset").glob("Set*/*_LR.png"))]
    border_values = border_mismatches = 0
    for lr in images:
        y, pbpr = run.run(None, {"image": lr[None]})
        assert np.abs(y[0, 0] - luma_input(lr)).max() <= 1e-6
        mismatch = np.abs(pbpr[0].transpose(1, 2, 0) - chroma_inputs(lr)) > 1e-5
        border = np.ones(mismatch.shape[:2], bool)
        border[2:-2, 2:-2] = False
        assert not mismatch[~border].any(), "PIL's bicubic must be matched exactly away from the border"
        border_values += int(border.sum()) * 2
        border_mismatches += int(mismatch[border].sum())
    # exact .5 ties only (under 1 % of the border values here); a wrong kernel or edge rule breaks most
    assert border_mismatches <= 0.02 * border_values, (border_mismatches, border_values)


def test_float_input_graph_matches_pil_float_bicubic(tmp_path) -> None:
    torch.manual_seed(0)
    model = FALSR(SMALL).eval()
    exported = export_onnx(model, tmp_path / "f.onnx", input_dtype="float32", check=True)
    assert [report.form for report in exported.parity] == ["core", "end-to-end"]
    assert all(report.ok and report.max_abs <= CORE_TOL for report in exported.parity)
    assert exported.inputs == (("image", "float32", ("batch", "height", "width", 3)),)


@settings(derandomize=True, max_examples=3, deadline=None)
@given(genomes(max_cells=4))
def test_any_genome_exports_and_matches(tmp_path_factory, genome) -> None:
    torch.manual_seed(0)
    model = FALSR(genome).eval()
    path = tmp_path_factory.mktemp("genome") / "g.onnx"
    exported = export_onnx(model, path)
    assert [r.form for r in exported.parity] == ["core", "end-to-end"] and all(r.ok for r in exported.parity)
    # the file on disk, at a size the check did not use
    images = np.random.default_rng(4).integers(0, 256, (2, 5, 12, 3), dtype=np.uint8)
    (out,) = session(path).run(None, {"image": images})
    diff = np.abs(out.astype(int) - uint8_pipeline(model, images).astype(int))
    assert diff.max() <= 4 and np.count_nonzero(diff) <= 0.01 * diff.size  # the gate's: any genome, random weights
    assert graph_metadata(path)["genome"] == str(genome)


def test_float16_body(official_models) -> None:
    model = official_models["FALSR-B"]
    graph = wrap_core(model, core_graph(model, precision="fp16"), form="core", precision="fp16")
    types = {init.name: init.data_type for init in graph.graph.initializer}
    weight_types = [types[node.input[1]] for node in graph.graph.node if node.op_type == "Conv"]
    # every convolution of the network in float16, only the colour step's 1x1 in float32
    assert weight_types.count(onnx.TensorProto.FLOAT16) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert weight_types.count(onnx.TensorProto.FLOAT) == 1
    assert {v.type.tensor_type.elem_type for v in [*graph.graph.input, *graph.graph.output]} == {onnx.TensorProto.FLOAT}
    rng = np.random.default_rng(5)
    y = rng.random((2, 1, 21, 14), dtype=np.float32)
    pbpr = rng.random((2, 2, 42, 28), dtype=np.float32) - 0.5
    (out,) = session(graph).run(["rgb"], {"y": y, "pbpr": pbpr})
    error = np.abs(out - TorchBackend(model)(y, pbpr)).max()
    assert 1e-6 < error <= 1e-2  # really float16 inside, and close


# to_y.bias + 1e-3 moves every output value by 1e-3 (ten times the core gate's 1e-4) and about a
# quarter of the uint8 values by one level (the end-to-end gate allows 1 %); e2e/chroma + 1e-3 moves
# the PbPr inputs of the colour step by up to 3e-3, about 1 grey level of R and B.
@pytest.mark.parametrize(("form", "initializer"), [("core", "to_y.bias"), ("end-to-end", "to_y.bias"),
                                                   ("end-to-end", "e2e/chroma")])
def test_parity_check_sees_a_wrong_graph(small_model, small_core, form, initializer) -> None:
    right = wrap_core(small_model, small_core, form=form)
    good = check_graph(small_model, right, form=form)
    wrong = check_graph(small_model, perturbed(right, initializer, 1e-3), form=form)
    assert good.ok and not wrong.ok
    if form == "core":
        assert good.max_abs <= CORE_TOL and 0.9e-3 <= wrong.max_abs <= 1.1e-3  # the perturbation, measured
    else:
        assert wrong.mismatched > 0.01 * wrong.values > good.mismatched


@pytest.mark.parametrize(("form", "stage"), [("core", "core"), ("end-to-end", "core"), ("end-to-end", "wrapper")])
def test_parity_gate_refuses_to_write_a_wrong_graph(small_model, small_core, tmp_path, monkeypatch, form, stage) -> None:
    from falsr_zoo.export import onnx_export

    if stage == "core":  # the traced network is wrong: caught by the core check before anything else
        monkeypatch.setattr(onnx_export, "core_graph", lambda *args, **kwargs: perturbed(small_core, "to_y.bias", 1e-3))
        failing = "core: max abs"
    else:  # the network is right, the colour path around it is not: caught by the end-to-end check
        original = onnx_export.wrap_core
        monkeypatch.setattr(onnx_export, "core_graph", lambda *args, **kwargs: small_core)
        monkeypatch.setattr(onnx_export, "wrap_core",
                            lambda *args, **kwargs: perturbed(original(*args, **kwargs), "e2e/chroma", 1e-3))
        failing = "end-to-end: max abs"
    path = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="does not match PyTorch, not written") as info:
        export_onnx(small_model, path, form=form)
    assert failing in str(info.value) and "FAILED" in str(info.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_existing_file_is_never_overwritten(tmp_path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_onnx(FALSR(SMALL), path)
    assert path.read_bytes() == b"keep"


def test_bad_form_and_dtype(tmp_path) -> None:
    with pytest.raises(ValueError, match="has no 'logits' graph"):
        export_onnx(FALSR(SMALL), tmp_path / "a.onnx", form="logits")
    with pytest.raises(ValueError, match="takes float32 inputs, not 'uint8'"):
        export_onnx(FALSR(SMALL), tmp_path / "b.onnx", form="core", input_dtype="uint8")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("entry", list_entries(), ids=lambda e: e.name)
def test_every_zoo_entry_has_an_export_row(entry) -> None:
    row = get_family(entry.family).export()
    assert row.default_form in row.forms and "core" in row.forms
    assert len({spec.name for spec in row.inputs}) == len(row.inputs)
    card = render_card(entry)
    assert f"falsr export {entry.name} --format onnx -o {entry.name}.onnx" in card
    assert "ort.InferenceSession" in card and "session.run(None, {" in card


def test_a_family_row_without_its_own_card_text_gets_one_from_its_graph(monkeypatch) -> None:
    import dataclasses

    from falsr_zoo.cards import _deployment
    from falsr_zoo.export.parity import CORE_FORM
    from falsr_zoo.export.spec import TensorSpec

    row = dataclasses.replace(get_family("falsr").export(), name="renas", forms={"core": CORE_FORM},
                              default_form="core",
                              inputs=(TensorSpec("image", (("batch", 1), 3, ("height", 1), ("width", 1))),),
                              outputs=("logits",), deployment_card=None)
    renasnet = get_entry("RENASNet")
    stub = type("StubFamily", (), {"export": lambda self: row})
    monkeypatch.setattr("falsr_zoo.cards.get_family", lambda name: stub())
    text = _deployment(renasnet)
    assert "falsr export RENASNet --format onnx -o RENASNet.onnx" in text
    assert 'session.run(None, {"image": image})' in text
    assert "`image` (batch, 3, height, width) float32" in text and "`logits`" in text
    row = None
    assert "not available" in _deployment(renasnet)


def test_the_cards_deployment_snippet_runs(official_models, official_graphs, official, tmp_path, monkeypatch) -> None:
    card = render_card(get_entry("FALSR-B"))
    snippet = card.split("## Deployment")[1].split("```python\n")[1].split("```")[0]
    lr = np.asarray(Image.open(official / "dataset" / "Set5" / "img_003_SRF_2_LR.png").convert("RGB"))
    Image.fromarray(lr).save(tmp_path / "photo.png")
    (tmp_path / "FALSR-B.onnx").write_bytes(official_graphs["FALSR-B"]["end-to-end"].SerializeToString())
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "model card", "exec"), {})
    out = np.asarray(Image.open(tmp_path / "photo_x2.png")).astype(int)
    diff = np.abs(out - uint8_pipeline(official_models["FALSR-B"], lr[None])[0].astype(int))
    assert diff.max() <= E2E_LEVELS and np.count_nonzero(diff) <= E2E_MISMATCH * diff.size


def test_importing_the_export_package_loads_no_runtime() -> None:
    code = ("import sys, falsr_zoo.export, falsr_zoo.cli; "
            "print(sorted({'onnx', 'onnxruntime', 'onnxscript', 'tensorrt'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_export_zoo_model(store, tmp_path) -> None:
    target = tmp_path / "b.onnx"
    code, out, err = cli("export", "FALSR-B", "--format", "onnx", "-o", str(target))
    assert code == 0, err
    assert f"wrote {target} (end-to-end graph, fp32, opset {EXPORT_OPSET}" in out
    assert "input  image uint8 [batch, height, width, 3]" in out and "parity end-to-end:" in out
    assert graph_metadata(target)["model"] == "FALSR-B"
    before = target.read_bytes()
    code, _, err = cli("export", "FALSR-B", "-o", str(target))
    assert code == EXIT_FAILURE and err.strip() == f"Error: {target} exists; pass --overwrite (overwrite=True) to replace it"
    assert target.read_bytes() == before


def test_cli_export_genome_core(tmp_path) -> None:
    target = tmp_path / "g.onnx"
    code, out, err = cli("export", "--genome", SMALL, "--core", "-o", str(target))
    assert code == 0, err
    assert "untrained" in err and "(core graph, fp32" in out and "parity core: max abs" in out
    assert json.dumps(graph_metadata(target)["form"]) == '"core"'


@pytest.mark.parametrize("args, message", [
    (["--genome", SMALL, "--core", "--input-dtype", "uint8"], "--input-dtype applies to the end-to-end graph"),
    (["--genome", SMALL, "--max-tile", "64", "64"], "--max-tile and --max-batch apply to --format tensorrt"),
    (["--genome", SMALL, "--format", "tensorrt", "--core"], "always built from the core graph"),
    (["FALSR-B", "--genome", SMALL], "give a zoo model NAME or --genome, not both"),
    ([], "give a zoo model NAME or --genome"),
])
def test_cli_export_usage_errors(args, message) -> None:
    code, _, err = cli("export", *args)
    assert code == EXIT_USAGE and message in err


def test_cli_exports_a_renas_genome_with_its_network_options(tmp_path) -> None:
    target = tmp_path / "cell.onnx"
    code, out, err = cli("export", "--genome", "{0, 1, sep3x3, identity}", "--family", "renas",
                         "--option", "layout=cifar10", "--option", "num_cells=1", "--option", "filters=8",
                         "--core", "-o", str(target))
    assert code == 0, err
    assert "(core graph, fp32" in out and "parity core: max abs" in out
    meta = graph_metadata(target)
    assert meta["family"] == "renas" and meta["genome"] == "{0, 1, sep3x3, identity}"
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": np.zeros((2, 3, 32, 32), np.float32)})
    assert logits.shape == (2, 10)
