"""TensorRT: clear failures without TensorRT or a GPU, the engine profile and side metadata, and
(only on a machine with the ``tensorrt`` package and a CUDA GPU) building and running engines.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE
from falsr_zoo.errors import BackendUnavailableError, ExportError, ImageError, MissingDependencyError, OutputExistsError
from falsr_zoo.export import DEFAULT_MAX_BATCH, DEFAULT_MAX_TILE, EngineInfo, EngineProfile, TensorRTBackend
from falsr_zoo.export.tensorrt_engine import (
    UPSCALER_MARGIN,
    UPSCALER_TILE,
    export_tensorrt,
    require_tensorrt,
    sidecar_path,
)
from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.families.table import get_family
from falsr_zoo.runtime.backends import TorchBackend, create_backend
from falsr_zoo.sr.upscale import upscale_array

GENOME = "conv f16 k3 b1 noskip <- 0; out <- 0,1"


def _gpu_missing() -> str | None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "the tensorrt package is not installed (pip install 'falsr-zoo[tensorrt]' on an NVIDIA GPU machine)"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible to PyTorch (TensorRT engines need one)"
    return None


GPU_MISSING = _gpu_missing()
needs_gpu = pytest.mark.skipif(GPU_MISSING is not None, reason=f"TensorRT engine tests skipped: {GPU_MISSING}")


@pytest.fixture()
def no_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import tensorrt`` fail, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)


@pytest.fixture()
def tensorrt_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tensorrt`` importable, but no CUDA device."""
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", [
    ["export", "FALSR-B", "--format", "tensorrt"],
    ["bench", "FALSR-B", "--size", "8", "8", "--backend", "tensorrt"],
])
def test_cli_without_tensorrt_fails_in_one_line(no_tensorrt, tmp_path, monkeypatch, command) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*command)
    assert code == EXIT_FAILURE and out == ""
    assert err.strip().splitlines() == [
        "Error: TensorRT is not installed: it needs an NVIDIA GPU with CUDA and the extra "
        "pip install 'falsr-zoo[tensorrt]'"]
    assert list(tmp_path.iterdir()) == []


def test_cli_without_gpu_fails_in_one_line(tensorrt_without_gpu, tmp_path) -> None:
    code, _, err = cli("export", "FALSR-B", "--format", "tensorrt", "-o", str(tmp_path / "b.engine"))
    assert code == EXIT_FAILURE and len(err.strip().splitlines()) == 1
    assert "TensorRT needs a CUDA GPU, and PyTorch sees none" in err
    assert not (tmp_path / "b.engine").exists()


def test_library_errors_without_tensorrt_or_gpu(no_tensorrt, monkeypatch) -> None:
    with pytest.raises(MissingDependencyError, match=r"falsr-zoo\[tensorrt\]"):
        create_backend("tensorrt", FALSR(GENOME))
    with pytest.raises(ImportError):  # MissingDependencyError is an ImportError
        require_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="CUDA GPU"):
        create_backend("tensorrt", FALSR(GENOME))


def test_default_profile_covers_a_full_upscaler_tile() -> None:
    profile = EngineProfile()
    assert DEFAULT_MAX_TILE == (UPSCALER_TILE + 2 * UPSCALER_MARGIN,) * 2 == (640, 640)
    assert profile.max_input_size == (DEFAULT_MAX_BATCH, 640, 640)
    shapes = profile.shapes(get_family("falsr").export())
    assert shapes == {
        "y": ((1, 1, 1, 1), (1, 1, 640, 640), (DEFAULT_MAX_BATCH, 1, 640, 640)),
        "pbpr": ((1, 2, 2, 2), (1, 2, 1280, 1280), (DEFAULT_MAX_BATCH, 2, 1280, 1280)),
    }


@pytest.mark.parametrize("kwargs", [{"max_batch": 0}, {"max_height": 0}, {"opt_batch": 5, "max_batch": 4},
                                    {"min_size": 700}])
def test_bad_profiles(kwargs) -> None:
    with pytest.raises(ValueError):
        EngineProfile(**kwargs)


def test_side_metadata_round_trip(tmp_path) -> None:
    info = EngineInfo(family="falsr", genome=GENOME, scale=2, precision="fp16",
                      profile=EngineProfile(max_batch=2, max_height=96, max_width=128), opset=20,
                      tensorrt_version="10.9.0", device="NVIDIA H100", model=None)
    assert EngineInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    with pytest.raises(ExportError, match="unknown engine metadata format"):
        EngineInfo.from_json({**info.to_json(), "format_version": 99})
    assert sidecar_path(tmp_path / "m.engine") == tmp_path / "m.engine.json"
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"engine")
    with pytest.raises(ExportError, match="m.engine.json is missing"):
        TensorRTBackend.from_file(engine)


def test_existing_engine_files_are_never_overwritten(tmp_path) -> None:
    engine = tmp_path / "m.engine"
    sidecar_path(engine).write_text("{}")
    with pytest.raises(OutputExistsError, match="m.engine.json exists"):
        export_tensorrt(FALSR(GENOME), engine)
    assert not engine.exists() and sidecar_path(engine).read_text() == "{}"


class _StandInEngine:
    """Stands in for a TensorRT engine on a machine without one: the "engine" bytes are an ONNX core
    graph, run with ONNX Runtime behind :class:`TensorRTBackend`'s interface."""

    def __init__(self, engine: bytes, info: EngineInfo) -> None:
        import onnxruntime as ort

        self.info, self.scale = info, info.scale
        self.session = ort.InferenceSession(engine, providers=["CPUExecutionProvider"])

    def run(self, output_names, feeds):
        return self.session.run(output_names, feeds)


@pytest.mark.parametrize("wrong", [False, True], ids=["right-engine", "wrong-engine"])
def test_engine_parity_gate(small_model, small_core, tmp_path, monkeypatch, wrong: bool) -> None:
    # export_tensorrt's own gate, with the engine build replaced: a genuinely wrong "engine" (one
    # initializer perturbed by 1e-3, ten times the 1e-4 tolerance) must be refused and not written.
    import falsr_zoo.export.tensorrt_engine as engines
    from tests.export.conftest import perturbed

    model = small_model
    graph = perturbed(small_core, "to_y.bias", 1e-3) if wrong else small_core

    def build(model, *, precision, profile, opset, name):
        info = EngineInfo(family="falsr", genome=str(model.genome), scale=2, precision=precision, profile=profile,
                          opset=opset, tensorrt_version="stand-in", device="cpu", model=name)
        return graph.SerializeToString(), info

    monkeypatch.setattr(engines, "require_tensorrt", lambda: None)
    monkeypatch.setattr(engines, "build_engine", build)
    monkeypatch.setattr(engines, "TensorRTBackend", _StandInEngine)
    path = tmp_path / "m.engine"
    if wrong:
        with pytest.raises(ExportError, match="the engine does not match PyTorch, not written"):
            export_tensorrt(model, path, max_tile=(32, 32), max_batch=2)
        assert list(tmp_path.iterdir()) == []
    else:
        result = export_tensorrt(model, path, max_tile=(32, 32), max_batch=2)
        assert result.parity[0].ok and result.parity[0].max_abs <= 1e-5
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.engine", "m.engine.json"]


@needs_gpu
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("fp16", 1e-2)])
def test_engine_parity_and_profile(store, tmp_path, precision, tolerance) -> None:
    from falsr_zoo import load

    model = load("FALSR-B")
    path = tmp_path / f"b-{precision}.engine"
    result = export_tensorrt(model, path, precision=precision, max_tile=(96, 128), max_batch=2, name="FALSR-B")
    assert result.parity[0].max_abs <= tolerance
    backend = create_backend("tensorrt", model, engine=path)
    assert backend.max_input_size == (2, 96, 128) and backend.info.precision == precision
    rng = np.random.default_rng(0)
    y = rng.random((2, 1, 95, 37), dtype=np.float32)
    pbpr = rng.random((2, 2, 190, 74), dtype=np.float32) - 0.5
    assert np.abs(backend(y, pbpr) - TorchBackend(model)(y, pbpr)).max() <= tolerance
    lr = rng.integers(0, 256, (61, 90, 3), dtype=np.uint8)
    diff = np.abs(upscale_array(backend, lr).astype(int) - upscale_array(model, lr).astype(int))
    assert diff.max() <= (1 if precision == "fp32" else 4)
    with pytest.raises(ImageError, match="exceeds the engine's profile"):
        backend(np.zeros((1, 1, 97, 8), np.float32), np.zeros((1, 2, 194, 16), np.float32))
    assert json.loads(Path(result.sidecar).read_text())["profile"]["max_height"] == 96
