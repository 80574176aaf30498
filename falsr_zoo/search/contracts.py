"""The contracts between the search loop, its algorithms, its configs and its evaluators (pymoo's ``core``).

The loop (:mod:`falsr_zoo.search.loop`) is the same for every family: it asks an algorithm
for :class:`Proposal` objects, stores them, turns them into :class:`EvalTask` objects for an
executor, stores each :class:`EvalOutcome`, and tells the algorithm the generation's
:class:`Evaluation` objects. What differs between the families (FALSR: NSGA-II with its hybrid
variation, :mod:`falsr_zoo.search.falsr`; RENAS: tournament evolution with a reinforced
mutation controller, :mod:`falsr_zoo.search.renas`) is behind :class:`SearchConfig`,
:class:`SearchAlgorithm` and the family's evaluator, found through the search-family table
(:mod:`falsr_zoo.search.table`). A steady-state algorithm is a loop whose generations hold one
proposal each (or a few, to keep parallel workers busy).

Every evaluation is a pure function of its task (the config, the data, the genome, the
candidate's seed and, where weights are inherited, the parent's weights), so a re-run after a
crash gives the same outcome, and which worker ran it does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from falsr_zoo.search.store import Candidate

__all__ = ["EvalOutcome", "EvalTask", "Evaluation", "Proposal", "SearchAlgorithm", "SearchConfig", "candidate_seed"]


@dataclass(frozen=True)
class Proposal:
    """A candidate to evaluate: its value, the operator that made it and its parents' ids."""

    x: Any
    operator: str
    parents: tuple[int, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """What the evaluator measured for one candidate.

    Attributes:
        id: The run store's candidate id.
        genome: The candidate's genome string.
        score: The family's headline metric, higher is better (FALSR: validation PSNR in dB,
            RENAS: validation top-1 in per cent), ``None`` when the candidate was not trained or
            its evaluation failed.
        mult_adds: Mult-adds of the candidate at the search's size.
        params: Parameters of the candidate.
    """

    id: int
    genome: str
    score: float | None
    mult_adds: int
    params: int


@dataclass(frozen=True)
class EvalTask:
    """One evaluation to run.

    Attributes:
        id: The candidate's id.
        genome: Its genome string.
        seed: Its training seed (:func:`candidate_seed`).
        operator: The operator that made it (a family's evaluator may train differently by kind,
            e.g. RENAS trains its initial population from scratch and fine-tunes children).
        parent_genome: The parent's genome, when the child inherits its parent's weights.
        parent_weights: The parent's weights (safetensors bytes), likewise.
    """

    id: int
    genome: str
    seed: int
    operator: str = ""
    parent_genome: str | None = None
    parent_weights: bytes | None = None


@dataclass(frozen=True)
class EvalOutcome:
    """What an evaluation produced (``error`` set when it failed).

    Attributes:
        id: The candidate's id.
        score: The headline metric (see :class:`Evaluation`), ``None`` on failure.
        metrics: Every metric the evaluation measured (``{"psnr": ..., "ssim": ...}``, ``{"top1": ...}``).
        seconds: Wall time of the evaluation.
        worker: Which process ran it (``host:pid``).
        weights: The trained weights (safetensors bytes) when the run keeps weights.
        error: The failure, one exception summary, when the evaluation failed.
    """

    id: int
    score: float | None
    metrics: Mapping[str, float] | None
    seconds: float
    worker: str
    weights: bytes | None = None
    error: str | None = None


def candidate_seed(search_seed: int, candidate_id: int) -> int:
    """The training seed of a candidate: a function of the run's seed and the candidate's id only."""
    return (search_seed * 1_000_003 + candidate_id * 7919) % (2**31 - 1)


class SearchAlgorithm(Protocol):
    """What the loop needs of an algorithm: ask/tell, costs and constraints, its state, and two
    reports on the run's candidates. Algorithms never touch the store or an executor.

    ``tell`` receives exactly the evaluations of the proposals ``ask`` returned, in the same
    order (the store numbers a generation's candidates in proposal order).

    ``reuses_results``: whether an evaluation depends on the genome alone (and the run), so
    that a genome the run store already holds is never trained again: its stored result is
    copied to the new candidate (FALSR). ``False`` where an evaluation depends on more (RENAS:
    the weights a child inherits, the population retrained from scratch at the end).
    """

    generation: int
    reuses_results: bool

    def ask(self) -> list[Proposal]:
        """The proposals of the current generation (the first population, then offspring)."""
        ...

    def tell(self, evaluations: Sequence[Evaluation]) -> dict[str, Any]:
        """The generation's evaluations, sorted by id; returns the algorithm's part of the report."""
        ...

    def costs(self, genome: str) -> tuple[int, int]:
        """``(mult-adds, parameters)`` of a genome, from the genome alone."""
        ...

    def trainable(self, genome: str) -> bool:
        """Whether a candidate is to be trained at all (within the mult-adds bound)."""
        ...

    def violation(self, evaluation: Evaluation) -> float:
        """Total constraint violation of an evaluation (0 = feasible)."""
        ...

    def inherits(self, operator: str) -> bool:
        """Whether candidates made by ``operator`` start from their first parent's weights."""
        ...

    def summary(self, candidates: Sequence[Candidate]) -> dict[str, Any]:
        """What the run's report adds after a tell (FALSR: hypervolume and front; RENAS: the
        population's accuracy), from every candidate of the run."""
        ...

    def weights_to_keep(self, candidates: Sequence[Candidate]) -> set[int] | None:
        """Ids whose weights files stay after a tell (the others are removed); ``None``: keep all."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def controller_state(self) -> bytes | None: ...

    def load_controller_state(self, blob: bytes | None) -> None: ...


class SearchConfig(Protocol):
    """What the loop and the reports need of a family's search config (a frozen dataclass)."""

    family: str
    seed: int

    @property
    def generations(self) -> int:
        """Generations of the loop (steps for a steady-state algorithm)."""
        ...

    @property
    def evaluations(self) -> int:
        """Evaluations of the whole run (an upper bound where some candidates are not trained)."""
        ...

    @property
    def keep_weights(self) -> str:
        """Which evaluations' weights files the run keeps (``none`` keeps none)."""
        ...

    def algorithm(self) -> SearchAlgorithm:
        """A fresh algorithm for this config."""
        ...

    def check_data(self, data: str, val: str | None) -> None:
        """Fail early on unusable data folders (``DatasetError`` / ``ConfigError``)."""
        ...

    def to_json(self) -> dict[str, Any]: ...

    def digest(self) -> str: ...
