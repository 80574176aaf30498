"""falsr-zoo: FALSR and RENASNet networks from genome strings, with the official weights.

``import falsr_zoo`` stays light (no torch): the registry and the genome grammars load eagerly,
everything that needs torch (:func:`load`, the models, upscaling, classification) on first use.

Example:
    >>> from falsr_zoo import load
    >>> model = load("FALSR-B")                       # doctest: +SKIP
    >>> upscale_image(model, Image.open("photo.png"))  # doctest: +SKIP
    >>> net = load("RENASNet", pretrained=False)      # doctest: +SKIP
    >>> classify_image(net, Image.open("cat.jpg"), labels=imagenet_labels)  # doctest: +SKIP

Layout: model families at the bottom (:mod:`falsr_zoo.families`), the zoo's registry and weights
store (:mod:`falsr_zoo.zoo`) beneath them, the applications above (:mod:`falsr_zoo.sr`,
:mod:`falsr_zoo.classify`, :mod:`falsr_zoo.export`, :mod:`falsr_zoo.cards`), the command lines
on top; the layer rules are import-linter contracts in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from typing import Any

from falsr_zoo._version import __version__
from falsr_zoo.families.falsr import falsr_entries as _falsr_entries  # noqa: F401  (registers the entries)
from falsr_zoo.families.falsr.genome import CellSpec, Genome, format_genome, parse_genome
from falsr_zoo.families.renas import renas_entries as _renas_entries  # noqa: F401  (registers the entries)
from falsr_zoo.families.renas.cell import RenasBlock, RenasCell, format_renas_cell, parse_renas_cell
from falsr_zoo.families.renas.plan import RenasNetSpec
from falsr_zoo.zoo.registry import get_entry, list_entries

_LAZY = {
    "load": "falsr_zoo.api",
    "list_models": "falsr_zoo.api",
    "model_info": "falsr_zoo.api",
    "upscale_image": "falsr_zoo.sr.upscale",
    "classify_image": "falsr_zoo.classify",
    "FALSR": "falsr_zoo.families.falsr.falsr_net",
    "RENASNet": "falsr_zoo.families.renas.renas_net",
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
