"""Side-by-side comparison pictures, made with Pillow alone.

One row of full panels - the LR image enlarged x2 with nearest neighbour (what the network is
given, pixel for pixel), bicubic (MATLAB's ``imresize``, the papers' baseline) and each model's
output - and below it the same crop of every panel, enlarged with nearest neighbour so that
single pixels show. The crop is the square where the first model departs most from bicubic
(where super-resolution adds something), unless one is given. A frame marks it on the panels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from falsr_zoo.errors import ImageError
from falsr_zoo.sr.evaluate import bicubic_upscale

__all__ = ["Crop", "comparison_picture", "most_changed_crop"]

_LABEL_HEIGHT = 22
_GAP = 4
_BACKGROUND = (255, 255, 255)
_FRAME = (230, 40, 40)


@dataclass(frozen=True)
class Crop:
    """A square ``size`` x ``size`` of the x2 panels, its top-left corner at (``left``, ``top``)."""

    left: int
    top: int
    size: int

    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.left + self.size, self.top + self.size


def most_changed_crop(reference: np.ndarray, changed: np.ndarray, size: int) -> Crop:
    """The ``size`` square (stride ``size // 4``) where ``changed`` differs most from ``reference``."""
    difference = np.abs(changed.astype(np.float64) - reference.astype(np.float64)).sum(axis=2)
    summed = np.pad(difference.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = difference.shape
    stride = max(1, size // 4)
    best, best_crop = -1.0, Crop(0, 0, size)
    for top in range(0, height - size + 1, stride):
        for left in range(0, width - size + 1, stride):
            total = (summed[top + size, left + size] - summed[top, left + size]
                     - summed[top + size, left] + summed[top, left])
            if total > best:
                best, best_crop = total, Crop(left, top, size)
    return best_crop


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=14)
    except (TypeError, OSError):  # a Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def comparison_picture(lr: np.ndarray, outputs: Sequence[tuple[str, np.ndarray]], *, crop: Crop | None = None,
                       crop_fraction: float = 0.25) -> Image.Image:
    """LR (nearest x2) | bicubic | each output, full size, over the same zoomed crop of each.

    Args:
        lr: ``(H, W, 3)`` uint8 RGB, the networks' input.
        outputs: ``(label, (2H, 2W, 3) uint8)`` per model, in the order to show them.
        crop: The square to zoom, in x2-panel pixels; default: :func:`most_changed_crop` of the
            first output against bicubic, its side ``crop_fraction`` of the shorter side.
        crop_fraction: The default crop's side as a fraction of the panel's shorter side.

    Returns:
        An RGB image: labels, a row of full panels, a row of zoomed crops.

    Raises:
        ImageError: outputs of another size than 2H x 2W, or a crop outside the panels.
    """
    height, width = 2 * lr.shape[0], 2 * lr.shape[1]
    for label, output in outputs:
        if output.shape != (height, width, 3) or output.dtype != np.uint8:
            raise ImageError(f"{label}: expected a ({height}, {width}, 3) uint8 output, got {output.shape} {output.dtype}")
    bicubic = bicubic_upscale(lr)
    panels = [("LR, nearest x2", np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1)), ("bicubic", bicubic), *outputs]
    if crop is None:
        side = max(4, int(min(height, width) * crop_fraction))
        crop = most_changed_crop(bicubic, outputs[0][1] if outputs else bicubic, side)
    if crop.left < 0 or crop.top < 0 or crop.left + crop.size > width or crop.top + crop.size > height or crop.size < 1:
        raise ImageError(f"crop {crop.box()} is outside the {width}x{height} panels")
    return _layout(panels, crop)


def _layout(panels: list[tuple[str, np.ndarray]], crop: Crop) -> Image.Image:
    height, width = panels[0][1].shape[:2]
    zoom = max(1, width // crop.size)
    zoomed = crop.size * zoom
    canvas = Image.new("RGB", (len(panels) * (width + _GAP) - _GAP, _LABEL_HEIGHT + height + _GAP + zoomed), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    for index, (label, pixels) in enumerate(panels):
        x = index * (width + _GAP)
        draw.text((x + 4, 3), label, fill=(0, 0, 0), font=font)
        panel = Image.fromarray(pixels)
        canvas.paste(panel, (x, _LABEL_HEIGHT))
        left, top, right, bottom = crop.box()
        draw.rectangle((x + left - 1, _LABEL_HEIGHT + top - 1, x + right, _LABEL_HEIGHT + bottom), outline=_FRAME)
        detail = panel.crop(crop.box()).resize((zoomed, zoomed), Image.NEAREST)
        canvas.paste(detail, (x + (width - zoomed) // 2, _LABEL_HEIGHT + height + _GAP))
    return canvas
