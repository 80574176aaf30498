"""The RENAS search end to end: the smoke preset with real training and inheritance, the reports,
exports and retraining, exact resume after SIGKILL, bad configs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from falsr_zoo import load
from falsr_zoo.cli.exit_codes import EXIT_USAGE
from falsr_zoo.families.renas.plan import LAYOUTS
from falsr_zoo.families.table import get_family
from falsr_zoo.search.renas.config import load_search_data
from falsr_zoo.search.loop import load_run
from falsr_zoo.search.store import RunStore
from falsr_zoo.train.cls_images import ClassSampleDataset
from tests.search.conftest import done_count as _done
from tests.search.conftest import search as _search
from tests.search.conftest import spawn as _spawn

pytestmark = pytest.mark.usefixtures("one_thread")


def _top1(model: torch.nn.Module, dataset: ClassSampleDataset) -> float:
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    labels = torch.tensor([dataset[i][1] for i in range(len(dataset))])
    with torch.inference_mode():
        return 100.0 * float((model.eval()(x).argmax(1) == labels).float().mean())


def test_smoke_search_end_to_end_with_exports_and_retraining(renas_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out, err = _search("run", "--preset", "renas-smoke", "--data", str(renas_data), "--run-dir", str(run),
                             "--set", "children_per_step=2", "--set", "steps=3")
    assert code == 0, err
    assert "initial population: population" in err and "step 3/3: child" in err and "final population" in err
    store, config = load_run(run)
    candidates = store.candidates()
    assert len(candidates) == config.evaluations == 4 + 3 * 2 + 4
    assert all(c.status == "done" and c.score is not None for c in candidates)
    assert [c.operator for c in candidates] == ["init"] * 4 + ["controller"] * 6 + ["final"] * 4
    children = candidates[4:10]
    for child in children:  # the counts cover the child's network exactly
        net = get_family("renas").build(child.genome, **config.network_options(num_classes=3))
        total = sum(p.numel() for p in net.parameters())
        assert child.metrics["inherited_params"] + child.metrics["new_params"] == total
        assert child.metrics["inherited_params"] > 0  # the stem and the classifier at least
    code, out, _ = _search("status", str(run), "--json")
    status = json.loads(out)
    assert status["family"] == "renas" and status["complete"] and status["step"] == 3 and status["done"] == 14
    assert [h["step"] for h in status["history"]] == [0, 1, 2, 3]
    assert all(len(h["children"]) == 2 for h in status["history"][1:])
    living = {row["id"] for row in status["population"]}
    final = {c.id for c in candidates[10:]}
    assert len(living) == 4 and all(row["retrained_id"] in final for row in status["population"])
    scores = [row["top1"] for row in status["population"]]
    assert scores == sorted(scores, reverse=True)
    assert status["population_mean"] == pytest.approx(sum(scores) / 4)
    # the dead individuals' weights are removed, the living and the retrained ones kept
    assert {int(p.stem) for p in (run / "weights").iterdir()} == living | final
    best = status["best"]
    assert best["id"] in final and best["top1"] == max(c.score for c in candidates[10:])
    code, out, _ = _search("status", str(run))  # the tables a person reads
    assert code == 0 and "step 3/3" in out and best["genome"] in out
    code, out, _ = _search("front", str(run))
    assert code == 0 and all(row["genome"] in out for row in status["population"])
    code, out, _ = _search("front", str(run), "--json", "--plot", str(tmp_path / "fig4.png"))
    assert code == 0 and json.loads(out) == status["population"]
    assert (tmp_path / "fig4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # export: the best (retrained from scratch) and a living individual; load() builds them with the kept weights
    alive = status["population"][0]["id"]
    code, out, err = _search("export", str(run), "--pick", f"best,{alive}", "--out", str(tmp_path / "out"), "--json")
    assert code == 0, err
    assert json.loads(out) == [str(tmp_path / "out" / f"candidate-{i}") for i in (best["id"], alive)]
    data = load_search_data(config, str(renas_data), None)
    steps = LAYOUTS["cifar10"].preprocessing
    held = ClassSampleDataset(data.validation, steps.mean, steps.std, train=False)
    for candidate_id in (best["id"], alive):
        model = load(str(tmp_path / "out" / f"candidate-{candidate_id}"))
        assert str(model.genome) == store.candidate(candidate_id).genome and model.spec.num_cells == 1
        kept = load_file(run / "weights" / f"{candidate_id}.safetensors")
        assert all(torch.equal(kept[k], v) for k, v in model.state_dict().items())
        assert _top1(model, held) == pytest.approx(store.candidate(candidate_id).score)
    dead = next(c.id for c in candidates[:10] if c.id not in living)
    code, _, err = _search("export", str(run), "--pick", str(dead), "--out", str(tmp_path / "out"))
    assert code == EXIT_USAGE and "no longer in the population" in err
    # retrain the best cell with the RENAS full recipe, shortened: a zoo-ready model directory
    code, out, err = _search("retrain", str(run), "--pick", "best", "--data", str(renas_data), "--out",
                             str(tmp_path / "full"), "--network", "1,8", "--set", "epochs=1", "--set", "batch_size=8",
                             "--set", "val_split=8", "--json")
    assert code == 0, err
    [retrained] = json.loads(out)
    assert retrained["model_dir"] == str(tmp_path / "full" / f"candidate-{best['id']}" / "model")
    model = load(str(tmp_path / "full" / f"candidate-{best['id']}" / "model"))
    assert retrained["metrics"]["top1"] == pytest.approx(_top1(model, held))  # the same 8 held-out images
    assert str(model.genome) == best["genome"] and (model.spec.num_cells, model.spec.filters) == (1, 8)
    assert model.spec.layout == "cifar10" and not model.spec.append_input0


def _weights(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "weights").iterdir())}


def test_sigkill_mid_evolution_then_resume_equals_an_uninterrupted_run(renas_data: Path, tmp_path: Path) -> None:
    args = ["run", "--preset", "renas-smoke", "--data", str(renas_data), "--set", "steps=8"]
    # Two searches run side by side: with one OpenMP thread each they share CI's two cores; with
    # two threads each, OpenMP's spinning barriers over the search network's many small operators
    # made them some 30 times slower here.
    whole = _spawn(*args, "--run-dir", str(tmp_path / "whole"), threads=1)
    killed = _spawn(*args, "--run-dir", str(tmp_path / "killed"), threads=1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _done(tmp_path / "killed") < 8:  # in the middle of the evolution
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    store = RunStore.open(tmp_path / "killed")
    statuses = [c.status for c in store.candidates()]
    assert 8 <= statuses.count("done") < 16, statuses
    store.close()
    resumed = _spawn("resume", str(tmp_path / "killed"), threads=1)
    for process in (whole, resumed):
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, err
    a, b = RunStore.open(tmp_path / "whole").snapshot(), RunStore.open(tmp_path / "killed").snapshot()
    assert len(a["candidates"]) == 4 + 8 + 4 and a["candidates"] == b["candidates"]
    assert a["states"] == b["states"]  # population, tournaments' generator, controller (weights, Adam, baseline)
    assert _weights(tmp_path / "whole") == _weights(tmp_path / "killed")
    # independently of the search's code path: each kept weights file scores its stored top-1
    store, config = load_run(tmp_path / "killed")
    data = load_search_data(config, str(renas_data), None)
    steps = LAYOUTS["cifar10"].preprocessing
    held = ClassSampleDataset(data.validation, steps.mean, steps.std, train=False)
    for path in (tmp_path / "killed" / "weights").iterdir():
        candidate = store.candidate(int(path.stem))
        net = get_family("renas").build(candidate.genome, **config.network_options(num_classes=3))
        net.load_state_dict(load_file(path))
        assert _top1(net, held) == pytest.approx(candidate.score)


def test_bad_renas_configs(renas_data: Path, tmp_path: Path) -> None:
    base = ["run", "--data", str(renas_data), "--run-dir", str(tmp_path / "r")]
    for extra, message in (
        (["--preset", "renas-smoke", "--set", "colour=red"], "Error: unknown search keys: colour; known keys: family"),
        (["--preset", "renas-smoke", "--set", "train.lr=0.1"], "Error: train.lr is set by the search; use lr_new"),
        (["--preset", "renas-smoke", "--set", "sample_size=9"], "Error: sample_size must be in 2..population (4)"),
        (["--preset", "renas-smoke", "--set", "mutation=greedy"], "Error: mutation must be one of controller, random"),
        (["--preset", "renas-smoke", "--set", "mutation=random", "--set", "encoder=unidirectional"],
         "Error: encoder applies to mutation=controller"),
        (["--preset", "smoke", "--family", "renas"], "Error: --family renas does not match the falsr search of preset smoke"),
        (["--preset", "renas-smoke", "--set", "num_cells=0"], "Error: the search network: num_cells must be a positive"),
    ):
        code, _, err = _search(*base, *extra)
        assert code == EXIT_USAGE, err
        errors = [line for line in err.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and errors[0].startswith(message), err
    code, _, err = _search(*base, "--preset", "renas-smoke", "--set", "val_split=36")
    assert code == 1 and "cannot hold out 36 of 36 images" in err
    assert not (tmp_path / "r").exists()


def test_dry_run_of_the_paper_search(renas_data: Path, tmp_path: Path) -> None:
    args = ["run", "--family", "renas", "--data", str(renas_data), "--run-dir", str(tmp_path / "r"), "--dry-run",
            "--set", "val_split=6"]
    code, out, err = _search(*args)
    assert code == 0 and out.startswith("renas search") and "540 evaluations, 720 training steps" in out, err
    code, out, err = _search(*args, "--json")
    assert code == 0, err
    budget = json.loads(out)
    assert budget["evaluations"] == 20 + 500 + 20
    # 30 training images, batch 64: the engine counts ceil(epochs x 30 / 64) steps per training:
    # one for each of the 20 + 500 one-pass trainings, ceil(20 x 30 / 64) = 10 for each of the 20 final ones
    assert budget["training_steps"] == 20 + 500 + 20 * 10 and budget["validation_images"] == 6
    assert budget["seconds_per_step"] > 0 and budget["estimated_hours"] > 0
    assert not (tmp_path / "r").exists()
