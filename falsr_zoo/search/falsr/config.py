"""Search configurations: one validated :class:`SearchConfig`, TOML files, named presets, overrides.

Two families search: FALSR (:class:`SearchConfig`, below) and RENAS
(:class:`~falsr_zoo.search.renas_settings.RenasSearchConfig`). A config names its family
(``family = "renas"`` in TOML, a ``renas-*`` preset, or ``falsr-search run --family renas``);
:func:`load_config` and :func:`config_from_json` build the family's config class.

A run is fully described by its config, which the run store keeps with its sha256: resuming a
run with a different config is refused. Keys are flat (``falsr-search run --set population=32``);
the training of every evaluation is the training engine's ``incomplete`` recipe with the
``train.*`` keys as overrides (``--set train.steps=2000``).

FALSR paper values (Section V): a population of 64 per generation, about 10,000 models in all,
n = 7 cells, the incomplete-training recipe of the training engine. Not in the text at hand,
our choices: the initialisation split (random / dense / no links: one third each), crossover
probability 0.9, per-gene mutation rate 0.1, the operator mix (random 0.25, roulette-wheel on
mult-adds 0.2 and on parameters 0.2, controller 0.35), the controller's sizes, and the reward
(:mod:`falsr_zoo.search.hybrid`).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from falsr_zoo.errors import ConfigError
from falsr_zoo.search.hybrid import OPERATORS, HybridSearch, HybridSettings
from falsr_zoo.search.renas_settings import RENAS_PRESETS, RenasSearchConfig
from falsr_zoo.train.recipes import TrainConfig

__all__ = ["AnySearchConfig", "CONFIGS", "DEFAULT_PRESETS", "PRESETS", "SearchConfig", "config_from_json",
           "load_config"]


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search run depends on (the data folders are given on the command line)."""

    family: str = "falsr"
    n_cells: int = 7
    population: int = 64
    generations: int = 156
    p_random: float = 1 / 3
    p_dense: float = 1 / 3
    crossover_prob: float = 0.9
    mutation_rate: float = 0.1
    op_random: float = 0.25
    op_rws_mult_adds: float = 0.2
    op_rws_params: float = 0.2
    op_controller: float = 0.35
    psnr_min: float | None = None
    max_mult_adds: float | None = None
    macs_size: tuple[int, int] = (480, 480)
    reward_beta: float = 0.5
    controller_lr: float = 3e-3
    hv_reference: tuple[float, float, float] | None = None
    seed_genomes: tuple[str, ...] = ()
    keep_weights: str = "front"
    seed: int = 0
    train: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", dict(self.train))
        object.__setattr__(self, "macs_size", tuple(self.macs_size))
        object.__setattr__(self, "seed_genomes", tuple(self.seed_genomes))
        if self.hv_reference is not None:
            object.__setattr__(self, "hv_reference", tuple(float(v) for v in self.hv_reference))
        if self.family != "falsr":
            raise ConfigError(f"a FALSR search config has family 'falsr', not {self.family!r}")
        if self.generations < 1:
            raise ConfigError(f"generations must be at least 1, got {self.generations}")
        if self.keep_weights not in ("front", "all", "none"):
            raise ConfigError(f"keep_weights must be front, all or none, not {self.keep_weights!r}")
        if self.psnr_min is not None and self.psnr_min <= 0:
            raise ConfigError(f"psnr_min must be a positive number of dB, got {self.psnr_min}")
        if self.max_mult_adds is not None:
            light, _ = _space_extremes(self.n_cells, self.macs_size)
            if self.max_mult_adds < light:
                raise ConfigError(f"max_mult_adds={self.max_mult_adds:g} is below the cheapest genome of the space "
                                  f"({light:,} at {self.macs_size[0]}x{self.macs_size[1]}): nothing is feasible")
        self.hybrid()  # validates the algorithm settings
        self.train_config(data="-")  # validates the training overrides

    def hybrid(self) -> HybridSettings:
        """The algorithm's settings."""
        from falsr_zoo.search.controller import ControllerSettings

        return HybridSettings(
            n_cells=self.n_cells, population=self.population, p_random=self.p_random, p_dense=self.p_dense,
            crossover_prob=self.crossover_prob, mutation_rate=self.mutation_rate,
            operator_probs={name: getattr(self, f"op_{name}") for name in OPERATORS},
            psnr_min=self.psnr_min, max_mult_adds=int(self.max_mult_adds) if self.max_mult_adds is not None else None,
            macs_size=self.macs_size, reward_beta=self.reward_beta,
            controller=ControllerSettings(lr=self.controller_lr), use_controller=self.op_controller > 0,
            hv_reference=self.reference_point(), keep_weights=self.keep_weights,
        )

    def algorithm(self) -> HybridSearch:
        """A fresh hybrid search for this config."""
        return HybridSearch(self.hybrid(), self.seed, self.seed_genomes)

    def check_data(self, data: str, val: str | None) -> None:
        """Fail early on unusable data folders.

        Raises:
            ConfigError: no validation folder (FALSR needs one).
            DatasetError: a folder without usable images.
        """
        from falsr_zoo.sr.evaluate import find_pairs
        from falsr_zoo.train.sr_patches import find_training_pairs

        if not val:
            raise ConfigError("a FALSR search needs --val (the validation folder of the PSNR objective)")
        find_training_pairs(data), find_pairs(val)

    def train_config(self, data: str, val: str | None = None, genome: str = "conv f16 k1 b1 noskip <- 0; out <- 0,1",
                     seed: int | None = None) -> TrainConfig:
        """The incomplete-training config of one evaluation (the ``train.*`` keys over the recipe)."""
        from falsr_zoo.train.recipes import make_config

        return make_config("falsr", genome, recipe="incomplete", overrides=dict(self.train), data=data, val=val,
                           seed=self.seed if seed is None else seed)

    def reference_point(self) -> tuple[float, float, float]:
        """The hypervolume reference point in objective units ``(-PSNR, G mult-adds, M parameters)``.

        Default: ``-psnr_min`` (or -20 dB), and the costs of the space's costliest genome
        (or ``max_mult_adds``), so every trained candidate of the space counts.
        """
        if self.hv_reference is not None:
            return self.hv_reference
        _, heavy = _space_extremes(self.n_cells, self.macs_size)
        heavy_macs, heavy_params = heavy
        macs = self.max_mult_adds if self.max_mult_adds is not None else heavy_macs
        return (-(self.psnr_min or 20.0), macs / 1e9 * 1.0001, heavy_params / 1e6 * 1.0001)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["train"] = dict(self.train)
        for key in ("macs_size", "seed_genomes", "hv_reference"):
            data[key] = list(data[key]) if data[key] is not None else None
        return data

    def digest(self) -> str:
        """sha256 of the canonical JSON (what a resume must match)."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    @property
    def evaluations(self) -> int:
        """Evaluations of the whole run (the first population plus one offspring population per later generation)."""
        return self.population * self.generations


def _space_extremes(n_cells: int, size: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    from falsr_zoo.search.space import SearchSpace

    light, heavy = SearchSpace(n_cells).extremes()
    return light.macs(*size), (heavy.macs(*size), heavy.num_params())


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {"n_cells": 3, "population": 4, "generations": 2, "macs_size": (480, 480),
              "train": {"steps": 12, "batch_size": 4, "patch_size": 32, "lr": 1e-3, "log_every": 1000,
                        "checkpoint_every": 0}},
    **RENAS_PRESETS,
}
"""Preset name -> the values it sets over its config class's defaults (``paper``: the FALSR paper's
search; ``smoke``: a few minutes on a 2-core CPU with a handful of images; ``renas-paper`` and
``renas-smoke`` likewise for RENAS)."""

AnySearchConfig = SearchConfig | RenasSearchConfig
CONFIGS: dict[str, type] = {"falsr": SearchConfig, "renas": RenasSearchConfig}
"""Family -> its search config class."""
DEFAULT_PRESETS = {"falsr": "paper", "renas": "renas-paper"}
"""The preset ``falsr-search run --family F`` starts from when no config or preset is given."""


_KEYS = {f.name: f for f in fields(SearchConfig)}


def _parse(key: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    kind = str(_KEYS[key].type)
    text = raw.strip()
    if text.lower() in ("none", "null") and "None" in kind:
        return None
    try:
        if key in ("macs_size", "hv_reference", "seed_genomes"):
            return json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",")]
        if "int" in kind and "float" not in kind and "tuple" not in kind:
            return int(text)
        if "float" in kind:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        raise ConfigError(f"{key}={raw}: not a valid value") from None
    return text


def _falsr_config(values: dict[str, Any], train: dict[str, Any]) -> SearchConfig:
    unknown = sorted(set(values) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown search keys: {', '.join(unknown)}; known keys: {', '.join(k for k in _KEYS if k != 'train')}")
    parsed = {key: _parse(key, raw) for key, raw in values.items()}
    return SearchConfig(**parsed, train=train)


def _family(name: Any) -> str:
    if name not in CONFIGS:
        raise ConfigError(f"unknown search family {name!r}; expected one of {', '.join(CONFIGS)}")
    return name


def load_config(path: str | Path | None = None, *, preset: str | None = None,
                overrides: list[str] | Mapping[str, Any] = (), family: str | None = None) -> AnySearchConfig:
    """A config from a TOML file or a preset, then ``key=value`` overrides (``train.KEY=VALUE`` for training).

    ``family`` alone starts from the family's paper preset; with a file or a preset it must
    match theirs.

    Raises:
        ConfigError: an unknown preset, family or key, an unreadable file, a bad value, an
            impossible constraint, or a family that contradicts the file or preset.
    """
    if path is None and preset is None and family is not None:
        preset = DEFAULT_PRESETS[_family(family)]
    if (path is None) == (preset is None):
        raise ConfigError("give a config file or --preset NAME (not both)")
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
        values: dict[str, Any] = json.loads(json.dumps(PRESETS[preset]))
    else:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the config ({err})") from None
    items = overrides.items() if isinstance(overrides, Mapping) else [_split(item) for item in overrides]
    train = dict(values.pop("train", {}))
    for key, raw in items:
        if key.startswith("train."):
            train[key[len("train."):]] = raw
        else:
            values[key] = raw
    declared = _family(values.get("family", "falsr"))
    if family is not None and _family(family) != declared:
        source = f"preset {preset}" if preset is not None else str(path)
        raise ConfigError(f"--family {family} does not match the {declared} search of {source}")
    if declared == "renas":
        return RenasSearchConfig.from_values(values, train)
    return _falsr_config(values, train)


def config_from_json(data: Mapping[str, Any]) -> AnySearchConfig:
    """The config a run store recorded (``to_json``'s output), of its family's class."""
    return CONFIGS[_family(data.get("family", "falsr"))](**data)


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{item!r}: expected key=value")
    return key.strip(), value.strip()
