"""``torch.hub`` entry points, one per zoo model, made from the registry (``hubconf.py`` publishes them).

An entry point is named after its model in lower case with underscores (``FALSR-B`` ->
``falsr_b``, ``RENASNet-CIFAR10`` -> ``renasnet_cifar10``), calls :func:`falsr_zoo.load`, and
carries a docstring written from the entry's metadata, which ``torch.hub.help`` prints.
``pretrained`` defaults to ``True`` where the registry lists weights, ``False`` where it lists
none (RENASNet: the network is built untrained; ``weights=PATH`` loads a file). Nothing here
imports torch until an entry point is called.

Example:
    >>> import torch
    >>> model = torch.hub.load("path/to/falsr-zoo", "falsr_b", source="local")   # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from falsr_zoo.api import load
from falsr_zoo.errors import DuplicateModelError
from falsr_zoo.zoo.registry import ModelEntry, format_mult_adds, list_entries

if TYPE_CHECKING:
    from torch import nn

__all__ = ["DEPENDENCIES", "entry_point", "entry_point_name", "entry_points"]

DEPENDENCIES = ["torch", "numpy", "PIL", "safetensors", "huggingface_hub", "google.protobuf"]
"""What :func:`falsr_zoo.load` imports, as import names (``torch.hub`` checks them with
``importlib.util.find_spec`` before it calls an entry point); protobuf reads the authors' graphs
on first use."""

_USAGE = {
    "image-super-resolution": (
        "Upscale a PIL image with ``falsr_zoo.upscale_image(model, image)``; the module itself maps the LR "
        "luma (N, 1, H, W) in [0, 1] and the PbPr of the bicubic x{scale} image (N, 2, {scale}H, {scale}W) to "
        "RGB (N, 3, {scale}H, {scale}W) in [0, 1]."
    ),
    "image-classification": (
        "``logits = model(x)`` for x of shape (N, 3, {height}, {width}), preprocessed as "
        "``falsr_zoo.get_entry(\"{name}\").preprocessing`` says; ``falsr_zoo.classify_image(model, image)`` does it."
    ),
}
"""Task -> how the returned module is used (a line of the docstring)."""


def entry_point_name(model_name: str) -> str:
    """The entry point's name: ``"FALSR-B"`` -> ``"falsr_b"`` (a lower-case Python identifier)."""
    return re.sub(r"\W+", "_", model_name).strip("_").lower()


def _weights_line(entry: ModelEntry) -> str:
    weights = entry.weights
    if weights is None:
        return ("No weights are reachable: by default the network is built untrained; ``weights=PATH`` "
                "loads a safetensors file.")
    source = (f"the authors' {weights.source_file}, fetched once from {weights.source_url} and converted "
              "on your machine (offline: ``falsr convert FILE``)" if weights.source_path
              else f"Hub repository {weights.repo_id}@{weights.revision}")
    return f"Weights: {source}. Licence of the weights: {entry.license}."


def _docstring(entry: ModelEntry, pretrained: bool) -> str:
    height, width = entry.reference_size
    scale = f", x{entry.scale}" if entry.scale else ""
    usage = _USAGE[entry.task].format(scale=entry.scale, height=height, width=width, name=entry.name)
    return (
        f"{entry.name}: {entry.summary}\n\n"
        f"{entry.task}{scale}; {entry.num_params:,} parameters, {format_mult_adds(entry.mult_adds)} mult-adds at "
        f"{height}x{width}. Paper: {entry.paper['title']} ({entry.paper['venue']}), {entry.paper['url']}.\n\n"
        f"{_weights_line(entry)}\n\n"
        "Args:\n"
        f"    pretrained: Load the weights (default {pretrained}); ``weights=PATH`` loads that file either way.\n"
        "    **kwargs: Passed on to ``falsr_zoo.load``: ``weights=PATH``, ``options={...}``, ``device=...``,\n"
        "        ``offline=True``.\n\n"
        f"Returns:\n    The module, in eval mode. {usage}\n\n"
        "Example:\n"
        f'    >>> model = torch.hub.load("path/to/falsr-zoo", "{entry_point_name(entry.name)}", source="local")\n'
    )


def entry_point(entry: ModelEntry) -> Callable[..., nn.Module]:
    """The ``torch.hub`` entry point of one zoo entry: ``(pretrained=..., **load_kwargs) -> module``."""
    default = entry.weights is not None

    def build(pretrained: bool = default, **kwargs: Any) -> nn.Module:
        return load(entry.name, pretrained=pretrained or kwargs.get("weights") is not None, **kwargs)

    build.__name__ = build.__qualname__ = entry_point_name(entry.name)
    build.__doc__ = _docstring(entry, default)
    return build


def entry_points() -> dict[str, Callable[..., nn.Module]]:
    """Every zoo entry's entry point, by name, in registration order.

    Raises:
        DuplicateModelError: two model names that give the same entry-point name.
    """
    points: dict[str, Callable[..., nn.Module]] = {}
    owners: dict[str, str] = {}
    for entry in list_entries():
        name = entry_point_name(entry.name)
        if name in owners:
            raise DuplicateModelError(f"models {owners[name]} and {entry.name} would share the torch.hub "
                                      f"entry point {name!r}")
        owners[name] = entry.name
        points[name] = entry_point(entry)
    return points
