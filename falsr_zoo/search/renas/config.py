"""RENAS search configurations: one validated :class:`RenasSearchConfig`, its presets, its training.

A RENAS run is fully described by its config, kept with its sha256 in the run store (resuming
with another config is refused), exactly as a FALSR run (:mod:`falsr_zoo.search.config` reads
TOML files, presets and ``--set key=value`` overrides for every family).

The paper's values (Chen et al., CVPR 2019, Sections 3-5.1), the defaults here: a population of
20 (``population``); the search network of ``#B = 5`` blocks (``num_blocks``), ``N = 2`` cells
per stage (``num_cells``) and ``F = 24`` filters (``filters``) on CIFAR-10 with 5,000 training
images held out for validation (``val_split``); children fine-tuned for one pass
(``finetune_epochs``) at learning rate 0.01 for new parameters (``lr_new``) and a tenth of it for
inherited ones (``inherited_lr_ratio``); the controller's sizes 100, init N(0, 0.01), Adam 1e-3,
tanh constant 2.5, temperature 5.0, the controller's entropy added to the reward with weight
0.1; the reward ``tan(f pi / 2)`` (``reward = "accuracy"``); mutators that replace the chosen
input or operator "with each substitute", never keeping the current value (``keep_current =
false``).

Our choices where the paper is silent: ``sample_size`` 5 (see
:mod:`falsr_zoo.search.renas.evolution`); 500 ``steps``; one child per step
(``children_per_step``; more keep several workers busy); the initial population trained from
scratch for ``init_epochs`` = 1 pass at ``lr_new``; the final population retrained from scratch
for ``final_epochs`` = 20 with the training engine's RENAS ``incomplete`` recipe (SGD 0.025,
cosine), the best of it being the search's result; the controller's baseline decay 0.95; the
search network's normal cells without the appended input 0 (``append_input0``, the paper's
figures; the authors' code appends it). Training otherwise follows the engine's RENAS recipe
(SGD momentum 0.9, weight decay 3e-4, batch 64, gradient clipping at 5, random crops and
flips), with a constant learning rate for the search's short trainings; ``train.*`` keys
override it (``--set train.batch_size=128``) for every training of the run.

Baselines and variants in the same code: ``mutation = "random"`` is the plain EA; ``encoder =
"unidirectional"`` is RENAS "non-bi"; ``keep_current = true`` lets a mutator keep the current
value (for the controller and the random mutation alike); ``reward = "improvement"`` rewards
the child's gain over its parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from falsr_zoo.errors import ConfigError, DatasetError
from falsr_zoo.families.renas.plan import RenasNetSpec
from falsr_zoo.search.config import SearchConfigBase
from falsr_zoo.search.renas.space import MUTATIONS, REWARDS

if TYPE_CHECKING:
    from falsr_zoo.search.renas.controller import MutationControllerSettings
    from falsr_zoo.search.renas.evolution import EvolutionSettings, RenasEvolution
    from falsr_zoo.train.cls_images import ClassImages
    from falsr_zoo.train.recipes import TrainConfig

__all__ = ["ENCODERS", "PRESETS", "RenasSearchConfig", "SearchData", "load_search_data"]

ENCODERS = ("bidirectional", "unidirectional")
KINDS = ("init", "child", "final")
"""What an evaluation trains: the initial population (from scratch), a child (inherited,
fine-tuned), the final population (from scratch, the ``final`` schedule)."""
_RESERVED_TRAIN_KEYS = {"lr": "lr_new", "epochs": "init_epochs / finetune_epochs / final_epochs",
                        "steps": "init_epochs / finetune_epochs / final_epochs", "schedule": "(fixed by the search)",
                        "val_split": "val_split", "image_size": "image_size", "data": "--data", "val": "--val",
                        "seed": "seed"}


@dataclass(frozen=True)
class RenasSearchConfig(SearchConfigBase):
    """Everything a RENAS search run depends on (the data folders are given on the command line)."""

    family: str = "renas"
    population: int = 20
    sample_size: int = 5
    steps: int = 500
    children_per_step: int = 1
    mutation: str = "controller"
    encoder: str = "bidirectional"
    keep_current: bool = False
    reward: str = "accuracy"
    num_blocks: int = 5
    num_cells: int = 2
    filters: int = 24
    stem_filters: int | None = None
    append_input0: bool = False
    image_size: int = 32
    val_split: int = 5000
    init_epochs: float = 1.0
    finetune_epochs: float = 1.0
    lr_new: float = 0.01
    inherited_lr_ratio: float = 0.1
    final_epochs: float = 20.0
    controller_embedding: int = 100
    controller_hidden: int = 100
    controller_init_std: float = 0.01
    controller_lr: float = 1e-3
    tanh_constant: float = 2.5
    temperature: float = 5.0
    entropy_weight: float = 0.1
    baseline_decay: float = 0.95
    seed: int = 0
    train: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", dict(self.train))
        if self.family != "renas":
            raise ConfigError(f"a RENAS search config has family 'renas', not {self.family!r}")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {', '.join(ENCODERS)}, not {self.encoder!r}")
        if self.mutation not in MUTATIONS:
            raise ConfigError(f"mutation must be one of {', '.join(MUTATIONS)}, not {self.mutation!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward must be one of {', '.join(REWARDS)}, not {self.reward!r}")
        if self.mutation == "random" and self.encoder != "bidirectional":
            raise ConfigError("encoder applies to mutation=controller; the plain EA (mutation=random) has no controller")
        for name in ("init_epochs", "finetune_epochs", "lr_new"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.final_epochs < 0 or not 0 < self.inherited_lr_ratio <= 1:
            raise ConfigError("final_epochs must be >= 0 (0: no final retraining) and inherited_lr_ratio in (0, 1]")
        if self.val_split < 0:
            raise ConfigError(f"val_split must be >= 0, got {self.val_split}")
        for key in self.train:
            if key in _RESERVED_TRAIN_KEYS:
                raise ConfigError(f"train.{key} is set by the search; use {_RESERVED_TRAIN_KEYS[key]}")
        self.evolution()  # validates the algorithm's and the controller's settings
        cell = "; ".join(["{0, 1, sep3x3, identity}"] * self.num_blocks)  # any cell of the space
        try:
            RenasNetSpec.from_options(cell, self.network_options())
        except ValueError as err:
            raise ConfigError(f"the search network: {err}") from None
        for kind in KINDS:
            self.train_config(kind, cell, data="-", seed=0)  # validates the train.* keys

    # -- the algorithm ------------------------------------------------------------------------

    def controller_settings(self) -> MutationControllerSettings:
        from falsr_zoo.search.renas.controller import MutationControllerSettings

        return MutationControllerSettings(
            embedding=self.controller_embedding, hidden=self.controller_hidden, init_std=self.controller_init_std,
            lr=self.controller_lr, tanh_constant=self.tanh_constant, temperature=self.temperature,
            entropy_weight=self.entropy_weight, baseline_decay=self.baseline_decay,
            bidirectional=self.encoder == "bidirectional", keep_current=self.keep_current)

    def evolution(self) -> EvolutionSettings:
        """The algorithm's settings."""
        from falsr_zoo.search.renas.evolution import EvolutionSettings

        return EvolutionSettings(
            population=self.population, sample_size=self.sample_size, steps=self.steps,
            children_per_step=self.children_per_step, num_blocks=self.num_blocks, mutation=self.mutation,
            controller=self.controller_settings(), reward=self.reward, final_retrain=self.final_epochs > 0,
            network=self.network_options(), image_size=self.image_size)

    def algorithm(self) -> RenasEvolution:
        """A fresh evolution for this config."""
        from falsr_zoo.search.renas.evolution import RenasEvolution

        return RenasEvolution(self.evolution(), self.seed)

    def network_options(self, num_classes: int | None = None) -> dict[str, Any]:
        """The search network's builder options (CIFAR-10 layout; ``num_classes`` from the data)."""
        options: dict[str, Any] = {"layout": "cifar10", "num_cells": self.num_cells, "filters": self.filters,
                                   "append_input0": self.append_input0}
        if self.stem_filters is not None:
            options["stem_filters"] = self.stem_filters
        if num_classes is not None:
            options["num_classes"] = num_classes
        return options

    # -- training -----------------------------------------------------------------------------

    def train_config(self, kind: str, genome: str, *, data: str, seed: int,
                     num_classes: int | None = None) -> TrainConfig:
        """The training of one evaluation: ``init`` / ``child`` at ``lr_new`` (constant), ``final``
        with the RENAS ``incomplete`` recipe for ``final_epochs``; ``train.*`` over both."""
        from falsr_zoo.train.recipes import make_config

        if kind not in KINDS:
            raise ConfigError(f"unknown training kind {kind!r}; expected one of {', '.join(KINDS)}")
        values: dict[str, Any] = {"batch_size": 64, **dict(self.train)}
        if kind != "final":
            values.update({"lr": self.lr_new, "schedule": "constant"})
        epochs = {"init": self.init_epochs, "child": self.finetune_epochs, "final": self.final_epochs or 1.0}[kind]
        return make_config("renas", genome, recipe="incomplete", overrides=values, data=data, epochs=epochs,
                           options=self.network_options(num_classes), image_size=self.image_size, seed=seed,
                           checkpoint_every=0, log_every=10**9)

    def check_data(self, data: str, val: str | None) -> None:
        """Fail early on unusable data: no images, too few to hold out ``val_split``, other classes in ``val``.

        Raises:
            DatasetError: unusable folders.
        """
        load_search_data(self, data, val)

    # -- identity -----------------------------------------------------------------------------

    @property
    def keep_weights(self) -> str:
        """RENAS always keeps the living individuals' weights (children inherit them)."""
        return "population"

    @property
    def generations(self) -> int:
        """Generations of the loop: the initial population, the steps, the final retraining."""
        return self.evolution().generations

    @property
    def evaluations(self) -> int:
        """Evaluations of the whole run."""
        final = self.population if self.final_epochs > 0 else 0
        return self.population + self.steps * self.children_per_step + final


PRESETS: dict[str, dict[str, Any]] = {
    "renas-paper": {},
    "renas-smoke": {"population": 4, "sample_size": 2, "steps": 4, "num_cells": 1, "filters": 8,
                    "stem_filters": 16, "val_split": 8, "final_epochs": 1.0, "controller_embedding": 16,
                    "controller_hidden": 16, "train": {"batch_size": 8}},
}
"""``renas-paper``: the paper's search (with our choices where it is silent); ``renas-smoke``: a
few minutes on a 2-core CPU with a handful of images (a population of 4, 4 steps, N = 1, F = 8)."""


@dataclass
class SearchData:
    """The training images, the validation images and the validation set's name."""

    train: ClassImages
    validation: ClassImages
    name: str


def load_search_data(config: RenasSearchConfig, data: str, val: str | None) -> SearchData:
    """The run's images: ``val`` as validation, or ``val_split`` images held out of ``data`` by the run's seed.

    Raises:
        DatasetError: unusable folders, classes that differ, or too few images to hold out.
    """
    from falsr_zoo.train.cls_images import load_class_images

    images = load_class_images(data, config.image_size, split="train")
    if val:
        validation = load_class_images(val, config.image_size, split="test")
        if validation.classes != images.classes:
            raise DatasetError(f"{val} has classes {list(validation.classes[:5])}..., not the training set's")
        return SearchData(images, validation, Path(val).resolve().name)
    if not config.val_split:
        raise DatasetError("a RENAS search validates on held-out images: give --val DIR or val_split > 0")
    rest, held = images.split(config.val_split, config.seed)
    return SearchData(rest, held, f"{Path(data).resolve().name} (held out {config.val_split})")
