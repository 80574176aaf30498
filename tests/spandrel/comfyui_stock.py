"""What ComfyUI does with an upscale model, call for call, without ComfyUI (it does not install here).

Written from ComfyUI's own code (``nodes.py: load_custom_node``, ``comfy_extras/nodes_upscale_model.py``,
``comfy/utils.py: load_torch_file, tiled_scale_multidim``, ``LoadImage``, ``SaveImage``) as
equivalent calls:

* :func:`import_custom_node`: a ``custom_nodes/`` folder imported from its path, under ComfyUI's
  module name (the path with dots replaced), registered in ``sys.modules`` before it runs.
* :func:`load_upscale_model`: "Load Upscale Model": the file's tensors (safetensors, no metadata),
  SwinIR's ``module.`` prefix dropped, ``spandrel.ModelLoader().load_from_state_dict(...).eval()``
  on the main registry, refused unless it is an ``ImageModelDescriptor``.
* :func:`upscale_image`: "Upscale Image (using Model)": ``(B, H, W, C)`` to channels-first, the
  descriptor called on overlapping tiles (512, overlap 32; ComfyUI halves the tile down to 128 when
  memory runs out) whose outputs are blended with linear feathering, then clamped to [0, 1].

Run as a script it is one ComfyUI session in a fresh process (so that nothing registered by an
earlier test can help): ``comfyui_stock.py NODE_DIR IMAGE OUT.npz MODEL...`` tries each model file
before the node is imported, imports the node, loads each file and upscales ``IMAGE`` with tiles of
512 and 128, and writes the outputs and what happened to ``OUT.npz``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import spandrel
import torch
from PIL import Image
from safetensors.torch import load_file

TILE, OVERLAP = 512, 32
"""ImageUpscaleWithModel's tile and overlap, in input pixels."""
SMALLEST_TILE = 128
"""The smallest tile ImageUpscaleWithModel retries with after running out of memory (512, 256, 128)."""


def import_custom_node(folder: Path) -> ModuleType:
    """Import a custom node folder as ComfyUI's ``load_custom_node`` does."""
    module_name = str(folder).replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(folder, "__init__.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_upscale_model(path: Path) -> Any:
    """"Load Upscale Model" (``UpscaleModelLoader.load_model``) on a ``.safetensors`` file."""
    state = load_file(str(path), device="cpu")  # comfy.utils.load_torch_file: tensors only
    swinir = "module.layers.0.residual_group.blocks.0.norm1.weight"
    if swinir in state:
        state = {name.removeprefix("module."): tensor for name, tensor in state.items()}
    descriptor = spandrel.ModelLoader().load_from_state_dict(state).eval()
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise TypeError("Upscale model must be a single-image model.")
    return descriptor


def _feather_mask(shape: torch.Size, feather: int) -> torch.Tensor:
    """Weights 1/f, 2/f, ... 1 rising from each edge of a tile's output over ``feather`` pixels."""
    mask = torch.ones(shape)
    for axis in (2, 3):
        if feather >= shape[axis]:
            continue
        for step in range(feather):
            weight = (step + 1) / feather
            mask.narrow(axis, step, 1).mul_(weight)
            mask.narrow(axis, shape[axis] - 1 - step, 1).mul_(weight)
    return mask


@torch.inference_mode()
def tiled_scale(images: torch.Tensor, function: Callable[[torch.Tensor], torch.Tensor], *, tile: int,
                overlap: int, scale: int) -> torch.Tensor:
    """``comfy.utils.tiled_scale`` for a square tile: each image upscaled tile by tile, blended."""
    batch, _, height, width = images.shape
    output = torch.empty(batch, 3, height * scale, width * scale)
    for index in range(batch):
        image = images[index:index + 1]
        if height <= tile and width <= tile:
            output[index:index + 1] = function(image)
            continue
        total = torch.zeros(1, 3, height * scale, width * scale)
        weights = torch.zeros_like(total)
        starts = [range(0, size - overlap, tile - overlap) if size > tile else [0] for size in (height, width)]
        for top, left in itertools.product(*starts):
            top, left = max(0, min(height - overlap, top)), max(0, min(width - overlap, left))
            piece = image[:, :, top:top + tile, left:left + tile]
            upscaled = function(piece)
            mask = _feather_mask(upscaled.shape, round(overlap * scale))
            rows = slice(top * scale, top * scale + upscaled.shape[2])
            cols = slice(left * scale, left * scale + upscaled.shape[3])
            total[:, :, rows, cols] += upscaled * mask
            weights[:, :, rows, cols] += mask
        output[index:index + 1] = total / weights
    return output


def upscale_image(descriptor: Any, image: torch.Tensor, *, tile: int = TILE) -> torch.Tensor:
    """"Upscale Image (using Model)" (``ImageUpscaleWithModel.upscale``) on the CPU, at one tile size."""
    descriptor.to("cpu")
    channels_first = image.movedim(-1, -3)
    upscaled = tiled_scale(channels_first, lambda piece: descriptor(piece), tile=tile, overlap=OVERLAP,
                           scale=descriptor.scale)
    return torch.clamp(upscaled.movedim(-3, -1), min=0, max=1.0)


def load_image(path: Path) -> torch.Tensor:
    """``LoadImage``: RGB, float32 in [0, 1], ``(1, H, W, 3)``."""
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).astype(np.float32) / 255.0)[None]


def saved_pixels(image: torch.Tensor) -> np.ndarray:
    """``SaveImage``'s pixels: ``clip(255 * x, 0, 255)`` truncated to uint8."""
    return np.clip(255.0 * image[0].cpu().numpy(), 0, 255).astype(np.uint8)


def session(node: Path, image_path: Path, models: list[Path]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One ComfyUI run: the models tried without the node, the node imported, each model loaded and run."""
    facts: dict[str, Any] = {"before": {}, "models": {}}
    for path in models:
        try:
            load_upscale_model(path)
            facts["before"][path.name] = "loaded"
        except Exception as error:  # noqa: BLE001 - what the stock loader raises is the fact recorded
            facts["before"][path.name] = type(error).__name__
    module = import_custom_node(node)
    facts["node"] = {"mappings": dict(module.NODE_CLASS_MAPPINGS), "display": dict(module.NODE_DISPLAY_NAME_MAPPINGS),
                     "detected_first": spandrel.MAIN_REGISTRY.architectures("detection")[0].architecture.id}
    image = load_image(image_path)
    arrays = {}
    for path in models:
        descriptor = load_upscale_model(path)
        facts["models"][path.name] = {"arch": descriptor.architecture.id, "scale": descriptor.scale,
                                      "genome": str(descriptor.model.genome)}
        for tile in (TILE, SMALLEST_TILE):
            arrays[f"{path.name}/{tile}"] = upscale_image(descriptor, image, tile=tile)[0].numpy()
    return facts, arrays


def main(argv: list[str]) -> None:
    node, image, out, *models = map(Path, argv)
    facts, arrays = session(node, image, models)
    np.savez(out, facts=np.array(json.dumps(facts)), **arrays)


if __name__ == "__main__":
    main(sys.argv[1:])
