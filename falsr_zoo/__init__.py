"""falsr-zoo: FALSR and RENASNet networks from genome strings, with the official weights.

``import falsr_zoo`` stays light (no torch): the registry and the genome grammars load eagerly,
everything that needs torch (:func:`load`, the models, upscaling, classification) on first use.

Example:
    >>> from falsr_zoo import load
    >>> model = load("FALSR-B")                       # doctest: +SKIP
    >>> model.upscale(Image.open("photo.png"))        # doctest: +SKIP
    >>> net = load("RENASNet", pretrained=False)      # doctest: +SKIP
    >>> net.classify(Image.open("cat.jpg"), labels=imagenet_labels)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from falsr_zoo import zoo as _zoo  # noqa: F401  (registers the zoo entries)
from falsr_zoo import zoo_renas as _zoo_renas  # noqa: F401  (registers the RENAS entries)
from falsr_zoo.genome import CellSpec, Genome, format_genome, parse_genome
from falsr_zoo.registry import get_entry, list_entries
from falsr_zoo.renas_genome import RenasBlock, RenasCell, RenasNetSpec, format_renas_cell, parse_renas_cell

__version__ = "0.1.0"

_LAZY = {
    "load": "falsr_zoo.api",
    "list_models": "falsr_zoo.api",
    "model_info": "falsr_zoo.api",
    "upscale_image": "falsr_zoo.upscale",
    "classify_image": "falsr_zoo.classify",
    "FALSR": "falsr_zoo.models",
    "RENASNet": "falsr_zoo.models",
}

__all__ = [
    "CellSpec",
    "Genome",
    "RenasBlock",
    "RenasCell",
    "RenasNetSpec",
    "__version__",
    "format_genome",
    "format_renas_cell",
    "get_entry",
    "list_entries",
    "parse_genome",
    "parse_renas_cell",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'falsr_zoo' has no attribute {name!r}")
