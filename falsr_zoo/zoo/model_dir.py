"""Model directories: one format for models of your own, the Hugging Face Hub convention.

A model directory holds three files:

* ``config.json``: what to build and what it scored: ``family``, ``genome`` (canonical string),
  ``options`` (the builder's keyword arguments), ``task``, ``scale`` (super-resolution),
  ``metrics`` (``{dataset: {metric: value}}``), the sha256 of the weights file and
  ``format_version``. Sorted keys, two-space indent, final newline: the same model always
  gives the same bytes.
* ``model.safetensors``: the state dict, written deterministically
  (:func:`~falsr_zoo.zoo.weights.write_safetensors`), with family and genome in its metadata.
  Only safetensors is ever read; nothing is unpickled.
* ``README.md``: the model card, rendered from the config by the card code (passed in).

A directory is written file by file, each atomically, weights first and config after: the
config records the weights' sha256, so a directory whose save was interrupted, or whose files
do not belong together, is refused on reading instead of loading the wrong weights.

References: a local directory, or ``hf-hub:owner/name`` (timm's prefix) for a Hub repository,
optionally at a pinned ``revision``; both files of a Hub model are read at the same commit.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from falsr_zoo._files import atomic_write_bytes, sha256_bytes, sha256_file
from falsr_zoo.errors import (
    ChecksumError,
    HubFileError,
    ModelDirError,
    UnknownModelError,
    WeightsNotFoundError,
)
from falsr_zoo.zoo.hub_files import HUB_PREFIX, hub_file
from falsr_zoo.zoo.registry import ModelEntry, get_entry, list_entries

if TYPE_CHECKING:  # reading a config (``falsr info DIR``, checks before a load) needs no torch
    import torch

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "HUB_PREFIX",
    "ModelConfig",
    "PushResult",
    "is_model_reference",
    "license_warning",
    "push_model_dir",
    "zoo_architecture",
    "read_model_dir",
    "resolve_model_dir",
    "write_model_dir",
    "WEIGHTS_NAME",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT_VERSION = 1
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)


@dataclass(frozen=True)
class ModelConfig:
    """The contents of ``config.json``.

    Attributes:
        family: The family row that builds it (``"falsr"``, ``"renas"``).
        genome: The canonical genome string.
        task: The family's task.
        options: Builder keyword arguments (JSON values).
        scale: Upscaling factor of a super-resolution model, else ``None``.
        metrics: ``{dataset: {metric: value}}`` measured on the saved weights.
        weights_sha256: sha256 of ``model.safetensors`` (``""`` before the weights are written).
    """

    family: str
    genome: str
    task: str
    options: Mapping[str, Any] = field(default_factory=dict)
    scale: int | None = None
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    weights_sha256: str = ""

    def __post_init__(self) -> None:
        for name in ("family", "genome", "task"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ModelDirError(f"config: {name!r} must be a non-empty string")
        if not isinstance(self.options, Mapping) or not all(isinstance(k, str) for k in self.options):
            raise ModelDirError("config: 'options' must map option names to values")
        if self.scale is not None and (isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1):
            raise ModelDirError(f"config: 'scale' must be a positive integer, got {self.scale!r}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "metrics", MappingProxyType(_checked_metrics(self.metrics)))

    def to_json(self) -> bytes:
        """``config.json``'s bytes (sorted keys: deterministic)."""
        data: dict[str, Any] = {
            "family": self.family,
            "format_version": FORMAT_VERSION,
            "genome": self.genome,
            "library_name": "falsr-zoo",
            "metrics": {d: dict(m) for d, m in self.metrics.items()},
            "options": dict(self.options),
            "task": self.task,
            "weights_sha256": self.weights_sha256,
        }
        if self.scale is not None:
            data["scale"] = self.scale
        return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes, source: str = CONFIG_NAME) -> ModelConfig:
        """Parse and check ``config.json``.

        Raises:
            ModelDirError: naming ``source`` and what is wrong.
        """
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise ModelDirError(f"{source} is not JSON ({error})") from None
        if not isinstance(data, dict):
            raise ModelDirError(f"{source} holds {type(data).__name__}, not an object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelDirError(
                f"{source} has format_version {version!r}; this falsr-zoo reads version {FORMAT_VERSION} "
                "(upgrade falsr-zoo for newer directories)"
            )
        missing = [key for key in ("family", "genome", "task") if key not in data]
        if missing:
            raise ModelDirError(f"{source} lacks {', '.join(missing)}")
        try:
            return cls(
                family=data["family"], genome=data["genome"], task=data["task"], options=data.get("options") or {},
                scale=data.get("scale"), metrics=data.get("metrics") or {}, weights_sha256=data.get("weights_sha256", ""),
            )
        except ModelDirError as error:
            raise ModelDirError(f"{source}: {error}") from None


def _checked_metrics(metrics: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ModelDirError("metrics must be {dataset: {metric: value}}")
    checked: dict[str, dict[str, float]] = {}
    # Sorted, as config.json stores them, so that a config read back equals the one written.
    for dataset, values in sorted(metrics.items(), key=lambda item: str(item[0])):
        if not isinstance(dataset, str) or not dataset or not isinstance(values, Mapping):
            raise ModelDirError(f"metrics: {dataset!r} must be a data set name mapping to {{metric: value}}")
        row = {}
        for metric, value in sorted(values.items(), key=lambda item: str(item[0])):
            if not isinstance(metric, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ModelDirError(f"metrics: {dataset}/{metric} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ModelDirError(f"metrics: {dataset}/{metric} is {value}, not a finite number")
            row[metric] = float(value)
        checked[dataset] = row
    return checked


def write_model_dir(
    directory: str | os.PathLike[str],
    state: Mapping[str, torch.Tensor],
    config: ModelConfig,
    card: Callable[[ModelConfig], str],
) -> ModelConfig:
    """Write a model directory: weights, then ``config.json``, then the card, each atomically.

    Everything is rendered in memory first, so a failure (a card that cannot be rendered, bad
    metrics) writes nothing.

    Args:
        directory: Created if needed; other files in it are left alone.
        state: The module's state dict.
        config: What to record (``weights_sha256`` is filled in here).
        card: Renders ``README.md`` from the final config.

    Returns:
        The config as written.
    """
    from falsr_zoo.zoo.weights import safetensors_bytes

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelDirError(f"{directory} exists and is not a directory")
    weights = safetensors_bytes(state, {"family": config.family, "genome": config.genome})
    config = replace(config, weights_sha256=sha256_bytes(weights))
    files = {WEIGHTS_NAME: weights, CONFIG_NAME: config.to_json(), CARD_NAME: card(config).encode()}
    for name, data in files.items():
        atomic_write_bytes(directory / name, data)
    return config


def read_model_dir(directory: str | os.PathLike[str]) -> tuple[ModelConfig, Path]:
    """The config of a model directory and its weights file, after checking that they belong together.

    Raises:
        WeightsNotFoundError: no such directory, or no weights file in it.
        ModelDirError: ``config.json`` missing or malformed.
        ChecksumError: the weights are not the ones the config records.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise WeightsNotFoundError(f"model directory {directory} does not exist")
    config_path, weights = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    if not config_path.is_file():
        raise ModelDirError(f"{directory} is not a model directory: it has no {CONFIG_NAME}")
    config = ModelConfig.from_json(config_path.read_bytes(), str(config_path))
    if not weights.is_file():
        raise WeightsNotFoundError(f"{directory} has no {WEIGHTS_NAME}")
    if config.weights_sha256:
        actual = sha256_file(weights)
        if actual != config.weights_sha256:
            raise ChecksumError(
                f"{weights} has sha256 {actual}, but {config_path} records {config.weights_sha256} "
                "(an interrupted save, or files from two models); save the model again"
            )
    return config, weights


def _in_registry(name: str) -> bool:
    try:
        get_entry(name)
    except UnknownModelError:
        return False
    return True


def is_model_reference(reference: str | os.PathLike[str]) -> bool:
    """Whether ``reference`` names a model directory or a Hub model rather than a zoo model.

    Zoo names win over directories of the same name; a string that looks like a path
    (``./x``, ``a/b``, ``~``) counts as a directory even if it does not exist yet, so that the
    error says the directory is missing instead of suggesting zoo names.
    """
    if isinstance(reference, os.PathLike):
        return True
    text = str(reference)
    if text.startswith(HUB_PREFIX):
        return True
    if _in_registry(text):
        return False
    return os.path.isdir(text) or os.sep in text or "/" in text or text.startswith((".", "~"))


def resolve_model_dir(
    reference: str | os.PathLike[str], *, revision: str | None = None, offline: bool | None = None
) -> Path:
    """A local directory holding the model ``reference`` names.

    Args:
        reference: A directory, or ``hf-hub:owner/name``.
        revision: A Hub commit, tag or branch (Hub references only).
        offline: Forbid network access (default: ``HF_HUB_OFFLINE``); Hub models then come from
            the Hugging Face cache.

    Raises:
        HubFileError: the Hub model cannot be had.
        WeightsNotFoundError: no such directory.
        ValueError: ``revision`` for a local directory.
    """
    text = os.fspath(reference)
    if not text.startswith(HUB_PREFIX):
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to hf-hub: references, not to the directory {text}")
        path = Path(text).expanduser()
        if not path.is_dir():
            raise WeightsNotFoundError(f"model directory {text} does not exist")
        return path
    repo_id = text[len(HUB_PREFIX):]
    config = hub_file(repo_id, CONFIG_NAME, revision=revision, offline=offline)
    # The snapshot folder is named by the commit the config came from: read the weights there too.
    commit = config.parent.name
    hub_file(repo_id, WEIGHTS_NAME, revision=commit, offline=offline)
    return config.parent


def zoo_architecture(config: ModelConfig) -> ModelEntry | None:
    """The zoo entry whose network the config describes (same family and genome, the entry's
    build options), or ``None`` for an architecture of your own."""
    return next((entry for entry in list_entries(config.family)
                 if entry.genome == config.genome
                 and all(config.options.get(key) == value for key, value in entry.options.items())), None)


def license_warning(config: ModelConfig, directory: str | os.PathLike[str]) -> str | None:
    """One line to show before publishing a directory whose weights may carry no licence, else ``None``.

    A directory does not record where its weights came from. When its network is a zoo model's
    architecture and that model's published weights have no known licence (the authors' FALSR
    release states none), the weights may be those or be fine-tuned from them: the line says so.
    """
    entry = zoo_architecture(config)
    if entry is None or entry.weights is None or entry.license_known:
        return None
    source = entry.weights.source_url or entry.weights.repo_id
    return (f"licence unknown: {directory} holds a {entry.name} network; if its weights are (or were "
            f"fine-tuned from) the official {entry.name} weights, no licence covers them ({source} states "
            "none): ask their authors before publishing")


@dataclass(frozen=True)
class PushResult:
    """Where a push landed: ``repo_id`` at ``commit`` (pin it with ``revision=commit``)."""

    repo_id: str
    commit: str
    url: str


def push_model_dir(
    directory: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool | None = None,
    branch: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
) -> PushResult:
    """Upload a model directory's three files to a Hub repository (created if needed), one commit.

    The directory is checked first (config readable, weights matching it), so nothing broken
    is published; weights that may have no licence get a warning first (:func:`license_warning`,
    logged). Other files in the directory are not uploaded.

    Raises:
        ModelDirError, ChecksumError, WeightsNotFoundError: the directory is not a sound model directory.
        HubFileError: the Hub refused or could not be reached.
    """
    from huggingface_hub import HfApi

    directory = Path(directory)
    config, _ = read_model_dir(directory)
    warning = license_warning(config, directory)
    if warning:
        logger.warning(warning)
    present = [name for name in MODEL_FILES if (directory / name).is_file()]
    api = HfApi(token=token)
    message = commit_message or f"Upload {config.family} model ({config.task}) with falsr-zoo"
    try:
        repo = api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo.repo_id, folder_path=directory, allow_patterns=present, revision=branch,
            commit_message=message,
        )
    except ValueError as error:
        raise ModelDirError(f"cannot push to {repo_id!r}: {' '.join(str(error).split())[:300]}") from None
    except Exception as error:  # noqa: BLE001 - the transport's exceptions and HfHubHTTPError alike
        raise HubFileError(f"pushing {directory} to {repo_id} failed ({' '.join(str(error).split())[:300]})") from None
    return PushResult(repo.repo_id, info.oid, info.commit_url)
