"""FALSR's hybrid search: NSGA-II whose variation mixes crossover, exploration and an RL controller.

FALSR paper, Sections IV-V. Each offspring is made by a categorical choice of operator:

* ``random`` / ``rws_mult_adds`` / ``rws_params`` (exploration): two parents by binary
  tournament, single-point crossover of cells and links at independent points (Eq. 4) with
  probability ``crossover_prob``, then a random mutation, or a roulette-wheel mutation of the
  cells on log-scaled mult-adds or parameters (Eq. 5; all ``n`` cells by default, links
  unchanged; :mod:`falsr_zoo.search.falsr.space`);
* ``controller`` (exploitation): a genome sampled by the RL controller
  (:mod:`falsr_zoo.search.falsr.controller`).

Proposals already seen in the run are redrawn (up to 20 times); one that is still a repeat
(a concentrated controller proposes little else) is not trained again: the loop copies the
stored result to it (``reuses_results``), so NSGA-II and the controller are told its result.

**Objectives** (minimised): ``-PSNR``, mult-adds (G, at ``macs_size``) and parameters (M), the
costs from the genome alone. **Constraints**: ``psnr >= psnr_min`` (violation ``psnr_min - psnr``
dB) and ``mult-adds <= max_mult_adds``; a candidate over the mult-adds bound is never trained,
and its violation (1000 + the relative excess) ranks it after every trained one.

**Controller reward** (the paper leaves it open). For a controller sample with PSNR ``p`` and
costs ``m`` (mult-adds) and ``q`` (parameters)::

    R = s((p - p_mid) / p_scale) - beta * (norm(m) + norm(q)) / 2,   s(z) = (1 + z / (1 + |z|)) / 2

where ``p_mid`` and ``p_scale`` are the median and the scaled median absolute deviation
(``1.4826 MAD``, at least ``PSNR_SCALE_FLOOR`` dB) of the PSNRs of every trained candidate in
the population being told (the surviving population before the tell and this generation's
offspring; feasible or not), and ``norm`` maps a cost log-linearly onto [0, 1] between the
space's cheapest and costliest genomes. ``s`` is a soft sign mapped onto (0, 1): unlike a
logistic it never saturates to equal values in floating point, so a better PSNR always earns
more. A candidate that was not trained (over the mult-adds
bound, or failed) gets ``-1 - beta``. So the reward is bounded (in ``(-beta, 1)`` for a trained
candidate), increasing in PSNR whatever the other candidates are (PSNR always counts, also
with a single trained candidate), lower for a costlier genome at equal PSNR, every trained
candidate ranks above every untrained one, and one outlier (a 20 dB failure to learn among
37 dB models) moves neither the median nor the MAD: it gets a reward near ``-beta * cost``
instead of dominating the batch. ``beta`` (0.5 by default) is a fixed trade-off direction of
the three objectives; NSGA-II keeps the front diverse around it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.falsr.genome import Genome, parse_genome
from falsr_zoo.search.contracts import Evaluation, Proposal
from falsr_zoo.search.falsr.controller import Controller, ControllerSettings
from falsr_zoo.search.falsr.space import (OPERATORS, SearchSpace, crossover, initial_population, random_mutation,
                                          roulette_mutation)
from falsr_zoo.search.nsga2 import NSGA2, Individual, tournament_parents
from falsr_zoo.search.pareto import fronts, hypervolume
from falsr_zoo.search.store import Candidate

__all__ = ["HybridSettings", "HybridSearch", "PSNR_SCALE_FLOOR", "front_of", "objectives_of", "reward"]

_UNTRAINED = 1000.0
PSNR_SCALE_FLOOR = 0.05
"""The smallest PSNR scale (dB) of the reward's soft sign, for populations of (nearly) equal PSNR."""


@dataclass(frozen=True)
class HybridSettings:
    """The algorithm's settings (see :class:`~falsr_zoo.search.falsr.config.FalsrSearchConfig` for the defaults' sources)."""

    n_cells: int = 7
    population: int = 64
    p_random: float = 1 / 3
    p_dense: float = 1 / 3
    crossover_prob: float = 0.9
    mutation_rate: float = 0.1
    rws_cells: str = "all"
    rws_direction: str = "cheaper"
    operator_probs: Mapping[str, float] = field(default_factory=lambda: {
        "random": 0.25, "rws_mult_adds": 0.2, "rws_params": 0.2, "controller": 0.35})
    psnr_min: float | None = None
    max_mult_adds: int | None = None
    macs_size: tuple[int, int] = (480, 480)
    reward_beta: float = 0.5
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    use_controller: bool = True
    hv_reference: tuple[float, float, float] | None = None
    keep_weights: str = "front"

    def __post_init__(self) -> None:
        probs = dict(self.operator_probs)
        if set(probs) - set(OPERATORS):
            raise ConfigError(f"unknown operators {sorted(set(probs) - set(OPERATORS))}; expected {', '.join(OPERATORS)}")
        if any(p < 0 for p in probs.values()) or not math.isclose(sum(probs.values()), 1.0, abs_tol=1e-9):
            raise ConfigError(f"operator_probs must be non-negative and sum to 1, got {probs}")
        if not self.use_controller and probs.get("controller", 0) > 0:
            raise ConfigError("operator_probs gives the controller a share but use_controller is false")
        if self.population < 2:
            raise ConfigError(f"population must be at least 2, got {self.population}")
        for name in ("crossover_prob", "mutation_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def objectives_of(psnr: float | None, mult_adds: int, params: int) -> tuple[float, float, float]:
    """The minimised objectives: ``(-PSNR dB, mult-adds G, parameters M)`` (``-PSNR`` is +inf untrained)."""
    return (-psnr if psnr is not None else math.inf, mult_adds / 1e9, params / 1e6)


def front_of(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The non-dominated feasible candidates (PSNR up, mult-adds and parameters down), by mult-adds;
    a repeated genome appears once (its first evaluation)."""
    feasible = [c for c in candidates if c.status == "done" and (c.violation or 0) <= 0 and c.reused_from is None]
    if not feasible:
        return []
    points = np.array([objectives_of(c.score, c.mult_adds, c.params) for c in feasible])
    rank = fronts(points)
    return sorted((c for c, r in zip(feasible, rank) if r == 0), key=lambda c: (c.mult_adds, c.id))


def reward(psnr: float | None, cost: float, reference: Sequence[float], beta: float) -> float:
    """The controller's reward (module docstring).

    Args:
        psnr: The sample's PSNR, ``None`` when it was not trained.
        cost: Its normalised cost in [0, 1].
        reference: The PSNRs of the trained candidates being told (the median and MAD's sample).
        beta: The cost weight.
    """
    if psnr is None or not math.isfinite(psnr):
        return -1.0 - beta
    values = np.asarray([v for v in reference if math.isfinite(v)] or [psnr], dtype=np.float64)
    middle = float(np.median(values))
    scale = max(1.4826 * float(np.median(np.abs(values - middle))), PSNR_SCALE_FLOOR)
    z = (psnr - middle) / scale
    return (1.0 + z / (1.0 + abs(z))) / 2 - beta * cost


class HybridSearch:
    """The FALSR hybrid algorithm as ask/tell.

    Args:
        settings: The algorithm's settings.
        seed: Seed of every generator (the NSGA-II generator, the controller's initial weights
            and sampling).
        seed_genomes: Genome strings put in the first population (warm start), before the
            paper's initialisation fills it.
    """

    def __init__(self, settings: HybridSettings, seed: int = 0, seed_genomes: Sequence[str] = ()) -> None:
        self.settings = settings
        self.space = SearchSpace(settings.n_cells)
        self.seed_genomes = [self._own(text) for text in seed_genomes]
        if len(self.seed_genomes) > settings.population:
            raise ConfigError(f"{len(self.seed_genomes)} seed genomes do not fit a population of {settings.population}")
        self.nsga = NSGA2(settings.population, self._sample, self._vary, seed)
        self.controller = Controller(settings.n_cells, self.space.num_choices, seed, settings.controller) \
            if settings.use_controller else None
        self.seen: set[str] = set()
        self.pending_actions: list[tuple[list[int], list[int]] | None] = []
        light, heavy = self.space.extremes()
        h, w = settings.macs_size
        self._cost_range = ((light.macs(h, w), heavy.macs(h, w)), (light.num_params(), heavy.num_params()))

    def _own(self, text: str) -> str:
        genome = parse_genome(text)
        self.space.encode(genome)  # raises for another cell count
        return str(genome)

    # -- costs and constraints --------------------------------------------------------------

    def costs(self, genome: str) -> tuple[int, int]:
        """``(mult-adds at macs_size, parameters)`` of a genome, from the genome alone."""
        spec = parse_genome(genome)
        return spec.macs(*self.settings.macs_size), spec.num_params()

    def trainable(self, genome: str) -> bool:
        """Whether a candidate is within the mult-adds bound (the others are never trained)."""
        bound = self.settings.max_mult_adds
        return bound is None or self.costs(genome)[0] <= bound

    def violation(self, evaluation: Evaluation) -> float:
        """Total constraint violation of an evaluation (0 = feasible)."""
        bound = self.settings.max_mult_adds
        if evaluation.score is None:
            return _UNTRAINED + max(0.0, evaluation.mult_adds - bound) / bound if bound else _UNTRAINED
        floor = self.settings.psnr_min
        return max(0.0, floor - evaluation.score) if floor is not None else 0.0

    # -- ask ----------------------------------------------------------------------------------

    def _fresh(self, genome: Genome | str) -> bool:
        return str(genome) not in self.seen

    def _sample(self, rng: np.random.Generator, size: int) -> list[Proposal]:
        self.pending_actions = [None] * size
        proposals = [Proposal(text, "seed") for text in self.seed_genomes]
        self.seen.update(self.seed_genomes)
        attempts = 0
        while len(proposals) < size:
            missing = size - len(proposals)
            for genome in initial_population(self.space, missing, rng, p_random=self.settings.p_random,
                                             p_dense=self.settings.p_dense):
                attempts += 1
                if self._fresh(genome) or attempts > 50 * size:
                    self.seen.add(str(genome))
                    proposals.append(Proposal(str(genome), "init"))
        return proposals

    def _vary(self, rng: np.random.Generator, population: list[Individual], rank: np.ndarray,
              crowding: np.ndarray, size: int) -> list[Proposal]:
        names = list(self.settings.operator_probs)
        probabilities = np.array([self.settings.operator_probs[n] for n in names])
        proposals: list[Proposal] = []
        self.pending_actions = []
        while len(proposals) < size:
            operator = names[int(rng.choice(len(names), p=probabilities))]
            for _ in range(20):
                proposal, action = self._offspring(operator, rng, population, rank, crowding)
                if self._fresh(proposal.x):
                    break
            self.seen.add(proposal.x)
            self.pending_actions.append(action)
            proposals.append(proposal)
        return proposals

    def _offspring(self, operator: str, rng: np.random.Generator, population: list[Individual], rank: np.ndarray,
                   crowding: np.ndarray) -> tuple[Proposal, tuple[list[int], list[int]] | None]:
        if operator == "controller":
            cells, bits = self.controller.sample(1)[0]
            return Proposal(str(self.space.genome(cells, bits)), "controller"), (cells, bits)
        first, second = tournament_parents(population, rank, crowding, rng)
        child, parents, label = parse_genome(first.x), (first.id,), operator
        if rng.random() < self.settings.crossover_prob:
            child = crossover(self.space, child, parse_genome(second.x), rng)[int(rng.integers(0, 2))]
            parents, label = (first.id, second.id), f"crossover+{operator}"
        if operator == "random":
            child = random_mutation(self.space, child, rng, self.settings.mutation_rate)
        else:
            child = roulette_mutation(self.space, child, rng, operator.removeprefix("rws_"),
                                      self.settings.rws_direction, self.settings.rws_cells)
        return Proposal(str(child), label, parents), None

    def ask(self) -> list[Proposal]:
        """The next generation's proposals (the first population, then offspring)."""
        return self.nsga.ask()

    # -- tell ---------------------------------------------------------------------------------

    reuses_results = True
    """A FALSR evaluation is a function of the genome alone: a repeated genome reuses its stored result."""

    def cost(self, evaluation: Evaluation) -> float:
        """The normalised cost in [0, 1]: mean of the log-scaled mult-adds and parameters."""
        (m_lo, m_hi), (q_lo, q_hi) = self._cost_range
        return (_log_norm(evaluation.mult_adds, m_lo, m_hi) + _log_norm(evaluation.params, q_lo, q_hi)) / 2

    def reference_psnrs(self, evaluations: Sequence[Evaluation]) -> list[float]:
        """The PSNRs the reward is relative to: the trained members of the population before the
        tell and the trained evaluations being told."""
        members = [-ind.objectives[0] for ind in self.nsga.population if math.isfinite(ind.objectives[0])]
        return members + [e.score for e in evaluations if e.score is not None and math.isfinite(e.score)]

    def tell(self, evaluations: Sequence[Evaluation]) -> dict[str, float]:
        """Hand the generation's evaluations (in proposal order) to NSGA-II and train the controller.

        Returns:
            ``{"controller_reward": mean reward of its samples, "controller_loss": ...}`` when the
            controller had samples in this generation.
        """
        evaluations = sorted(evaluations, key=lambda e: e.id)
        if len(evaluations) != len(self.pending_actions):
            raise RuntimeError(f"told {len(evaluations)} evaluations for {len(self.pending_actions)} proposals")
        reference = self.reference_psnrs(evaluations)
        self.nsga.tell([Individual(e.id, e.genome, objectives_of(e.score, e.mult_adds, e.params), self.violation(e))
                        for e in evaluations])
        report: dict[str, float] = {}
        sampled = [(e, action) for e, action in zip(evaluations, self.pending_actions) if action is not None]
        if self.controller is not None and sampled:
            beta = self.settings.reward_beta
            rewards = [reward(e.score, self.cost(e), reference, beta) for e, _ in sampled]
            loss = self.controller.update([action for _, action in sampled], rewards)
            report = {"controller_reward": float(np.mean(rewards)), "controller_loss": loss}
        self.pending_actions = []
        return report

    def inherits(self, operator: str) -> bool:
        """FALSR candidates are always trained from scratch."""
        return False

    # -- reports on the run --------------------------------------------------------------------

    def summary(self, candidates: Sequence[Candidate]) -> dict[str, Any]:
        """The front of every candidate so far and its hypervolume (reference ``hv_reference``)."""
        front = front_of(candidates)
        points = [objectives_of(c.score, c.mult_adds, c.params) for c in front]
        reference = self.settings.hv_reference
        volume = hypervolume(np.array(points), reference) if points and reference is not None else 0.0
        return {"hypervolume": volume, "front": [c.id for c in front]}

    def weights_to_keep(self, candidates: Sequence[Candidate]) -> set[int] | None:
        """The front's ids with ``keep_weights="front"``; ``None`` (keep every file) otherwise."""
        return {c.id for c in front_of(candidates)} if self.settings.keep_weights == "front" else None

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (the controller's weights travel separately: :meth:`controller_state`)."""
        return {"nsga": self.nsga.state_dict(), "seen": sorted(self.seen),
                "pending_actions": [[list(a[0]), list(a[1])] if a is not None else None for a in self.pending_actions]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.nsga.load_state_dict(state["nsga"])
        self.seen = set(state["seen"])
        self.pending_actions = [(a[0], a[1]) if a is not None else None for a in state["pending_actions"]]

    def controller_state(self) -> bytes | None:
        return self.controller.state_dict() if self.controller is not None else None

    def load_controller_state(self, blob: bytes | None) -> None:
        if self.controller is not None and blob is not None:
            self.controller.load_state_dict(blob)

    @property
    def generation(self) -> int:
        return self.nsga.generation

    @property
    def population(self) -> list[Individual]:
        return self.nsga.population


def _log_norm(value: float, low: float, high: float) -> float:
    if high <= low:
        return 0.0
    return float(np.clip((math.log(value) - math.log(low)) / (math.log(high) - math.log(low)), 0.0, 1.0))
