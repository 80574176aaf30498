"""One guard for optional dependencies: import it, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from falsr_zoo.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, extra: str, purpose: str, *, message: str | None = None) -> ModuleType:
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra.

    Args:
        module: The module to import (``"onnxruntime"``).
        extra: The falsr-zoo extra that installs it (``"onnx"``).
        purpose: What needs it, for the message (``"the onnxruntime backend"``).
        message: A message of its own, where the default says too little (it must name the extra).

    Raises:
        MissingDependencyError: ``<purpose> needs <missing module>; install the extra: pip install 'falsr-zoo[<extra>]'``.

    Example:
        >>> require("json", "core", "this example").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = err.name or module
        raise MissingDependencyError(
            message or f"{purpose} needs {missing}; install the extra: pip install 'falsr-zoo[{extra}]'"
        ) from None
