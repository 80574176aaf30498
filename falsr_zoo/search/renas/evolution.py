"""RENAS's evolution (Algorithm 1) as an ask/tell algorithm over the run store's steps.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Sections 3.2 and 5.1. Generations of the search loop are the algorithm's steps:

* **generation 0**: a population ``P`` of random cells (``#P = 20`` in the paper), each trained
  from scratch and evaluated (fitness: validation accuracy);
* **generations 1 .. steps**: each step samples ``S`` individuals of the population at random;
  the best becomes the parent and the worst of the sample is removed; the parent's mutated
  child (reinforced mutation, :mod:`falsr_zoo.search.renas.controller`, or random mutation for
  the plain-EA baseline) inherits the parent's weights, is fine-tuned and evaluated, and is
  pushed into the population. The controller is then updated with the child's reward
  ``tan(f * pi / 2)``, ``f`` the child's accuracy in [0, 1] (``reward = "accuracy"``, the
  paper's); ``reward = "improvement"`` (our option) rewards ``tan(f pi / 2) - tan(f_parent pi / 2)``,
  what the mutation added over the parent it was applied to;
* **generation steps + 1** (when ``final_retrain``): the final population's cells are trained
  again from scratch and evaluated; the best of them is the search's result.

Our choices where the paper is silent, documented here and in the README:

* the sample size ``S`` is 5 for ``#P = 20``: a quarter of the population, the proportion of
  regularized evolution's tournaments (Real et al. 2019), which RENAS's tournament follows;
* ties in a tournament go to the younger individual for the parent and to the older one for
  removal (a hint of regularized evolution's ageing);
* ``f`` is capped at 0.99 before the tangent (an accuracy of 100 % on a small validation set
  would give an infinite reward); ``tan(0.99 pi / 2)`` is 63.7;
* a child whose evaluation failed is not pushed, nothing is removed for it and the controller
  does not learn from it;
* the removal happens when the child is pushed (at the tell), which is Algorithm 1's order when
  one child is made per step. With ``children_per_step = K > 1`` (to keep K workers busy), each
  step runs K tournaments on the same population, the individuals already chosen for removal
  excluded from the later tournaments of the step.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.plan import RenasNetSpec
from falsr_zoo.search.contracts import Evaluation, Proposal
from falsr_zoo.search.renas.controller import MutationController, MutationControllerSettings
from falsr_zoo.search.renas.space import MUTATIONS, REWARDS, RenasSpace
from falsr_zoo.search.store import Candidate

__all__ = ["EvolutionSettings", "Member", "RenasEvolution", "reward"]

FITNESS_CAP = 0.99


def reward(top1: float) -> float:
    """The controller's reward for a child of validation top-1 ``top1`` per cent: ``tan(f pi / 2)``."""
    f = min(max(top1 / 100.0, 0.0), FITNESS_CAP)
    return math.tan(f * math.pi / 2)


@dataclass(frozen=True)
class EvolutionSettings:
    """The algorithm's settings (see :class:`~falsr_zoo.search.renas.config.RenasSearchConfig`).

    Attributes:
        population: ``#P``.
        sample_size: ``#S``, individuals per tournament.
        steps: Evolution steps after the initial population.
        children_per_step: Tournaments (and children) per step.
        num_blocks: ``#B``.
        mutation: ``controller`` or ``random``.
        controller: The controller's settings (``bidirectional=False``: "non-bi"; ``keep_current``:
            whether a mutator may keep the current value, for the random mutation too).
        reward: ``accuracy`` (the paper's ``tan(f pi / 2)``) or ``improvement`` over the parent.
        final_retrain: Retrain the final population from scratch after the last step.
        network: The search network's options (``layout``, ``num_cells``, ``filters``, ...), for costs.
        image_size: Input side the costs are counted at.
    """

    population: int = 20
    sample_size: int = 5
    steps: int = 500
    children_per_step: int = 1
    num_blocks: int = 5
    mutation: str = "controller"
    controller: MutationControllerSettings = field(default_factory=MutationControllerSettings)
    reward: str = "accuracy"
    final_retrain: bool = True
    network: Mapping[str, Any] = field(default_factory=lambda: {"layout": "cifar10", "num_cells": 2, "filters": 24})
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.mutation not in MUTATIONS:
            raise ConfigError(f"mutation must be one of {', '.join(MUTATIONS)}, not {self.mutation!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward must be one of {', '.join(REWARDS)}, not {self.reward!r}")
        if self.population < 2:
            raise ConfigError(f"population must be at least 2, got {self.population}")
        if not 2 <= self.sample_size <= self.population:
            raise ConfigError(f"sample_size must be in 2..population ({self.population}), got {self.sample_size}")
        if self.steps < 0:
            raise ConfigError(f"steps must be >= 0, got {self.steps}")
        if not 1 <= self.children_per_step <= self.population - self.sample_size + 1:
            raise ConfigError(f"children_per_step must be in 1..population - sample_size + 1 "
                              f"({self.population - self.sample_size + 1}), got {self.children_per_step}")

    @property
    def generations(self) -> int:
        """Generations of the loop: the initial population, the steps, and the final retraining."""
        return 1 + self.steps + int(self.final_retrain)


@dataclass(frozen=True)
class Member:
    """A living individual: its candidate id, cell and fitness (validation top-1, per cent)."""

    id: int
    genome: str
    top1: float


class RenasEvolution:
    """Algorithm 1 with reinforced (or random) mutation, as ask/tell.

    Args:
        settings: The algorithm's settings.
        seed: Seed of the tournament generator and of the controller (weights and sampling).
    """

    def __init__(self, settings: EvolutionSettings, seed: int = 0) -> None:
        self.settings = settings
        self.space = RenasSpace(settings.num_blocks)
        self.rng = np.random.default_rng([seed, 0x2E7A5])
        self.controller = (MutationController(self.space, seed, settings.controller)
                           if settings.mutation == "controller" else None)
        self.generation = 0
        self.population: list[Member] = []
        self.pending: list[dict[str, Any]] = []
        self.final: dict[int, float] = {}

    reuses_results = False
    """A child's fitness depends on the weights it inherits, and the final population repeats
    living genomes on purpose: every candidate is trained."""

    # -- costs and constraints ------------------------------------------------------------------

    def costs(self, genome: str) -> tuple[int, int]:
        """``(mult-adds, parameters)`` of the search network with this cell (auxiliary head excluded)."""
        spec = RenasNetSpec.from_options(self.space.parse(genome), self.settings.network)
        return spec.macs(self.settings.image_size, self.settings.image_size), spec.num_params()

    def trainable(self, genome: str) -> bool:
        """Every cell is trained (the RENAS search has no cost bound)."""
        return True

    def violation(self, evaluation: Evaluation) -> float:
        """No constraints: always 0."""
        return 0.0

    def inherits(self, operator: str) -> bool:
        """Children (``controller`` / ``random``) inherit; the initial and final populations do not."""
        return operator in MUTATIONS

    # -- ask ----------------------------------------------------------------------------------

    @property
    def _final_generation(self) -> int:
        return self.settings.steps + 1

    def ask(self) -> list[Proposal]:
        """The initial population, a step's children, or the final population to retrain.

        Raises:
            ConfigError: when no individual of the initial population could be evaluated.
            RuntimeError: asked after the last generation.
        """
        if self.generation == 0:
            return [Proposal(str(self.space.random_cell(self.rng)), "init") for _ in range(self.settings.population)]
        if not self.population:
            raise ConfigError("no individual of the initial population could be evaluated; see the failed "
                              "candidates' errors (falsr-search status --json)")
        if self.generation <= self.settings.steps:
            return self._children()
        if self.settings.final_retrain and self.generation == self._final_generation:
            return [Proposal(m.genome, "final", (m.id,)) for m in sorted(self.population, key=lambda m: m.id)]
        raise RuntimeError(f"the search ended after generation {self.generation - 1}")

    def _tournament(self, excluded: set[int]) -> tuple[Member, Member | None, list[int]]:
        pool = [m for m in self.population if m.id not in excluded]
        size = min(self.settings.sample_size, len(pool))
        sample = [pool[int(i)] for i in np.sort(self.rng.choice(len(pool), size=size, replace=False))]
        parent = max(sample, key=lambda m: (m.top1, m.id))
        victim = min(sample, key=lambda m: (m.top1, m.id))
        return parent, (victim if victim.id != parent.id else None), [m.id for m in sample]

    def _children(self) -> list[Proposal]:
        excluded: set[int] = set()
        tournaments = []
        for _ in range(self.settings.children_per_step):
            parent, victim, sample = self._tournament(excluded)
            if victim is not None:
                excluded.add(victim.id)
            tournaments.append((parent, victim, sample))
        cells = [self.space.parse(parent.genome) for parent, _, _ in tournaments]
        if self.controller is not None:
            actions = self.controller.sample(cells)
        else:
            keep = self.settings.controller.keep_current
            actions = [self.space.random_action(self.rng, cell, keep) for cell in cells]
        proposals, self.pending = [], []
        for (parent, victim, sample), cell, action in zip(tournaments, cells, actions):
            child = self.space.apply(cell, action)
            proposals.append(Proposal(str(child), self.settings.mutation, (parent.id,)))
            self.pending.append({"parent": parent.id, "parent_genome": parent.genome, "parent_top1": parent.top1,
                                 "victim": victim.id if victim is not None else None, "sample": sample,
                                 "action": [list(pair) for pair in action]})
        return proposals

    # -- tell ---------------------------------------------------------------------------------

    def tell(self, evaluations: Sequence[Evaluation]) -> dict[str, Any]:
        """The generation's evaluations, sorted by id (as many as were asked, in the same order).

        Returns:
            The step's part of the report: ``step``, the children (id, parent, top-1) and, when
            the controller learned, its mean reward and loss.
        """
        evaluations = sorted(evaluations, key=lambda e: e.id)
        generation = self.generation
        report: dict[str, Any] = {"step": generation}
        if generation == 0:
            self.population = [Member(e.id, e.genome, e.score) for e in evaluations if e.score is not None]
        elif generation <= self.settings.steps:
            report.update(self._push(evaluations))
        else:
            self.final = {e.id: e.score for e in evaluations if e.score is not None}
        self.generation += 1
        self.pending = []
        return report

    def _push(self, evaluations: Sequence[Evaluation]) -> dict[str, Any]:
        if len(evaluations) != len(self.pending):
            raise RuntimeError(f"told {len(evaluations)} evaluations for {len(self.pending)} children")
        learned = []
        children = []
        for evaluation, pending in zip(evaluations, self.pending):
            children.append({"id": evaluation.id, "parent": pending["parent"], "top1": evaluation.score})
            if evaluation.score is None:
                continue
            self.population = [m for m in self.population if m.id != pending["victim"]]
            self.population.append(Member(evaluation.id, evaluation.genome, evaluation.score))
            gain = reward(evaluation.score)
            if self.settings.reward == "improvement":
                gain -= reward(pending["parent_top1"])
            learned.append((self.space.parse(pending["parent_genome"]),
                            tuple(tuple(pair) for pair in pending["action"]), gain))
        report: dict[str, Any] = {"children": children}
        if self.controller is not None and learned:
            cells, actions, rewards = zip(*learned)
            loss = self.controller.update(cells, actions, rewards)
            report.update({"controller_reward": float(np.mean(rewards)), "controller_loss": loss})
        return report

    # -- reports on the run ---------------------------------------------------------------------

    def summary(self, candidates: Sequence[Candidate]) -> dict[str, Any]:
        """The population's accuracy after the tell (the paper's Fig. 4) and, after the final
        retraining, the best retrained individual."""
        scores = [m.top1 for m in self.population]
        best = max(self.population, key=lambda m: (m.top1, m.id), default=None)
        summary: dict[str, Any] = {
            "population": sorted(m.id for m in self.population),
            "population_mean": statistics.fmean(scores) if scores else None,
            "population_std": statistics.pstdev(scores) if scores else None,
            "population_best": best.id if best else None,
            "population_best_top1": best.top1 if best else None,
        }
        if self.final:
            winner = max(self.final, key=lambda i: (self.final[i], -i))
            summary.update({"final": {str(i): s for i, s in sorted(self.final.items())}, "best": winner,
                            "best_top1": self.final[winner]})
        return summary

    def weights_to_keep(self, candidates: Sequence[Candidate]) -> set[int] | None:
        """The living individuals' and the retrained final population's weights."""
        return {m.id for m in self.population} | set(self.final)

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (the controller travels separately: :meth:`controller_state`)."""
        return {"generation": self.generation, "population": [[m.id, m.genome, m.top1] for m in self.population],
                "pending": self.pending, "final": {str(k): v for k, v in sorted(self.final.items())},
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generation = int(state["generation"])
        self.population = [Member(int(i), str(g), float(s)) for i, g, s in state["population"]]
        self.pending = [dict(p) for p in state["pending"]]
        self.final = {int(k): float(v) for k, v in state["final"].items()}
        self.rng.bit_generator.state = state["rng"]

    def controller_state(self) -> bytes | None:
        return self.controller.state_dict() if self.controller is not None else None

    def load_controller_state(self, blob: bytes | None) -> None:
        if self.controller is not None and blob is not None:
            self.controller.load_state_dict(blob)
