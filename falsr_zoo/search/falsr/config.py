"""FALSR search configurations: one validated :class:`FalsrSearchConfig` and its presets.

A run is fully described by its config, which the run store keeps with its sha256 (TOML files,
presets and ``--set key=value`` overrides: :mod:`falsr_zoo.search.config`). The training of
every evaluation is the training engine's ``incomplete`` recipe with the ``train.*`` keys as
overrides (``--set train.steps=2000``).

FALSR paper values (Sections IV-V): a population of 64 per generation, about 10,000 models in
all, the incomplete-training recipe of the training engine; roulette-wheel mutation regenerates
all ``n`` cells and keeps the links (``rws_cells = "all"``); crossover cuts cells and links at
independent points (Eq. 4). Not in the text, our choices: n = 7 cells (the paper's figures draw
seven), the initialisation split (random / dense / no links: one third each), crossover
probability 0.9, per-gene mutation rate 0.1, the operator mix (random 0.25, roulette-wheel on
mult-adds 0.2 and on parameters 0.2, controller 0.35), the wheel's direction (``rws_direction``:
which cells it favours; see :mod:`falsr_zoo.search.falsr.space`), the controller's sizes, and
the reward (:mod:`falsr_zoo.search.falsr.hybrid`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from falsr_zoo.errors import ConfigError
from falsr_zoo.search.config import SearchConfigBase
from falsr_zoo.search.falsr.space import OPERATORS, RWS_CELLS, RWS_DIRECTIONS, SearchSpace

if TYPE_CHECKING:
    from falsr_zoo.search.falsr.hybrid import HybridSearch, HybridSettings
    from falsr_zoo.train.recipes import TrainConfig

__all__ = ["FalsrSearchConfig", "PRESETS"]


@dataclass(frozen=True)
class FalsrSearchConfig(SearchConfigBase):
    """Everything a FALSR search run depends on (the data folders are given on the command line)."""

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
    rws_cells: str = "all"
    rws_direction: str = "cheaper"
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
        if self.rws_cells not in RWS_CELLS:
            raise ConfigError(f"rws_cells must be one of {', '.join(RWS_CELLS)}, not {self.rws_cells!r}")
        if self.rws_direction not in RWS_DIRECTIONS:
            raise ConfigError(f"rws_direction must be one of {', '.join(RWS_DIRECTIONS)}, not {self.rws_direction!r}")
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
        from falsr_zoo.search.falsr.controller import ControllerSettings
        from falsr_zoo.search.falsr.hybrid import HybridSettings

        return HybridSettings(
            n_cells=self.n_cells, population=self.population, p_random=self.p_random, p_dense=self.p_dense,
            crossover_prob=self.crossover_prob, mutation_rate=self.mutation_rate, rws_cells=self.rws_cells,
            rws_direction=self.rws_direction,
            operator_probs={name: getattr(self, f"op_{name}") for name in OPERATORS},
            psnr_min=self.psnr_min, max_mult_adds=int(self.max_mult_adds) if self.max_mult_adds is not None else None,
            macs_size=self.macs_size, reward_beta=self.reward_beta,
            controller=ControllerSettings(lr=self.controller_lr), use_controller=self.op_controller > 0,
            hv_reference=self.reference_point(), keep_weights=self.keep_weights,
        )

    def algorithm(self) -> HybridSearch:
        """A fresh hybrid search for this config."""
        from falsr_zoo.search.falsr.hybrid import HybridSearch

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

    @property
    def evaluations(self) -> int:
        """Evaluations of the whole run (the first population plus one offspring population per later generation)."""
        return self.population * self.generations


def _space_extremes(n_cells: int, size: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    light, heavy = SearchSpace(n_cells).extremes()
    return light.macs(*size), (heavy.macs(*size), heavy.num_params())


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {"n_cells": 3, "population": 4, "generations": 2, "macs_size": (480, 480),
              "train": {"steps": 12, "batch_size": 4, "patch_size": 32, "lr": 1e-3, "log_every": 1000,
                        "checkpoint_every": 0}},
}
"""Preset name -> the values it sets (``paper``: the FALSR paper's search, our choices where it is
silent; ``smoke``: a few minutes on a 2-core CPU with a handful of images)."""
