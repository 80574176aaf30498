"""Image classification with the zoo's classifiers: preprocessing from metadata, top-k classes.

The preprocessing is data (a zoo entry's ``preprocessing``, or the model's layout's, see
:class:`~falsr_zoo.families.renas.plan.Preprocessing`): resize the shorter side, centre-crop, scale
to [0, 1], normalise per channel. Resizing and cropping follow torchvision's ``Resize`` and
``CenterCrop`` on PIL images, so inputs match what the usual ImageNet pipelines feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from falsr_zoo.errors import ImageError
from falsr_zoo.imageio import ImageLike, as_rgb_array

__all__ = ["Prediction", "classify_image", "preprocess", "top_classes"]

_FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
            "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes.

    Attributes:
        index: Class index (the classifier's output unit).
        label: Its name from the label list, or ``"class <index>"`` without one.
        probability: Softmax probability.
    """

    index: int
    label: str
    probability: float


def preprocess(image: ImageLike, preprocessing: Mapping[str, Any]) -> torch.Tensor:
    """A PIL image or uint8 array -> a normalised ``(1, 3, crop, crop)`` float32 tensor.

    Args:
        image: RGB(A) or greyscale PIL image, or a uint8 ``(H, W[, 3|4])`` array.
        preprocessing: ``resize`` (shorter side, or ``None``), ``crop``, ``mean``, ``std``
            (per channel, for [0, 1] pixels) and ``interpolation``.

    Raises:
        ImageError: if the image cannot be used or is smaller than the crop.
    """
    pil = Image.fromarray(as_rgb_array(image))
    if preprocessing.get("resize"):
        pil = _resize_shorter_side(pil, int(preprocessing["resize"]), preprocessing.get("interpolation", "bilinear"))
    array = _centre_crop(np.asarray(pil), int(preprocessing["crop"]))
    pixels = torch.from_numpy(array.astype(np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(preprocessing["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(preprocessing["std"], dtype=torch.float32).view(3, 1, 1)
    return ((pixels - mean) / std)[None]


def _resize_shorter_side(image: Image.Image, size: int, interpolation: str) -> Image.Image:
    width, height = image.size
    if interpolation not in _FILTERS:
        raise ValueError(f"unknown interpolation {interpolation!r}; expected one of {', '.join(_FILTERS)}")
    # torchvision's Resize(int): the shorter side becomes `size`, the longer one is truncated.
    if width <= height:
        target = (size, int(size * height / width))
    else:
        target = (int(size * width / height), size)
    return image if target == image.size else image.resize(target, _FILTERS[interpolation])


def _centre_crop(array: np.ndarray, crop: int) -> np.ndarray:
    height, width = array.shape[:2]
    if height < crop or width < crop:
        raise ImageError(f"image of {width}x{height} is smaller than the {crop}x{crop} centre crop")
    top = int(round((height - crop) / 2.0))
    left = int(round((width - crop) / 2.0))
    return array[top : top + crop, left : left + crop]


def top_classes(logits: torch.Tensor, labels: Sequence[str] | None = None, k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of one image's logits ``(C,)`` or ``(1, C)``.

    Raises:
        ValueError: if ``labels`` does not have one name per class.
    """
    scores = logits.detach().float().reshape(-1)
    if labels is not None and len(labels) != scores.numel():
        raise ValueError(f"{len(labels)} labels given for a classifier with {scores.numel()} classes")
    probabilities = torch.softmax(scores, dim=0)
    values, indices = probabilities.topk(min(k, scores.numel()))
    return [
        Prediction(int(i), labels[int(i)] if labels is not None else f"class {int(i)}", float(p))
        for p, i in zip(values, indices)
    ]


def classify_image(
    model: nn.Module,
    image: ImageLike,
    *,
    labels: Sequence[str] | None = None,
    top_k: int = 5,
    preprocessing: Mapping[str, Any] | None = None,
) -> list[Prediction]:
    """Classify one image: preprocess, run the model in eval mode, return the top-k classes.

    Args:
        model: A classifier, e.g. ``load("RENASNet", weights=...)``; it runs in eval mode and
            its mode is restored afterwards.
        image: A PIL image or uint8 array.
        labels: One name per class (default: the model's own list if it has one, e.g. CIFAR-10).
        top_k: How many classes to return.
        preprocessing: Default: the model's (``model.preprocessing``), which equals the zoo
            entry's metadata.

    Returns:
        The ``top_k`` predictions, most probable first.

    Example:
        >>> model = load("RENASNet", weights="renasnet.safetensors")   # doctest: +SKIP
        >>> classify_image(model, Image.open("cat.jpg"), labels=class_names)  # doctest: +SKIP
    """
    steps = preprocessing if preprocessing is not None else getattr(model, "preprocessing", None)
    if not steps:
        raise ValueError("this model carries no preprocessing; pass preprocessing={...}")
    labels = labels if labels is not None else (getattr(model, "labels", ()) or None)
    parameter = next(model.parameters())
    batch = preprocess(image, steps).to(device=parameter.device, dtype=parameter.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = model(batch)
    finally:
        model.train(was_training)
    return top_classes(logits[0], labels, top_k)
