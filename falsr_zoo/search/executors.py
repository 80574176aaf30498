"""Where evaluations run: in this process, in one worker process per GPU, or on a Ray cluster.

An executor takes a generation's evaluation tasks and calls ``on_result`` with each outcome as
it arrives (the search loop stores it at once, in its own transaction). Outcomes are pure
functions of their tasks (:mod:`falsr_zoo.search.worker`), so which worker ran a task, and in
which order they finished, does not change the run's result.

* ``local`` (default): on a machine with CUDA GPUs, one worker process per visible GPU (each
  sees only its GPU); without GPUs, evaluations run one after the other in this process, on
  the threads the caller set (``--threads``; by default the CPUs this process may use).
  ``workers = N`` asks for N worker processes, each on ``threads`` threads (by default the
  available CPUs shared among them). A worker process that dies is replaced and its task
  retried (``max_attempts``); a worker whose driver dies ends within a second (workers never
  write into the run: the driver, which holds the run's lock, stores what they return).
* ``ray``: each evaluation is a plain Ray task requesting one GPU where the cluster has GPUs
  (one CPU otherwise), retried by Ray on another worker when its worker dies
  (``max_retries``). ``address`` joins an existing cluster; otherwise a local Ray starts. The
  data folders must be readable at the same paths on every node. Ray is the ``ray`` extra.
  Ray tasks, too, only return outcomes to the driver; a task whose driver died returns to no
  one.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import threading
import time
from typing import Any, Callable, Protocol, Sequence

from falsr_zoo._optional import require
from falsr_zoo.errors import ConfigError
from falsr_zoo.search.contracts import EvalOutcome, EvalTask
from falsr_zoo.search.worker import evaluate_in_process

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "create_executor"]


class Executor(Protocol):
    """Runs tasks and reports each outcome as it arrives."""

    name: str

    def run(self, tasks: Sequence[EvalTask], on_result: Callable[[EvalOutcome], None]) -> None: ...

    def close(self) -> None: ...


def _visible_gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [d.strip() for d in visible.split(",") if d.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)  # the driver is gone: nobody will store what this worker computes


def _worker_init(gpu: str, threads: int) -> None:
    """Set up a worker process: its GPU, its threads, and a watchdog that ends it with its driver
    (a killed driver's pool would otherwise keep an idle orphan alive)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    from falsr_zoo.runtime.threads import set_threads

    set_threads(threads)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


class LocalExecutor:
    """This machine: one worker process per visible GPU, or this process on a CPU-only machine.

    Args:
        job: ``(config JSON, data, val, cache dir, keep weights)``, what every evaluation needs.
        workers: Override the number of worker processes (0: in this process).
        max_attempts: Tries per task when worker processes die.
        threads: Threads per worker process (``None``: the available CPUs shared among them).
    """

    name = "local"

    def __init__(self, job: tuple[Any, ...], workers: int | None = None, max_attempts: int = 3,
                 threads: int | None = None) -> None:
        from falsr_zoo.runtime.threads import default_threads

        self.job, self.max_attempts = job, max_attempts
        gpus = _visible_gpus()
        count = len(gpus) if workers is None else workers
        self.devices = (gpus or [""] * count)[:count] if count else []
        self.threads = threads or default_threads(max(1, len(self.devices)))
        self.pools: list[futures.ProcessPoolExecutor] = []

    def _pool(self, index: int) -> futures.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return futures.ProcessPoolExecutor(1, mp_context=context, initializer=_worker_init,
                                           initargs=(self.devices[index], self.threads))

    def run(self, tasks: Sequence[EvalTask], on_result: Callable[[EvalOutcome], None]) -> None:
        if not self.devices:
            for task in tasks:
                on_result(evaluate_in_process(*self.job, task))
            return
        if not self.pools:
            self.pools = [self._pool(i) for i in range(len(self.devices))]
        queue = list(tasks)
        attempts = {task.id: 0 for task in tasks}
        running: dict[futures.Future, tuple[int, EvalTask]] = {}

        def start(slot: int) -> None:
            task = queue.pop(0)
            attempts[task.id] += 1
            running[self.pools[slot].submit(evaluate_in_process, *self.job, task)] = (slot, task)

        for slot in range(min(len(self.pools), len(queue))):
            start(slot)
        while running:
            done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in done:
                slot, task = running.pop(future)
                try:
                    on_result(future.result())
                except futures.process.BrokenProcessPool:
                    self.pools[slot] = self._pool(slot)  # the worker died: a fresh one takes over
                    if attempts[task.id] >= self.max_attempts:
                        on_result(EvalOutcome(task.id, None, None, 0.0, f"local:{slot}",
                                              error=f"worker process died {attempts[task.id]} times"))
                    else:
                        queue.insert(0, task)
                if queue:
                    start(slot)

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown(wait=False, cancel_futures=True)
        self.pools = []


class RayExecutor:
    """Plain Ray tasks, one per evaluation.

    Args:
        job: As for :class:`LocalExecutor`.
        address: A running cluster's address (``ray://...`` or ``host:port``); ``None`` starts a
            local Ray.
        max_retries: Ray's retries of a task whose worker died.
        num_cpus: CPUs of a local Ray (default: all).
    """

    name = "ray"

    def __init__(self, job: tuple[Any, ...], address: str | None = None, max_retries: int = 3,
                 num_cpus: int | None = None) -> None:
        ray = require("ray", "ray", "the ray executor")
        self.ray, self.job = ray, job
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        options = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        self.remote = ray.remote(max_retries=max_retries, **options)(evaluate_in_process)
        self.job_ref = [ray.put(part) for part in job]

    def run(self, tasks: Sequence[EvalTask], on_result: Callable[[EvalOutcome], None]) -> None:
        pending = {self.remote.remote(*self.job_ref, task): task for task in tasks}
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    on_result(self.ray.get(ref))
                except self.ray.exceptions.RayError as err:  # retries exhausted
                    message = " ".join(str(err).split())[:500]
                    on_result(EvalOutcome(task.id, None, None, 0.0, "ray", error=f"ray task failed: {message}"))

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()


EXECUTORS = ("local", "ray")


def create_executor(name: str, job: tuple[Any, ...], *, workers: int | None = None, address: str | None = None,
                    num_cpus: int | None = None, threads: int | None = None) -> Executor:
    """The executor ``name`` for ``job``.

    Raises:
        ConfigError: an unknown executor, or ``--ray-address`` with the local one.
        MissingDependencyError: ``ray`` without the extra.
    """
    if name == "local":
        if address:
            raise ConfigError("--ray-address applies to --executor ray")
        return LocalExecutor(job, workers, threads=threads)
    if name == "ray":
        return RayExecutor(job, address, num_cpus=num_cpus or workers)
    raise ConfigError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
