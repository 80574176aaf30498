"""The local weights store: where it is, what it holds, and taking entries out (``falsr cache``).

The store is one folder, ``$FALSR_ZOO_HOME/weights`` (default ``$XDG_CACHE_HOME/falsr-zoo/weights``,
else ``~/.cache/falsr-zoo/weights``), holding one ``<model name>.safetensors`` per zoo model, put
there by ``falsr convert`` and by first use (:mod:`falsr_zoo.zoo.weights` fills and reads it). A
download or conversion that was interrupted can leave hidden leftovers beside them
(``.<name>.<id>.part`` files, ``.download-*`` folders). Anything else in the folder is not the
store's and is never touched.

Listing and removing follow ``hf cache ls`` / ``hf cache rm``: a scan reports each stored file
with its size and time, leftovers apart; removal takes named entries, or everything the store
wrote. A removed official file comes back on the next use (fetched and converted again). Standard
library only: these answer without importing torch.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from falsr_zoo.errors import OutputError
from falsr_zoo.zoo.registry import ModelEntry, get_entry, list_entries

__all__ = [
    "HOME_ENV",
    "Removal",
    "StoreScan",
    "StoredWeights",
    "is_stored",
    "remove_from_store",
    "scan_store",
    "store_dir",
    "store_path",
]

HOME_ENV = "FALSR_ZOO_HOME"
WEIGHTS_SUFFIX = ".safetensors"


def store_dir() -> Path:
    """The local weights store: ``$FALSR_ZOO_HOME/weights`` or ``$XDG_CACHE_HOME/falsr-zoo/weights``."""
    home = os.environ.get(HOME_ENV)
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(cache, "falsr-zoo")
    return Path(home) / "weights"


def store_path(entry: ModelEntry) -> Path:
    """Where the store keeps ``entry``'s weights."""
    return store_dir() / f"{entry.name}{WEIGHTS_SUFFIX}"


def is_stored(entry: ModelEntry) -> bool:
    """Whether the store holds a file for ``entry`` (its sha256 is checked when it is loaded)."""
    return store_path(entry).is_file()


@dataclass(frozen=True)
class StoredWeights:
    """One weights file in the store.

    Attributes:
        name: The file's stem: the zoo model's name, or for a file no zoo entry claims (one an
            older falsr-zoo wrote for a model it no longer lists) whatever it is called.
        path: The file.
        num_bytes: Its size.
        modified: Its modification time (seconds since the epoch).
        in_zoo: Whether a zoo entry claims it.
    """

    name: str
    path: Path
    num_bytes: int
    modified: float
    in_zoo: bool


@dataclass(frozen=True)
class StoreScan:
    """What the store holds: weights files (in zoo order, then by name) and leftovers."""

    directory: Path
    weights: tuple[StoredWeights, ...]
    leftovers: tuple[Path, ...]
    leftover_bytes: int

    @property
    def num_bytes(self) -> int:
        """Everything the store's files take, leftovers included."""
        return sum(w.num_bytes for w in self.weights) + self.leftover_bytes


def _size(path: Path) -> int:
    """Bytes under ``path``; 0 for what vanished meanwhile (another process finishing its download)."""
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(_size(child) for child in path.iterdir())
        return path.lstat().st_size
    except FileNotFoundError:
        return 0


def scan_store() -> StoreScan:
    """List the store (an absent store is an empty one)."""
    directory = store_dir()
    # exact names: the store reads <name>.safetensors, so another spelling is no zoo model's file
    order = {entry.name: index for index, entry in enumerate(list_entries())}
    weights, leftovers = [], []
    children = sorted(directory.iterdir()) if directory.is_dir() else []
    for path in children:
        if path.name.startswith("."):
            leftovers.append(path)
        elif path.suffix == WEIGHTS_SUFFIX and path.is_file():
            stat = path.stat()
            weights.append(StoredWeights(path.stem, path, stat.st_size, stat.st_mtime, path.stem in order))
    weights.sort(key=lambda w: (order.get(w.name, len(order)), w.name))
    return StoreScan(directory, tuple(weights), tuple(leftovers), sum(_size(p) for p in leftovers))


@dataclass(frozen=True)
class Removal:
    """What :func:`remove_from_store` removed (or, for a dry run, would remove).

    Attributes:
        weights: The weights files.
        leftovers: Leftovers of interrupted downloads and conversions (only with ``everything``).
        num_bytes: Space freed.
        not_stored: Zoo models asked for that the store does not hold.
        dry_run: Nothing was removed.
    """

    weights: tuple[StoredWeights, ...]
    leftovers: tuple[Path, ...]
    num_bytes: int
    not_stored: tuple[str, ...]
    dry_run: bool


def _select(scan: StoreScan, names: Sequence[str]) -> tuple[list[StoredWeights], list[str]]:
    """The stored files ``names`` name (case-insensitively), and the zoo models among them not stored.

    Raises:
        UnknownModelError: a name that is neither stored nor a zoo model.
    """
    chosen: dict[Path, StoredWeights] = {}
    missing = []
    for name in names:
        found = [w for w in scan.weights if w.name.lower() == name.lower()]
        chosen.update((w.path, w) for w in found)
        if not found:
            missing.append(get_entry(name).name)
    return list(chosen.values()), list(dict.fromkeys(missing))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as error:
        reason = (error.strerror or str(error) or type(error).__name__).strip()
        failure = OutputError(f"cannot remove {path}: {reason[:1].lower()}{reason[1:]}")
        failure.errno = error.errno
        raise failure from error


def remove_from_store(names: Sequence[str] = (), *, everything: bool = False, dry_run: bool = False) -> Removal:
    """Remove named weights from the store, or everything the store wrote.

    Args:
        names: Zoo model names (case-insensitive), or the names :func:`scan_store` gives files no
            zoo entry claims.
        everything: Remove every weights file and every leftover (files the store did not write
            stay); exclusive with ``names``.
        dry_run: Only report what would be removed.

    Returns:
        What was removed; zoo models that were not stored are listed, not an error.

    Raises:
        ValueError: both or neither of ``names`` and ``everything``.
        UnknownModelError: a name that is neither stored nor a zoo model.
        OutputError: a file cannot be removed (naming it and the reason); files before it are gone.

    Example:
        >>> remove_from_store(["FALSR-B"], dry_run=True).weights      # doctest: +SKIP
    """
    if bool(names) == everything:
        raise ValueError("name the weights to remove, or pass everything=True (not both)")
    scan = scan_store()
    if everything:
        weights, leftovers, missing = list(scan.weights), list(scan.leftovers), []
    else:
        (weights, missing), leftovers = _select(scan, names), []
    freed = sum(w.num_bytes for w in weights) + (scan.leftover_bytes if leftovers else 0)
    if not dry_run:
        for path in [*(w.path for w in weights), *leftovers]:
            _remove(path)
    return Removal(tuple(weights), tuple(leftovers), freed, tuple(missing), dry_run)
