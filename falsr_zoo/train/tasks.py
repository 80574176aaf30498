"""What training a family means: its data, its loss, its validation, one table of tasks.

The engine (:mod:`falsr_zoo.train.engine`) is generic; a :class:`Task` row says, for a family:
which data a config names, which builder options training needs (RENAS: the auxiliary head),
what module the optimiser drives (FALSR: the luma network, since the colour step has no
parameters), the loss of a batch, the per-step schedule (RENAS: drop-path), and the validation
with its headline metric (higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.plan import LAYOUTS
from falsr_zoo.sr.metrics import psnr, ssim
from falsr_zoo.sr.upscale import upscale_array
from falsr_zoo.train.cls_images import ClassImages, ClassSampleDataset, load_class_images
from falsr_zoo.train.recipes import TrainConfig
from falsr_zoo.train.sr_patches import PatchDataset, SRImages, ValidationSet, load_validation

__all__ = ["TASKS", "Task", "TrainData"]


@dataclass
class TrainData:
    """A task's data for one run.

    Attributes:
        dataset: Training sample ``g`` -> one batch item (see the samplers).
        num_samples: Items per epoch.
        validation: Whatever the task validates on, or ``None``.
        validation_name: The validation set's name (cards and logs).
        classes: Class names (classification), else ``()``.
    """

    dataset: Dataset
    num_samples: int
    validation: Any = None
    validation_name: str = ""
    classes: tuple[str, ...] = ()


class Task(Protocol):
    """One row of :data:`TASKS`."""

    metric: str
    """The headline validation metric (higher is better), e.g. ``"psnr"``."""

    def prepare(self, config: TrainConfig, cache_dir: Path) -> TrainData: ...

    def build_options(self, config: TrainConfig, data: TrainData) -> dict[str, Any]: ...

    def trainable(self, net: nn.Module) -> nn.Module: ...

    def loss(self, module: nn.Module, batch: Any, device: torch.device, config: TrainConfig) -> torch.Tensor: ...

    def before_step(self, net: nn.Module, step: int, total: int, config: TrainConfig) -> None: ...

    def validate(self, net: nn.Module, data: TrainData) -> dict[str, float]: ...


class _LumaNetwork(nn.Module):
    """FALSR's trainable part: LR luma -> HR luma (``forward_y``), as a module DDP can wrap."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net.forward_y(y)


class SuperResolution:
    """FALSR: L1/L2 on the HR luma of random patches; Y-PSNR/SSIM as ``falsr eval`` measures them."""

    metric = "psnr"

    def prepare(self, config: TrainConfig, cache_dir: Path) -> TrainData:
        images = SRImages.load(config.data, cache_dir, data_lr=config.data_lr)
        dataset = PatchDataset(images, config.patch_size, config.seed, config.augment)
        validation = load_validation(config.val) if config.val else None
        return TrainData(dataset, len(images), validation, validation.name if validation else "")

    def build_options(self, config: TrainConfig, data: TrainData) -> dict[str, Any]:
        return {}

    def trainable(self, net: nn.Module) -> nn.Module:
        return _LumaNetwork(net)

    def loss(self, module: nn.Module, batch: Any, device: torch.device, config: TrainConfig) -> torch.Tensor:
        y_lr, y_hr = (t.to(device, non_blocking=True) for t in batch)
        out = module(y_lr)
        error = F.l1_loss if config.loss == "l1" else F.mse_loss
        return error(out.float(), y_hr)

    def before_step(self, net: nn.Module, step: int, total: int, config: TrainConfig) -> None:
        return None

    def validate(self, net: nn.Module, data: TrainData) -> dict[str, float]:
        validation: ValidationSet = data.validation
        scores = []
        for _, lr, hr in validation.items:
            sr = upscale_array(net, lr)
            hr = hr[: sr.shape[0], : sr.shape[1]]
            scores.append((psnr(sr, hr), ssim(sr, hr)))
        values = np.asarray(scores, dtype=np.float64)
        return {"psnr": float(values[:, 0].mean()), "ssim": float(values[:, 1].mean())}


class Classification:
    """RENAS: cross-entropy (plus the auxiliary head's, weighted), drop-path raised linearly; top-1."""

    metric = "top1"

    def prepare(self, config: TrainConfig, cache_dir: Path) -> TrainData:
        layout = LAYOUTS[str(config.options.get("layout", "cifar10"))]
        train = load_class_images(config.data, config.image_size, split="train")
        validation: ClassImages | None = None
        name = ""
        if config.val:
            validation = load_class_images(config.val, config.image_size, split="test")
            name = Path(config.val).resolve().name
            if validation.classes != train.classes:
                raise ConfigError(f"{config.val} has classes {validation.classes[:5]}..., not the training set's")
        elif config.val_split:
            train, validation = train.split(config.val_split, config.seed)
            name = f"{Path(config.data).resolve().name} (held out {config.val_split})"
        steps = layout.preprocessing
        dataset = ClassSampleDataset(train, steps.mean, steps.std, config.seed, config.augment, config.cutout)
        held = ClassSampleDataset(validation, steps.mean, steps.std, train=False) if validation is not None else None
        return TrainData(dataset, len(train), held, name, train.classes)

    def build_options(self, config: TrainConfig, data: TrainData) -> dict[str, Any]:
        declared = config.options.get("num_classes")
        if declared is not None and declared != len(data.classes):
            raise ConfigError(f"num_classes={declared}, but the data has {len(data.classes)} classes")
        options: dict[str, Any] = {"num_classes": len(data.classes), "image_size": config.image_size}
        if config.aux_weight > 0:
            options["aux_head"] = True
        return options

    def trainable(self, net: nn.Module) -> nn.Module:
        return net

    def loss(self, module: nn.Module, batch: Any, device: torch.device, config: TrainConfig) -> torch.Tensor:
        x, labels = (t.to(device, non_blocking=True) for t in batch)
        logits, aux = module(x, return_aux=True)
        loss = F.cross_entropy(logits.float(), labels)
        if aux is not None and config.aux_weight > 0:
            loss = loss + config.aux_weight * F.cross_entropy(aux.float(), labels)
        return loss

    def before_step(self, net: nn.Module, step: int, total: int, config: TrainConfig) -> None:
        if config.drop_path:
            net.set_drop_path_prob(config.drop_path * step / max(1, total))

    def validate(self, net: nn.Module, data: TrainData) -> dict[str, float]:
        dataset: ClassSampleDataset = data.validation
        device = next(net.parameters()).device
        correct = 0
        with torch.inference_mode():
            for start in range(0, len(dataset), 256):
                items = [dataset[g] for g in range(start, min(start + 256, len(dataset)))]
                x = torch.stack([x for x, _ in items]).to(device)
                labels = torch.tensor([label for _, label in items], device=device)
                correct += int((net(x).argmax(1) == labels).sum())
        return {"top1": 100.0 * correct / len(dataset)}


TASKS: dict[str, Callable[[], Task]] = {"falsr": SuperResolution, "renas": Classification}
"""Family -> its training task."""
