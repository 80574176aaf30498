"""Threads: the default is the CPUs this process may use (affinity, cgroup quota, ``OMP_NUM_THREADS``),
and every command that computes takes ``--threads`` (issue 22)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main
from falsr_zoo.runtime import threads as runtime_threads
from falsr_zoo.runtime.threads import cgroup_cpu_limit, default_threads

TINY = "conv f16 k3 b1 noskip <- 0; out <- 0,1"


def _cgroup(tmp_path: Path, proc_lines: list[str], files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-cgroup"
    proc.write_text("\n".join(proc_lines) + "\n")
    return root, proc


@pytest.mark.parametrize(("proc_lines", "files", "limit"), [
    (["0::/"], {"cpu.max": "max 100000"}, None),                                      # v2, no quota
    (["0::/"], {"cpu.max": "150000 100000"}, 2),                                      # 1.5 CPUs: rounded up
    (["0::/app/job"], {"cpu.max": "max 100000", "app/cpu.max": "300000 100000",
                       "app/job/cpu.max": "max 100000"}, 3),                          # an ancestor's quota counts
    (["0::/app"], {"cpu.max": "800000 100000", "app/cpu.max": "200000 100000"}, 2),  # the smallest on the way
    (["4:cpu,cpuacct:/docker/x"], {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "50000",
                                    "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000"}, 1),  # v1
    (["1:cpu:/"], {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),  # v1 unlimited
    (["3:memory:/m", "0::/"], {"memory/m/cpu.max": "100000 100000"}, None),            # not a CPU hierarchy
    ([], {}, None),                                                                    # no cgroups at all
])
def test_cgroup_cpu_quota(tmp_path: Path, proc_lines: list[str], files: dict[str, str], limit: int | None) -> None:
    root, proc = _cgroup(tmp_path, proc_lines, files)
    assert cgroup_cpu_limit(root, proc) == limit


def test_default_threads_follow_the_process_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(runtime_threads, "cgroup_cpu_limit", lambda: None)
    assert runtime_threads.available_cpus() == 6 and default_threads() == 6
    assert default_threads(workers=4) == 1 and default_threads(workers=2) == 3 and default_threads(workers=64) == 1
    monkeypatch.setattr(runtime_threads, "cgroup_cpu_limit", lambda: 2)
    assert runtime_threads.available_cpus() == 2 and default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "5")  # the user's explicit choice wins
    assert default_threads() == 5 and default_threads(workers=4) == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert default_threads() == 2


def test_set_threads() -> None:
    import torch

    from falsr_zoo.runtime.threads import set_threads

    assert set_threads(1) == 1 and torch.get_num_threads() == 1
    assert set_threads() == default_threads() == torch.get_num_threads()
    with pytest.raises(ValueError, match="threads must be at least 1"):
        set_threads(0)


def _tiny_set(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name in ("one", "two"):
        hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        Image.fromarray(hr).save(folder / f"{name}_HR.png")
        Image.fromarray(hr).resize((10, 12), Image.BICUBIC).save(folder / f"{name}_LR.png")
    return folder


COMMANDS = {
    "eval": ["eval", "--genome", TINY, "--data", "{data}"],
    "bench": ["bench", "--genome", TINY, "--size", "6", "5", "--repeats", "1", "--warmup", "0"],
    "train": ["train", TINY, "--data", "{data}", "--run-dir", "{tmp}/run", "--steps", "1", "--set", "batch_size=2",
              "--set", "patch_size=16", "-q"],
    "export": ["export", "--genome", TINY, "-o", "{tmp}/tiny.onnx"],
    "upscale": ["upscale", "{image}", "-m", "{model}", "-o", "{tmp}/up.png", "-q"],
    "compare": ["compare", "{image}", "-m", "{model}", "-o", "{tmp}/cmp.png"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_computing_command_takes_threads_and_defaults_to_the_available_cpus(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from falsr_zoo.api import load

    data = _tiny_set(tmp_path / "set")
    image = tmp_path / "lr.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(image)
    load(genome=TINY).save_pretrained(tmp_path / "model")  # a model directory: no weights store needed
    from falsr_zoo.runtime.backends import TorchBackend

    seen: list[int] = []

    def spy(cls: type) -> None:  # the thread count while a network computes (modules; the fused CPU path)
        real = cls.__call__

        def call(self, *args, **kwargs):
            seen.append(torch.get_num_threads())
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", call)

    spy(torch.nn.Module)
    spy(TorchBackend)
    fill = {"data": data, "tmp": tmp_path, "image": image, "model": tmp_path / "model"}
    for threads, expected in ((["--threads", "1"], 1), ([], default_threads())):
        torch.set_num_threads(default_threads() + 1)  # neither value: the command must set it
        seen.clear()
        for leftover in ("run", "tiny.onnx", "up.png", "cmp.png"):
            target = tmp_path / leftover
            if target.is_dir():
                shutil.rmtree(target)
            target.unlink(missing_ok=True)
        args = [arg.format(**fill) for arg in COMMANDS[command]] + threads
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert seen and set(seen) == {expected}, (threads, seen)


def test_threads_must_be_positive() -> None:
    for command in (["eval", "--data", "."], ["bench", "--size", "4", "4"], ["train", TINY], ["compare", __file__],
                    ["export", "FALSR-C"], ["upscale", __file__]):
        result = CliRunner().invoke(main, [*command, "--threads", "0"])
        assert result.exit_code == 2 and "Invalid value for '--threads': 0 is not in the range x>=1" in result.output
