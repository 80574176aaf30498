"""Classification through the API: preprocessing from metadata, top-k classes, CLI coverage."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from falsr_zoo import classify_image, load
from falsr_zoo.classify import Prediction, preprocess, top_classes
from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_USAGE
from falsr_zoo.errors import ImageError
from falsr_zoo.families.renas.plan import CIFAR10_LABELS
from falsr_zoo.families.table import architecture
from falsr_zoo.zoo.registry import get_entry, list_entries

IMAGENET = get_entry("RENASNet").preprocessing


def test_imagenet_preprocessing_metadata() -> None:
    # the authors' eval.py: (pixel - (123.68, 116.78, 103.94)) * 0.017, 224 crop; resize 256
    assert IMAGENET["resize"] == 256 and IMAGENET["crop"] == 224
    for mean, pixel_mean in zip(IMAGENET["mean"], (123.68, 116.78, 103.94)):
        assert mean * 255 == pytest.approx(pixel_mean)
    assert all(std * 255 == pytest.approx(1 / 0.017) for std in IMAGENET["std"])


@pytest.mark.parametrize("entry", list_entries("renas"), ids=lambda e: e.name)
def test_entry_metadata_is_the_models(entry) -> None:
    model = load(entry.name, pretrained=False)
    assert dict(entry.preprocessing) == model.preprocessing
    assert entry.preprocessing["crop"] == entry.reference_size[0]


def test_preprocess_matches_the_authors_normalisation() -> None:
    image = Image.new("RGB", (300, 260), (200, 100, 50))
    x = preprocess(image, IMAGENET)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    expected = [(v - m) * 0.017 for v, m in zip((200, 100, 50), (123.68, 116.78, 103.94))]
    assert torch.allclose(x[0, :, 100, 100], torch.tensor(expected), atol=1e-5)


def test_resize_and_centre_crop_geometry() -> None:
    # a 512x256 image: the shorter side is already 256, so only the centre crop applies
    columns = np.tile(np.arange(512, dtype=np.int64) % 251, (256, 1)).astype(np.uint8)
    image = np.repeat(columns[..., None], 3, axis=2)
    x = preprocess(image, {**IMAGENET, "mean": (0, 0, 0), "std": (1 / 255,) * 3})
    left = round((512 - 224) / 2)
    assert torch.allclose(x[0, 0, 0], torch.from_numpy(columns[0, left : left + 224]).float(), atol=1e-4)
    # a 600x400 image: resized to 384x256 (shorter side 256), then cropped
    big = Image.new("RGB", (600, 400))
    assert preprocess(big, IMAGENET).shape == (1, 3, 224, 224)
    with pytest.raises(ImageError, match="smaller than the 224x224 centre crop"):
        preprocess(Image.new("RGB", (100, 300)), {**IMAGENET, "resize": None})


def test_top_classes() -> None:
    logits = torch.tensor([0.0, 3.0, 1.0, 2.0])
    top = top_classes(logits, ["a", "b", "c", "d"], k=3)
    assert [p.label for p in top] == ["b", "d", "c"] and [p.index for p in top] == [1, 3, 2]
    probabilities = torch.softmax(logits, 0)
    assert [p.probability for p in top] == pytest.approx(probabilities[[1, 3, 2]].tolist())
    assert len(top_classes(logits, k=10)) == 4 and top_classes(logits)[0].label == "class 1"
    with pytest.raises(ValueError, match="3 labels given for a classifier with 4 classes"):
        top_classes(logits, ["a", "b", "c"])


def test_classify_image_end_to_end() -> None:
    torch.manual_seed(0)
    model = load("RENASNet-CIFAR10", pretrained=False).train()
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    predictions = classify_image(model, image, top_k=3)
    assert model.training  # the caller's mode is restored
    assert len(predictions) == 3 and all(isinstance(p, Prediction) for p in predictions)
    assert all(p.label == CIFAR10_LABELS[p.index] for p in predictions)  # the layout's labels by default
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(preprocess(image, model.preprocessing))[0], 0)
    assert [p.probability for p in predictions] == pytest.approx(expected.topk(3).values.tolist(), abs=1e-6)
    grey = classify_image(model, np.zeros((32, 32), dtype=np.uint8), labels=[str(i) for i in range(10)], top_k=1)
    assert grey[0].label == str(grey[0].index)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_covers_both_families() -> None:
    code, out, _ = run("models")
    assert code == 0
    assert "RENASNet          image-classification    -      5,677,268  608.2 M @224x224   no" in out
    code, out, _ = run("info", "RENASNet")
    assert code == 0
    assert "608.2 M at 224x224" in out and "{2, 2, identity, sep3x3}" in out
    assert "options     layout=imagenet num_cells=4 filters=44" in out and "none reachable" in out
    code, out, _ = run("info", "RENASNet-CIFAR10", "--size", "64", "48", "--json")
    info = json.loads(out)
    spec = architecture(get_entry("RENASNet-CIFAR10"))
    assert info["costs_at_size"]["mult_adds"] == spec.macs(64, 48)
    assert info["options"]["append_input0"] is False and info["preprocessing"]["crop"] == 32
    assert info["weights"] is None


def test_cli_refuses_a_classifier_where_an_upscaler_is_needed(tmp_path) -> None:
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    code, _, err = run("upscale", str(image), "--model", "RENASNet")
    assert code == EXIT_USAGE and "RENASNet is an image-classification model" in err
    code, _, err = run("eval", "--model", "RENASNet-CIFAR10", "--data", str(tmp_path))
    assert code == EXIT_USAGE and "falsr eval needs a super-resolution model" in err

