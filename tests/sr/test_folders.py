"""Folder runs: files, folders, globs, naming, resume, bad files, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from falsr_zoo.cli import main
from falsr_zoo.sr.runner import collect_inputs, plan_jobs


def _image(path: Path, size: tuple[int, int] = (9, 7), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["upscale", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def album(tmp_path: Path) -> Path:
    root = tmp_path / "album"
    _image(root / "a.png", seed=1)
    _image(root / "b.jpg", seed=2)
    _image(root / "trip" / "c.png", seed=3)
    _image(root / "trip" / "deep" / "d.webp", seed=4)
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_recursive_to_output_mirrors_tree(store, album: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = run(str(album), "-r", "-o", str(out), "-q")
    assert code == 0, err
    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == ["a_x2.png", "b_x2.jpg", "trip/c_x2.png", "trip/deep/d_x2.webp"]
    assert Image.open(out / "trip" / "c_x2.png").size == (18, 14)
    assert "4 upscaled" in err


def test_folder_without_recursion_and_beside_inputs(store, album: Path) -> None:
    code, _, err = run(str(album), "-q")
    assert code == 0, err
    assert sorted(p.name for p in album.iterdir() if p.is_file()) == ["a.png", "a_x2.png", "b.jpg", "b_x2.jpg", "notes.txt"]
    # a second scan does not take the outputs for inputs, and refuses to overwrite them
    code, _, err = run(str(album), "-q")
    assert code == 1 and err.count("exists; pass --overwrite or --skip-existing") == 2
    assert not (album / "a_x2_x2.png").exists()
    code, _, err = run(str(album), "--skip-existing", "-q")
    assert code == 0 and "0 upscaled, 2 skipped" in err


def test_globs_and_outscale(store, album: Path, tmp_path: Path) -> None:
    out = tmp_path / "x4"
    code, _, err = run(str(album / "**" / "*.png"), "-r", "--outscale", "4", "-o", str(out), "-q")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a_x4.png", "c_x4.png"]
    assert Image.open(out / "a_x4.png").size == (36, 28)
    code, _, err = run(str(album / "a.png"), "--outscale", "3", "-o", str(tmp_path / "a3.png"))
    assert code == 0 and Image.open(tmp_path / "a3.png").size == (27, 21)


def test_bad_files_are_reported_and_skipped(store, album: Path, tmp_path: Path) -> None:
    (album / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    code, _, err = run(str(album), str(tmp_path / "missing.png"), str(tmp_path / "none*.png"), "-o", str(out), "-q")
    assert code == 1
    assert "broken.png: cannot read image" in err
    assert "missing.png: no such file or folder" in err and "none*.png: no file matches" in err
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "b_x2.jpg"]
    assert "2 upscaled, 1 failed, 2 refused" in err


def test_inputs_are_never_overwritten(tmp_path: Path) -> None:
    a = _image(tmp_path / "a.png")
    clash = _image(tmp_path / "a_x2.png", seed=9)  # an input that is also a's default output
    jobs, refused = plan_jobs([(a, None), (clash, None)], None, "_x2")
    assert [j.source for j in jobs] == [clash]
    assert refused == [(a, f"refusing to overwrite the input {clash}")]
    found, _ = collect_inputs([str(tmp_path)], suffix="_x2")
    assert [f for f, _ in found] == [a]  # a_x2.png beside a.png is an earlier output


def test_single_file_output_and_usage_errors(store, tmp_path: Path) -> None:
    a = _image(tmp_path / "a.png")
    code, _, err = run(str(a), "-o", str(tmp_path / "big.jpg"), "--quality", "80")
    assert code == 0, err
    assert Image.open(tmp_path / "big.jpg").format == "JPEG"
    b = _image(tmp_path / "b.png")
    code, _, err = run(str(a), str(b), "-o", str(tmp_path / "one.png"))
    assert code == 2 and "looks like a file" in err
    code, _, err = run(str(a), "--skip-existing", "--overwrite")
    assert code == 2


def _start(args: list[str], home: Path) -> subprocess.Popen:
    env = {**os.environ, "FALSR_ZOO_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "falsr_zoo.cli", "upscale", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_leaves_only_complete_outputs(store, tmp_path: Path, sig: int) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for i in range(6):
        _image(src / f"p{i}.png", size=(160, 120), seed=i)
    args = [str(src), "-o", str(out), "--model", "FALSR-A", "-q"]
    proc = _start(args, store)
    deadline = time.monotonic() + 120
    while not (out.exists() and any(p.suffix == ".png" for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    if sig != signal.SIGKILL:  # SIGTERM and SIGINT (Ctrl-C) end the run cleanly, with status 130
        assert proc.returncode == 130, stderr
        assert "interrupted: outputs written so far are complete" in stderr
    visible = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert 1 <= len(visible) < 6
    for path in visible:
        with Image.open(path) as image:
            image.load()  # a complete, decodable image
            assert image.size == (320, 240)
    if sig != signal.SIGKILL:
        assert not [p for p in out.iterdir() if p.name.startswith(".")]  # temporary files cleaned up
    before = {p.name: p.stat().st_mtime_ns for p in visible}
    proc = _start([*args, "--skip-existing"], store)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"{6 - len(visible)} upscaled, {len(visible)} skipped" in stderr
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}_x2.png" for i in range(6)]  # no leftovers
    assert all(out.joinpath(name).stat().st_mtime_ns == mtime for name, mtime in before.items())


def test_a_failed_write_keeps_the_previous_output(store, tmp_path: Path) -> None:
    # the write fails half-way (file-size limit, as a full disk): the old output survives whole
    from tests.test_atomic_writes import OLD, file_size_limit

    source = _image(tmp_path / "a.png", size=(160, 120))  # its x2 PNG is far over the limit
    target = tmp_path / "a_x2.png"
    target.write_bytes(OLD)
    with file_size_limit():
        code, _, err = run(str(source), "--overwrite")
    assert code == 1 and f"cannot write {target}: file too large" in err and ".part" not in err, err
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_x2.png"]  # no temporary file left


def test_upscale_through_onnxruntime(store, tmp_path: Path) -> None:
    source = _image(tmp_path / "a.png", size=(23, 17), seed=5)
    code, _, err = run(str(source), "--backend", "onnxruntime", "-o", str(tmp_path / "ort.png"))
    assert code == 0, err
    code, _, err = run(str(source), "-o", str(tmp_path / "torch.png"))
    assert code == 0, err
    ort, torch_out = (np.asarray(Image.open(tmp_path / n)).astype(int) for n in ("ort.png", "torch.png"))
    diff = np.abs(ort - torch_out)
    assert ort.shape == (34, 46, 3) and diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_unknown_and_unavailable_backends_are_one_line_errors(store, tmp_path: Path) -> None:
    source = _image(tmp_path / "a.png")
    code, _, err = run(str(source), "--backend", "nope")
    assert code == 2 and "'nope' is not one of" in err
    try:
        import tensorrt  # noqa: F401
    except ImportError:  # the usual case without a GPU: the message, not a traceback
        code, _, err = run(str(source), "--backend", "tensorrt")
        assert code == 1 and err.strip().splitlines()[-1].startswith("Error: TensorRT is not installed")
