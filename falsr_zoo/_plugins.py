"""Plugins named by dotted path (``"package.module:attribute"``), resolved on first use.

Tables that name code in a higher layer or behind an optional dependency (a family's builder,
an inference backend) hold such strings instead of importing it, so nothing registers itself by
being imported and a lower layer never imports a higher one.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

__all__ = ["resolve"]


@lru_cache(maxsize=None)
def resolve(path: str) -> Any:
    """The object at ``"module:attribute"`` (attributes may be dotted).

    Raises:
        ValueError: for a path without ``:``.
        ImportError, AttributeError: when the module or attribute does not exist.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not attribute:
        raise ValueError(f"plugin path {path!r} must look like 'package.module:attribute'")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value
