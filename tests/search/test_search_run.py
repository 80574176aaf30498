"""falsr-search end to end: the smoke preset with real training, exports, exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from falsr_zoo import load
from falsr_zoo.cli import main as falsr
from falsr_zoo.cli.exit_codes import EXIT_USAGE
from falsr_zoo.search.search_loop import load_run
from falsr_zoo.search.store import RunStore
from tests.search.conftest import FAST
from tests.search.conftest import done_count as _done
from tests.search.conftest import search as _search
from tests.search.conftest import spawn as _spawn


def _sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def test_smoke_search_end_to_end_and_its_export(search_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    run = tmp_path / "run"
    code, out, err = _search("run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir),
                             "--run-dir", str(run), "-q", *_sets(*FAST))
    assert code == 0, err
    store, config = load_run(run)
    candidates = store.candidates()
    assert len(candidates) == config.population * config.generations == 8
    assert all(c.status == "done" and c.psnr is not None for c in candidates)
    assert {c.operator for c in candidates[:4]} == {"init"}
    assert all(c.generation == 1 and (c.parents or c.operator == "controller") for c in candidates[4:])
    code, out, _ = _search("status", str(run), "--json")
    status = json.loads(out)
    assert status["complete"] and status["done"] == 8 and status["hypervolume"] >= 0 and status["front"]
    code, out, _ = _search("front", str(run), "--json", "--plot", str(tmp_path / "front.png"))
    front = json.loads(out)
    assert code == 0 and (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(front[0]) >= {"id", "genome", "psnr", "mult_adds", "params"}
    assert front == sorted(front, key=lambda row: row["mult_adds"])
    # weights of the front are kept, the others pruned
    assert sorted(int(p.stem) for p in (run / "weights").iterdir()) == sorted(row["id"] for row in front)
    # export: one kept candidate and one whose weights were pruned (re-trained, same weights)
    pruned = next(c for c in candidates if c.id not in {row["id"] for row in front})
    code, out, err = _search("export", str(run), "--pick", f"{front[0]['id']},{pruned.id}", "--out", str(tmp_path / "out"))
    assert code == 0, err
    exported = load(str(tmp_path / "out" / f"candidate-{front[0]['id']}"))
    assert str(exported.genome) == front[0]["genome"]
    evaluated = CliRunner().invoke(falsr, ["eval", "--model", str(tmp_path / "out" / f"candidate-{pruned.id}"),
                                           "--data", str(val_dir), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["mean_psnr"] == pytest.approx(pruned.psnr, abs=1e-9)
    from safetensors.torch import load_file

    kept = load_file(run / "weights" / f"{front[0]['id']}.safetensors")
    assert all(torch.equal(kept[k], v) for k, v in exported.state_dict().items())


def test_sigkill_mid_generation_then_resume_equals_an_uninterrupted_run(search_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    args = ["run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir), *_sets(*FAST, "generations=3")]
    whole = _spawn(*args, "--run-dir", str(tmp_path / "whole"))
    killed = _spawn(*args, "--run-dir", str(tmp_path / "killed"))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _done(tmp_path / "killed") < 6:  # in the middle of generation 1
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    store = RunStore.open(tmp_path / "killed")
    statuses = [c.status for c in store.candidates()]
    assert 6 <= statuses.count("done") < 12 and "running" in statuses
    store.close()
    resumed = _spawn("resume", str(tmp_path / "killed"))
    for process in (whole, resumed):
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, err
    a, b = RunStore.open(tmp_path / "whole").snapshot(), RunStore.open(tmp_path / "killed").snapshot()
    assert len(a["candidates"]) == 12 and a["candidates"] == b["candidates"]
    assert a["states"] == b["states"]


def test_bad_configs_and_run_directories(search_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    base = ["run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir), "--run-dir", str(tmp_path / "r")]
    for extra, message in (
        (["--set", "colour=red"], "Error: unknown search keys: colour; known keys: "),
        (["--set", "max_mult_adds=1000"], "Error: max_mult_adds=1000 is below the cheapest genome of the space"),
        (["--set", "train.colour=red"], "Error: unknown training key 'colour'"),
        (["--set", "op_controller=0.9"], "Error: operator_probs must be non-negative and sum to 1"),
    ):
        code, _, err = _search(*base, *extra)
        assert code == EXIT_USAGE, err
        errors = [line for line in err.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and errors[0].startswith(message), err
    assert not (tmp_path / "r").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = _search("run", "--preset", "smoke", "--data", str(tmp_path / "empty"), "--val", str(val_dir),
                           "--run-dir", str(tmp_path / "r"))
    assert code == 1 and "no images" in err and not (tmp_path / "r").exists()
    code, _, err = _search("status", str(tmp_path / "empty"))
    assert code == EXIT_USAGE and "is not a search run directory" in err
    code, _, err = _search("run", "--data", str(train_dir), "--val", str(val_dir), "--run-dir", str(tmp_path / "r"))
    assert code == EXIT_USAGE and "give CONFIG.toml or --preset NAME" in err


def test_dry_run_prints_the_budget(search_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    code, out, err = _search("run", "--preset", "paper", "--data", str(train_dir), "--val", str(val_dir),
                             "--run-dir", str(tmp_path / "r"), "--dry-run", *_sets("train.batch_size=2",
                                                                                   "train.patch_size=16"))
    assert code == 0, err
    budget = json.loads(out)
    assert budget["evaluations"] == 64 * 156 and budget["steps_per_evaluation"] == 10_000
    assert budget["seconds_per_step"] > 0 and budget["estimated_hours"] > 0
    assert not (tmp_path / "r").exists()


def test_a_config_file(search_data, tmp_path: Path) -> None:
    from falsr_zoo.search.settings import load_config

    path = tmp_path / "search.toml"
    path.write_text('n_cells = 4\npopulation = 8\ngenerations = 2\nseed_genomes = ["conv f16 k1 b1 noskip <- 0; '
                    'conv f16 k1 b1 noskip <- 1; conv f16 k1 b1 noskip <- 2; conv f16 k1 b1 noskip <- 3; out <- 4"]\n'
                    '[train]\nsteps = 5\n')
    config = load_config(path, overrides=["population=6", "train.lr=1e-3"])
    assert (config.n_cells, config.population, config.train) == (4, 6, {"steps": 5, "lr": "1e-3"})
    assert config.train_config("d").lr == 1e-3 and config.evaluations == 12
