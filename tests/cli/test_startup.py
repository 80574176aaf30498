"""What a command can check without torch it checks before loading torch (issue 22): ``train
--list-keys``, ``info DIR``, ``list_models`` and the input, model-name, tile and output errors of
``upscale`` and the other commands answer in a fraction of a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path) -> tuple[int, bool, str]:
    """``falsr ARGV`` in a fresh interpreter: exit status, whether torch got imported, stdout + stderr."""
    code = ("import sys\nfrom falsr_zoo.cli import main\nstatus = 0\n"
            "try:\n    main(sys.argv[1:], prog_name='falsr')\nexcept SystemExit as done:\n    status = done.code or 0\n"
            "sys.stdout.flush()\nsys.stderr.write(f'\\nSTATUS {status} TORCH {\"torch\" in sys.modules}\\n')")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    last = done.stderr.strip().splitlines()[-1].split()
    assert last[0] == "STATUS", done.stderr
    return int(last[1]), last[3] == "True", done.stdout + done.stderr


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("startup")
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(folder / "lr.png")
    (folder / "file").write_text("a file where a folder is needed")
    (folder / "notes.png").write_text("not an image, whatever its name says")
    return folder


@pytest.mark.parametrize(("argv", "status", "expected"), [
    (["train", "--list-keys"], 0, "patch_size"),
    (["train", "RENASNet-CIFAR10", "--list-keys"], 0, "drop_path"),
    (["upscale", "missing.png"], 1, "Error: missing.png: no such file or folder"),
    (["upscale", "notes.png"], 1, "Error: notes.png: cannot read image (cannot identify image file 'notes.png')"),
    (["upscale", "lr.png", "-m", "FALSR-Z"], 2, "Error: unknown model 'FALSR-Z'; did you mean"),
    (["upscale", "lr.png", "-m", "RENASNet"], 2, "RENASNet is an image-classification model"),
    (["upscale", "lr.png", "-m", "./no-such-dir"], 3, "Error: model directory ./no-such-dir does not exist"),
    (["upscale", "lr.png", "--tile", "2"], 2, "--tile 2 is smaller than FALSR-B's 27-pixel tile overlap"),
    (["upscale", "lr.png", "--outscale", "nan"], 2, "'nan' is not a finite number"),
    (["upscale", "lr.png", "-o", "file/out.png"], 1, "cannot write file/out.png: file is a file, not a folder"),
    (["eval", "-m", "FALSR-Z", "--data", "."], 2, "Error: unknown model 'FALSR-Z'"),
    (["compare", "lr.png", "-m", "RENASNet"], 2, "RENASNet is an image-classification model"),
    (["export", "FALSR-C", "-o", "file/x.onnx"], 1, "Error: cannot write file/x.onnx: file is a file, not a folder"),
    (["train", "conv f16 k3 b1 noskip <- 0; out <- 0,1", "--data", ".", "--run-dir", "file/run"], 1,
     "Error: cannot write file/run: file is a file, not a folder"),
    (["info", "FALSR-A"], 0, "FALSR-A"),
])
def test_answers_come_before_torch(place: Path, argv: list[str], status: int, expected: str) -> None:
    code, loaded, output = _run(argv, place)
    assert (code, loaded) == (status, False), output
    assert expected in output


def test_info_takes_model_directories_without_torch(store: Path, tmp_path: Path) -> None:
    from falsr_zoo.api import load
    from falsr_zoo.zoo.registry import format_mult_adds, get_entry

    load("FALSR-C").save_pretrained(tmp_path / "mine")
    code, loaded, output = _run(["info", "mine"], tmp_path)
    entry = get_entry("FALSR-C")
    assert (code, loaded) == (0, False), output
    assert f"parameters  {entry.num_params:,}" in output
    assert f"mult-adds   {format_mult_adds(entry.mult_adds)} at 480x480" in output and entry.reference_size == (480, 480)
    assert "conv f16 k3 b1 isskip <- 1,6" in output and "(checked against config.json)" in output
    code, loaded, output = _run(["info", "mine", "--json", "--size", "240", "240"], tmp_path)
    info = json.loads(output[: output.rindex("}") + 1])
    assert (info["num_params"], info["mult_adds"], info["genome"]) == (entry.num_params, entry.mult_adds, entry.genome)
    assert info["costs_at_size"]["mult_adds"] * 4 == entry.mult_adds and info["task"] == entry.task
    (tmp_path / "mine" / "model.safetensors").write_bytes(b"not the weights")
    code, _, output = _run(["info", "mine"], tmp_path)
    assert code == 3 and "has sha256" in output  # the same checks as load()


def test_list_models_takes_patterns_without_torch() -> None:
    code = ("import sys\nfrom falsr_zoo import list_models\n"
            "print(list_models('FALSR*'), list_models('*-[ab]'), list_models('renas*', exclude_filters='*cifar*'), "
            "'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "['FALSR-A', 'FALSR-B', 'FALSR-C'] ['FALSR-A', 'FALSR-B'] ['RENASNet'] False", \
        done.stderr
