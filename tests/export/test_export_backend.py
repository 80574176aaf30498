"""The ONNX Runtime backend behind ``create_backend`` and ``upscale_array``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from falsr_zoo.errors import BackendUnavailableError, ExportError
from falsr_zoo.export import OnnxRuntimeBackend, export_onnx
from falsr_zoo.export.ort_backend import providers_for
from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.runtime.backends import BACKENDS, Backend, TorchBackend, create_backend
from falsr_zoo.sr.upscale import upscale_array

GENOME = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k1 b1 noskip <- 0,1; groupConG2 f32 k3 b1 noskip <- 1,2; out <- 0,2,3"
OTHER = "conv f16 k1 b1 noskip <- 0; out <- 0,1"


@pytest.fixture(scope="module")
def net() -> FALSR:
    torch.manual_seed(0)
    return FALSR(GENOME).eval()


@pytest.fixture(scope="module")
def backend(net: FALSR) -> Backend:
    return create_backend("onnxruntime", net)


def test_create_backend_gives_a_cpu_onnxruntime_backend(backend) -> None:
    assert isinstance(backend, OnnxRuntimeBackend) and isinstance(backend, Backend)
    assert backend.name == "onnxruntime" and backend.scale == 2 and backend.max_input_size is None
    assert backend.providers == ["CPUExecutionProvider"]  # no CUDA provider on the test machines
    assert backend.metadata["form"] == "core"


def test_backend_matches_torch_on_batches(net, backend) -> None:
    rng = np.random.default_rng(0)
    for n, h, w in [(3, 11, 6), (2, 5, 17)]:
        y = rng.random((n, 1, h, w), dtype=np.float32)
        pbpr = rng.random((n, 2, 2 * h, 2 * w), dtype=np.float32) - 0.5
        out = backend(y, pbpr)
        assert out.dtype == np.float32 and out.shape == (n, 3, 2 * h, 2 * w)
        assert np.abs(out - TorchBackend(net)(y, pbpr)).max() <= 1e-4


@pytest.mark.parametrize("shape", [(13, 8, 3), (7, 19, 3), (1, 1, 3)])
def test_upscale_array_through_the_backend(net, backend, shape) -> None:
    lr = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    ours, torch_out = upscale_array(backend, lr), upscale_array(net, lr)
    assert ours.shape == torch_out.shape == (2 * shape[0], 2 * shape[1], 3) and ours.dtype == np.uint8
    # same colour path: only a value sitting on an integer boundary can truncate differently
    diff = np.abs(ours.astype(int) - torch_out.astype(int))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= max(1, 0.001 * diff.size)


def test_an_exported_core_file_can_be_run(net, tmp_path) -> None:
    path = tmp_path / "core.onnx"
    export_onnx(net, path, form="core")
    backend = create_backend("onnxruntime", net, graph=path)
    y = np.random.default_rng(2).random((2, 1, 9, 4), dtype=np.float32)
    pbpr = np.zeros((2, 2, 18, 8), np.float32)
    assert np.abs(backend(y, pbpr) - TorchBackend(net)(y, pbpr)).max() <= 1e-4
    with pytest.raises(ExportError, match="holds the graph of genome"):
        create_backend("onnxruntime", FALSR(OTHER), graph=path)


def test_an_end_to_end_file_is_refused(net, tmp_path) -> None:
    path = tmp_path / "e2e.onnx"
    export_onnx(net, path, check=False)
    with pytest.raises(ExportError, match="holds the end-to-end graph; the backend runs core graphs"):
        create_backend("onnxruntime", net, graph=path)


@pytest.mark.parametrize("device, available, expected", [
    ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]),
])
def test_provider_choice(device, available, expected) -> None:
    assert providers_for(device, available) == expected


def test_provider_errors() -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA provider"):
        providers_for("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        providers_for("tpu", ["CPUExecutionProvider"])


def test_optional_backends_load_on_first_use() -> None:
    """A fresh process that never imported falsr_zoo.export finds the backend by name, and the
    backend's module is imported only then (plugins by name, no registration by import)."""
    code = (
        "import sys\n"
        "from falsr_zoo.runtime.backends import BACKENDS, create_backend\n"
        "from falsr_zoo.families.falsr.falsr_net import FALSR\n"
        "assert 'falsr_zoo.export.ort_backend' not in sys.modules and 'onnxruntime' not in sys.modules\n"
        f"print(create_backend('onnxruntime', FALSR({OTHER!r})).name, sorted(BACKENDS))\n"
        "assert 'falsr_zoo.export.ort_backend' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "onnxruntime ['onnxruntime', 'tensorrt', 'torch']"
    assert {"onnxruntime", "tensorrt", "torch"} <= set(BACKENDS)
