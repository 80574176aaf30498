"""FALSR in spandrel, the model loader of ComfyUI and chaiNNer: files to write, an architecture to install.

* :func:`save_file` writes a FALSR model (a zoo name, a module or a model directory) as a
  spandrel-loadable file: the state dict of
  :class:`~falsr_zoo.families.falsr.falsr_rgb.FALSRRGB` (RGB in, RGB out, the genome inside the
  state dict), as safetensors. Needs only torch (``falsr export NAME --format spandrel``).
* :func:`install` adds the ``FALSR`` architecture to spandrel's registry, the convention of
  ``spandrel_extra_arches.install()``: after it, ``spandrel.ModelLoader().load_from_file(path)``
  (or ``load_from_state_dict``, ComfyUI's call) returns an ``ImageModelDescriptor`` (purpose
  ``"SR"``, scale 2, 3 channels in and out, tiling supported) for such a file and for the
  ``model.safetensors`` of any FALSR model directory (``save_pretrained``: trained, searched or
  zoo models), which carries the genome tensor too. Files of other architectures are left to
  spandrel's own detectors. FALSR is detected first: its test (a ``uint8`` genome tensor beside
  FALSR's own tensor names) cannot match another architecture's file.

Precision, as measured (``benchmarks/spandrel_precision.py --model FALSR-B``, Set5, CPU): the
colour step always runs in float32; a float16 network body moves the output by at most 2.9e-3
and the Y-PSNR by -0.0006 dB, so ``supports_half=True``; bfloat16 moves it by up to 2.0e-2 and
-0.047 dB, beyond the project's 0.01 dB bar for a reduced precision, so ``supports_bfloat16=False``.
spandrel is the optional extra ``falsr-zoo[spandrel]`` (it needs torchvision).

Example:
    >>> import falsr_zoo.spandrel, spandrel                          # doctest: +SKIP
    >>> falsr_zoo.spandrel.save_file("FALSR-B", "FALSR-B.safetensors")  # doctest: +SKIP
    >>> falsr_zoo.spandrel.install()                                  # doctest: +SKIP
    >>> spandrel.ModelLoader().load_from_file("FALSR-B.safetensors")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo._optional import require
from falsr_zoo.api import load
from falsr_zoo.errors import OutputExistsError, WeightsMismatchError
from falsr_zoo.families.falsr.falsr_rgb import FALSRRGB, state_dict_layout
from falsr_zoo.families.table import family_of
from falsr_zoo.zoo.weights import safetensors_bytes

__all__ = ["ARCH_ID", "SUPPORTS_BFLOAT16", "SUPPORTS_HALF", "detect", "install", "load_descriptor", "save_file"]

ARCH_ID = "FALSR"
SUPPORTS_HALF = True
"""float16 network body: FALSR-B's Set5 Y-PSNR -0.0006 dB from float32 (measured; module docstring)."""
SUPPORTS_BFLOAT16 = False
"""bfloat16 costs 0.047 dB on FALSR-B / Set5: not offered to front ends that pick a dtype by these flags."""


def save_file(model: str | os.PathLike[str] | nn.Module, path: str | os.PathLike[str], *,
              overwrite: bool = False) -> Path:
    """Write ``model`` as a spandrel-loadable ``.safetensors`` file (genome in the state dict).

    Args:
        model: A zoo name (``"FALSR-B"``), a model directory / ``hf-hub:`` reference, or a FALSR module.
        path: The output file (``.safetensors``).
        overwrite: Replace an existing file.

    Returns:
        ``path``. The same model always gives the same bytes.
    """
    module = load(model) if isinstance(model, (str, os.PathLike)) else model
    if family_of(module).name != "falsr":
        raise WeightsMismatchError(f"spandrel files hold FALSR models, not {family_of(module).name} ones")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: spandrel files are written as .safetensors")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    state = FALSRRGB.from_model(module).state_dict()
    metadata = {"family": "falsr", "genome": str(module.genome), "form": "rgb"}
    atomic_write_bytes(path, safetensors_bytes(state, metadata))
    return path


def detect(state_dict: dict[str, Any]) -> bool:
    """Whether a state dict is a FALSR one that carries its genome: a ``uint8`` genome vector and
    FALSR's tensor names, as :class:`FALSRRGB` names them or as a model directory's file does.

    A genome tensor whose bytes are not a valid genome is detected, and refused with the genome
    grammar's message when loaded.
    """
    return state_dict_layout(state_dict) is not None


def _architecture_class() -> type:
    spandrel = require("spandrel", "spandrel", "the spandrel integration")

    class FALSRArch(spandrel.Architecture):
        """spandrel's view of FALSR: detection from the state dict, loading into :class:`FALSRRGB`."""

        def __init__(self) -> None:
            super().__init__(id=ARCH_ID, name="FALSR", detect=detect)

        def load(self, state_dict: dict[str, Any]) -> Any:
            model = FALSRRGB.from_state_dict(state_dict)
            genome = model.genome
            tags = [f"{genome.n_cells}cells", f"{genome.num_params():,}params"]
            return spandrel.ImageModelDescriptor(
                model, model.state_dict(), architecture=self, purpose="SR", tags=tags,
                supports_half=SUPPORTS_HALF, supports_bfloat16=SUPPORTS_BFLOAT16, scale=FALSRRGB.scale,
                input_channels=3, output_channels=3, size_requirements=spandrel.SizeRequirements(),
                tiling=spandrel.ModelTiling.SUPPORTED,
            )

    return FALSRArch


def install(registry: Any = None, *, ignore_duplicates: bool = True) -> list[Any]:
    """Add the FALSR architecture to spandrel's registry (``MAIN_REGISTRY`` by default).

    Detected before every architecture already registered. Calling it twice is harmless
    (``ignore_duplicates``), as with ``spandrel_extra_arches.install``.

    Returns:
        The ``ArchSupport`` entries added (empty when already installed).

    Raises:
        MissingDependencyError: spandrel is not installed (extra ``falsr-zoo[spandrel]``).
    """
    spandrel = require("spandrel", "spandrel", "the spandrel integration")
    registry = spandrel.MAIN_REGISTRY if registry is None else registry
    others = tuple(support.architecture.id for support in registry.architectures())
    support = spandrel.ArchSupport(_architecture_class()(), detect, before=tuple(a for a in others if a != ARCH_ID))
    return registry.add(support, ignore_duplicates=ignore_duplicates)


def load_descriptor(path: str | os.PathLike[str]) -> Any:
    """``spandrel.ModelLoader().load_from_file(path)`` after :func:`install`: a convenience for scripts."""
    spandrel = require("spandrel", "spandrel", "the spandrel integration")
    install()
    return spandrel.ModelLoader().load_from_file(path)
