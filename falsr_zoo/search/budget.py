"""What a search will cost, before it runs: evaluations, training steps, and a time estimate measured here.

Every family's estimator (the ``budget`` of its row in :mod:`falsr_zoo.search.table`) times a
few training steps and one validation pass of a representative network on this machine and
device, and returns one :class:`Budget`; the time scales by the run's training steps and
evaluations and by the workers. Candidates a family does not train (FALSR: over the mult-adds
bound) make the estimate an upper bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from falsr_zoo.search.table import get_search_family

__all__ = ["Budget", "estimate_budget"]


@dataclass(frozen=True)
class Budget:
    """A run's size and the measured estimate.

    Attributes:
        evaluations: Evaluations of the whole run.
        training_steps: Optimisation steps of all its trainings together.
        validation_images: Images of one validation pass.
        seconds_per_step: Measured time of one training step.
        seconds_per_validation: Measured time of one validation pass.
        workers: Evaluations running at once.
    """

    evaluations: int
    training_steps: int
    validation_images: int
    seconds_per_step: float
    seconds_per_validation: float
    workers: int

    @property
    def seconds_per_evaluation(self) -> float:
        return (self.training_steps * self.seconds_per_step / max(1, self.evaluations)) + self.seconds_per_validation

    @property
    def hours(self) -> float:
        return self.evaluations * self.seconds_per_evaluation / max(1, self.workers) / 3600

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "seconds_per_evaluation": self.seconds_per_evaluation, "estimated_hours": self.hours}

    def describe(self) -> str:
        """Two lines for people: the size, then the estimate and what it was measured on."""
        return (f"{self.evaluations:,} evaluations, {self.training_steps:,} training steps in all, "
                f"{self.validation_images} validation images per evaluation\n"
                f"about {self.seconds_per_evaluation:.1f} s per evaluation ({self.seconds_per_step * 1000:.1f} ms per "
                f"step, {self.seconds_per_validation:.2f} s per validation, measured here): "
                f"{self.hours:.1f} h with {self.workers} worker{'s' if self.workers != 1 else ''}")


def estimate_budget(config: Any, data: str, val: str | None, workers: int = 1) -> Budget:
    """The budget of a run of ``config`` on these folders, measured by its family's estimator."""
    return get_search_family(config.family).estimate_budget()(config, data, val, workers)
