"""ComfyUI custom node package: FALSR models in ComfyUI's stock upscale-model nodes.

ComfyUI imports ``custom_nodes/<folder>/__init__.py`` once at start-up. Importing this one adds the
FALSR architecture to spandrel's main registry (:func:`falsr_zoo.spandrel.install`), the registry
that the stock "Load Upscale Model" node reads (``ModelLoader().load_from_state_dict`` on the file's
tensors); "Upscale Image (using Model)" then runs a FALSR model like any other spandrel model. The
package adds no nodes of its own, so its mappings are empty.

FALSR files for ``models/upscale_models/``: the ``model.safetensors`` of any FALSR model directory
(``save_pretrained``, ``falsr train``, ``falsr-search``), renamed as you like, or
``falsr export NAME --format spandrel``. Both carry the genome as a tensor, which is all the stock
loader passes on.

Needs falsr-zoo in ComfyUI's Python (``requirements.txt``); spandrel comes with ComfyUI.
"""

from __future__ import annotations

import logging

try:
    from falsr_zoo import __version__ as _FALSR_ZOO_VERSION
    from falsr_zoo.spandrel import install as _install_falsr
except ImportError as error:
    raise ImportError(
        "falsr-zoo is not installed in ComfyUI's Python environment: run `python -m pip install falsr-zoo` "
        f"with ComfyUI's interpreter, then restart ComfyUI ({error})"
    ) from error

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]

if _install_falsr():
    logging.getLogger(__name__).info(
        "falsr-zoo %s: FALSR registered with spandrel; put FALSR .safetensors files in models/upscale_models",
        _FALSR_ZOO_VERSION,
    )
