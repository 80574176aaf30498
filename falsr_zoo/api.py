"""The Python entry points: :func:`load`, :func:`list_models`, :func:`model_info`.

:func:`load` takes a zoo name, any genome, a model directory or ``hf-hub:owner/name`` (a model
directory on the Hugging Face Hub, :mod:`falsr_zoo.zoo.model_dir`). Importing this module loads
no torch (the builders and the weights store load it when a model is built), so listing and
describing models, and the command lines' checks before a load, take a fraction of a second.
"""

from __future__ import annotations

import fnmatch
import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from falsr_zoo.errors import WeightsMismatchError, WeightsNotFoundError
from falsr_zoo.families.falsr.genome import Genome
from falsr_zoo.families.renas.cell import RenasCell
from falsr_zoo.families.table import FAMILIES, get_family
from falsr_zoo.zoo.model_dir import ModelConfig, is_model_reference, read_model_dir, resolve_model_dir
from falsr_zoo.zoo.registry import ModelEntry, entry_info, find_by_genome, get_entry, list_entries

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["load", "list_models", "model_info", "read_config"]


def load(
    name: str | os.PathLike[str] | None = None,
    *,
    genome: str | Genome | RenasCell | None = None,
    family: str = "falsr",
    options: Mapping[str, Any] | None = None,
    pretrained: bool | None = None,
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    revision: str | None = None,
    offline: bool | None = None,
) -> nn.Module:
    """Build a zoo model, any genome, or a saved model directory, with weights, in eval mode.

    Args:
        name: A zoo model (``"FALSR-B"``, ``"RENASNet"``), a model directory (``"./my-model"``,
            written by ``model.save_pretrained``) or ``"hf-hub:owner/name"``; exclusive with ``genome``.
        genome: Any genome of ``family``; if it is a zoo model's genome (with the same
            options), that model's weights apply.
        family: Family of ``genome`` (a key of :data:`falsr_zoo.families.table.FAMILIES`).
        options: Builder keyword arguments. For a zoo model they override the entry's (e.g.
            ``{"aux_head": True}`` to train RENASNet); for a RENAS genome they choose the
            network (``{"layout": "cifar10", "num_cells": 6, "filters": 32}``).
        pretrained: Load weights. Default: yes for zoo models (and zoo genomes), and for any
            genome when ``weights`` is given; no otherwise.
        weights: An explicit safetensors file (takes precedence over the store and the Hub).
        device: Where to put the model.
        revision: The commit, tag or branch of an ``hf-hub:`` model (default ``main``).
        offline: No network access at all (default: ``HF_HUB_OFFLINE``); weights come from the
            store and the Hugging Face cache only.

    Returns:
        The module, in eval mode.

    Raises:
        WeightsNotFoundError: no weights can be had; the message names the fixing command.
        ChecksumError: a stored or downloaded file fails its pinned sha256.
        UnknownModelError, UnknownFamilyError, GenomeError: bad name, family or genome.

    Example:
        >>> from falsr_zoo import load
        >>> model = load("FALSR-B")                      # doctest: +SKIP
        >>> net = load(genome="conv f32 k3 b1 noskip <- 0; out <- 0,1")
        >>> renasnet = load("RENASNet", pretrained=False)   # no RENAS weights are reachable
        >>> mine = load("hf-hub:someone/falsr-tiny", revision="0123abc")  # doctest: +SKIP
    """
    if (name is None) == (genome is None):
        raise ValueError("pass exactly one of a model name or genome=...")
    if name is not None and is_model_reference(name):
        if weights is not None or options:
            raise ValueError("a model directory carries its weights and options; weights= and options= do not apply")
        model = _load_directory(name, revision=revision, offline=offline, pretrained=pretrained is not False)
        return (model.to(device) if device is not None else model).eval()
    if revision is not None:
        raise ValueError("revision= applies to hf-hub: models, not to zoo names or genomes")
    entry = get_entry(name) if name is not None else None
    build_options = {**(entry.options if entry else {}), **(options or {})}
    model = get_family(entry.family if entry else family).build(entry.genome if entry else genome, **build_options)
    if entry is None:
        entry = find_by_genome(str(model.genome), family, build_options)
    if pretrained is None:
        pretrained = weights is not None or entry is not None
    if pretrained:
        _load_weights(model, entry, weights, offline)
    if device is not None:
        model = model.to(device)
    return model.eval()


def _load_weights(model: nn.Module, entry: ModelEntry | None, weights: str | os.PathLike[str] | None,
                  offline: bool | None) -> None:
    if entry is None and weights is None:
        raise WeightsNotFoundError(
            "no pretrained weights exist for this genome; pass weights=PATH, or pretrained=False to build it untrained"
        )
    from falsr_zoo.zoo.weights import load_state_dict, read_metadata, resolve_weights

    if entry is not None:
        convert = get_family(entry.family).source_converter()
        path = resolve_weights(entry, weights, offline=offline, convert=convert)
    else:
        path = weights
    declared = read_metadata(path).get("genome")
    if declared is not None and declared != str(model.genome):
        raise WeightsMismatchError(f"{path} holds weights for genome '{declared}', not '{model.genome}'")
    load_state_dict(model, path, architecture=model.architecture_tensors())


def _load_directory(reference: str | os.PathLike[str], *, revision: str | None, offline: bool | None,
                    pretrained: bool) -> nn.Module:
    directory = resolve_model_dir(reference, revision=revision, offline=offline)
    config, _ = read_model_dir(directory)
    family = get_family(config.family)
    if not pretrained:
        return family.build(config.genome, **config.options)
    return family.from_pretrained(directory)


def read_config(reference: str | os.PathLike[str], *, revision: str | None = None,
                offline: bool | None = None) -> ModelConfig:
    """The ``config.json`` of a model directory or ``hf-hub:`` model (fetched like :func:`load`)."""
    return read_model_dir(resolve_model_dir(reference, revision=revision, offline=offline))[0]


def list_models(filter: str | Sequence[str] = "", *, family: str | None = None, pretrained: bool = False,
                exclude_filters: str | Sequence[str] = ()) -> list[str]:
    """Names of the zoo models, in registration order, as timm's ``list_models`` filters them.

    Args:
        filter: Shell-style pattern(s) matched case-insensitively against the names (``"FALSR*"``,
            ``"*-[AB]"``, ``["FALSR-A", "RENAS*"]``); ``""`` for every model. A family name
            (``"falsr"``, ``"renas"``) is accepted here too and lists that family.
        family: Only models of this family.
        pretrained: Only models whose weights can be had.
        exclude_filters: Pattern(s) of names to leave out.

    Raises:
        UnknownFamilyError: ``family`` is not a family.

    Example:
        >>> list_models("FALSR*")
        ['FALSR-A', 'FALSR-B', 'FALSR-C']
        >>> list_models("*", family="renas", exclude_filters="*CIFAR*")
        ['RENASNet']
    """
    if family is not None:
        get_family(family)
    patterns = [filter] if isinstance(filter, str) else list(filter)
    if len(patterns) == 1 and patterns[0].lower() in FAMILIES:
        family, patterns = patterns[0].lower(), []
    patterns = [pattern.lower() for pattern in patterns if pattern]
    excluded = [p.lower() for p in ([exclude_filters] if isinstance(exclude_filters, str) else exclude_filters) if p]
    names = [entry.name for entry in list_entries(family) if not pretrained or entry.weights is not None]
    return [name for name in names
            if (not patterns or any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns))
            and not any(fnmatch.fnmatchcase(name.lower(), p) for p in excluded)]


def model_info(name: str | os.PathLike[str], *, revision: str | None = None, offline: bool | None = None
               ) -> dict[str, Any]:
    """A zoo entry, a model directory or an ``hf-hub:`` model as plain data (``falsr info --json``).

    A zoo name gives its registry entry. A directory (or Hub model) gives its ``config.json``
    (``family``, ``genome``, ``task``, ``options``, ``scale``, ``metrics``), its weights
    (``path``, checked ``sha256``) and the costs of its architecture, ``num_params`` and
    ``mult_adds`` at ``reference_size``: the size of the zoo model of its family that shares
    most of its options. No torch is loaded.

    Raises:
        UnknownModelError: an unknown zoo name.
        WeightsNotFoundError, ModelDirError, ChecksumError: not a sound model directory.
    """
    if not is_model_reference(name):
        return entry_info(os.fspath(name))
    directory = resolve_model_dir(name, revision=revision, offline=offline)
    config, weights = read_model_dir(directory)
    spec = get_family(config.family).architecture(config.genome, config.options)
    size = _reference_size(config)
    return {
        "name": os.fspath(name),
        "directory": str(directory),
        "family": config.family,
        "genome": config.genome,
        "task": config.task,
        "scale": config.scale,
        "options": dict(config.options),
        "num_params": spec.num_params(),
        "mult_adds": spec.macs(*size) if size else None,
        "reference_size": list(size) if size else None,
        "metrics": {dataset: dict(values) for dataset, values in config.metrics.items()},
        "weights": {"path": str(weights), "sha256": config.weights_sha256},
    }


def _reference_size(config: ModelConfig) -> tuple[int, int] | None:
    """The reference size of the zoo entry of ``config``'s family that shares most of its options."""
    entries = list_entries(config.family)
    if not entries:
        return None
    shared = lambda entry: sum(config.options.get(k) == v for k, v in entry.options.items())  # noqa: E731
    return tuple(max(entries, key=shared).reference_size)
