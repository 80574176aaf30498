"""TensorRT engines: built from the core ONNX graph, with a profile every tile fits, and a runner.

* **Precision.** Engines are built from strongly typed networks (TensorRT 11 has no other
  kind; 10.x gets the ``STRONGLY_TYPED`` flag): ``fp32`` builds from the float32 core graph with
  TF32 turned off, ``fp16`` from the core graph whose network body is float16
  (:class:`~falsr_zoo.families.falsr.falsr_export.FALSRHalfBody`: inputs, colour step and output stay
  float32), so no builder precision flag is involved.
* **Profile.** One optimisation profile, from 1x1 up to ``max_tile`` (LR pixels) and
  ``max_batch``, tuned for a full tile at batch 1. The default covers the upscaler's 512x512
  tile plus a 64-pixel margin on each side. The profile is written beside the engine
  (``<engine>.json``) and read back from the engine itself by the runner, which sets
  ``max_input_size`` so that the upscaler tiles every image to fit.
* **Runner.** :class:`TensorRTBackend` keeps its buffers in PyTorch CUDA tensors (a CUDA build
  of PyTorch is needed) and runs ``execute_async_v3`` on its own stream.

``tensorrt`` is imported inside the functions (the ``tensorrt`` extra); without it, or without a
CUDA GPU, every entry point fails with one clear error.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from falsr_zoo._files import atomic_write_bytes, check_writable, discard
from falsr_zoo._optional import require
from falsr_zoo.errors import BackendUnavailableError, ExportError, ImageError, OutputExistsError
from falsr_zoo.export.onnx_export import EXPORT_OPSET, PARITY_SEED, _reference_module, export_row, onnx_graph
from falsr_zoo.export.parity import check_core
from falsr_zoo.export.spec import ExportFamily, ParityReport

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_TILE",
    "EngineInfo",
    "EngineProfile",
    "TensorRTBackend",
    "TensorRTExport",
    "build_engine",
    "create",
    "export_tensorrt",
    "require_tensorrt",
    "sidecar_path",
]

UPSCALER_TILE = 512
"""The tile size (LR pixels) the upscaler cuts large images into."""
UPSCALER_MARGIN = 64
"""The context margin (LR pixels) the upscaler adds on each side of a tile."""
DEFAULT_MAX_TILE = (UPSCALER_TILE + 2 * UPSCALER_MARGIN, UPSCALER_TILE + 2 * UPSCALER_MARGIN)
DEFAULT_MAX_BATCH = 4
SIDECAR_VERSION = 1


def require_tensorrt() -> Any:
    """Import ``tensorrt`` and check that a CUDA GPU is visible.

    Raises:
        MissingDependencyError: ``tensorrt`` is not installed.
        BackendUnavailableError: no CUDA GPU (or a CPU-only PyTorch build).
    """
    tensorrt = require("tensorrt", "tensorrt", "TensorRT", message=(
        "TensorRT is not installed: it needs an NVIDIA GPU with CUDA and the extra pip install 'falsr-zoo[tensorrt]'"))
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            "TensorRT needs a CUDA GPU, and PyTorch sees none (torch.cuda.is_available() is False; "
            "a CUDA build of PyTorch is needed for the runner's buffers)"
        )
    return tensorrt


@dataclass(frozen=True)
class EngineProfile:
    """The engine's optimisation profile, in LR pixels of the core graph's first input.

    Attributes:
        max_batch: Largest batch.
        max_height: Largest LR height.
        max_width: Largest LR width.
        min_size: Smallest height and width (the family's minimum).
        opt_batch: The batch the kernels are tuned for (at the largest tile).
    """

    max_batch: int = DEFAULT_MAX_BATCH
    max_height: int = DEFAULT_MAX_TILE[0]
    max_width: int = DEFAULT_MAX_TILE[1]
    min_size: int = 1
    opt_batch: int = 1

    def __post_init__(self) -> None:
        if min(self.max_batch, self.max_height, self.max_width, self.min_size, self.opt_batch) < 1:
            raise ValueError(f"engine profile sizes must be positive: {self}")
        if self.opt_batch > self.max_batch or self.min_size > min(self.max_height, self.max_width):
            raise ValueError(f"inconsistent engine profile: {self}")

    @property
    def max_input_size(self) -> tuple[int, int, int]:
        """``(max_batch, max_height, max_width)``: what the backend tells the upscaler."""
        return self.max_batch, self.max_height, self.max_width

    def shapes(self, family: ExportFamily) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """``{input name: (min shape, opt shape, max shape)}`` for each core-graph input."""
        low = {"batch": 1, "height": self.min_size, "width": self.min_size}
        opt = {"batch": self.opt_batch, "height": self.max_height, "width": self.max_width}
        high = {"batch": self.max_batch, "height": self.max_height, "width": self.max_width}
        return {spec.name: (spec.shape(low), spec.shape(opt), spec.shape(high)) for spec in family.inputs}


@dataclass(frozen=True)
class EngineInfo:
    """The side metadata of an engine file (``<engine>.json``).

    Attributes:
        family: Model family.
        genome: Canonical genome of the network.
        scale: Upscaling factor.
        precision: ``"fp32"`` or ``"fp16"``.
        profile: The optimisation profile.
        opset: Opset of the ONNX graph the engine was built from.
        tensorrt_version: TensorRT that built it (engines only load in the same version).
        device: The GPU it was built on (engines are specific to a GPU architecture).
        model: Zoo name, if any.
    """

    family: str
    genome: str
    scale: int
    precision: str
    profile: EngineProfile
    opset: int
    tensorrt_version: str
    device: str
    model: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data, with a format version."""
        return {"format_version": SIDECAR_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EngineInfo:
        """Read :meth:`to_json`'s output back.

        Raises:
            ExportError: an unknown format version or missing fields.
        """
        if data.get("format_version") != SIDECAR_VERSION:
            raise ExportError(f"unknown engine metadata format {data.get('format_version')!r}")
        fields = {k: v for k, v in data.items() if k != "format_version"}
        try:
            return cls(**{**fields, "profile": EngineProfile(**fields["profile"])})
        except (KeyError, TypeError) as err:
            raise ExportError(f"incomplete engine metadata ({err})") from None


@dataclass(frozen=True)
class TensorRTExport:
    """What :func:`export_tensorrt` wrote: the engine, its side metadata, the parity report."""

    path: Path
    sidecar: Path
    info: EngineInfo
    parity: tuple[ParityReport, ...]
    num_bytes: int


def sidecar_path(engine: str | os.PathLike[str]) -> Path:
    """Where an engine's side metadata lives: ``model.engine`` -> ``model.engine.json``."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def build_engine(model: nn.Module, *, precision: str = "fp32", profile: EngineProfile | None = None,
                 opset: int = EXPORT_OPSET, name: str | None = None) -> tuple[bytes, EngineInfo]:
    """Build a serialized TensorRT engine of ``model``'s core graph.

    Args:
        model: The module.
        precision: ``"fp32"`` or ``"fp16"``.
        profile: The optimisation profile (default: a 640x640 tile, batch up to 4).
        opset: Opset of the intermediate ONNX graph.
        name: Zoo name for the metadata.

    Returns:
        The engine bytes and their metadata.

    Raises:
        MissingDependencyError, BackendUnavailableError: no TensorRT or no CUDA GPU.
        ExportError: TensorRT cannot parse the graph or build the engine.
    """
    trt = require_tensorrt()
    family = export_row(model)
    profile = profile or EngineProfile(min_size=family.min_size)
    graph = onnx_graph(model, form="core", precision=precision, opset=opset, name=name)
    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, log)
    if not parser.parse(graph.SerializeToString()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse the core graph: {errors}")
    config = builder.create_builder_config()
    if hasattr(trt.BuilderFlag, "TF32"):
        # float32 engines must match PyTorch to 1e-4; TF32 (10-bit mantissa) would not.
        config.clear_flag(trt.BuilderFlag.TF32)
    optimisation = builder.create_optimization_profile()
    for input_name, (low, opt, high) in profile.shapes(family).items():
        optimisation.set_shape(input_name, low, opt, high)
    config.add_optimization_profile(optimisation)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError("TensorRT could not build the engine (its log above says why)")
    info = EngineInfo(
        family=family.name, genome=str(getattr(model, "genome", "")), scale=int(getattr(model, "scale", 1)),
        precision=precision, profile=profile, opset=opset, tensorrt_version=trt.__version__,
        device=torch.cuda.get_device_name(), model=name,
    )
    return bytes(serialized), info


def _network_flags(trt: Any) -> int:
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


class TensorRTBackend:
    """Runs a TensorRT engine of a core graph behind the backend interface.

    Args:
        engine: The serialized engine.
        info: Its side metadata.

    Raises:
        MissingDependencyError, BackendUnavailableError: no TensorRT or no CUDA GPU.
        ExportError: the engine cannot be deserialized (another TensorRT version or GPU).
    """

    name = "tensorrt"

    def __init__(self, engine: bytes, info: EngineInfo) -> None:
        trt = require_tensorrt()
        self.info = info
        self.scale = info.scale
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(engine)
        if self._engine is None:
            raise ExportError(
                f"TensorRT {trt.__version__} cannot load this engine (built with TensorRT "
                f"{info.tensorrt_version} on {info.device}); rebuild it with falsr export --format tensorrt"
            )
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self.input_names = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        # The engine's own profile is the truth; the side file only tells us what was asked for.
        _, _, high = self._engine.get_tensor_profile_shape(self.input_names[0], 0)
        self.max_input_size = (int(high[0]), int(high[2]), int(high[3]))
        self._device = torch.device("cuda")
        self._stream = torch.cuda.Stream()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TensorRTBackend:
        """Load ``path`` and its side metadata ``<path>.json``.

        Raises:
            ExportError: the side metadata is missing or unreadable.
        """
        path, meta = Path(path), sidecar_path(path)
        if not meta.is_file():
            raise ExportError(f"{meta} is missing: engines are written with it by falsr export --format tensorrt")
        try:
            info = EngineInfo.from_json(json.loads(meta.read_text(encoding="utf-8")))
        except json.JSONDecodeError as err:
            raise ExportError(f"{meta} is not valid JSON ({err})") from None
        return cls(path.read_bytes(), info)

    @classmethod
    def from_model(cls, model: nn.Module, *, engine: str | os.PathLike[str] | None = None, precision: str = "fp32",
                   max_tile: Sequence[int] = DEFAULT_MAX_TILE, max_batch: int = DEFAULT_MAX_BATCH) -> TensorRTBackend:
        """The backend for ``model``: the engine file ``engine``, or one built now in memory.

        Raises:
            ExportError: ``engine`` was built for another architecture.
        """
        if engine is not None:
            backend = cls.from_file(engine)
            if backend.info.genome != str(getattr(model, "genome", "")):
                raise ExportError(f"{engine} was built for genome '{backend.info.genome}', not '{model.genome}'")
            return backend
        profile = EngineProfile(max_batch=max_batch, max_height=max_tile[0], max_width=max_tile[1],
                                min_size=export_row(model).min_size)
        return cls(*build_engine(model, precision=precision, profile=profile))

    def run(self, output_names: Sequence[str] | None, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run the engine on float32 arrays (``onnxruntime.InferenceSession.run``'s signature).

        Raises:
            ImageError: an input outside the engine's profile.
        """
        self._check_fits(feeds[self.input_names[0]].shape)
        with torch.cuda.stream(self._stream):
            # Allocated on this stream and referenced until the results are copied back.
            inputs = {name: torch.from_numpy(np.ascontiguousarray(feeds[name], dtype=np.float32)).to(self._device)
                      for name in self.input_names}
            for name, tensor in inputs.items():
                self._context.set_input_shape(name, tuple(tensor.shape))
                self._context.set_tensor_address(name, tensor.data_ptr())
            outputs = {}
            for name in self.output_names:
                outputs[name] = torch.empty(tuple(self._context.get_tensor_shape(name)), dtype=torch.float32,
                                            device=self._device)
                self._context.set_tensor_address(name, outputs[name].data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise ExportError("TensorRT failed to run the engine")
            # .cpu() copies on this stream and waits for it, so the results are complete.
            return [outputs[name].cpu().numpy() for name in (output_names or self.output_names)]

    def __call__(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """``(N,1,h,w)`` + ``(N,2,sh,sw)`` float32 -> ``(N,3,sh,sw)`` float32 RGB in [0, 1]."""
        return self.run(None, dict(zip(self.input_names, (y, pbpr))))[0]

    def _check_fits(self, shape: Sequence[int]) -> None:
        batch, height, width = self.max_input_size
        if shape[0] > batch or shape[2] > height or shape[3] > width:
            raise ImageError(
                f"input of shape {tuple(shape)} exceeds the engine's profile (batch {batch}, {height}x{width}); "
                "tile the image, or rebuild with a larger --max-tile / --max-batch"
            )


def _within(family: ExportFamily, profile: EngineProfile) -> ExportFamily:
    """``family`` with its check sizes cut down to what ``profile`` accepts."""
    limits = {"batch": profile.max_batch, "height": profile.max_height, "width": profile.max_width}
    sizes = tuple({k: min(v, limits.get(k, v)) for k, v in s.items()} for s in family.check_sizes)
    return replace(family, check_sizes=sizes)


def export_tensorrt(model: nn.Module, path: str | os.PathLike[str], *, precision: str = "fp32",
                    max_tile: Sequence[int] = DEFAULT_MAX_TILE, max_batch: int = DEFAULT_MAX_BATCH,
                    opset: int = EXPORT_OPSET, check: bool = True, overwrite: bool = False,
                    name: str | None = None) -> TensorRTExport:
    """Build a TensorRT engine of ``model``, check it against PyTorch, write it with its metadata.

    Args:
        model: The module.
        path: The engine file; the side metadata goes to ``<path>.json``.
        precision: ``"fp32"`` or ``"fp16"``.
        max_tile: Largest LR ``(height, width)`` of the profile (default 640x640: a 512 tile
            and a 64-pixel margin per side).
        max_batch: Largest batch of the profile.
        opset: Opset of the intermediate ONNX graph.
        check: Run the engine against PyTorch and refuse to write it outside tolerance.
        overwrite: Replace existing files.
        name: Zoo name for the metadata.

    Raises:
        OutputExistsError: the engine or its metadata exists and ``overwrite`` is false.
        OutputError: either file cannot be written (checked first; nothing is left behind).
        MissingDependencyError, BackendUnavailableError: no TensorRT or no CUDA GPU.
        ExportError: the build or the parity check failed.
    """
    path, meta = Path(path), sidecar_path(path)
    for target in (path, meta):
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} exists; pass --overwrite (overwrite=True) to replace it")
        check_writable(target)
    require_tensorrt()
    family = export_row(model)
    profile = EngineProfile(max_batch=max_batch, max_height=max_tile[0], max_width=max_tile[1],
                            min_size=family.min_size)
    engine, info = build_engine(model, precision=precision, profile=profile, opset=opset, name=name)
    parity: tuple[ParityReport, ...] = ()
    if check:
        runner = TensorRTBackend(engine, info)
        report = check_core(_reference_module(model), runner, _within(family, profile), "float32", precision,
                            np.random.default_rng(PARITY_SEED))
        if not report.ok:
            raise ExportError(f"the engine does not match PyTorch, not written: {report.summary()}")
        parity = (report,)
    atomic_write_bytes(path, engine)
    try:
        atomic_write_bytes(meta, (json.dumps(info.to_json(), indent=2) + "\n").encode())
    except BaseException:
        discard(path)  # an engine without its sidecar cannot be loaded: leave neither
        raise
    return TensorRTExport(path=path, sidecar=meta, info=info, parity=parity, num_bytes=len(engine))


def create(model: nn.Module, **options: Any) -> TensorRTBackend:
    """``create_backend("tensorrt", model, engine=None, precision="fp32", max_tile=(640, 640), max_batch=4)``."""
    return TensorRTBackend.from_model(model, **options)
