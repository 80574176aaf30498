"""The model registry: zoo entries as data, weights metadata apart from the architecture.

Modelled on torchvision's ``Weights``/``register_model`` (a duplicate name raises) and timm's
``PretrainedCfg``. An entry names a family (which builder), a genome string and metadata;
tests rebuild every entry and recompute the numbers stored here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, is_dataclass
from types import MappingProxyType
from typing import Any, Mapping

from falsr_zoo.errors import DuplicateModelError, UnknownModelError

__all__ = [
    "OFFICIAL_URL_ENV",
    "UNKNOWN_LICENSE",
    "ModelEntry",
    "WeightsFile",
    "entry_info",
    "find_by_genome",
    "format_mult_adds",
    "get_entry",
    "list_entries",
    "register",
]


OFFICIAL_URL_ENV = "FALSR_ZOO_OFFICIAL_URL"
"""Overrides the base URL of the authors' files (a mirror or an air-gapped copy of their repository)."""

UNKNOWN_LICENSE = "unknown"
"""The Hub's licence id for terms nobody stated: weights whose publisher gives no licence."""


@dataclass(frozen=True)
class WeightsFile:
    """A model's weights: the safetensors file the store holds, and where it can come from.

    Attributes:
        sha256: Hex digest the stored (downloaded or converted) file must have.
        num_bytes: Size of that file.
        filename: File name inside the Hub repository.
        repo_id: Hugging Face Hub repository publishing the safetensors file, ``""`` when none
            is published (then the Hub is never asked).
        revision: Pinned Hub revision (tag or commit), never a moving branch; ``""`` without a repository.
        source_file: The upstream file the weights are converted from (``FALSR-B.pb``), or ``""``.
        source_sha256: sha256 of that upstream file.
        source_url: The upstream project's page.
        source_repo: The upstream GitHub repository (``owner/name``) publishing ``source_path``.
        source_commit: The commit of ``source_repo`` the file is read at (pinned, never a branch).
        source_path: Path of the upstream file inside ``source_repo``.
    """

    sha256: str
    num_bytes: int
    filename: str = "model.safetensors"
    repo_id: str = ""
    revision: str = ""
    source_file: str = ""
    source_sha256: str = ""
    source_url: str = ""
    source_repo: str = ""
    source_commit: str = ""
    source_path: str = ""

    def source_base_url(self, override: str | None = None) -> str:
        """Base URL of the upstream files: ``override`` (``$FALSR_ZOO_OFFICIAL_URL``) or the pinned
        commit's raw GitHub URL; the file is at ``<base>/<source_path>``."""
        if override:
            return override.rstrip("/")
        return f"https://raw.githubusercontent.com/{self.source_repo}/{self.source_commit}"

    def source_file_url(self, override: str | None = None) -> str:
        """Where the upstream file is downloaded from (``""`` when the entry has none)."""
        if not self.source_path:
            return ""
        return f"{self.source_base_url(override)}/{self.source_path}"


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
        license: The weights' licence as a Hub licence id (``"mit"``, ``"cc-by-4.0"``), or
            :data:`UNKNOWN_LICENSE` when their publisher states none (for an entry without
            weights: the terms of the upstream code it follows). The card's header carries it.
        license_notes: Where the weights come from and what their terms are (rendered in the card).
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
    license: str = UNKNOWN_LICENSE
    license_notes: str = ""
    tags: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def license_known(self) -> bool:
        """Whether the weights have stated terms (``False``: their publisher gives no licence)."""
        return self.license != UNKNOWN_LICENSE

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


def entry_info(name: str) -> dict[str, Any]:
    """A zoo entry as plain data (what ``falsr info --json`` prints)."""
    return _plain(get_entry(name))


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def format_mult_adds(value: int) -> str:
    """``235.00 G`` from a billion up, ``608.2 M`` below."""
    return f"{value / 1e9:.2f} G" if value >= 1e9 else f"{value / 1e6:.1f} M"
