"""Every exception falsr-zoo raises on purpose, on standard-library bases.

Callers can catch the stdlib base (``except ValueError``) or the package base
(``except FalsrZooError``). The CLI turns each class into a one-line message and an
exit status through one table (:mod:`falsr_zoo.cli.exit_codes`).
"""

from __future__ import annotations


class FalsrZooError(Exception):
    """Base class of all falsr-zoo errors."""


class GenomeError(FalsrZooError, ValueError):
    """A genome string or spec is malformed or outside the search space.

    Attributes:
        text: The whole input that was being parsed (may be empty for specs built in code).
        token: The offending token, quoted in the message.
    """

    def __init__(self, message: str, *, text: str = "", token: str = "") -> None:
        self.text = text
        self.token = token
        super().__init__(message)


class UnknownModelError(FalsrZooError, LookupError):
    """A model name that the registry does not hold."""


class UnknownFamilyError(FalsrZooError, ValueError):
    """A model family that the family table does not hold, or a module of no family."""


class DuplicateModelError(FalsrZooError, ValueError):
    """Registering a name twice."""


class WeightsNotFoundError(FalsrZooError, FileNotFoundError):
    """No weights can be had for a model; the message names the command that fixes it."""


class HubFileError(WeightsNotFoundError):
    """A Hub file cannot be had: no such repository, revision or file, the Hub is unreachable, or
    network access is off and the cache does not hold it."""


class DownloadError(WeightsNotFoundError):
    """A file could not be downloaded: HTTP error, unreachable host, timeout, or a truncated body."""


class ModelDirError(FalsrZooError, ValueError):
    """A model directory (``config.json`` + ``model.safetensors``) is malformed or inconsistent."""


class ChecksumError(FalsrZooError, ValueError):
    """A weights file does not have the sha256 the registry pins."""


class WeightsMismatchError(FalsrZooError, ValueError):
    """A weights file does not fit the architecture (missing, extra or mis-shaped tensors)."""


class ConversionError(FalsrZooError, ValueError):
    """A file given to the converter is not the expected official graph."""


class ImageError(FalsrZooError, ValueError):
    """An input image cannot be read or used."""


class DatasetError(FalsrZooError, ValueError):
    """An evaluation directory holds no usable image pairs."""


class OutputExistsError(FalsrZooError, FileExistsError):
    """Writing would overwrite an input file or a file the user did not allow to replace."""


class ConfigError(FalsrZooError, ValueError):
    """A training or search configuration is invalid: unknown key, bad value, impossible setting."""


class MissingDependencyError(FalsrZooError, ImportError):
    """An optional dependency is needed; the message names the extra that installs it."""


class BackendUnavailableError(FalsrZooError, RuntimeError):
    """An inference backend cannot run here (no CUDA GPU for TensorRT, no CUDA provider)."""


class ExportError(FalsrZooError, RuntimeError):
    """An export failed: the graph does not match PyTorch, or a graph or engine cannot be built or read."""


class RunBusyError(FalsrZooError, RuntimeError):
    """A search run directory is driven by another live process (its lock names the holder's pid)."""


class OutputError(FalsrZooError, OSError):
    """An output cannot be written (read-only file system, no permission, no space); the message
    names the target and the reason, and nothing is left behind."""
