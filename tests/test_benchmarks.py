"""The search benchmark's scripts keep working: each runs on a tiny input (the data collection on a
two-job plan of four training steps, the surrogate and a short study on the committed table)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
GENOME = "conv f16 k3 b1 isskip <- 0; out <- 0,1"


def _run(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_data_collection_trains_resumes_and_summarises(official: Path, tmp_path: Path) -> None:
    plan, results = tmp_path / "plan.csv", tmp_path / "results.csv"
    with open(plan, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", "genome", "origin", "seed", "steps", "mult_adds", "params"])
        for seed in (0, 1):
            writer.writerow([f"j{seed}", GENOME, "initial", seed, 4, 1, 1])
    args = ["--plan", str(plan), "--results", str(results)]
    out = _run(str(BENCH / "falsr_data.py"), "collect", "--work", str(tmp_path / "work"), "--max-jobs", "1", *args)
    assert out.startswith("j0 initial seed 0 4 steps")
    _run(str(BENCH / "falsr_data.py"), "collect", "--work", str(tmp_path / "work"), *args)  # resumes: j1 only
    rows = list(csv.DictReader(open(results)))
    assert [(r["job"], r["steps"]) for r in rows] == [("j0", "4"), ("j1", "4")]
    assert all(5 < float(r["psnr"]) < 60 and r["cpu"] and float(r["seconds"]) > 0 for r in rows)  # finite, plausible
    assert rows[0]["psnr"] != rows[1]["psnr"]  # the seed changes the training
    out = _run(str(BENCH / "falsr_data.py"), "summary", *args)
    assert "plan 2 jobs; done 2" in out


def test_the_surrogate_and_a_short_study_run_on_the_committed_table(tmp_path: Path) -> None:
    out = _run(str(BENCH / "search_study.py"), "surrogate", "--folds", "3", "--steps", "300")
    assert "surrogate:  RMSE" in out and "seed-to-seed spread" in out
    study = tmp_path / "study.csv"
    small = ["--population", "8", "--generations", "2", "--out", str(study), "--steps", "300"]
    _run(str(BENCH / "search_study.py"), "run", "--seeds", "2", "--arms", "hybrid", "nsga2", "random", *small)
    rows = list(csv.DictReader(open(study)))
    assert len(rows) == 2 * 3 * 3 and {r["arm"] for r in rows} == {"hybrid", "nsga2", "random"}
    assert all(0 <= float(r["hv"]) <= 1 for r in rows)
    out = _run(str(BENCH / "search_study.py"), "report", *small)
    assert "hybrid vs nsga2" in out and "<- primary contrast" in out
    # the guard: seed 0's final fronts retrained for real (4 steps here), then their hypervolumes
    guard = tmp_path / "guard.csv"
    small = [arg if arg != "300" else "4" for arg in small]
    out = _run(str(BENCH / "search_study.py"), "guard", "--seeds", "1", "--guard", str(guard), "--work",
               str(tmp_path / "work"), *small)
    retrained = list(csv.DictReader(open(guard)))
    fronts = {r["arm"]: json.loads(r["front"]) for r in rows if r["seed"] == "0" and r["fraction"] == "1.0"}
    assert sorted((r["arm"], r["genome"]) for r in retrained) == sorted(
        (arm, point[3]) for arm, front in fronts.items() for point in front[:8])
    assert all(arm in out for arm in ("hybrid", "nsga2", "random")) and "real normalised HV" in out


@pytest.mark.parametrize("values, expected", [
    ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),  # Holm: 0.01 x 3, 0.03 x 2, 0.04 x 1, made monotone
    ([0.5], [0.5]),
])
def test_holm_and_a12(values, expected) -> None:
    sys.path.insert(0, str(BENCH))
    from search_study import a12, holm

    assert holm(values) == pytest.approx(expected)
    assert a12([3, 4, 5], [1, 2, 3]) == pytest.approx((3 * 3 - 1 + 0.5) / 9)
