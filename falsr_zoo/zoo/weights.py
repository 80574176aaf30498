"""Weights files: safetensors I/O, the local store, and where a zoo model's weights come from.

Only safetensors files are ever read (nothing is unpickled). Files are written atomically
(temporary file in the same directory, then ``os.replace``) so an interrupted write never
leaves a file that looks valid. Weights resolve in this order (:func:`resolve_weights`):

1. an explicit path given by the caller;
2. the local store (``$FALSR_ZOO_HOME/weights``, default ``~/.cache/falsr-zoo/weights``;
   :mod:`falsr_zoo.zoo.weights_store` lists and empties it), which ``falsr convert`` and first use
   fill; its files are checked against the pinned sha256;
3. a published Hub repository, where the registry names one, at its pinned revision
   (``HF_ENDPOINT`` honoured), asked once without retries;
4. the authors' own release (the FALSR frozen graphs on GitHub, at a pinned commit;
   ``$FALSR_ZOO_OFFICIAL_URL`` replaces the base URL): the file is downloaded once, checked
   against its pinned sha256, converted by the family's converter (passed in by the caller, which
   knows the family) and installed in the store, where the converted file must have its own
   pinned sha256. The next load reads the store and needs no network.

``HF_HUB_OFFLINE=1`` or ``offline=True`` skips 3 and 4: no request at all. A source that cannot be
reached costs one attempt (connection and reads time out after ``$FALSR_ZOO_DOWNLOAD_TIMEOUT``
seconds, default 10); when every source fails the error lists what was tried and how to fix it.
A file with the wrong sha256 is never kept, and the error says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from falsr_zoo._files import atomic_write_bytes, check_writable, output_error, sha256_file
from falsr_zoo.errors import (
    ChecksumError,
    DownloadError,
    HubFileError,
    OutputError,
    WeightsMismatchError,
    WeightsNotFoundError,
)
from falsr_zoo.zoo.fetch import fetch_url
from falsr_zoo.zoo.hub_files import download_timeout, hub_file, is_offline
from falsr_zoo.zoo.registry import OFFICIAL_URL_ENV, ModelEntry
from falsr_zoo.zoo.weights_store import HOME_ENV, store_dir, store_path

__all__ = [
    "load_state_dict",
    "safetensors_bytes",
    "read_metadata",
    "resolve_weights",
    "store_dir",
    "store_path",
    "writable_store",
    "write_safetensors",
]

logger = logging.getLogger(__name__)

METADATA_KEY = "falsr_zoo"


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


def load_state_dict(module: torch.nn.Module, path: str | os.PathLike[str], *,
                    architecture: Mapping[str, torch.Tensor] | None = None) -> None:
    """Load a safetensors file into ``module`` strictly.

    Args:
        module: The module to fill.
        path: The safetensors file.
        architecture: Tensors that describe ``module``'s architecture and that a file may hold
            beside its state dict (a model directory's FALSR genome): where present they must
            equal these, and they are not loaded.

    Raises:
        WeightsMismatchError: listing missing, unexpected and mis-shaped tensors, or naming an
            architecture tensor that describes another architecture.
    """
    state = load_file(os.fspath(path))
    for name, tensor in (architecture or {}).items():
        found = state.pop(name, None)
        if found is not None and (found.dtype != tensor.dtype or not torch.equal(found, tensor.to(found.device))):
            raise WeightsMismatchError(f"{path}: its {name!r} tensor describes another architecture than this module's")
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


def resolve_weights(
    entry: ModelEntry,
    weights: str | os.PathLike[str] | None = None,
    *,
    offline: bool | None = None,
    convert: Callable[[Path], Path] | None = None,
) -> Path:
    """Find ``entry``'s weights file: explicit path, the store, the Hub, the authors' release.

    Args:
        entry: The zoo entry.
        weights: An explicit safetensors file (used as is).
        offline: No network access (default: ``HF_HUB_OFFLINE``).
        convert: ``upstream file -> path in the store``: the family's converter for the
            authors' release (``None``: that source is not tried).

    Raises:
        WeightsNotFoundError: listing every source tried and naming the command that fixes it.
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
    if entry.weights is None:
        raise WeightsNotFoundError(
            f"no published weights are reachable for {entry.name}; build it with pretrained=False, "
            f"or {_fix_command(entry)}"
        )
    tried = [f"local store: no {stored}"]
    sources = [("Hub", _from_hub), ("authors' release", _from_release)]
    for label, source in sources:
        path, note = source(entry, offline, convert)
        if path is not None:
            return path
        if note:
            tried.append(f"{label}: {note}")
    raise WeightsNotFoundError(f"no weights for {entry.name}: tried {'; '.join(tried)}. Fix: {_fix_for(entry, offline)}")


def install(entry: ModelEntry, path: Path) -> Path:
    """Check ``path`` against ``entry``'s pinned sha256 and move it into the store."""
    _verify(entry, path, fix=f"it was not installed; {_fix_command(entry)}")
    target = store_path(entry)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except OSError as error:
        raise _store_error(target, error) from error
    return target


def _store_error(target: Path, error: OSError) -> OutputError:
    """An :class:`~falsr_zoo.errors.OutputError` for the store that says how to move it."""
    failure = error if isinstance(error, OutputError) else output_error(target, error)
    result = OutputError(f"{failure} (the weights store: set {HOME_ENV} to a writable folder)")
    result.errno = failure.errno
    return result


def writable_store() -> Path:
    """The store folder, created if needed and checked writable, before anything is downloaded or converted into it.

    Raises:
        OutputError: naming the store, the reason and ``FALSR_ZOO_HOME``.
    """
    store = store_dir()
    try:
        check_writable(store, directory=True)
        store.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _store_error(store, error) from error
    return store


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


def _fix_for(entry: ModelEntry, offline: bool | None) -> str:
    spec = entry.weights
    assert spec is not None
    if not spec.source_file:
        return _fix_command(entry)
    online = "unset HF_HUB_OFFLINE to fetch it, or " if is_offline(offline) else (
        f"check the connection (or set {OFFICIAL_URL_ENV} to a mirror of the authors' files), or "
    )
    return (f"{online}on a machine without network download {spec.source_file_url()} and run: "
            f"falsr convert path/to/{spec.source_file}")


def _from_hub(entry: ModelEntry, offline: bool | None, convert: object) -> tuple[Path | None, str]:
    """A published Hub repository's safetensors file, verified and installed in the store."""
    spec = entry.weights
    assert spec is not None
    if not spec.repo_id:
        return None, ""  # nothing published: not a source, not worth listing
    if is_offline(offline):
        return None, f"{spec.repo_id} not asked (network access is off)"
    store = writable_store()
    with tempfile.TemporaryDirectory(prefix=".download-", dir=store, ignore_cleanup_errors=True) as tmp:
        try:
            path = hub_file(spec.repo_id, spec.filename, revision=spec.revision, local_dir=tmp)
        except HubFileError as error:
            return None, str(error)
        logger.info("downloaded %s from %s@%s", spec.filename, spec.repo_id, spec.revision)
        return install(entry, path), ""


def _from_release(entry: ModelEntry, offline: bool | None,
                  convert: Callable[[Path], Path] | None) -> tuple[Path | None, str]:
    """The authors' upstream file, downloaded, checked, converted into the store."""
    spec = entry.weights
    assert spec is not None
    if not spec.source_path or convert is None:
        return None, ""
    url = spec.source_file_url(os.environ.get(OFFICIAL_URL_ENV))
    if is_offline(offline):
        return None, f"{url} not asked (network access is off: HF_HUB_OFFLINE / offline=True)"
    store = writable_store()
    with tempfile.TemporaryDirectory(prefix=".download-", dir=store, ignore_cleanup_errors=True) as tmp:
        try:
            source = fetch_url(url, Path(tmp) / spec.source_file, sha256=spec.source_sha256,
                               timeout=download_timeout())
        except DownloadError as error:
            return None, str(error)
        logger.info("converting %s into the store", source.name)
        return convert(source), ""
