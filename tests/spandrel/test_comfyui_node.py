"""The ComfyUI node package (``integrations/comfyui/falsr_zoo_comfyui``) through ComfyUI's stock path.

A fresh process plays one ComfyUI session (:mod:`tests.spandrel.comfyui_stock`): the FALSR files
are refused by the stock "Load Upscale Model" call until the node folder is imported as ComfyUI
imports it; then the files load and "Upscale Image (using Model)" runs them, untiled (512-pixel
tile) and on 128-pixel tiles. The outputs are checked here against ``falsr upscale``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

spandrel = pytest.importorskip("spandrel", reason="needs spandrel + torchvision: run in .venv-spandrel (.ci/run)")

import falsr_zoo  # noqa: E402
from falsr_zoo import load  # noqa: E402
from falsr_zoo.cli import main  # noqa: E402
from falsr_zoo.families.falsr.colour import to_uint8  # noqa: E402
from falsr_zoo.spandrel import ARCH_ID, save_file  # noqa: E402
from falsr_zoo.sr.upscale import upscale_array  # noqa: E402
from tests.falsr.test_falsr_rgb import _pipeline_float  # noqa: E402
from tests.spandrel import comfyui_stock  # noqa: E402

NODE = Path(__file__).resolve().parents[2] / "integrations" / "comfyui" / "falsr_zoo_comfyui"
OWN = "conv f16 k3 b2 isskip <- 0; invertBotConE2 f16 k3 b2 noskip <- 0,1; out <- 0,1,2"
"""A genome of no zoo model: its file can only load if spandrel reads the genome from it."""
IMAGE = "img_001_SRF_2_LR.png"
"""Set5's largest LR image (256 x 256): one tile at 512, nine at 128."""


@pytest.fixture(scope="module")
def comfyui_run(weights_home: Path, official: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Model files as a user puts them in ``models/upscale_models/``, and one ComfyUI session over them."""
    work = tmp_path_factory.mktemp("comfyui")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FALSR_ZOO_HOME", str(weights_home))
        load("FALSR-B").save_pretrained(work / "FALSR-B-dir")
        torch.manual_seed(0)
        own = load(genome=OWN)  # stands for a trained or searched model: untrained weights, any genome
        own.save_pretrained(work / "own-dir")
        models = work / "upscale_models"
        models.mkdir()
        (models / "falsr-b-dir.safetensors").write_bytes((work / "FALSR-B-dir" / "model.safetensors").read_bytes())
        (models / "own-dir.safetensors").write_bytes((work / "own-dir" / "model.safetensors").read_bytes())
        save_file("FALSR-B", models / "falsr-b-export.safetensors")
    files = sorted(models.iterdir())
    out = work / "session.npz"
    done = subprocess.run(
        [sys.executable, comfyui_stock.__file__, str(NODE), str(official / "dataset" / "Set5" / IMAGE), str(out),
         *map(str, files)],
        capture_output=True, text=True, timeout=600, cwd=work,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as saved:
        arrays = {name: saved[name] for name in saved.files if name != "facts"}
        facts = json.loads(str(saved["facts"]))
    return {"facts": facts, "arrays": arrays, "work": work, "lr": official / "dataset" / "Set5" / IMAGE}


def test_the_stock_loader_refuses_falsr_files_until_the_node_is_imported(comfyui_run: dict) -> None:
    facts = comfyui_run["facts"]
    assert facts["before"] == {name: "UnsupportedModelError" for name in facts["models"]}
    assert facts["node"] == {"mappings": {}, "display": {}, "detected_first": ARCH_ID}
    assert len(facts["models"]) == 3
    for name, model in facts["models"].items():
        assert (model["arch"], model["scale"]) == (ARCH_ID, 2), name
    assert facts["models"]["own-dir.safetensors"]["genome"] == str(load(genome=OWN).genome)


def _falsr_upscale(model: str, lr: Path, out: Path) -> np.ndarray:
    """``falsr upscale LR --model MODEL -o OUT``'s pixels."""
    result = CliRunner().invoke(main, ["upscale", str(lr), "--model", model, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return np.asarray(Image.open(out).convert("RGB"))


@pytest.mark.parametrize("name, model", [("falsr-b-dir.safetensors", "FALSR-B-dir"),
                                         ("falsr-b-export.safetensors", "FALSR-B"),
                                         ("own-dir.safetensors", "own-dir")])
def test_upscale_image_using_model_reproduces_falsr_upscale(comfyui_run: dict, store: Path, name: str,
                                                            model: str) -> None:
    work, lr_path = comfyui_run["work"], comfyui_run["lr"]
    reference = str(work / model) if model.endswith("-dir") else model
    net = load(reference)
    lr = np.asarray(Image.open(lr_path).convert("RGB"))
    cli = _falsr_upscale(reference, lr_path, work / f"{model}-{name}.png")
    # the command's CPU path rounds differently from upscale_array in a few values (FALSR-B: 12 of 786,432)
    assert np.abs(cli.astype(int) - upscale_array(net, lr)).max() <= 1
    untiled, tiled = comfyui_run["arrays"][f"{name}/512"], comfyui_run["arrays"][f"{name}/128"]
    # One 512 tile holds the whole image: the float path of tests/spandrel/test_spandrel.py, same bound.
    np.testing.assert_allclose(untiled, _pipeline_float(net, lr), rtol=0, atol=2e-5)
    # 128-pixel tiles: a tile's outputs near its edges see no pixels beyond it (the network's and the
    # chroma's receptive field is cut), and ComfyUI blends them with its neighbours' over the overlap.
    # Measured: 1.6e-3 (FALSR-B), 4.9e-3 (the untrained genome).
    assert 0 < np.abs(tiled - untiled).max() < 1e-2
    # SaveImage's uint8 against falsr upscale's: the bound of the untiled float path (uint8 chroma
    # passes in the 8-bit pipeline, tests/spandrel/test_spandrel.py), tiled or not. Measured: at most
    # 2 levels; 22.9 % of the values differ (FALSR-B), 3.8 % (the untrained genome).
    for output in (untiled, tiled):
        saved = comfyui_stock.saved_pixels(torch.from_numpy(output)[None])
        assert np.array_equal(saved, to_uint8(output))
        assert np.abs(saved.astype(int) - cli.astype(int)).max() <= 6
        assert np.mean(saved != cli) < 0.35


def test_the_node_folder_has_the_comfy_registry_layout() -> None:
    project = tomllib.loads((NODE / "pyproject.toml").read_text())
    name = project["project"]["name"]
    # the registry's rules for a node id: < 100 characters, letters, digits, - _ . never two in a
    # row, starts with a letter; "ComfyUI" left out of it
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*", name)
    assert "comfyui" not in name.lower()
    assert project["project"]["version"] == falsr_zoo.__version__  # semantic X.Y.Z, the package's own
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["project"]["version"])
    requirements = (NODE / "requirements.txt").read_text().split()
    assert project["project"]["dependencies"] == requirements == [f"falsr-zoo>={falsr_zoo.__version__}"]
    assert {"PublisherId", "DisplayName"} <= set(project["tool"]["comfy"])
    assert "Repository" in project["project"]["urls"]
