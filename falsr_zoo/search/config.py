"""Search configurations of every family: TOML files, named presets, ``key=value`` overrides, one parser.

A run is fully described by its config (a family's frozen dataclass, found through the
search-family table, :mod:`falsr_zoo.search.table`), which the run store keeps with its sha256:
resuming a run with a different config is refused. Keys are flat (``falsr-search run --set
population=32``); ``train.KEY=VALUE`` overrides the training of every evaluation. A config
names its family (``family = "renas"`` in TOML, a preset of that family, or ``falsr-search run
--family renas``); a TOML file without ``family`` is of the table's first family (FALSR, as
before there were two).

:func:`parse_values` is the one parser of raw values (TOML values or ``key=value`` strings)
for every family's config class: it reads the field's declared type, so a key means the same
thing in a file, a preset and on the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from falsr_zoo.errors import ConfigError
from falsr_zoo.search.table import SEARCH_FAMILIES, get_search_family

__all__ = ["DEFAULT_FAMILY", "SearchConfigBase", "all_presets", "config_from_json", "load_config", "parse_values"]

DEFAULT_FAMILY = next(iter(SEARCH_FAMILIES))
"""The family of a TOML file that names none."""

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _scalar(key: str, kind: str, raw: Any) -> Any:
    """One value of the scalar type ``kind`` (``bool``, ``int``, ``float`` or ``str``)."""
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
    elif kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw.strip())
            except ValueError:
                pass
    elif kind == "float":
        value = raw
        if isinstance(raw, str):
            try:
                value = float(raw.strip())
            except ValueError:
                value = None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif kind == "str":
        if isinstance(raw, str):
            return raw.strip()
    else:
        return raw
    raise ConfigError(f"{key}={raw}: not a valid value (expected {'a number' if kind == 'float' else kind})")


def _parse(key: str, kind: str, raw: Any) -> Any:
    kind = kind.replace(" ", "")
    optional = kind.endswith("|None")
    kind = kind.removesuffix("|None")
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{key}={raw}: a value is required")
    if kind.startswith("tuple["):
        items = raw
        if isinstance(raw, str):
            text = raw.strip()
            try:
                items = json.loads(text) if text.startswith("[") else [part for part in text.split(",") if part.strip()]
            except json.JSONDecodeError:
                raise ConfigError(f"{key}={raw}: not a valid list") from None
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key}={raw}: expected a list")
        inner = kind[len("tuple["):-1].split(",")
        if inner[-1] == "...":
            inner = inner[:1] * len(items)
        if len(inner) != len(items):
            raise ConfigError(f"{key}={raw}: expected {len(inner)} values")
        return tuple(_scalar(key, k, item) for k, item in zip(inner, items))
    return _scalar(key, kind, raw)


def parse_values(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Raw values (TOML or ``key=value`` strings) -> typed values for the dataclass ``cls``.

    Raises:
        ConfigError: an unknown key (naming the known ones) or a value of the wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "train"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown search keys: {', '.join(unknown)}; known keys: {', '.join(fields)}")
    return {key: _parse(key, str(fields[key].type), raw) for key, raw in values.items()}


def all_presets() -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Preset name -> ``(family, the values it sets)``, over every family of the table."""
    presets: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for row in SEARCH_FAMILIES.values():
        for name, values in row.preset_values().items():
            presets[name] = (row.name, values)
    return presets


def load_config(path: str | Path | None = None, *, preset: str | None = None,
                overrides: list[str] | Mapping[str, Any] = (), family: str | None = None) -> Any:
    """A config from a TOML file or a preset, then ``key=value`` overrides (``train.KEY=VALUE`` for training).

    ``family`` alone starts from the family's default preset; with a file or a preset it must
    match theirs.

    Raises:
        ConfigError: an unknown preset, family or key, an unreadable file, a bad value, an
            impossible constraint, or a family that contradicts the file or preset.
    """
    if path is None and preset is None and family is not None:
        preset = get_search_family(family).default_preset
    if (path is None) == (preset is None):
        raise ConfigError("give a config file or --preset NAME (not both)")
    if preset is not None:
        presets = all_presets()
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r}; expected one of {', '.join(presets)}")
        declared, preset_values = presets[preset]
        values: dict[str, Any] = json.loads(json.dumps({"family": declared, **preset_values}))
    else:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the config ({err})") from None
    train = dict(values.pop("train", {}))
    items = overrides.items() if isinstance(overrides, Mapping) else [_split(item) for item in overrides]
    for key, raw in items:
        if key.startswith("train."):
            train[key[len("train."):]] = raw
        else:
            values[key] = raw
    declared = get_search_family(values.pop("family", DEFAULT_FAMILY)).name
    if family is not None and get_search_family(family).name != declared:
        source = f"preset {preset}" if preset is not None else str(path)
        raise ConfigError(f"--family {family} does not match the {declared} search of {source}")
    return get_search_family(declared).config_class().from_values(values, train)


def config_from_json(data: Mapping[str, Any]) -> Any:
    """The config a run store recorded (``to_json``'s output), of its family's class."""
    return get_search_family(data.get("family", DEFAULT_FAMILY)).config_class()(**data)


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{item!r}: expected key=value")
    return key.strip(), value.strip()


class SearchConfigBase:
    """What every family's frozen config dataclass shares (a mixin): its JSON form, its digest,
    and :meth:`from_values` on the one parser."""

    def to_json(self) -> dict[str, Any]:
        """Plain data (what the run store keeps): tuples as lists, ``train`` as a dict."""
        data = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
        return data

    def digest(self) -> str:
        """sha256 of the canonical JSON (what a resume must match)."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_values(cls, values: Mapping[str, Any], train: Mapping[str, Any]) -> Any:
        """A config from raw values (TOML or ``key=value`` strings) and ``train.*`` overrides.

        Raises:
            ConfigError: an unknown key or a bad value.
        """
        return cls(**parse_values(cls, values), train=dict(train))  # type: ignore[call-arg]
