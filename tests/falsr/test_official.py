"""Fidelity to the official release: per-image Y-PSNR / SSIM of the TensorFlow graphs.

Golden values: ``reference_metrics_Set5_Set14.json`` (the authors' graphs run with TensorFlow
2.21 on CPU with the release's protocol), an independent source: nothing in it was computed by
this package. Both ways this package runs the official weights on CPU are checked image by
image: the eager module (``upscale_array``, the reference path) and the Upscaler with its
defaults, i.e. what ``falsr upscale`` runs (oneDNN fused convolutions, tiles from the budget).

Tolerances, from what was measured (torch 2.13 CPU, 2-core x86 machine, all 19 images x 3 models):

* per-image Y-PSNR: largest difference 1.85e-4 dB (FALSR-B, Set5, fused path; 1.69e-4 eager);
  tolerance 5e-4 dB. Rounding the output instead of truncating it moves some images by 0.0115 dB.
* per-image SSIM: largest difference 2.5e-6; tolerance 1e-5.
* mean Y-PSNR of a set: largest difference 4.6e-5 dB; tolerance 2e-4 dB.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.cli import main
from falsr_zoo.sr.evaluate import evaluate, find_pairs
from falsr_zoo.sr.resize import imresize
from falsr_zoo.sr.upscale import Upscaler, upscale_array
from falsr_zoo.zoo.registry import get_entry
from tests.conftest import MODELS

PSNR_TOL = 5e-4
SSIM_TOL = 1e-5
MEAN_PSNR_TOL = 2e-4


def _runner(path: str, name: str):
    model = load(name)
    if path == "eager":
        return lambda lr: upscale_array(model, lr)
    upscaler = Upscaler(model)  # the defaults of `falsr upscale`
    assert type(upscaler.backend.forward).__name__ == "FusedFALSR", "the fused CPU path should be the default"
    return upscaler.upscale


@pytest.mark.slow
@pytest.mark.parametrize("path", ["eager", "fused"])
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_every_image_matches_the_official_graph(store, official, reference_metrics, name, dataset, path) -> None:
    result = evaluate(_runner(path, name), official / "dataset" / dataset, model=name)
    reference = reference_metrics[name][dataset]
    assert sorted(result.images) == sorted(reference["images"])
    for image, ours in result.images.items():
        ref = reference["images"][image]
        assert abs(ours["psnr"] - ref["psnr"]) <= PSNR_TOL, (image, ours, ref)
        assert abs(ours["ssim"] - ref["ssim"]) <= SSIM_TOL, (image, ours, ref)
    assert abs(result.mean_psnr - reference["mean_psnr"]) <= MEAN_PSNR_TOL
    assert abs(result.mean_ssim - reference["mean_ssim"]) <= SSIM_TOL


@pytest.mark.parametrize("name", MODELS)
def test_registry_figures_are_the_official_graphs_figures(reference_metrics, name) -> None:
    # the registry's reproduced metrics (4 decimals, shown in the cards and `falsr info`) are the
    # TensorFlow reference's, rounded: measured figures of this package are tied to the reference
    # above, not to numbers the package wrote itself
    for dataset, recorded in get_entry(name).reproduced_metrics.items():
        reference = reference_metrics[name][dataset]
        assert abs(recorded["psnr"] - reference["mean_psnr"]) <= 5e-5 + MEAN_PSNR_TOL
        assert abs(recorded["ssim"] - reference["mean_ssim"]) <= 5e-5 + SSIM_TOL


def test_eval_cli_json(store, official, reference_metrics) -> None:
    result = CliRunner().invoke(main, ["eval", "--model", "FALSR-C", "--data", str(official / "dataset" / "Set5"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # issue 13 added the precision, the backend and the bicubic baseline beside the model's figures
    assert set(report) == {"model", "dataset", "mean_psnr", "mean_ssim", "images", "precision", "backend", "bicubic"}
    assert (report["precision"], report["backend"], report["bicubic"]["model"]) == ("fp32", "torch", "bicubic")
    assert set(report["bicubic"]) == {"model", "dataset", "mean_psnr", "mean_ssim", "images"}
    assert report["model"] == "FALSR-C" and report["dataset"] == "Set5"
    reference = reference_metrics["FALSR-C"]["Set5"]
    assert abs(report["mean_psnr"] - reference["mean_psnr"]) <= MEAN_PSNR_TOL
    assert set(report["images"]) == set(reference["images"])
    assert set(next(iter(report["images"].values()))) == {"psnr", "ssim"}


def test_matlab_bicubic_reproduces_the_official_lr_images(official) -> None:
    # The benchmark HR images are crops of larger originals, so only the interior (3 px from
    # the border) can be compared; there it must be identical.
    for hr_path, lr_path in find_pairs(official / "dataset" / "Set5") + find_pairs(official / "dataset" / "Set14"):
        hr, lr = np.asarray(Image.open(hr_path)), np.asarray(Image.open(lr_path))
        ours = imresize(hr, 0.5)
        assert ours.shape == lr.shape
        assert np.array_equal(ours[3:-3, 3:-3], lr[3:-3, 3:-3]), hr_path.name


def test_hr_only_directory_makes_lr_images(store, official, tmp_path) -> None:
    for hr_path, _ in find_pairs(official / "dataset" / "Set5"):
        (tmp_path / hr_path.name.replace("_HR", "")).write_bytes(hr_path.read_bytes())
    model = load("FALSR-B")
    result = evaluate(lambda lr: upscale_array(model, lr), tmp_path, model="FALSR-B")
    assert len(result.images) == 5
    # LR borders differ from the official files, so the mean moves a little, not a lot.
    assert abs(result.mean_psnr - get_entry("FALSR-B").reproduced_metrics["Set5"]["psnr"]) < 0.1


def test_pairs_and_errors(tmp_path: Path) -> None:
    from falsr_zoo.errors import DatasetError

    with pytest.raises(DatasetError, match="no images"):
        find_pairs(tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        find_pairs(tmp_path / "nope")
