"""Files from a Hugging Face Hub repository, failing fast: one probe, no retry storm, offline honoured.

``hf_hub_download`` retries a request that fails on the network five times with back-off (about
23 s) before it gives up, and every retry logs a warning. A zoo that tries several sources in
turn cannot afford that, so :func:`hub_file` first asks for the file's metadata once (no
retries, a timeout), then downloads only what answered. Offline (``HF_HUB_OFFLINE=1`` or
``offline=True``) nothing is requested; files already in the Hugging Face cache are used.

Errors are :class:`~falsr_zoo.errors.HubFileError` with one-line reasons, so callers can list
what they tried.
"""

from __future__ import annotations

import os
from pathlib import Path

from falsr_zoo.errors import HubFileError

__all__ = ["DEFAULT_TIMEOUT", "HUB_PREFIX", "download_timeout", "hub_file", "is_offline"]

HUB_PREFIX = "hf-hub:"
"""How a model on the Hub is named where a zoo name or a directory could stand (timm's prefix)."""

DEFAULT_TIMEOUT = 10.0
"""Seconds a connection or a read may take before a source counts as unreachable."""
TIMEOUT_ENV = "FALSR_ZOO_DOWNLOAD_TIMEOUT"
_TRUE = {"1", "true", "yes", "on"}


def is_offline(offline: bool | None = None) -> bool:
    """Whether network access is forbidden: ``offline`` if given, else ``HF_HUB_OFFLINE``."""
    if offline is not None:
        return offline
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE


def download_timeout() -> float:
    """``$FALSR_ZOO_DOWNLOAD_TIMEOUT`` seconds (default 10): per connection attempt and per read."""
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"{TIMEOUT_ENV} must be positive, got {raw}")
    return value


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is not None and str(status) not in text:
        text = f"HTTP {status}: {text}"
    return text[:300] or type(error).__name__


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    offline: bool | None = None,
    local_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The local path of ``filename`` from Hub repository ``repo_id`` at ``revision``.

    Args:
        repo_id: ``owner/name``.
        filename: A file of the repository.
        revision: A commit, tag or branch (default: ``main``).
        offline: Forbid network access (default: ``HF_HUB_OFFLINE``); only the cache is read.
        local_dir: Download into this directory instead of the Hugging Face cache (for a file
            that is moved elsewhere at once); the cache is then not consulted.

    Returns:
        The file in the Hugging Face cache (``HF_HOME``) or ``local_dir``, downloaded if needed.

    Raises:
        HubFileError: the repository, revision or file does not exist, the Hub cannot be
            reached and the cache does not hold the file, or offline with nothing cached.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError

    where = f"{repo_id}@{revision or 'main'}/{filename}"
    try:
        url = hf_hub_url(repo_id, filename, revision=revision)
    except HFValidationError as error:
        raise HubFileError(f"{repo_id!r} is not a Hub repository id ({_reason(error)})") from None
    if not is_offline(offline):
        try:
            get_hf_file_metadata(url, timeout=download_timeout())
        except HfHubHTTPError as error:
            raise HubFileError(f"the Hub has no {where} ({_reason(error)})") from None
        except Exception as error:  # noqa: BLE001 - the transport's own exceptions (httpx, requests)
            cached = None if local_dir is not None else _cached(repo_id, filename, revision)
            if cached is None:
                raise HubFileError(f"cannot reach the Hub for {where} ({_reason(error)})") from None
            return cached
        try:
            return Path(hf_hub_download(repo_id, filename, revision=revision, etag_timeout=download_timeout(),
                                        local_dir=local_dir))
        except Exception as error:  # noqa: BLE001
            raise HubFileError(f"downloading {where} failed ({_reason(error)})") from None
    cached = None if local_dir is not None else _cached(repo_id, filename, revision)
    if cached is None:
        raise HubFileError(f"{where} is not in the Hugging Face cache and network access is off (HF_HUB_OFFLINE)")
    return cached


def _cached(repo_id: str, filename: str, revision: str | None) -> Path | None:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss means "not cached"
        return None
