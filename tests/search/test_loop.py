"""The generic search loop and run store: stored results reused for repeated genomes, failures
stored as failures, one process per run directory (a lock the kernel releases), and the FALSR
reports' crowding-distance pick on a hand-made front."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pytest

from falsr_zoo.errors import RunBusyError
from falsr_zoo.search.contracts import EvalOutcome, Evaluation, Proposal
from falsr_zoo.search.falsr.hybrid import front_of, objectives_of
from falsr_zoo.search.falsr.reports import crowding_pick
from falsr_zoo.search.loop import _Loop
from falsr_zoo.search.store import LOCK_FILE, Candidate, RunLock, RunStore


@dataclass
class ScriptedAlgorithm:
    """Proposes scripted genomes per generation and records what it is told."""

    script: list[list[str]]
    reuses_results: bool = True
    generation: int = 0
    told: list[list[tuple[str, float | None]]] = field(default_factory=list)

    def ask(self) -> list[Proposal]:
        return [Proposal(genome, "scripted") for genome in self.script[self.generation]]

    def tell(self, evaluations: Sequence[Evaluation]) -> dict[str, Any]:
        self.told.append([(e.genome, e.score) for e in evaluations])
        self.generation += 1
        return {}

    def costs(self, genome: str) -> tuple[int, int]:
        return len(genome), 1

    def trainable(self, genome: str) -> bool:
        return True

    def violation(self, evaluation: Evaluation) -> float:
        return 0.0

    def inherits(self, operator: str) -> bool:
        return False

    def summary(self, candidates: Sequence[Candidate]) -> dict[str, Any]:
        return {}

    def weights_to_keep(self, candidates: Sequence[Candidate]) -> set[int] | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"generation": self.generation}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generation = state["generation"]

    def controller_state(self) -> bytes | None:
        return None

    def load_controller_state(self, blob: bytes | None) -> None:
        pass


@dataclass
class ScriptedConfig:
    algorithm_object: ScriptedAlgorithm
    family: str = "scripted"
    seed: int = 0
    keep_weights: str = "none"

    @property
    def generations(self) -> int:
        return len(self.algorithm_object.script)

    def algorithm(self) -> ScriptedAlgorithm:
        return self.algorithm_object


class CountingExecutor:
    """Scores a genome by its length; genomes named ``fail*`` fail. Records every task it ran."""

    name = "counting"

    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(self, tasks, on_result) -> None:
        for task in tasks:
            self.ran.append(task.genome)
            if task.genome.startswith("fail"):
                on_result(EvalOutcome(task.id, None, None, 0.1, "test", error="RuntimeError: scripted failure"))
            else:
                on_result(EvalOutcome(task.id, float(len(task.genome)), {"score": float(len(task.genome))}, 0.1, "test"))


def _run(tmp_path: Path, script: list[list[str]], reuses: bool) -> tuple[RunStore, ScriptedAlgorithm, CountingExecutor]:
    algorithm = ScriptedAlgorithm(script, reuses_results=reuses)
    store = RunStore.create(tmp_path, {"family": "scripted"}, "digest", {})
    executor = CountingExecutor()
    _Loop(tmp_path, store, ScriptedConfig(algorithm), executor, None).run()
    return store, algorithm, executor


def test_a_genome_already_in_the_store_is_not_trained_again(tmp_path: Path) -> None:
    script = [["aa", "bbb", "aa", "fail"], ["bbb", "cccc", "fail", "cccc"]]
    store, algorithm, executor = _run(tmp_path, script, reuses=True)
    assert executor.ran == ["aa", "bbb", "fail", "cccc"]  # each genome once
    candidates = store.candidates()
    assert [c.status for c in candidates] == ["done", "done", "done", "failed", "done", "done", "failed", "done"]
    assert [c.reused_from for c in candidates] == [None, None, 1, None, 2, None, 4, 6]
    assert [c.score for c in candidates] == [2.0, 3.0, 2.0, None, 3.0, 4.0, None, 4.0]
    # the algorithm is told every candidate, the repeats with the stored result
    assert algorithm.told == [[("aa", 2.0), ("bbb", 3.0), ("aa", 2.0), ("fail", None)],
                              [("bbb", 3.0), ("cccc", 4.0), ("fail", None), ("cccc", 4.0)]]


def test_without_reuse_every_candidate_is_trained(tmp_path: Path) -> None:
    _, _, executor = _run(tmp_path, [["aa", "aa"], ["aa"]], reuses=False)
    assert executor.ran == ["aa", "aa", "aa"]


def test_a_failed_evaluation_is_stored_as_failed_and_told_as_untrained(tmp_path: Path) -> None:
    store, algorithm, _ = _run(tmp_path, [["fail", "ok"]], reuses=True)
    failed, ok = store.candidates()
    assert (failed.status, failed.score, failed.error) == ("failed", None, "RuntimeError: scripted failure")
    assert (ok.status, ok.score) == ("done", 2.0)
    assert algorithm.told == [[("fail", None), ("ok", 2.0)]]


def test_one_process_at_a_time_and_the_kernel_releases_a_killed_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(RunBusyError, match=f"being run by process {os.getpid()}"):
            RunLock(tmp_path)
    RunLock(tmp_path).close()  # released on close
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from falsr_zoo.search.store import RunLock
        lock = RunLock({str(tmp_path)!r})
        print("held", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError, match=f"process {holder.pid}"):
            RunLock(tmp_path)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 10
    while True:  # no stale lock after kill -9
        try:
            RunLock(tmp_path).close()
            break
        except RunBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _candidate(id: int, psnr: float, gmacs: float) -> Candidate:
    return Candidate(id, f"g{id}", 0, "init", (), int(gmacs * 1e9), 1000, "done", psnr, {"psnr": psnr}, 0.0)


def test_the_front_maximises_psnr_and_minimises_costs() -> None:
    candidates = [_candidate(1, 30.0, 10), _candidate(2, 32.0, 10), _candidate(3, 31.0, 5), _candidate(4, 29.0, 20)]
    assert objectives_of(32.0, 10**10, 10**6) == (-32.0, 10.0, 1.0) and objectives_of(None, 1, 1)[0] == math.inf
    assert [c.id for c in front_of(candidates)] == [3, 2]


def test_crowding_pick_takes_the_largest_distances_of_the_psnr_mult_adds_front() -> None:
    # a front of six points (PSNR up, G mult-adds down) and one dominated point (id 7)
    points = {1: (30.0, 1.0), 2: (31.0, 2.0), 3: (31.5, 5.0), 4: (33.0, 6.0), 5: (33.5, 9.0), 6: (34.0, 10.0),
              7: (30.5, 8.0)}
    candidates = [_candidate(i, psnr, g) for i, (psnr, g) in points.items()]
    # crowding by hand (spans: PSNR 4 dB, mult-adds 9 G): the ends are infinite;
    # 2: (31.5-30)/4 + (5-1)/9 = 0.819; 3: (33-31)/4 + (6-2)/9 = 0.944; 4: (33.5-31.5)/4 + (9-5)/9 = 0.944;
    # 5: (34-33)/4 + (10-6)/9 = 0.694. Ties go to the cheaper candidate.
    assert crowding_pick(candidates, 4) == [1, 6, 3, 4]
    assert crowding_pick(candidates, 6) == [1, 6, 3, 4, 2, 5]
    assert crowding_pick(candidates, 10) == [1, 6, 3, 4, 2, 5]  # the dominated point is never picked


def test_a_reused_result_appears_once_on_the_front() -> None:
    first = _candidate(1, 32.0, 10)
    repeat = Candidate(2, "g1", 1, "init", (), first.mult_adds, first.params, "done", 32.0, {"psnr": 32.0}, 0.0,
                       0.0, "reused:1")
    assert repeat.reused_from == 1
    assert [c.id for c in front_of([first, repeat])] == [1] and crowding_pick([first, repeat], 4) == [1]
