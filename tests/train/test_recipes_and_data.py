"""Training settings and data: validation of configs, the deterministic sample order, the readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from falsr_zoo.errors import ConfigError, DatasetError
from falsr_zoo.families.falsr.colour import luma_input
from falsr_zoo.sr.resize import imresize
from falsr_zoo.train import RECIPES, TrainConfig, make_config
from falsr_zoo.train.cls_images import ClassSampleDataset, load_class_images
from falsr_zoo.train.engine import lr_factor
from falsr_zoo.train.sr_patches import PatchDataset, SRImages, StepSampler, find_training_pairs
from tests.train.conftest import TINY, class_folder


def test_recipes_state_the_papers_values() -> None:
    incomplete = make_config("falsr", TINY, data="d")
    assert (incomplete.optimizer, incomplete.lr, incomplete.beta1, incomplete.beta2) == ("adam", 1e-4, 0.9, 0.999)
    assert (incomplete.schedule, incomplete.loss, incomplete.batch_size) == ("constant", "l1", 16)
    full = make_config("falsr", TINY, recipe="full", data="d")
    assert full.init_std == 0.02 and full.schedule == "cosine"
    renas = make_config("renas", "RENASNet-CIFAR10", recipe="full", data="d")
    assert (renas.optimizer, renas.momentum, renas.schedule, renas.aux_weight) == ("sgd", 0.9, "cosine", 0.4)
    assert renas.drop_path > 0 and renas.cutout > 0 and renas.weight_decay > 0
    assert set(RECIPES) == {"falsr", "renas"} and all(set(r) == {"incomplete", "full"} for r in RECIPES.values())


@pytest.mark.parametrize(("overrides", "message"), [
    (["colour=red"], "unknown training key 'colour'; known keys: "),
    (["cutout=16"], "cutout does not apply to the falsr family"),
    (["lr=fast"], "lr=fast: expected a number"),
    (["steps=2.5"], "steps=2.5: expected an integer"),
    (["augment=maybe"], "augment=maybe: expected true or false"),
    (["patch_size=63"], "patch_size must be even"),
    (["optimizer=rmsprop"], "optimizer must be adam or sgd"),
    (["lr"], "'lr': expected key=value"),
])
def test_bad_overrides_are_one_line_config_errors(overrides, message) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        make_config("falsr", TINY, data="d", overrides=overrides)
    assert "\n" not in str(caught.value)


def test_overrides_parse_and_steps_replace_epochs() -> None:
    config = make_config("renas", "RENASNet-CIFAR10", data="d", overrides=["steps=7", "grad_clip=none", "augment=off"])
    assert config.steps == 7 and config.epochs is None and config.grad_clip is None and config.augment is False
    with pytest.raises(ConfigError, match="unknown recipe 'long' for falsr; expected one of incomplete, full"):
        make_config("falsr", TINY, recipe="long", data="d")


def test_config_round_trip_and_digest() -> None:
    config = make_config("renas", "RENASNet-CIFAR10", data="d", options={"append_input0": True})
    assert TrainConfig.from_json(config.to_json()) == config
    assert make_config("renas", "RENASNet-CIFAR10", data="d", options={"append_input0": True},
                       overrides=["device=cpu", "log_every=3"]).digest() == config.digest()
    assert make_config("renas", "RENASNet-CIFAR10", data="d", overrides=["lr=0.1"]).digest() != config.digest()
    with pytest.raises(ConfigError, match="unknown training config keys: bogus"):
        TrainConfig.from_json({**config.to_json(), "bogus": 1})


def test_schedule() -> None:
    cosine = make_config("falsr", TINY, data="d", overrides=["schedule=cosine", "lr=1e-3", "lr_min=1e-5", "warmup_steps=10"])
    assert lr_factor(0, 110, cosine) == pytest.approx(0.1) and lr_factor(9, 110, cosine) == pytest.approx(1.0)
    assert lr_factor(10, 110, cosine) == pytest.approx(1.0) and lr_factor(60, 110, cosine) == pytest.approx(0.505)
    assert lr_factor(110, 110, cosine) == pytest.approx(0.01)
    assert lr_factor(57, 100, make_config("falsr", TINY, data="d")) == 1.0


def test_epochs_count_samples_per_pass() -> None:
    config = make_config("falsr", TINY, data="d", overrides=["epochs=3", "batch_size=4"])
    assert config.total_steps(10) == 8  # ceil(3 * 10 / 4)


def test_patches_are_a_pure_function_of_seed_and_index(hr_folder: Path, tmp_path: Path) -> None:
    images = SRImages.load(hr_folder, tmp_path / "cache")
    a, b = PatchDataset(images, 16, seed=5), PatchDataset(SRImages.load(hr_folder, tmp_path / "cache"), 16, seed=5)
    for g in (0, 3, 17, 1000):
        for x, y in zip(a[g], b[g]):
            assert torch.equal(x, y)
    assert not torch.equal(a[3][0], PatchDataset(images, 16, seed=6)[3][0])
    # one patch per image per epoch, in a permuted order
    assert sorted(a.image_of(g) for g in range(4)) == [0, 1, 2, 3] == sorted(a.image_of(g) for g in range(4, 8))
    lr, hr = a[11]
    assert lr.shape == (1, 8, 8) and hr.shape == (1, 16, 16) and lr.dtype == torch.float32


def test_patch_pairs_are_aligned_luma_of_the_lr_made_by_matlab_bicubic(hr_folder: Path, tmp_path: Path) -> None:
    images = SRImages.load(hr_folder, tmp_path / "cache")
    hr = np.asarray(Image.open(sorted(hr_folder.iterdir())[0]).convert("RGB"))
    assert np.array_equal(images.hr[0], hr) and np.array_equal(images.lr[0], imresize(hr, 0.5))
    dataset = PatchDataset(images, 48, seed=0, augment=False)  # 48 = the whole height: top is 0
    g = next(g for g in range(8) if dataset.image_of(g) == 0)
    lr_patch, hr_patch = dataset[g]
    left = next(x for x in range(0, 9) if np.allclose(lr_patch[0].numpy(), luma_input(images.lr[0][:, x:x + 24])))
    assert np.array_equal(hr_patch[0].numpy(), luma_input(images.hr[0][:, 2 * left:2 * left + 48]))


def test_augmentation_applies_the_same_symmetry_to_both(hr_folder: Path, tmp_path: Path) -> None:
    images = SRImages.load(hr_folder, tmp_path / "cache")
    dataset = PatchDataset(images, 16, seed=1)
    for g in range(40):
        lr, hr = dataset[g]
        # 2x2 box means of the HR luma follow the LR luma (same orientation), far better than any other
        pooled = torch.nn.functional.avg_pool2d(hr[None], 2)[0]
        error = (pooled - lr).abs().mean()
        others = [(pooled - torch.rot90(lr, k, (1, 2))).abs().mean() for k in (1, 2, 3)]
        assert error < min(others) or torch.allclose(lr, torch.rot90(lr, 1, (1, 2)))


def test_the_cache_is_reused_and_keyed_by_file(hr_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    SRImages.load(hr_folder, cache)
    files = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(files) == 8 and not [p for p in cache.iterdir() if p.name.endswith(".part")]
    SRImages.load(hr_folder, cache)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == files


def test_paired_folders_match_by_name(tmp_path: Path) -> None:
    (tmp_path / "HR").mkdir(), (tmp_path / "LR").mkdir()
    for name in ("0001", "0002"):
        Image.new("RGB", (8, 8)).save(tmp_path / "HR" / f"{name}.png")
        Image.new("RGB", (4, 4)).save(tmp_path / "LR" / f"{name}x2.png")
    pairs = find_training_pairs(tmp_path / "HR", tmp_path / "LR")
    assert [(h.name, l.name) for h, l in pairs] == [("0001.png", "0001x2.png"), ("0002.png", "0002x2.png")]
    Image.new("RGB", (8, 8)).save(tmp_path / "HR" / "0003.png")
    with pytest.raises(DatasetError, match="0003.png: no LR image with the same name"):
        find_training_pairs(tmp_path / "HR", tmp_path / "LR")


def test_a_patch_larger_than_an_image_is_refused(hr_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"patch_size 64 is larger than 0000.png \(64x48"):
        PatchDataset(SRImages.load(hr_folder, tmp_path / "cache"), 64, seed=0)


def test_step_sampler_slices_global_batches() -> None:
    assert list(StepSampler(2, 4, 4)) == [[8, 9, 10, 11], [12, 13, 14, 15]]
    assert list(StepSampler(2, 4, 4, rank=1, world=2)) == [[10, 11], [14, 15]]
    with pytest.raises(DatasetError, match="batch_size 5 does not split evenly over 2 processes"):
        StepSampler(0, 1, 5, world=2)


def _write_cifar(folder: Path, names: list[str], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records = rng.integers(0, 256, (len(names) * count, 3073), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, len(records))
    for index, name in enumerate(names):
        records[index * count:(index + 1) * count].tofile(folder / name)
    return records


def test_cifar_binary_batches(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-bin"
    records = _write_cifar(root, [f"data_batch_{i}.bin" for i in range(1, 6)], 4, seed=0)
    _write_cifar(root, ["test_batch.bin"], 3, seed=1)
    train = load_class_images(tmp_path, 32)  # the folder containing cifar-10-batches-bin works too
    assert len(train) == 20 and train.classes[0] == "airplane"
    assert np.array_equal(train.labels, records[:, 0])
    assert np.array_equal(train.images[2], records[2, 1:].reshape(3, 32, 32).transpose(1, 2, 0))
    assert len(load_class_images(root, 32, split="test")) == 3
    rest, held = train.split(5, seed=0)
    assert len(rest) == 15 and len(held) == 5
    assert sorted(map(bytes, np.concatenate([rest.images, held.images]))) == sorted(map(bytes, train.images))


def test_pickled_cifar_and_empty_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "data_batch_1").write_bytes(b"\x80\x04not unpickled")
    with pytest.raises(DatasetError, match="pickled python version, which falsr-zoo does not unpickle"):
        load_class_images(tmp_path / "py", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class folders"):
        load_class_images(tmp_path / "empty", 32)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "data_batch_1.bin").write_bytes(b"x" * 100)
    with pytest.raises(DatasetError, match="not a CIFAR-10 binary batch"):
        load_class_images(tmp_path / "bad", 32)


def test_class_folders_and_augmented_samples(tmp_path: Path) -> None:
    data = load_class_images(class_folder(tmp_path / "set", classes=3, per_class=4), 32)
    assert data.classes == ("class0", "class1", "class2") and data.images.shape == (12, 32, 32, 3)
    plain = ClassSampleDataset(data, (0.5,) * 3, (0.25,) * 3, train=False)
    x, label = plain[5]
    assert label == 1 and torch.allclose(x, (torch.from_numpy(data.images[5]).permute(2, 0, 1) / 255 - 0.5) / 0.25)
    augmented = ClassSampleDataset(data, (0.5,) * 3, (0.25,) * 3, seed=3, augment=True, cutout=8)
    assert all(torch.equal(augmented[g][0], augmented[g][0]) for g in range(20))
    assert sum(int((augmented[g][0] == 0).all(0).sum()) > 0 for g in range(20)) >= 15  # cutout squares
