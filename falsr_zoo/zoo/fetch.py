"""Downloading one pinned file over HTTP(S): one try, a timeout, its sha256 checked, nothing half-kept.

Used for the authors' own files (the FALSR frozen graphs on GitHub), which no Hub repository
publishes. Standard library only (``urllib``, which honours ``https_proxy`` / ``no_proxy``): one
request, no retries, a timeout on connecting and on every read; the bytes go to a unique
temporary file beside the target while their sha256 is computed, and only a complete file with
the expected digest is renamed into place. One progress bar (huggingface_hub's ``tqdm``, so
``HF_HUB_DISABLE_PROGRESS_BARS`` silences it; shown only on a terminal).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from falsr_zoo._files import discard, temporary_sibling
from falsr_zoo._version import __version__
from falsr_zoo.errors import ChecksumError, DownloadError

__all__ = ["fetch_url"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16


def fetch_url(url: str, target: str | os.PathLike[str], *, sha256: str, timeout: float) -> Path:
    """Download ``url`` to ``target`` if and only if its content has ``sha256``.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        target: Final path; its directory must exist.
        sha256: Expected hex digest.
        timeout: Seconds allowed for connecting and for each read.

    Returns:
        ``target``.

    Raises:
        DownloadError: HTTP error, unreachable host, timeout, or fewer bytes than announced.
        ChecksumError: the bytes have another sha256 (nothing is left behind).
    """
    target = Path(target)
    partial = temporary_sibling(target)
    try:
        digest, received, total = _download(url, partial, timeout, target.name)
        if total is not None and received != total:
            raise DownloadError(f"{url}: the connection closed after {received:,} of {total:,} bytes")
        if digest != sha256:
            raise ChecksumError(f"{url} sent {received:,} bytes with sha256 {digest}, not the pinned {sha256}; "
                                "nothing was kept")
        os.replace(partial, target)
    finally:
        discard(partial)
    logger.info("downloaded %s (%d bytes, sha256 %s)", url, received, digest)
    return target


def _download(url: str, partial: Path, timeout: float, label: str) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``partial``: ``(sha256, bytes received, bytes announced)``."""
    request = urllib.request.Request(url, headers={"User-Agent": f"falsr-zoo/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            total = int(announced) if announced and announced.isdigit() else None
            digest, received = _copy(response, partial, total, label)
            return digest, received, total
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: {_describe(error.reason, timeout)}") from None
    except (OSError, http.client.HTTPException) as error:  # timeouts, resets, truncated chunks
        raise DownloadError(f"{url}: {_describe(error, timeout)}") from None


def _copy(response, partial: Path, total: int | None, label: str) -> tuple[str, int]:
    from huggingface_hub.utils import tqdm

    digest, received = hashlib.sha256(), 0
    # disable=None: no bar unless stderr is a terminal (logs and captured output stay clean).
    with open(partial, "xb") as handle, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                             desc=label, disable=None, leave=False) as bar:
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            handle.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return digest.hexdigest(), received


def _describe(reason: object, timeout: float) -> str:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s (timed out)"
    text = " ".join(str(reason).split())
    return text or type(reason).__name__
