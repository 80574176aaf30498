"""Everyday use of ``falsr`` (issue 13): a light CLI, model names as choices and completions,
``upscale --ext/--suffix/--json`` and its tile progress, ``eval`` of any genome or directory with a
bicubic column, ``--save-images`` and ``--precision``, and ``falsr compare``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
SMALL_GENOME = "conv f16 k3 b1 noskip <- 0; out <- 0,1"  # cheap to run; untrained is fine where only shapes matter


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _torch_loaded(argv: list[str], env: dict[str, str] | None = None) -> tuple[bool, str]:
    """Run ``falsr ARGV`` in a fresh interpreter; whether torch got imported, and the output."""
    code = ("import sys\nfrom falsr_zoo.cli import main\n"
            "try:\n    main(sys.argv[1:], prog_name='falsr')\nexcept SystemExit:\n    pass\n"
            "sys.stdout.flush()\nprint('TORCH', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("TORCH"), done.stdout + done.stderr
    return lines[-1] == "TORCH True", "\n".join(lines[:-1])


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["models"], ["upscale", "--help"], ["eval", "--help"],
                                  ["compare", "--help"]])
def test_help_version_and_models_never_import_torch(argv: list[str]) -> None:
    loaded, out = _torch_loaded(argv)
    assert out and not loaded


def test_completion_offers_model_names_without_torch() -> None:
    env = {"_FALSR_COMPLETE": "bash_complete", "COMP_WORDS": "falsr upscale -m FALSR-", "COMP_CWORD": "3"}
    loaded, out = _torch_loaded([], env)
    assert not loaded
    assert {"FALSR-A", "FALSR-B", "FALSR-C"} <= {line.split(",")[-1] for line in out.splitlines()}
    env = {"_FALSR_COMPLETE": "bash_complete", "COMP_WORDS": "falsr up", "COMP_CWORD": "1"}
    loaded, out = _torch_loaded([], env)
    assert not loaded and out.splitlines() == ["plain,upscale"]


def test_help_lists_every_command_and_the_model_names() -> None:
    code, out, _ = run("--help")
    assert code == 0 and all(name in out for name in COMMANDS)
    code, out, _ = run("upscale", "--help")
    assert "FALSR-A, FALSR-B, FALSR-C" in out and "--ext" in out and "--suffix" in out and "--json" in out


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "falsr_zoo", "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0 and "upscale" in done.stdout and "Usage: falsr" in done.stdout


def test_completion_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "_FALSR_COMPLETE=bash_source" in readme and "_FALSR_COMPLETE=zsh_source" in readme


# ---------------------------------------------------------------------------------------------
# upscale


def _photo(path: Path, size: tuple[int, int] = (12, 10)) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_upscale_ext_suffix_and_json(store: Path, tmp_path: Path) -> None:
    _photo(tmp_path / "a.jpg")
    _photo(tmp_path / "b.png")
    (tmp_path / "c.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    code, stdout, _ = run("upscale", str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), str(tmp_path / "c.png"),
                          "-m", "FALSR-C", "-o", str(out), "--ext", "webp", "--suffix", "_big", "--json", "-q")
    assert code == 1  # c.png failed
    report = json.loads(stdout)
    status = {Path(f["source"]).name: f for f in report["files"]}
    assert status["a.jpg"]["status"] == "done" and status["a.jpg"]["target"] == str(out / "a_big.webp")
    assert status["b.png"]["status"] == "done" and status["b.png"]["upscale_s"] > 0
    assert status["c.png"]["status"] == "failed" and "cannot read image" in status["c.png"]["error"]
    assert (report["done"], report["skipped"], report["failed"]) == (2, 0, 1) and report["wall_s"] > 0
    assert Image.open(out / "a_big.webp").format == "WEBP" and Image.open(out / "b_big.webp").size == (24, 20)
    # skipped on a second run; --ext auto keeps each input's format; an empty suffix keeps the names
    code, stdout, _ = run("upscale", str(tmp_path / "a.jpg"), "-m", "FALSR-C", "-o", str(out), "--suffix", "_big",
                          "--ext", "webp", "--skip-existing", "--json")
    assert code == 0 and json.loads(stdout)["files"][0]["status"] == "skipped"
    code, _, _ = run("upscale", str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), "-m", "FALSR-C",
                     "-o", str(tmp_path / "same"), "--suffix", "")
    assert code == 0 and Image.open(tmp_path / "same" / "a.jpg").format == "JPEG"
    assert Image.open(tmp_path / "same" / "b.png").size == (24, 20)


def test_upscale_ext_and_output_file_must_agree(tmp_path: Path) -> None:
    image = _photo(tmp_path / "a.png")
    code, _, err = run("upscale", str(image), "-o", str(tmp_path / "x.png"), "--ext", "jpg")
    assert code == 2 and "disagree" in err


def test_a_single_image_shows_progress_over_its_tiles(store: Path, tmp_path: Path, monkeypatch) -> None:
    image = _photo(tmp_path / "big.png", (90, 70))
    calls: list[int] = []
    import click

    real = click.progressbar

    def spy(*args, **kwargs):
        bar = real(*args, **kwargs)
        calls.append(kwargs.get("length"))
        return bar

    monkeypatch.setattr(click, "progressbar", spy)
    code, _, err = run("upscale", str(image), "-m", "FALSR-C", "--tile", "16")
    assert code == 0
    assert calls and calls[0] > 1  # a bar over the tiles, not over one file
    assert "tiles" in err


def test_tile_progress_counts_every_tile(store: Path) -> None:
    from falsr_zoo.sr.upscale import Upscaler

    up = Upscaler("FALSR-C", tile=16)
    rgb = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ticks: list[int] = []
    up.upscale_pixels(rgb, 4.0, ticks.append)
    assert sum(ticks) == up.count_tiles(rgb.shape, 4.0) > 6


# ---------------------------------------------------------------------------------------------
# eval


def _tiny_set(directory: Path) -> Path:
    directory.mkdir()
    rng = np.random.default_rng(2)
    for name in ("one", "two"):
        hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        Image.fromarray(hr).save(directory / f"{name}_HR.png")
        Image.fromarray(hr).resize((10, 12), Image.BICUBIC).save(directory / f"{name}_LR.png")
    return directory


def test_eval_a_genome_with_weights_saves_images_and_has_a_bicubic_column(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from falsr_zoo.api import load

    net = load(genome=SMALL_GENOME)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    data = _tiny_set(tmp_path / "set")
    code, out, err = run("eval", "--genome", SMALL_GENOME, "--weights", str(weights), "--data", str(data),
                         "--save-images", str(tmp_path / "sr"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["bicubic"]["model"] == "bicubic" and set(result["bicubic"]["images"]) == set(result["images"])
    assert result["bicubic"]["mean_psnr"] != result["mean_psnr"]
    assert sorted(p.name for p in (tmp_path / "sr").iterdir()) == ["one_SR.png", "two_SR.png"]
    assert Image.open(tmp_path / "sr" / "one_SR.png").size == (20, 24)
    code, out, _ = run("eval", "--genome", SMALL_GENOME, "--weights", str(weights), "--data", str(data))
    assert code == 0 and "bicubic" in out
    assert torch is not None


def test_eval_a_model_directory_and_precision(store: Path, official: Path, tmp_path: Path) -> None:
    from falsr_zoo.api import load

    directory = tmp_path / "my-model"
    load("FALSR-C").save_pretrained(directory)
    data = tmp_path / "set"
    data.mkdir()
    for suffix in ("HR", "LR"):
        (data / f"img_002_SRF_2_{suffix}.png").write_bytes(
            (official / "dataset" / "Set5" / f"img_002_SRF_2_{suffix}.png").read_bytes())
    code, out, err = run("eval", "-m", str(directory), "--data", str(data), "--json")
    assert code == 0, err
    fp32 = json.loads(out)
    code, out, _ = run("eval", "-m", "FALSR-C", "--data", str(data), "--json")
    assert json.loads(out)["mean_psnr"] == pytest.approx(fp32["mean_psnr"], abs=1e-9)
    code, out, _ = run("eval", "-m", "FALSR-C", "--data", str(data), "--json", "--precision", "bf16")
    bf16 = json.loads(out)
    assert code == 0 and bf16["precision"] == "bf16"
    assert 0 < abs(fp32["mean_psnr"] - bf16["mean_psnr"]) < 0.3  # a loss, but a small one
    code, _, err = run("eval", "-m", "FALSR-C", "--genome", SMALL_GENOME, "--data", str(data))
    assert code == 2


# ---------------------------------------------------------------------------------------------
# compare


def test_compare_writes_one_picture(store: Path, tmp_path: Path) -> None:
    image = _photo(tmp_path / "lr.png", (30, 20))
    target = tmp_path / "cmp.png"
    code, out, err = run("compare", str(image), "-m", "FALSR-C", "-m", "FALSR-B", "-o", str(target))
    assert code == 0, err
    picture = Image.open(target)
    assert picture.format == "PNG" and picture.width >= 4 * 60  # LR | bicubic | two models
    assert picture.height > 40  # full panels over the crops
    code, _, err = run("compare", str(image), "-m", "FALSR-C", "-o", str(target))
    assert code != 0 and "exists" in err
    code, _, err = run("compare", str(image), "-m", "FALSR-C", "-o", str(tmp_path / "x.jpg"))
    assert code == 2


def test_comparison_picture_layout_and_crop() -> None:
    from falsr_zoo.errors import ImageError
    from falsr_zoo.sr.compare import Crop, comparison_picture, most_changed_crop

    lr = np.full((10, 12, 3), 100, np.uint8)
    sr = np.full((20, 24, 3), 100, np.uint8)
    sr[12:16, 4:8] = 255  # where the "model" departs from bicubic
    assert most_changed_crop(np.full_like(sr, 100), sr, 4) == Crop(4, 12, 4)
    picture = comparison_picture(lr, [("model", sr)], crop=Crop(4, 12, 4))
    assert picture.width == 3 * 24 + 2 * 4
    zoomed = np.asarray(picture)[-24:, 2 * (24 + 4):]
    assert (zoomed == 255).all()  # the crop of the model's panel, enlarged x6
    with pytest.raises(ImageError):
        comparison_picture(lr, [("model", sr)], crop=Crop(20, 0, 8))
    with pytest.raises(ImageError):
        comparison_picture(lr, [("model", sr[:10])])
