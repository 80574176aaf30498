"""The model registry: zoo entries as data, weights metadata apart from the architecture.

Modelled on torchvision's ``Weights``/``register_model`` (a duplicate name raises) and timm's
``PretrainedCfg``. An entry names a family (which builder), a genome string and metadata;
tests rebuild every entry and recompute the numbers stored here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from falsr_zoo.errors import DuplicateModelError, UnknownModelError

__all__ = ["ModelEntry", "WeightsFile", "find_by_genome", "get_entry", "list_entries", "register"]


@dataclass(frozen=True)
class WeightsFile:
    """Where a model's safetensors file lives and how to check it.

    Attributes:
        repo_id: Hugging Face Hub repository.
        filename: File name inside the repository.
        revision: Pinned Hub revision (tag or commit), never a moving branch.
        sha256: Hex digest the downloaded or converted file must have.
        num_bytes: Size of the file.
        source_file: The upstream file the weights come from (``FALSR-B.pb``), or ``""``.
        source_sha256: sha256 of that upstream file.
        source_url: Where the upstream file is published.
    """

    repo_id: str
    filename: str
    revision: str
    sha256: str
    num_bytes: int
    source_file: str = ""
    source_sha256: str = ""
    source_url: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One zoo model.

    Attributes:
        name: Registry key, e.g. ``"FALSR-B"``.
        family: Builder family (``"falsr"``).
        genome: Canonical genome string of the architecture.
        task: ``"image-super-resolution"`` or ``"image-classification"``.
        summary: One sentence for tables and cards.
        num_params: Parameters of the built module (recomputed by tests).
        mult_adds: Multiply-accumulates at :attr:`reference_size` (recomputed by tests).
        reference_size: ``(height, width)`` of the input the costs refer to.
        scale: Upscaling factor for super-resolution models.
        weights: The published weights, or ``None`` when none are reachable.
        paper: ``{"title", "authors", "venue", "url", "bibtex"}``.
        paper_costs: The costs as the paper prints them (``{"params": "1,021K", ...}``).
        paper_metrics: ``{dataset: {metric: value}}`` as the paper reports them.
        reproduced_metrics: ``{dataset: {metric: value}}`` measured with this package.
        license: SPDX id or ``"other"`` for the weights.
        license_notes: Where the weights come from and what their terms are.
        tags: Hub card tags.
        options: Family-specific build options (keyword arguments of the builder).
        preprocessing: How images are prepared for the model (classifiers: ``resize``,
            ``crop``, ``mean``, ``std``, ``interpolation``), as the weights expect them.
        notes: How the entry relates to the paper (variant chosen and why, where each figure
            comes from); rendered in the model card.
    """

    name: str
    family: str
    genome: str
    task: str
    summary: str
    num_params: int
    mult_adds: int
    reference_size: tuple[int, int]
    scale: int | None = None
    weights: WeightsFile | None = None
    paper: Mapping[str, str] = field(default_factory=dict)
    paper_costs: Mapping[str, str] = field(default_factory=dict)
    paper_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reproduced_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    license: str = "other"
    license_notes: str = ""
    tags: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        for name in ("paper", "paper_costs", "paper_metrics", "reproduced_metrics", "options", "preprocessing"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add ``entry`` to the zoo.

    Raises:
        DuplicateModelError: if an entry with the same (case-insensitive) name exists.
    """
    key = entry.name.lower()
    if key in _REGISTRY:
        raise DuplicateModelError(f"model {entry.name!r} is already registered")
    _REGISTRY[key] = entry
    return entry


def get_entry(name: str) -> ModelEntry:
    """Look a model up by name (case-insensitive).

    Raises:
        UnknownModelError: naming the closest known models.
    """
    entry = _REGISTRY.get(str(name).lower())
    if entry is None:
        names = [e.name for e in _REGISTRY.values()]
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(sorted(close))}?" if close else f"; known models: {', '.join(names)}"
        raise UnknownModelError(f"unknown model {name!r}{hint}")
    return entry


def list_entries(family: str | None = None) -> list[ModelEntry]:
    """All entries in registration order, optionally of one family."""
    return [e for e in _REGISTRY.values() if family is None or e.family == family]


def find_by_genome(genome: str, family: str, options: Mapping[str, Any] | None = None) -> ModelEntry | None:
    """The entry of ``family`` whose canonical genome string is ``genome``, if any.

    With ``options``, the entry's build options must be equal too: RENAS entries share one
    cell genome and differ only in their layout options.
    """
    return next(
        (e for e in list_entries(family)
         if e.genome == genome and (options is None or dict(e.options) == dict(options))),
        None,
    )
