"""The training engine: it learns, it resumes exactly after SIGKILL, it refuses what it cannot do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from falsr_zoo.errors import ConfigError, DatasetError
from falsr_zoo.train import make_config, resume, train
from falsr_zoo.train.checkpoints import read_checkpoint
from tests.train.conftest import TINY, TINY_CELL, class_folder

SMALL = ["patch_size=16", "batch_size=4", "log_every=5", "checkpoint_every=5"]


def _config(data: Path, *overrides: str, model: str = TINY, **values):
    return make_config("falsr", model, data=str(data), overrides=[*SMALL, *overrides], **values)


def test_a_tiny_genome_overfits_a_handful_of_patches(hr_folder: Path, tmp_path: Path) -> None:
    # 4 images, patches as large as the images' height and no augmentation: 4 fixed-size views
    config = _config(hr_folder, "patch_size=48", "augment=false", "lr=3e-3", "steps=150", "log_every=10",
                     cache_dir=str(tmp_path / "cache"))
    result = train(config, tmp_path / "run", write_model_dir=False)
    losses = [line["loss"] for line in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())]
    assert result.steps == 150 and len(losses) == 15
    assert losses[-1] < losses[0] / 4, losses


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.pt")["model"]


def test_resume_equals_an_uninterrupted_run(hr_folder: Path, tmp_path: Path) -> None:
    config = _config(hr_folder, "steps=20", cache_dir=str(tmp_path / "cache"))
    whole = train(config, tmp_path / "whole", write_model_dir=False)
    # the same run stopped after 10 steps (a run whose config says 10 steps cannot be resumed to 20,
    # so stop it from the progress callback, as SIGINT would)
    class Stop(Exception):
        pass

    def stop_at_10(progress) -> None:
        if progress.step == 10:
            raise Stop

    with pytest.raises(Stop):
        train(config, tmp_path / "part", progress=stop_at_10, write_model_dir=False)
    assert read_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == 10
    resumed = resume(tmp_path / "part", write_model_dir=False)
    assert resumed.steps == whole.steps == 20
    for name, tensor in _weights(tmp_path / "whole").items():
        assert torch.equal(tensor, _weights(tmp_path / "part")[name]), name


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "falsr_zoo", "train", *args, "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _losses(run: Path) -> list[tuple[int, float]]:
    lines = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    return [(line["step"], line["loss"]) for line in lines if "loss" in line]


def test_sigkill_then_resume_gives_the_same_weights_as_an_uninterrupted_run(hr_folder: Path, tmp_path: Path) -> None:
    args = [TINY, "--data", str(hr_folder), "--steps", "60", *[x for o in SMALL for x in ("--set", o)]]
    whole = _cli(*args, "--run-dir", str(tmp_path / "whole"))
    killed = _cli(*args, "--run-dir", str(tmp_path / "killed"))
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if checkpoint.is_file() and read_checkpoint(checkpoint)["step"] >= 15:
            break
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    stopped_at = read_checkpoint(checkpoint)["step"]
    assert 15 <= stopped_at < 60
    resumed = _cli("--resume", str(tmp_path / "killed"))
    for process in (whole, resumed):
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    assert "model directory:" in out
    a, b = load_file(tmp_path / "whole" / "model" / "model.safetensors"), \
        load_file(tmp_path / "killed" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "whole") == _losses(tmp_path / "killed")


def test_sigint_writes_a_checkpoint_and_exits_130(hr_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = _cli(TINY, "--data", str(hr_folder), "--steps", "100000", "--run-dir", str(run),
                   *[x for o in SMALL for x in ("--set", o)])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (run / "metrics.jsonl").is_file():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    step = read_checkpoint(run / "checkpoints" / "last.pt")["step"]
    assert f"interrupted: stopped after step {step}; resume with: falsr train --resume {run}" in err


def test_a_renas_cell_learns_a_small_classification_set(tmp_path: Path) -> None:
    data = class_folder(tmp_path / "train", classes=3, per_class=24, seed=0)
    val = class_folder(tmp_path / "val", classes=3, per_class=10, seed=1)
    config = make_config("renas", TINY_CELL, data=str(data), val=str(val),
                         options={"layout": "cifar10", "num_cells": 1, "filters": 8},
                         overrides=["epochs=12", "batch_size=12", "lr=0.05", "aux_weight=0.4", "drop_path=0.1",
                                    "cutout=8", "log_every=6"])
    result = train(config, None)
    assert result.metrics["top1"] > 100 / 3 + 30, result.history  # chance is 33 %
    assert result.model.aux_head is not None and not result.model.training


def test_run_directories_and_bad_inputs(hr_folder: Path, tmp_path: Path) -> None:
    config = _config(hr_folder, "steps=2", cache_dir=str(tmp_path / "cache"))
    train(config, tmp_path / "run", write_model_dir=False)
    with pytest.raises(ConfigError, match="already holds a training run; continue it with: falsr train --resume"):
        train(config, tmp_path / "run")
    with pytest.raises(ConfigError, match="is not a training run directory"):
        resume(tmp_path)
    with pytest.raises(ConfigError, match="only result-neutral settings may change"):
        resume(tmp_path / "run", overrides={"lr": 1.0})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        train(_config(tmp_path / "empty", "steps=1"), None)
    with pytest.raises(DatasetError, match="patch_size 96 is larger than"):
        train(_config(hr_folder, "steps=1", "patch_size=96", cache_dir=str(tmp_path / "cache")), None)
    with pytest.raises(ConfigError, match="a renas genome needs its network options: layout, num_cells, filters"):
        train(make_config("renas", TINY_CELL, data=str(class_folder(tmp_path / "c", per_class=2)), steps=1), None)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), "-m", "falsr_zoo", "train", *args, "-q"]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def test_two_processes_with_ddp_train_and_resume_like_one(hr_folder: Path, tmp_path: Path) -> None:
    """torchrun --nproc_per_node 2 (gloo on 127.0.0.1): each process takes half of every batch; the
    weights match a one-process run up to float summation order, and a run resumes under DDP."""
    options = [x for o in SMALL for x in ("--set", o)]
    single = train(_config(hr_folder, "steps=10", cache_dir=str(tmp_path / "cache")), tmp_path / "single",
                   write_model_dir=False)
    done = _torchrun(TINY, "--data", str(hr_folder), "--steps", "10", "--run-dir", str(tmp_path / "ddp"), *options)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained 10 steps") == 1  # rank 0 reports
    ddp = load_file(tmp_path / "ddp" / "model" / "model.safetensors")
    for name, tensor in single.model.state_dict().items():
        assert torch.allclose(ddp[name], tensor, atol=1e-5), name

    class Stop(Exception):
        pass

    def stop_at_5(progress) -> None:
        if progress.step == 5:
            raise Stop

    with pytest.raises(Stop):
        train(_config(hr_folder, "steps=10", cache_dir=str(tmp_path / "cache")), tmp_path / "part", progress=stop_at_5)
    resumed = _torchrun("--resume", str(tmp_path / "part"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = load_file(tmp_path / "part" / "model" / "model.safetensors")
    for name, tensor in single.model.state_dict().items():
        assert torch.allclose(final[name], tensor, atol=1e-5), name


def test_the_run_ends_in_a_model_directory_the_zoo_accepts(hr_folder: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from falsr_zoo import load
    from falsr_zoo.cli import main

    official = Path(__file__).resolve().parents[2].parent / "shared" / "falsr-official" / "dataset" / "Set5"
    val = official if official.is_dir() else hr_folder
    config = _config(hr_folder, "steps=4", val=str(val), cache_dir=str(tmp_path / "cache"))
    result = train(config, tmp_path / "run")
    model_dir = tmp_path / "run" / "model"
    assert result.model_dir == model_dir
    assert sorted(p.name for p in model_dir.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    recorded = json.loads((model_dir / "config.json").read_text())
    assert recorded["genome"] == str(result.model.genome) and recorded["family"] == "falsr"
    assert recorded["metrics"][val.name]["psnr"] == pytest.approx(result.metrics["psnr"])
    loaded = load(str(model_dir))
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    runner = CliRunner()
    evaluated = runner.invoke(main, ["eval", "--model", str(model_dir), "--data", str(val), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["mean_psnr"] == pytest.approx(result.metrics["psnr"], abs=1e-9)
    image = sorted(hr_folder.iterdir())[0]
    upscaled = runner.invoke(main, ["upscale", str(image), "--model", str(model_dir), "-o", str(tmp_path / "x2.png")])
    assert upscaled.exit_code == 0, upscaled.output
    assert (tmp_path / "x2.png").is_file()
