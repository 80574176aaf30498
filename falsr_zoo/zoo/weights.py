"""Weights files: safetensors I/O, the local store, and downloads from the Hugging Face Hub.

Only safetensors files are ever read (nothing is unpickled). Files are written atomically
(temporary file in the same directory, then ``os.replace``) so an interrupted write never
leaves a file that looks valid. Weights resolve in this order (:func:`resolve_weights`):

1. an explicit path given by the caller;
2. the local store (``$FALSR_ZOO_HOME/weights``, default ``~/.cache/falsr-zoo/weights``),
   which ``falsr convert`` fills; its files are checked against the pinned sha256;
3. the Hub, at the pinned revision, through ``huggingface_hub`` (honouring ``HF_ENDPOINT`` and
   ``HF_HUB_OFFLINE``); a download is checked against the pinned sha256 before it enters the
   store, and removed otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Mapping

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from falsr_zoo._files import atomic_write_bytes, sha256_file
from falsr_zoo.errors import ChecksumError, WeightsMismatchError, WeightsNotFoundError
from falsr_zoo.zoo.registry import ModelEntry

__all__ = [
    "load_state_dict",
    "safetensors_bytes",
    "read_metadata",
    "resolve_weights",
    "store_dir",
    "store_path",
    "write_safetensors",
]

logger = logging.getLogger(__name__)

HOME_ENV = "FALSR_ZOO_HOME"
METADATA_KEY = "falsr_zoo"


def store_dir() -> Path:
    """The local weights store: ``$FALSR_ZOO_HOME/weights`` or ``$XDG_CACHE_HOME/falsr-zoo/weights``."""
    home = os.environ.get(HOME_ENV)
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(cache, "falsr-zoo")
    return Path(home) / "weights"


def store_path(entry: ModelEntry) -> Path:
    """Where the store keeps ``entry``'s weights."""
    return store_dir() / f"{entry.name}.safetensors"


def safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    """Tensors as safetensors bytes, deterministically (same tensors and metadata, same bytes).

    safetensors serialises its metadata map in an arbitrary order, so all metadata travels as
    one JSON string with sorted keys under a single key (``"falsr_zoo"``).
    """
    return save(
        {name: t.detach().cpu().contiguous() for name, t in sorted(tensors.items())},
        metadata={METADATA_KEY: json.dumps(dict(metadata), sort_keys=True, separators=(",", ":"))},
    )


def write_safetensors(
    tensors: Mapping[str, torch.Tensor], path: str | os.PathLike[str], metadata: Mapping[str, str]
) -> str:
    """Write tensors as safetensors (:func:`safetensors_bytes`), atomically; return the sha256."""
    blob = safetensors_bytes(tensors, metadata)
    atomic_write_bytes(path, blob)
    return hashlib.sha256(blob).hexdigest()


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The falsr-zoo metadata of a safetensors file (``{}`` if it has none)."""
    with safe_open(os.fspath(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def load_state_dict(module: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a safetensors file into ``module`` strictly.

    Raises:
        WeightsMismatchError: listing missing, unexpected and mis-shaped tensors.
    """
    state = load_file(os.fspath(path))
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        problems = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
            if items:
                problems.append(f"{label}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}")
        raise WeightsMismatchError(f"{path} does not fit this architecture ({'; '.join(problems)})")
    module.load_state_dict(state, strict=True)


def resolve_weights(entry: ModelEntry, weights: str | os.PathLike[str] | None = None) -> Path:
    """Find ``entry``'s weights file: explicit path, then the store, then the Hub.

    Raises:
        WeightsNotFoundError: naming the command that fixes it.
        ChecksumError: if a stored or downloaded file does not have the pinned sha256.
    """
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFoundError(f"weights file {path} does not exist")
        return path
    stored = store_path(entry)
    if stored.is_file():
        _verify(entry, stored, fix=f"delete it and run: {_fix_command(entry)}")
        return stored
    return _download(entry)


def install(entry: ModelEntry, path: Path) -> Path:
    """Check ``path`` against ``entry``'s pinned sha256 and move it into the store."""
    _verify(entry, path, fix=f"it was not installed; {_fix_command(entry)}")
    target = store_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def _verify(entry: ModelEntry, path: Path, fix: str) -> None:
    if entry.weights is None:
        return
    actual = sha256_file(path)
    if actual != entry.weights.sha256:
        raise ChecksumError(
            f"{path} has sha256 {actual}, but {entry.name} pins {entry.weights.sha256}: {fix}"
        )


def _fix_command(entry: ModelEntry) -> str:
    if entry.weights is not None and entry.weights.source_file:
        return (
            f"falsr convert path/to/{entry.weights.source_file} "
            f"(the official file, from {entry.weights.source_url})"
        )
    return f"pass weights=PATH (or --weights PATH) to load a {entry.name} safetensors file"


def _download(entry: ModelEntry) -> Path:
    if entry.weights is None:
        raise WeightsNotFoundError(
            f"no published weights are reachable for {entry.name}; build it with pretrained=False, "
            f"or {_fix_command(entry)}"
        )
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled

    spec = entry.weights
    if constants.HF_HUB_OFFLINE:
        raise WeightsNotFoundError(
            f"{entry.name} weights are not in the local store ({store_path(entry)}) and HF_HUB_OFFLINE=1 "
            f"forbids the Hub download; fix: {_fix_command(entry)}"
        )
    store = store_dir()
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=store) as tmp:
        try:
            path = hf_hub_download(spec.repo_id, spec.filename, revision=spec.revision, local_dir=tmp)
        except (OfflineModeIsEnabled, EntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WeightsNotFoundError(
                f"{entry.name} weights are not in the local store ({store_path(entry)}) and the Hub "
                f"download of {spec.repo_id}@{spec.revision}/{spec.filename} failed ({reason}); "
                f"fix: {_fix_command(entry)}"
            ) from None
        logger.info("downloaded %s from %s@%s", spec.filename, spec.repo_id, spec.revision)
        return install(entry, Path(path))
