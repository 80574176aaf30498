"""The search loop: ask, store, evaluate, store, tell, store - and resume from whatever was stored.

The loop is the only place that touches the algorithm, the run store and the executor
together (pymoo's shape: the algorithm only asks and tells; :mod:`falsr_zoo.search.contracts`).
It is the same for every family: NSGA-II generations for FALSR, steady-state steps of a few
children each for RENAS (generation 0 being the initial population). One generation:

1. ``ask`` - the proposals and the algorithm's state after asking, in one transaction;
   candidates over the mult-adds bound are stored as ``untrained`` and never evaluated;
2. evaluate the pending candidates on the executor; each outcome is stored as it arrives (its
   own transaction), its weights file first when weights are kept. A child that inherits its
   parent's weights (RENAS) gets them in its task, read from the parent's weights file;
3. ``tell`` - every evaluation of the generation, in id order, then the algorithm's state after
   telling (controller included) and the generation's report (the algorithm's summary: FALSR's
   hypervolume and front, RENAS's population accuracy), in one transaction; then the weights
   files the algorithm no longer needs are removed (FALSR: all but the front's; RENAS: the dead
   individuals').

A genome the run store already holds is not trained again where the algorithm says an
evaluation depends on the genome alone (``reuses_results``, FALSR): the new candidate gets the
stored result (its ``worker`` says ``reused:<id>``), and a genome proposed twice in one
generation is trained once. The process that runs the loop holds the run's lock
(:class:`~falsr_zoo.search.store.RunLock`) from start to end; workers only return outcomes.

A run killed at any moment continues with :func:`resume_search`: the last stored state is
loaded; if it was an ask, the generation's unfinished candidates (``running`` ones re-queued)
are evaluated and the generation is told; finished evaluations are never recomputed. Because an
evaluation is a pure function of its task and a generation is told in id order, the resumed run
ends in the same store as an uninterrupted one (on the CPU; also with several workers). Weights
files follow the store: one written for an evaluation that was not yet recorded is rewritten,
identical, when it is recomputed, and files of dead individuals left by a crash between a tell
and the removal are removed after the next tell.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from falsr_zoo._files import atomic_write_bytes, output_error
from falsr_zoo.errors import ConfigError
from falsr_zoo.search.config import config_from_json
from falsr_zoo.search.contracts import EvalOutcome, EvalTask, Evaluation, SearchAlgorithm, SearchConfig, candidate_seed
from falsr_zoo.search.executors import Executor, create_executor
from falsr_zoo.search.store import STORE_FILE, Candidate, RunLock, RunStore

__all__ = ["SearchEvent", "load_run", "resume_search", "run_search", "weights_path"]

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
    """Where a candidate's weights are kept (FALSR: incomplete training; RENAS: its fine-tuned weights)."""
    return Path(run_dir) / "weights" / f"{candidate_id}.safetensors"


def _evaluation(candidate: Candidate) -> Evaluation:
    score = candidate.score if candidate.status == "done" else None
    return Evaluation(candidate.id, candidate.genome, score, candidate.mult_adds, candidate.params)


class _Loop:
    def __init__(self, run_dir: Path, store: RunStore, config: SearchConfig, executor: Executor,
                 progress: Callable[[SearchEvent], None] | None) -> None:
        self.run_dir, self.store, self.config, self.executor, self.progress = run_dir, store, config, executor, progress
        self.algorithm: SearchAlgorithm = config.algorithm()

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

    def _task(self, candidate: Candidate) -> EvalTask:
        seed = candidate_seed(self.config.seed, candidate.id)
        if not (candidate.parents and self.algorithm.inherits(candidate.operator)):
            return EvalTask(candidate.id, candidate.genome, seed, candidate.operator)
        parent = candidate.parents[0]
        path = weights_path(self.run_dir, parent)
        if not path.is_file():
            raise RuntimeError(f"candidate {candidate.id} inherits from {parent}, whose weights file {path} is missing")
        return EvalTask(candidate.id, candidate.genome, seed, candidate.operator,
                        self.store.candidate(parent).genome, path.read_bytes())

    def _reuse_finished(self, generation: int) -> list[int]:
        """Copy stored results to the generation's pending repeats of finished genomes; their ids."""
        if not self.algorithm.reuses_results:
            return []
        reused = []
        for candidate in self.store.candidates(generation, status="pending"):
            source = self.store.finished_like(candidate.genome)
            if source is not None and source.id != candidate.id:
                self.store.reuse(candidate.id, source.id)
                reused.append(candidate.id)
        return reused

    def _evaluate(self, generation: int) -> None:
        total = len(self.store.candidates(generation))
        done = [total - len(self.store.candidates(generation, status="pending"))]

        def announce(ids: list[int]) -> None:
            for candidate_id in ids:
                done[0] += 1
                source = self.store.candidate(candidate_id)
                self._emit(SearchEvent("evaluated", generation, self.config.generations, done[0], total,
                                       EvalOutcome(candidate_id, source.score, source.metrics, 0.0, source.worker or "",
                                                   error=source.error)))

        announce(self._reuse_finished(generation))
        pending = self.store.candidates(generation, status="pending")
        if self.algorithm.reuses_results:  # a genome proposed twice in this generation is trained once
            first: dict[str, Candidate] = {}
            pending = [first.setdefault(c.genome, c) for c in pending if c.genome not in first]
        if not pending:
            return
        tasks = [self._task(c) for c in pending]
        self.store.mark_running([c.id for c in pending], self.executor.name)

        def on_result(outcome: EvalOutcome) -> None:
            candidate = self.store.candidate(outcome.id)
            violation = self.algorithm.violation(Evaluation(outcome.id, candidate.genome, outcome.score,
                                                            candidate.mult_adds, candidate.params))
            if outcome.weights is not None and self.config.keep_weights != "none" and outcome.error is None:
                atomic_write_bytes(weights_path(self.run_dir, outcome.id), outcome.weights)
            self.store.finish(outcome.id, score=outcome.score, metrics=outcome.metrics, violation=violation,
                              seconds=outcome.seconds, worker=outcome.worker, error=outcome.error)
            done[0] += 1
            if outcome.error:
                logger.warning("candidate %d failed: %s", outcome.id, outcome.error.splitlines()[-1])
            self._emit(SearchEvent("evaluated", generation, self.config.generations, done[0], total, outcome))

        self.executor.run(tasks, on_result)
        announce(self._reuse_finished(generation))

    def _tell(self, generation: int) -> None:
        candidates = self.store.candidates(generation)
        unfinished = [c.id for c in candidates if c.status in ("pending", "running")]
        if unfinished:
            raise RuntimeError(f"generation {generation}: candidates {unfinished} were not evaluated")
        report = self.algorithm.tell([_evaluation(c) for c in candidates])
        everything = self.store.candidates()
        report.update(self.algorithm.summary(everything))
        report["evaluated"] = sum(1 for c in everything if c.evaluated or c.status == "failed")
        self.store.save_told(generation, self.algorithm.state_dict(), self.algorithm.controller_state(), report)
        keep = self.algorithm.weights_to_keep(everything)
        if keep is not None:
            for path in (self.run_dir / "weights").glob("*.safetensors"):
                if int(path.stem) not in keep:
                    path.unlink(missing_ok=True)
        self._emit(SearchEvent("generation", generation, self.config.generations, len(candidates), len(candidates),
                               report=report))


def _executor_for(run_dir: Path, config: SearchConfig, data: str, val: str, executor: str | Executor,
                  workers: int | None, address: str | None, threads: int | None) -> Executor:
    if not isinstance(executor, str):
        return executor  # an executor object (benchmarks, tests, custom schedulers)
    job = (config.to_json(), data, val, str(run_dir / "cache"), config.keep_weights != "none")
    return create_executor(executor, job, workers=workers, address=address, threads=threads)


def run_search(run_dir: str | Path, config: SearchConfig, *, data: str, val: str | None = None,
               executor: str | Executor = "local", workers: int | None = None, address: str | None = None,
               progress: Callable[[SearchEvent], None] | None = None, threads: int | None = None) -> RunStore:
    """Start a search in a new run directory and run it to its last generation.

    ``config`` is any family's search config (:mod:`falsr_zoo.search.config`); ``executor`` is
    ``"local"``, ``"ray"`` or an :class:`~falsr_zoo.search.executors.Executor` object;
    ``threads``: threads per local worker process (``workers > 0``).

    Raises:
        ConfigError: a run directory that already holds a run, or an impossible config.
        RunBusyError: another process is running this directory.
        DatasetError: unusable data (checked before anything is stored).
    """
    run_dir = Path(run_dir)
    config.check_data(data, val)  # fail before creating anything
    if (run_dir / STORE_FILE).exists():
        RunLock(run_dir).close()  # a live run is refused as busy, a finished or stopped one as existing
        raise ConfigError(f"{run_dir} already holds a search run; continue it with: falsr-search resume {run_dir}")
    created = not run_dir.exists()
    try:
        lock = RunLock(run_dir)
    except OSError as err:  # a run directory that cannot be written: nothing was created
        raise output_error(run_dir, err) from None
    try:
        store = RunStore.create(run_dir, config.to_json(), config.digest(),
                                {"data": str(Path(data).resolve()), "val": str(Path(val).resolve()) if val else ""})
        runner = _executor_for(run_dir, config, data, val or "", executor, workers, address, threads)
    except BaseException:
        lock.close()
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    try:
        _Loop(run_dir, store, config, runner, progress).run()
    finally:
        runner.close()
        lock.close()
    return store


def resume_search(run_dir: str | Path, *, executor: str | Executor = "local", workers: int | None = None,
                  address: str | None = None, progress: Callable[[SearchEvent], None] | None = None,
                  threads: int | None = None) -> RunStore:
    """Continue a search run from its store (see the module docstring).

    Raises:
        ConfigError: not a run directory, or a stored config that no longer matches its digest.
        RunBusyError: another process is running this directory.
    """
    run_dir = Path(run_dir)
    store, config = load_run(run_dir)
    if config.digest() != store.meta("config_digest"):
        raise ConfigError(f"{run_dir}: the stored config does not match its digest; it cannot be resumed safely")
    with RunLock(run_dir):
        runner = _executor_for(run_dir, config, store.meta("data"), store.meta("val"), executor, workers, address,
                               threads)
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
    return store, config_from_json(store.config())
