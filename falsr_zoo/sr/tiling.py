"""Seamless tiling: cut an LR image into tiles that overlap by the network's receptive field.

Each tile has a *core* (the LR pixels whose outputs it provides) and a *padded* box: the core
grown by ``margin`` pixels on every side, clipped to the image. The network runs on the padded
box and only the core of its output is kept. Because the margin is at least the receptive
radius (:meth:`~falsr_zoo.families.falsr.genome.Genome.receptive_radius`), every kept output pixel sees
exactly the input it sees in an untiled run, and the zero padding at the image border is the
same as untiled, since padded boxes are clipped to the image rather than padded. Tiled output
is therefore equal to untiled output up to float rounding of different kernel paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby
from typing import Iterator

__all__ = ["Tile", "batches", "plan_tiles", "smallest_tile", "tile_margin", "tile_overhead", "tile_side_for_budget"]

CHROMA_MARGIN = 3
"""LR pixels the bicubic x2 chroma of one output pixel reaches (PIL and MATLAB kernels: 2, plus one)."""
MIN_TILE = 8


def tile_margin(receptive_radius: int) -> int:
    """The overlap of tiles for a network of ``receptive_radius``: enough for the network and the chroma."""
    return max(receptive_radius, CHROMA_MARGIN)


def tile_overhead(tile: int, margin: int) -> float:
    """Pixels an interior tile of core side ``tile`` computes per pixel it keeps: ``((tile + 2 margin) / tile)^2``."""
    return ((tile + 2 * margin) / tile) ** 2


def smallest_tile(margin: int) -> int:
    """The smallest core side worth asking for: the margin itself, where a tile computes 9x its core.

    Below it the overlap dominates quickly (``--tile 1`` with FALSR-B's 27-pixel margin computes
    every kept pixel 3,025 times: 12 minutes for a 176x144 image). The library takes any side (the
    tests check tiny tiles on purpose); command lines refuse sides below this one.
    """
    return margin


@dataclass(frozen=True)
class Box:
    """A half-open rectangle ``[top, bottom) x [left, right)`` in LR pixels."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Tile:
    """One tile: the ``core`` it contributes and the ``padded`` box the network runs on."""

    core: Box
    padded: Box

    @property
    def offset(self) -> tuple[int, int]:
        """Where the core starts inside the padded box."""
        return self.core.top - self.padded.top, self.core.left - self.padded.left

    @property
    def shape(self) -> tuple[int, int]:
        return self.padded.height, self.padded.width


def _splits(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut ``[0, length)`` into ``ceil(length / tile)`` near-equal pieces."""
    count = max(1, math.ceil(length / tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def plan_tiles(height: int, width: int, tile: int | tuple[int, int], margin: int) -> list[Tile]:
    """Tiles covering an ``height x width`` image, cores at most ``tile`` pixels per side.

    Cores partition the image into near-equal pieces (so most padded boxes share one shape and
    can be batched); padded boxes extend each core by ``margin`` and are clipped to the image.
    """
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    if tile_h < 1 or tile_w < 1:
        raise ValueError(f"tile size must be positive, got {tile}")
    tiles = []
    for top, bottom in _splits(height, tile_h):
        for left, right in _splits(width, tile_w):
            core = Box(top, left, bottom, right)
            padded = Box(max(0, top - margin), max(0, left - margin), min(height, bottom + margin), min(width, right + margin))
            tiles.append(Tile(core, padded))
    return tiles


def batches(tiles: list[Tile], size: int) -> Iterator[list[Tile]]:
    """Group tiles of equal padded shape into batches of at most ``size``."""
    ordered = sorted(tiles, key=lambda t: t.shape)
    for _, group in groupby(ordered, key=lambda t: t.shape):
        group = list(group)
        for start in range(0, len(group), size):
            yield group[start : start + size]


def tile_side_for_budget(floats_per_pixel: int, margin: int, budget_bytes: int, bytes_per_float: int = 4,
                         safety: float = 1.25) -> int:
    """The largest square core side whose padded tile fits ``budget_bytes`` of activations."""
    pixels = budget_bytes / (floats_per_pixel * bytes_per_float * safety)
    return max(MIN_TILE, int(math.sqrt(pixels)) - 2 * margin)
