"""The search loop: ask, store, evaluate, store, tell, store - and resume from whatever was stored.

The loop is the only place that touches the algorithm, the run store and the executor
together (pymoo's shape: the algorithm only asks and tells). One generation:

1. ``ask`` - the proposals and the algorithm's state after asking, in one transaction;
   candidates over the mult-adds bound are stored as ``untrained`` and never evaluated;
2. evaluate the pending candidates on the executor; each outcome is stored as it arrives (its
   own transaction), with its weights file when weights are kept;
3. ``tell`` - every evaluation of the generation, in id order, then the algorithm's state after
   telling (controller included) and the generation's report (hypervolume, front size), in one
   transaction.

A run killed at any moment continues with :func:`resume_search`: the last stored state is
loaded; if it was an ask, the generation's unfinished candidates (``running`` ones re-queued)
are evaluated and the generation is told; finished evaluations are never recomputed. Because an
evaluation is a pure function of its task and a generation is told in id order, the resumed run
ends in the same store as an uninterrupted one (on the CPU; also with several workers).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo.errors import ConfigError
from falsr_zoo.search.evaluator import EvalOutcome, EvalTask, candidate_seed
from falsr_zoo.search.executors import Executor, create_executor
from falsr_zoo.search.hybrid import Evaluation, HybridSearch, objectives_of
from falsr_zoo.search.pareto import fronts, hypervolume
from falsr_zoo.search.settings import SearchConfig
from falsr_zoo.search.store import Candidate, RunStore

__all__ = ["SearchEvent", "front_of", "resume_search", "run_search", "weights_path"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchEvent:
    """What the progress callback receives: an evaluation finished, or a generation was told."""

    kind: str
    generation: int
    generations: int
    done: int
    total: int
    outcome: EvalOutcome | None = None
    report: dict | None = None


def weights_path(run_dir: Path, candidate_id: int) -> Path:
    """Where a candidate's incomplete-training weights are kept."""
    return Path(run_dir) / "weights" / f"{candidate_id}.safetensors"


def _evaluation(candidate: Candidate) -> Evaluation:
    psnr = candidate.psnr if candidate.status == "done" else None
    return Evaluation(candidate.id, candidate.genome, psnr, candidate.mult_adds, candidate.params)


def front_of(candidates: list[Candidate]) -> list[Candidate]:
    """The non-dominated feasible candidates (PSNR up, mult-adds and parameters down), by mult-adds."""
    feasible = [c for c in candidates if c.status == "done" and (c.violation or 0) <= 0]
    if not feasible:
        return []
    points = np.array([objectives_of(c.psnr, c.mult_adds, c.params) for c in feasible])
    rank = fronts(points)
    return sorted((c for c, r in zip(feasible, rank) if r == 0), key=lambda c: (c.mult_adds, c.id))


class _Loop:
    def __init__(self, run_dir: Path, store: RunStore, config: SearchConfig, executor: Executor,
                 progress: Callable[[SearchEvent], None] | None) -> None:
        self.run_dir, self.store, self.config, self.executor, self.progress = run_dir, store, config, executor, progress
        self.algorithm = HybridSearch(config.hybrid(), config.seed, config.seed_genomes)

    def _emit(self, event: SearchEvent) -> None:
        if self.progress is not None:
            self.progress(event)

    def restore(self) -> None:
        last = self.store.last_state()
        if last is not None:
            _, _, state, controller, _ = last
            self.algorithm.load_state_dict(state)
            self.algorithm.load_controller_state(controller)
        requeued = self.store.requeue_interrupted()
        if requeued:
            logger.info("re-queued %d evaluations a crash left running", requeued)

    def run(self) -> None:
        while True:
            last = self.store.last_state()
            if last is None or last[1] == "told":
                generation = self.algorithm.generation
                if generation >= self.config.generations:
                    return
                self._ask(generation)
            else:
                generation = last[0]
            self._evaluate(generation)
            self._tell(generation)

    def _ask(self, generation: int) -> None:
        rows = []
        for proposal in self.algorithm.ask():
            macs, params = self.algorithm.costs(proposal.x)
            status = "pending" if self.algorithm.trainable(proposal.x) else "untrained"
            rows.append((proposal.x, proposal.operator, proposal.parents, macs, params, status))
        ids = self.store.add_generation(generation, rows, self.algorithm.state_dict(),
                                        self.algorithm.controller_state())
        for candidate in self.store.candidates(generation, status="untrained"):
            self.store.set_violation(candidate.id, self.algorithm.violation(_evaluation(candidate)))
        logger.info("generation %d: %d candidates (%s)", generation, len(ids), ", ".join(map(str, ids)))

    def _evaluate(self, generation: int) -> None:
        pending = self.store.candidates(generation, status="pending")
        if not pending:
            return
        tasks = [EvalTask(c.id, c.genome, candidate_seed(self.config.seed, c.id)) for c in pending]
        total = len(self.store.candidates(generation))
        done = [total - len(pending)]
        self.store.mark_running([c.id for c in pending], self.executor.name)

        def on_result(outcome: EvalOutcome) -> None:
            candidate = self.store.candidate(outcome.id)
            violation = self.algorithm.violation(Evaluation(outcome.id, candidate.genome, outcome.psnr,
                                                            candidate.mult_adds, candidate.params))
            if outcome.weights is not None and self.config.keep_weights != "none" and outcome.error is None:
                atomic_write_bytes(weights_path(self.run_dir, outcome.id), outcome.weights)
            self.store.finish(outcome.id, psnr=outcome.psnr, ssim=outcome.ssim, violation=violation,
                              seconds=outcome.seconds, worker=outcome.worker, error=outcome.error)
            done[0] += 1
            if outcome.error:
                logger.warning("candidate %d failed: %s", outcome.id, outcome.error.splitlines()[-1])
            self._emit(SearchEvent("evaluated", generation, self.config.generations, done[0], total, outcome))

        self.executor.run(tasks, on_result)

    def _tell(self, generation: int) -> None:
        candidates = self.store.candidates(generation)
        unfinished = [c.id for c in candidates if c.status in ("pending", "running")]
        if unfinished:
            raise RuntimeError(f"generation {generation}: candidates {unfinished} were not evaluated")
        report = self.algorithm.tell([_evaluation(c) for c in candidates])
        everything = self.store.candidates()
        front = front_of(everything)
        points = [objectives_of(c.psnr, c.mult_adds, c.params) for c in front]
        report.update({
            "hypervolume": hypervolume(np.array(points), self.config.reference_point()) if points else 0.0,
            "front": [c.id for c in front],
            "evaluated": sum(1 for c in everything if c.evaluated or c.status == "failed"),
        })
        self.store.save_told(generation, self.algorithm.state_dict(), self.algorithm.controller_state(), report)
        if self.config.keep_weights == "front":
            keep = {c.id for c in front}
            for path in (self.run_dir / "weights").glob("*.safetensors"):
                if int(path.stem) not in keep:
                    path.unlink(missing_ok=True)
        self._emit(SearchEvent("generation", generation, self.config.generations, len(candidates), len(candidates),
                               report=report))


def _executor_for(run_dir: Path, config: SearchConfig, data: str, val: str, executor: str | Executor,
                  workers: int | None, address: str | None) -> Executor:
    if not isinstance(executor, str):
        return executor  # an executor object (benchmarks, tests, custom schedulers)
    job = (config.to_json(), data, val, str(run_dir / "cache"), config.keep_weights != "none")
    return create_executor(executor, job, workers=workers, address=address)


def run_search(run_dir: str | Path, config: SearchConfig, *, data: str, val: str, executor: str | Executor = "local",
               workers: int | None = None, address: str | None = None,
               progress: Callable[[SearchEvent], None] | None = None) -> RunStore:
    """Start a search in a new run directory and run it to its last generation.

    ``executor`` is ``"local"``, ``"ray"`` or an :class:`~falsr_zoo.search.executors.Executor` object.

    Raises:
        ConfigError: a run directory that already holds a run, or an impossible config.
        DatasetError: unusable data (checked before anything is stored).
    """
    from falsr_zoo.train.sr_patches import find_training_pairs
    from falsr_zoo.sr.evaluate import find_pairs

    run_dir = Path(run_dir)
    find_training_pairs(data), find_pairs(val)  # fail before creating anything
    created = not run_dir.exists()
    store = RunStore.create(run_dir, config.to_json(), config.digest(),
                            {"data": str(Path(data).resolve()), "val": str(Path(val).resolve())})
    try:
        runner = _executor_for(run_dir, config, data, val, executor, workers, address)
    except BaseException:
        store.close()
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    try:
        _Loop(run_dir, store, config, runner, progress).run()
    finally:
        runner.close()
    return store


def resume_search(run_dir: str | Path, *, executor: str | Executor = "local", workers: int | None = None,
                  address: str | None = None, progress: Callable[[SearchEvent], None] | None = None) -> RunStore:
    """Continue a search run from its store (see the module docstring).

    Raises:
        ConfigError: not a run directory, or a stored config that no longer matches its digest.
    """
    run_dir = Path(run_dir)
    store = RunStore.open(run_dir)
    config = SearchConfig(**store.config())
    if config.digest() != store.meta("config_digest"):
        raise ConfigError(f"{run_dir}: the stored config does not match its digest; it cannot be resumed safely")
    runner = _executor_for(run_dir, config, store.meta("data"), store.meta("val"), executor, workers, address)
    try:
        loop = _Loop(run_dir, store, config, runner, progress)
        loop.restore()
        loop.run()
    finally:
        runner.close()
    return store


def load_run(run_dir: str | Path) -> tuple[RunStore, SearchConfig]:
    """The store and config of a run directory (for reports and exports)."""
    store = RunStore.open(Path(run_dir))
    return store, SearchConfig(**store.config())


def dump_json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
