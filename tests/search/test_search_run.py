"""falsr-search end to end: the smoke preset with real training, exports, exact resume after SIGKILL,
one process per run, unwritable outputs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from falsr_zoo import load
from falsr_zoo.cli import main as falsr
from falsr_zoo.cli.exit_codes import EXIT_USAGE
from falsr_zoo.search.loop import load_run
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
    assert all(c.status == "done" and c.score is not None for c in candidates)
    assert {c.operator for c in candidates[:4]} == {"init"}
    assert all(c.generation == 1 and (c.parents or c.operator == "controller") for c in candidates[4:])
    code, out, _ = _search("status", str(run), "--json")
    status = json.loads(out)
    assert status["complete"] and status["done"] == 8 and status["front"]
    # the hypervolume of the stored front, recomputed by pymoo (the oracle) with the run's reference
    from pymoo.indicators.hv import HV

    points = np.array([(-row["psnr"], row["mult_adds"] / 1e9, row["params"] / 1e6) for row in status["front"]])
    assert status["hypervolume"] == pytest.approx(HV(ref_point=np.array(config.reference_point()))(points), rel=1e-9)
    assert status["hypervolume"] > 0
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
    assert json.loads(evaluated.stdout)["mean_psnr"] == pytest.approx(pruned.score, abs=1e-9)
    from safetensors.torch import load_file

    kept = load_file(run / "weights" / f"{front[0]['id']}.safetensors")
    assert all(torch.equal(kept[k], v) for k, v in exported.state_dict().items())
    # the paper's pick: the largest crowding distances of the PSNR / mult-adds front
    from falsr_zoo.search.falsr.reports import crowding_pick

    code, out, err = _search("export", str(run), "--pick", "crowding:2", "--out", str(tmp_path / "pick"), "--json")
    assert code == 0, err
    assert json.loads(out) == [str(tmp_path / "pick" / f"candidate-{i}") for i in crowding_pick(candidates, 2)]
    code, _, err = _search("export", str(run), "--pick", "crowding:x", "--out", str(tmp_path / "pick"))
    assert code == 2 and "a FALSR run takes candidate ids or crowding:K" in err


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
    # checks that do not compare the code with itself: the controller learned and its state was
    # stored; a stored PSNR is what the training engine gives that genome with its seed, directly
    from falsr_zoo.search.config import load_config
    from falsr_zoo.search.contracts import candidate_seed
    from falsr_zoo.search.falsr.controller import Controller
    from falsr_zoo.train import train

    controller = Controller(3, 192)
    controller.load_state_dict(b["states"][-1][3])
    assert controller.updates >= 1 and b["states"][-1][1] == "told"
    config = load_config(preset="smoke", overrides=[*FAST, "generations=3"])
    last = b["candidates"][-1]
    direct = train(config.train_config(str(train_dir), str(val_dir), last["genome"],
                                       seed=candidate_seed(config.seed, last["id"])), None, write_model_dir=False)
    assert json.loads(last["metrics"])["psnr"] == direct.metrics["psnr"] == last["score"]


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
    args = ["run", "--preset", "paper", "--data", str(train_dir), "--val", str(val_dir), "--run-dir",
            str(tmp_path / "r"), "--dry-run", *_sets("train.batch_size=2", "train.patch_size=16")]
    code, out, err = _search(*args)
    assert code == 0, err
    assert out.startswith("falsr search, config ") and "9,984 evaluations, 99,840,000 training steps" in out
    assert " h with 1 worker" in out
    code, out, err = _search(*args, "--json")
    budget = json.loads(out)
    assert budget["evaluations"] == 64 * 156 and budget["training_steps"] == 64 * 156 * 10_000
    assert budget["seconds_per_step"] > 0 and budget["estimated_hours"] > 0
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("family", ["falsr", "renas"])
def test_a_second_process_cannot_drive_a_live_run(family: str, search_data, renas_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    run = tmp_path / "run"
    if family == "falsr":
        args = ["run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir), "--run-dir", str(run),
                *_sets(*FAST, "generations=3")]
    else:
        args = ["run", "--preset", "renas-smoke", "--data", str(renas_data), "--run-dir", str(run), "--set", "steps=6"]
    first = _spawn(*args, threads=1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _done(run) < 1:
        time.sleep(0.05)
    for second in (["resume", str(run)], args):
        code, _, err = _search(*second)
        errors = [line for line in err.splitlines() if line.startswith("Error")]
        assert code == 1 and errors == [f"Error: {run} is being run by process {first.pid}; wait for it to end, or "
                                        f"stop it (kill {first.pid}) and resume"], err
    _, err = first.communicate(timeout=900)
    assert first.returncode == 0, err  # the first run finished unharmed
    store, config = load_run(run)
    candidates = store.candidates()
    assert len(candidates) == config.evaluations and all(c.status == "done" for c in candidates)
    assert [c.id for c in candidates] == list(range(1, len(candidates) + 1))


def test_outputs_that_cannot_be_written_fail_with_one_line(search_data, tmp_path: Path) -> None:
    train_dir, val_dir = search_data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = _search("run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir),
                           "--run-dir", str(blocker / "run"), *_sets(*FAST, "generations=1", "population=2"))
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert code == 1 and errors == [f"Error: cannot write {blocker / 'run'}: {blocker} is a file, not a folder"], err
    run = tmp_path / "run"
    code, _, err = _search("run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir),
                           "--run-dir", str(run), "-q", *_sets(*FAST, "generations=1", "population=2"))
    assert code == 0, err
    for command, target in ((["front", str(run), "--plot", str(blocker / "front.png")], blocker / "front.png"),
                            (["export", str(run), "--pick", "1", "--out", str(blocker / "out")], blocker / "out")):
        code, _, err = _search(*command)
        errors = [line for line in err.splitlines() if line.startswith("Error")]
        assert code == 1 and len(errors) == 1 and errors[0].startswith(f"Error: cannot write {target}"), err
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "run"]  # nothing left behind


def test_a_config_file(search_data, tmp_path: Path) -> None:
    from falsr_zoo.search.config import load_config

    path = tmp_path / "search.toml"
    path.write_text('n_cells = 4\npopulation = 8\ngenerations = 2\nseed_genomes = ["conv f16 k1 b1 noskip <- 0; '
                    'conv f16 k1 b1 noskip <- 1; conv f16 k1 b1 noskip <- 2; conv f16 k1 b1 noskip <- 3; out <- 4"]\n'
                    '[train]\nsteps = 5\n')
    config = load_config(path, overrides=["population=6", "train.lr=1e-3"])
    assert (config.n_cells, config.population, config.train) == (4, 6, {"steps": 5, "lr": "1e-3"})
    assert config.train_config("d").lr == 1e-3 and config.evaluations == 12


def test_a_killed_driver_leaves_no_worker_writing_into_the_run(search_data, tmp_path: Path) -> None:
    """Worker processes (``--workers 1``) only return outcomes to the driver, which holds the run's
    lock and alone writes the store: after the driver's kill -9 its worker ends and the store
    stays as the driver left it; a resume then finishes the run."""
    train_dir, val_dir = search_data
    run = tmp_path / "run"
    driver = _spawn("run", "--preset", "smoke", "--data", str(train_dir), "--val", str(val_dir), "--run-dir", str(run),
                    "--workers", "1", *_sets(*FAST, "generations=3"), threads=1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _done(run) < 2:
        time.sleep(0.05)
    children = [int(pid) for pid in Path(f"/proc/{driver.pid}/task/{driver.pid}/children").read_text().split()]
    assert children  # the worker process
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    before = RunStore.open(run).snapshot()
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
              for pid in children):
        assert time.monotonic() < deadline, "a worker outlived its driver by a minute"
        time.sleep(0.2)
    time.sleep(1.0)
    assert RunStore.open(run).snapshot() == before
    code, _, err = _search("resume", str(run), "-q")
    assert code == 0, err
    store, config = load_run(run)
    assert len(store.candidates()) == 12 and all(c.status == "done" for c in store.candidates())
