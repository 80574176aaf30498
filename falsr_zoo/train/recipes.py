"""Training settings: one flat, validated :class:`TrainConfig`, named recipes, ``key=value`` overrides.

A run is fully described by its config (saved in the run directory and hashed, so a resumed run
can be checked against it). Recipes are named presets per family; every value is overridable
(``falsr train ... --set lr=2e-4``), and an unknown key, a key of the other family or a bad
value is a one-line :class:`~falsr_zoo.errors.ConfigError`.

FALSR (Chu et al., ICPR 2020, Section VI-A):

* ``incomplete`` - the search's evaluator: Adam (0.9, 0.999), learning rate 1e-4 constant, L1
  loss, batch 16, as the paper states. Not in the paper text at hand, our choices: HR patches of
  64x64 (LR 32x32) and 10,000 steps by default, i.e. 200 passes of one patch per image over the
  800 DIV2K training images.
* ``full`` - final training: 24,000 epochs at batch 16, weights N(0, 0.02) and zero biases, as
  the paper states; Adam (0.9, 0.999) from 1e-4 with L1 loss, as in the search. 24,000 epochs
  under the ``incomplete`` recipe's epoch (one patch per DIV2K training image, 800 / 16 = 50
  steps) are 1,200,000 steps. Our choices where the paper is silent: HR patches of 96x96 (the
  EDSR/CARN convention for x2) and a cosine decay to 1e-6 (no milestones to tune, and it ends
  at a small rate, as step decays do).

RENAS (Chen et al., CVPR 2019, Section 5.1.2), CIFAR-10:

* ``full`` - SGD momentum 0.9, cosine schedule, weight decay, auxiliary head weighted 0.4,
  drop-path, cutout, as the paper states; the values where it gives none are the DARTS /
  NASNet CIFAR recipe it follows: learning rate 0.025, weight decay 3e-4, batch 96, 600
  epochs, cutout 16, drop-path 0.2 raised linearly over training, gradient clipping at 5.
* ``incomplete`` - the same optimiser for 20 epochs without auxiliary head, drop-path or cutout:
  a quick ranking run (our choice).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from falsr_zoo.errors import ConfigError

__all__ = ["RECIPES", "TrainConfig", "apply_overrides", "make_config"]

_BOTH, _SR, _CLS = ("falsr", "renas"), ("falsr",), ("renas",)


def _key(default: Any, families: tuple[str, ...] = _BOTH, help: str = "") -> Any:  # noqa: A002
    return field(default=default, metadata={"families": families, "help": help})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Fields marked per family apply to that family only.

    Attributes are documented by their ``help`` metadata (``falsr train --help-keys`` prints them).
    """

    family: str = _key("falsr", help="model family")
    model: str = _key("", help="zoo model name or genome string")
    options: Mapping[str, Any] | None = _key(None, help="network options of a genome (renas: layout, num_cells, filters)")
    recipe: str = _key("incomplete", help="the named preset the values start from")
    init: str | None = _key(None, help="start from a zoo model's weights or a model directory (fine-tuning)")
    data: str = _key("", help="training data folder")
    data_lr: str | None = _key(None, _SR, "folder of LR images paired with --data by name (DIV2K: 0001x2.png)")
    val: str | None = _key(None, help="validation folder (SR: *_HR/*_LR pairs or HR images; classes: as --data)")
    val_split: int = _key(0, _CLS, "hold out this many training images for validation when no --val is given")
    steps: int | None = _key(None, help="optimisation steps (exclusive with epochs)")
    epochs: float | None = _key(None, help="passes over the training images (SR: one patch per image per pass)")
    batch_size: int = _key(16, help="global batch size (split over DDP processes)")
    optimizer: str = _key("adam", help="adam or sgd")
    lr: float = _key(1e-4, help="base learning rate")
    lr_min: float = _key(0.0, help="final learning rate of the cosine schedule")
    schedule: str = _key("constant", help="constant or cosine")
    warmup_steps: int = _key(0, help="linear warm-up steps")
    beta1: float = _key(0.9, help="Adam beta1")
    beta2: float = _key(0.999, help="Adam beta2")
    momentum: float = _key(0.9, help="SGD momentum")
    weight_decay: float = _key(0.0, help="weight decay (coupled, as in torch.optim)")
    grad_clip: float | None = _key(None, help="clip the gradient norm at this value")
    loss: str = _key("l1", _SR, "l1 or l2 on the HR luma")
    init_std: float | None = _key(None, help="re-initialise weights N(0, std) and biases 0 (None: PyTorch's init)")
    patch_size: int = _key(64, _SR, "HR patch side (even)")
    augment: bool = _key(True, help="SR: flips and 90-degree rotations; classes: random crop with 4-pixel padding and flips")
    cutout: int = _key(0, _CLS, "side of the cutout square (0: off)")
    aux_weight: float = _key(0.0, _CLS, "weight of the auxiliary head's loss (0: no auxiliary head)")
    drop_path: float = _key(0.0, _CLS, "final drop-path probability, raised linearly from 0 over training")
    image_size: int = _key(32, _CLS, "classes: side of the training and validation crops")
    val_every: int = _key(0, help="validate every this many steps (0: only at the end)")
    checkpoint_every: int = _key(500, help="write the resumable checkpoint every this many steps")
    log_every: int = _key(50, help="write a metrics line every this many steps")
    num_workers: int | None = _key(None, help="data loader worker processes (None: 0 on CPU, up to 8 on CUDA)")
    cache_dir: str | None = _key(None, _SR, "where decoded images and LR images are cached (default: <run dir>/cache)")
    device: str | None = _key(None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    precision: str = _key("fp32", help="fp32, bf16 or fp16 (autocast on CUDA; the colour step is never trained)")
    channels_last: bool = _key(True, help="channels-last memory format on CUDA")
    compile: bool = _key(False, help="torch.compile the model")
    seed: int = _key(0, help="seed of the data order, crops, augmentation and initialisation")

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options or {}))
        checks = [
            (self.family in _BOTH, f"family must be one of {', '.join(_BOTH)}, not {self.family!r}"),
            (self.steps is None or self.epochs is None, "give steps or epochs, not both"),
            (self.steps is None or self.steps >= 1, f"steps must be at least 1, got {self.steps}"),
            (self.epochs is None or self.epochs > 0, f"epochs must be positive, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            (self.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, not {self.optimizer!r}"),
            (self.schedule in ("constant", "cosine"), f"schedule must be constant or cosine, not {self.schedule!r}"),
            (self.lr > 0 and self.lr_min >= 0, f"lr must be positive and lr_min non-negative ({self.lr}, {self.lr_min})"),
            (self.loss in ("l1", "l2"), f"loss must be l1 or l2, not {self.loss!r}"),
            (self.patch_size >= 2 and self.patch_size % 2 == 0, f"patch_size must be even and >= 2, got {self.patch_size}"),
            (self.precision in ("fp32", "bf16", "fp16"), f"precision must be fp32, bf16 or fp16, not {self.precision!r}"),
            (0 <= self.drop_path < 1, f"drop_path must be in [0, 1), got {self.drop_path}"),
            (self.aux_weight >= 0 and self.cutout >= 0 and self.val_split >= 0, "aux_weight, cutout and val_split must be >= 0"),
            (min(self.val_every, self.checkpoint_every, self.log_every, self.warmup_steps) >= 0,
             "val_every, checkpoint_every, log_every and warmup_steps must be >= 0"),
            (self.init_std is None or self.init_std > 0, f"init_std must be positive, got {self.init_std}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def keys(cls, family: str | None = None) -> dict[str, str]:
        """Settable keys (of one family) -> their help text."""
        return {f.name: f.metadata["help"] for f in fields(cls)
                if family is None or family in f.metadata["families"]}

    def to_json(self) -> dict[str, Any]:
        """Plain data (what ``config.json`` of a run holds)."""
        return {f.name: (dict(v) if isinstance(v := getattr(self, f.name), Mapping) else v) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_json` (unknown keys are an error)."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(**data)

    def digest(self) -> str:
        """sha256 of the canonical JSON, ignoring keys that do not change the result (device, workers, logging)."""
        data = {k: v for k, v in self.to_json().items() if k not in _RESULT_NEUTRAL}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def total_steps(self, num_samples: int) -> int:
        """Optimisation steps of the run for a training set of ``num_samples`` items."""
        if self.steps is not None:
            return self.steps
        if self.epochs is None:
            raise ConfigError("give steps or epochs")
        return max(1, math.ceil(self.epochs * num_samples / self.batch_size))


_RESULT_NEUTRAL = frozenset({"val_every", "checkpoint_every", "log_every", "num_workers", "device", "cache_dir"})
"""Keys that may differ between a run and its resumption."""

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "falsr": {
        "incomplete": {"optimizer": "adam", "lr": 1e-4, "schedule": "constant", "loss": "l1", "batch_size": 16,
                       "patch_size": 64, "steps": 10_000},
        "full": {"optimizer": "adam", "lr": 1e-4, "lr_min": 1e-6, "schedule": "cosine", "loss": "l1",
                 "batch_size": 16, "patch_size": 96, "steps": 1_200_000, "init_std": 0.02, "val_every": 10_000,
                 "checkpoint_every": 5_000},
    },
    "renas": {
        "incomplete": {"optimizer": "sgd", "lr": 0.025, "schedule": "cosine", "momentum": 0.9,
                       "weight_decay": 3e-4, "batch_size": 64, "epochs": 20, "grad_clip": 5.0},
        "full": {"optimizer": "sgd", "lr": 0.025, "schedule": "cosine", "momentum": 0.9, "weight_decay": 3e-4,
                 "batch_size": 96, "epochs": 600, "grad_clip": 5.0, "cutout": 16, "aux_weight": 0.4,
                 "drop_path": 0.2, "checkpoint_every": 1_000},
    },
}
"""Family -> recipe name -> the values it sets (everything else keeps :class:`TrainConfig`'s default)."""


def _parse_value(name: str, text: str) -> Any:
    kind = {f.name: f.type for f in fields(TrainConfig)}[name]
    if text.lower() in ("none", "null") and "None" in str(kind):
        return None
    if "bool" in str(kind):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={text}: expected true or false")
    for caster in ((int,) if "int" in str(kind) and "float" not in str(kind) else ()) + \
                  ((float,) if "float" in str(kind) else ()):
        try:
            value = caster(text)
        except ValueError:
            raise ConfigError(f"{name}={text}: expected {'an integer' if caster is int else 'a number'}") from None
        if caster is float and not math.isfinite(value):
            raise ConfigError(f"{name}={text}: expected a finite number")
        return value
    return text


def apply_overrides(values: dict[str, Any], family: str, overrides: Mapping[str, Any] | list[str]) -> dict[str, Any]:
    """``values`` updated with ``overrides`` (a mapping, or ``["key=value", ...]`` strings to parse).

    Raises:
        ConfigError: an unknown key, a key of another family, a malformed item or a bad value.
    """
    items = overrides.items() if isinstance(overrides, Mapping) else [_split(item) for item in overrides]
    known = TrainConfig.keys()
    own = TrainConfig.keys(family)
    updated = dict(values)
    for key, value in items:
        if key not in known or key in ("family", "model", "options", "recipe"):
            raise ConfigError(f"unknown training key {key!r}; known keys: {', '.join(k for k in own if k not in ('family', 'model', 'options', 'recipe'))}")
        if key not in own:
            raise ConfigError(f"{key} does not apply to the {family} family")
        parsed = _parse_value(key, value) if isinstance(value, str) else value
        if key == "steps" and parsed is not None:
            updated["epochs"] = None
        if key == "epochs" and parsed is not None:
            updated["steps"] = None
        updated[key] = parsed
    return updated


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{item!r}: expected key=value")
    return key.strip(), value.strip()


def make_config(family: str, model: str, *, recipe: str = "incomplete", overrides: Mapping[str, Any] | list[str] = (),
                **values: Any) -> TrainConfig:
    """A config from a family's recipe, explicit values (``data=``, ``val=``, ``options=``...) and overrides.

    Raises:
        ConfigError: an unknown recipe, or any problem of :func:`apply_overrides` / :class:`TrainConfig`.
    """
    if family not in RECIPES:
        raise ConfigError(f"no training recipes for the {family!r} family")
    if recipe not in RECIPES[family]:
        raise ConfigError(f"unknown recipe {recipe!r} for {family}; expected one of {', '.join(RECIPES[family])}")
    base = {**RECIPES[family][recipe], "family": family, "model": model, "recipe": recipe}
    for key, other in (("steps", "epochs"), ("epochs", "steps")):
        if values.get(key) is not None:  # an explicit length replaces the recipe's
            base[other] = None
    return TrainConfig(**apply_overrides({**base, **values}, family, overrides))
