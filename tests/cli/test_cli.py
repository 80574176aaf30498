"""The ``falsr`` command line: outputs, JSON shapes, exit statuses, never overwriting inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_USAGE, EXIT_WEIGHTS
from falsr_zoo.zoo.registry import get_entry, list_entries


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_models_table_and_json() -> None:
    code, out, _ = run("models")
    assert code == 0
    for entry in list_entries():
        assert entry.name in out and f"{entry.num_params:,}" in out
    code, out, _ = run("models", "--json")
    listed = json.loads(out)
    assert [m["name"] for m in listed] == [e.name for e in list_entries()]
    assert listed[1]["weights"]["sha256"] == get_entry(listed[1]["name"]).weights.sha256


def test_info_with_size() -> None:
    code, out, _ = run("info", "falsr-a", "--size", "240", "240", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["name"] == "FALSR-A" and info["num_params"] == 1_021_401
    assert info["costs_at_size"]["mult_adds"] * 4 == info["mult_adds"]  # a quarter of the pixels
    code, out, _ = run("info", "FALSR-A")
    assert "235.00 G at 480x480" in out and "conv f64 k3 b4 isskip <- 0,2,5,6" in out


def test_unknown_model_is_a_usage_error() -> None:
    code, _, err = run("info", "FALSR-D")
    assert code == EXIT_USAGE
    assert err.strip().splitlines() == ["Error: unknown model 'FALSR-D'; did you mean FALSR-A, FALSR-B, FALSR-C?"]


def test_missing_weights_exit_status_and_fix(empty_home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    code, _, err = run("upscale", str(image), "--model", "FALSR-C")
    assert code == EXIT_WEIGHTS
    assert "falsr convert path/to/FALSR-C.pb" in err and len(err.strip().splitlines()) == 1


def test_convert_cli(official: Path, empty_home: Path) -> None:
    code, out, _ = run("convert", str(official))
    assert code == 0
    assert out.count("sha256") == 3
    assert sorted(p.name for p in (empty_home / "weights").iterdir()) == [
        "FALSR-A.safetensors", "FALSR-B.safetensors", "FALSR-C.safetensors"]
    code, _, err = run("convert", str(official), "-o", str(empty_home / "x.safetensors"))
    assert code == EXIT_USAGE and "-o takes exactly one .pb file" in err


def test_upscale_files(store: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)).save(a)
    Image.fromarray(rng.integers(0, 256, (10, 6, 3), dtype=np.uint8)).save(b)
    code, out, err = run("upscale", str(a), str(b), "--model", "FALSR-B")
    assert code == 0, err
    assert Image.open(tmp_path / "a_x2.png").size == (26, 18)
    assert Image.open(tmp_path / "b_x2.jpg").size == (12, 20)
    before = (tmp_path / "a_x2.png").read_bytes()
    code, _, err = run("upscale", str(a))
    assert code == EXIT_FAILURE and "exists" in err
    assert (tmp_path / "a_x2.png").read_bytes() == before
    code, _, err = run("upscale", str(a), "-o", str(a), "--overwrite")
    assert code == EXIT_FAILURE and "refusing to overwrite the input" in err
    assert Image.open(a).size == (13, 9)


def test_upscale_reports_bad_files_and_goes_on(store: Path, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.new("RGB", (5, 5), (10, 200, 30)).save(good)
    bad.write_bytes(b"not an image")
    out_dir = tmp_path / "out"
    code, _, err = run("upscale", str(bad), str(good), "-o", str(out_dir))
    assert code == EXIT_FAILURE
    assert "bad.png: cannot read image" in err and "1 upscaled, 1 failed (2 inputs)" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["good_x2.png"]


def test_bad_genome_through_the_api_is_a_value_error() -> None:
    from falsr_zoo import load

    with pytest.raises(ValueError, match="'k7' is not a valid kernel size"):
        load(genome="conv f16 k7 b1 noskip <- 0; out <- 0,1")


def test_cards_check(tmp_path: Path) -> None:
    code, _, err = run("cards", "--dir", str(tmp_path), "--check")
    assert code == 1 and "stale model cards" in err
    code, out, _ = run("cards", "--dir", str(tmp_path))
    assert code == 0 and len(out.splitlines()) == len(list_entries())
    assert run("cards", "--dir", str(tmp_path), "--check")[0] == 0


def test_committed_cards_are_up_to_date() -> None:
    from falsr_zoo.cards import stale_cards

    cards = Path(__file__).resolve().parents[2] / "model_cards"
    assert stale_cards(cards) == [], "run: falsr cards --dir model_cards"


RENAS_CELL = "{0, 1, sep3x3, identity}"


@pytest.mark.parametrize("command", ["export", "bench"])
def test_unknown_family_is_a_usage_error_not_a_traceback(command: str) -> None:
    extra = ["--size", "8", "8"] if command == "bench" else []
    result = CliRunner().invoke(main, [command, "--genome", "conv f16 k1 b1 noskip <- 0; out <- 0,1",
                                       "--family", "foo", *extra])
    assert result.exit_code == EXIT_USAGE and isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert errors == ["Error: Invalid value for '--family': 'foo' is not one of 'falsr', 'renas'."]
    assert "Traceback" not in result.output


def test_a_renas_genome_without_its_network_options_is_refused_in_one_line() -> None:
    code, out, err = run("export", "--genome", RENAS_CELL, "--family", "renas")
    assert code == EXIT_USAGE and out == ""
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert errors == ["Error: a renas genome needs its network options: --option layout=... --option num_cells=... "
                      "--option filters=..."]


@pytest.mark.parametrize(("options", "message"), [
    (["layout=cifar10", "num_cells=x", "filters=8"], "--option num_cells=x: expected an int"),
    (["layout=cifar10", "num_cells=1", "filters=8", "colour=red"], "--option colour: the renas family takes no such"),
    (["layout"], "--option 'layout': expected KEY=VALUE"),
])
def test_bad_network_options_are_usage_errors(options: list[str], message: str) -> None:
    args = [arg for option in options for arg in ("--option", option)]
    code, _, err = run("export", "--genome", RENAS_CELL, "--family", "renas", *args)
    assert code == EXIT_USAGE and message in err


def test_options_do_not_apply_to_a_zoo_name() -> None:
    code, _, err = run("export", "RENASNet", "--option", "filters=8")
    assert code == EXIT_USAGE and "--option applies to --genome" in err


def test_huggingface_hub_warnings_are_printed_once() -> None:
    code = (
        "import logging\n"
        "from falsr_zoo.cli import main\n"
        "main(['-v', 'models'], standalone_mode=False)\n"
        "import huggingface_hub\n"
        "logging.getLogger('huggingface_hub.file_download').warning('probe-warning')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.count("probe-warning") == 1


def _lr_file(official: Path, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A real LR crop (23x31) written as PNG."""
    path = tmp_path / "lr.png"
    pixels = np.asarray(Image.open(official / "dataset" / "Set5" / "img_002_SRF_2_LR.png").convert("RGB"))[:23, :31]
    Image.fromarray(pixels).save(path)
    return path, pixels


@pytest.mark.parametrize(("args", "options"), [
    (["--batch-size", "3", "--tile", "27"], {"batch_size": 3, "tile": 27}),  # FALSR-B's overlap: 2 tiles here
    (["--precision", "bf16"], {"precision": "bf16"}),
    (["--precision", "fp16"], {"precision": "fp16"}),
])
def test_upscale_options_reach_the_upscaler(store: Path, official: Path, tmp_path: Path, args: list[str],
                                            options: dict) -> None:
    from falsr_zoo.sr.upscale import Upscaler

    source, pixels = _lr_file(official, tmp_path)
    target = tmp_path / "out.png"
    code, _, err = run("upscale", str(source), "-o", str(target), *args)
    assert code == 0, err
    out = np.asarray(Image.open(target))
    assert np.array_equal(out, Upscaler("FALSR-B", **options).upscale(pixels))
    default = Upscaler("FALSR-B").upscale(pixels)
    diff = np.abs(out.astype(int) - default.astype(int))
    if "precision" in options:  # really computed in 16 bits: values move, none far (tests/sr: measured)
        assert (diff > 0).mean() > 0.01 and diff.max() <= 6
    else:  # batching changes float rounding only (README "Batches")
        assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3


def test_threads_option_sets_the_torch_thread_count(store: Path, official: Path, tmp_path: Path) -> None:
    import torch

    source, _ = _lr_file(official, tmp_path)
    before = torch.get_num_threads()
    try:
        code, _, err = run("upscale", str(source), "-o", str(tmp_path / "out.png"), "--threads", "1")
        assert code == 0, err
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    code, _, err = run("upscale", str(source), "--threads", "0")
    assert code == 2 and "--threads" in err


def test_exit_statuses_are_the_documented_numbers() -> None:
    # the README documents 0 / 1 / 2 / 3 and scripts depend on them: the numbers themselves
    from falsr_zoo.cli import exit_codes
    from falsr_zoo.cli.upscale_command import EXIT_INTERRUPTED

    assert (exit_codes.EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_WEIGHTS, EXIT_INTERRUPTED) == (0, 1, 2, 3, 130)
