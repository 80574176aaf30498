"""The FALSR search operators: only valid genomes, the paper's initialisation, crossover at independent
points, the roulette wheel over all cells and its frequencies, a bounded and ordered reward, and a
controller that learns."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.falsr.genome import CELL_CHOICES, STEM_WIDTH, Genome, parse_genome
from falsr_zoo.search.falsr.controller import Controller
from falsr_zoo.search.contracts import Evaluation
from falsr_zoo.search.falsr.hybrid import HybridSearch, HybridSettings, reward
from falsr_zoo.search.falsr.space import (
    SearchSpace,
    crossover,
    initial_population,
    random_mutation,
    roulette_mutation,
    roulette_probabilities,
)


def _valid(genome: Genome, n: int) -> None:
    assert isinstance(genome, Genome) and genome.n_cells == n
    assert len(genome.link_bits) == n * (n + 1) // 2
    assert parse_genome(str(genome)) == genome  # canonical string round trip


def test_the_micro_space_has_192_distinct_choices() -> None:
    assert len(CELL_CHOICES) == len(set(CELL_CHOICES)) == 192


@pytest.mark.parametrize("n", [1, 2, 7])
def test_every_operator_makes_only_valid_genomes(n: int) -> None:
    space, rng = SearchSpace(n), np.random.default_rng(n)
    population = initial_population(space, 300, rng)
    for genome in population:
        _valid(genome, n)
    for _ in range(1500):
        a, b = population[rng.integers(len(population))], population[rng.integers(len(population))]
        for child in crossover(space, a, b, rng):
            _valid(child, n)
        mutated = random_mutation(space, a, rng, rate=float(rng.random()))
        _valid(mutated, n)
        assert mutated != a
        measure, direction = rng.choice(["mult_adds", "params"]), rng.choice(["cheaper", "costlier"])
        for cells in ("all", "one"):
            rolled = roulette_mutation(space, a, rng, measure, direction, cells)
            _valid(rolled, n)
            assert rolled.link_bits == a.link_bits and rolled != a
    for cells, bits in Controller(n, 192, seed=n).sample(200):
        _valid(space.genome(cells, bits), n)


def test_initialisation_repeats_one_cell_and_draws_link_patterns() -> None:
    space, rng = SearchSpace(4), np.random.default_rng(0)
    population = initial_population(space, 192, rng, p_random=0.5, p_dense=0.25)
    assert all(len(set(g.cells)) == 1 for g in population)
    assert len({g.cells[0] for g in population}) == 192  # no cell repeated while the population fits
    bits = np.array([g.link_bits for g in initial_population(space, 4000, rng, p_random=0.5, p_dense=0.25)])
    dense, none = (bits == 1).all(1).mean(), (bits == 0).all(1).mean()
    # dense = p_dense + p_random / 2^10 (a random draw can be all ones), likewise for none
    assert dense == pytest.approx(0.25, abs=0.03) and none == pytest.approx(0.25, abs=0.03)
    with pytest.raises(ConfigError):
        initial_population(space, 2, rng, p_random=0.7, p_dense=0.5)


def test_crossover_cuts_cells_and_links_at_independent_points_in_the_papers_order() -> None:
    space, rng = SearchSpace(5), np.random.default_rng(1)
    a, b = space.genome([0] * 5, [0] * 15), space.genome([1] * 5, [1] * 15)
    order = space.source_order()
    assert sorted(order) == list(range(15)) and order[:5] == (0, 1, 3, 6, 10)  # c_0^1, c_0^2, ... (Eq. 2)
    cuts = set()
    for _ in range(400):
        child, other = crossover(space, a, b, rng)
        assert child not in (a, b) and other not in (a, b)
        i = child.cells.index(CELL_CHOICES[1])
        assert child.cells == (CELL_CHOICES[0],) * i + (CELL_CHOICES[1],) * (5 - i)
        in_order = [child.link_bits[k] for k in order]
        j = in_order.index(1)
        assert in_order == [0] * j + [1] * (15 - j)  # one cut in the source-grouped order
        assert [other.link_bits[k] for k in order] == [1] * j + [0] * (15 - j)
        assert other.cells == (CELL_CHOICES[1],) * i + (CELL_CHOICES[0],) * (5 - i)
        cuts.add((i, j))
    cells, links = {i for i, _ in cuts}, {j for _, j in cuts}
    assert cells == {1, 2, 3, 4} and links == set(range(1, 15))
    assert len(cuts) > 40  # j is drawn independently of i (a shared cut gives 4 pairs)


def test_roulette_mutation_redraws_every_cell_by_default_and_one_on_request() -> None:
    space, rng = SearchSpace(7), np.random.default_rng(3)
    parent = space.genome([5] * 7, [1, 0] * 14)
    for direction in ("cheaper", "costlier"):
        p_keep = roulette_probabilities("mult_adds", direction)[5]
        changed = [sum(x != y for x, y in zip(roulette_mutation(space, parent, rng, "mult_adds", direction).cells,
                                                 parent.cells)) for _ in range(300)]
        # each of the 7 cells is drawn from the wheel: it keeps its value with probability p_keep (< 1 %)
        assert np.mean(changed) == pytest.approx(7 * (1 - p_keep), abs=0.1)
        assert max(changed) == 7
        ones = [roulette_mutation(space, parent, rng, "params", direction, cells="one") for _ in range(100)]
        assert all(sum(x != y for x, y in zip(g.cells, parent.cells)) == 1 for g in ones)
        assert all(g.link_bits == parent.link_bits for g in ones)
    with pytest.raises(ConfigError, match="rws cells"):
        roulette_mutation(space, parent, rng, "params", "cheaper", cells="some")


def test_the_wheel_leans_toward_cheaper_or_costlier_cells() -> None:
    for measure in ("mult_adds", "params"):
        costs = np.array([c.macs_per_pixel(STEM_WIDTH) if measure == "mult_adds" else c.num_params(STEM_WIDTH)
                          for c in CELL_CHOICES])
        cheaper, costlier = roulette_probabilities(measure, "cheaper"), roulette_probabilities(measure, "costlier")
        uniform = costs.mean()
        assert (cheaper * costs).sum() < uniform < (costlier * costs).sum()
        assert cheaper[costs.argmin()] == cheaper.max() and costlier[costs.argmax()] == costlier.max()


@pytest.mark.parametrize("measure", ["mult_adds", "params"])
@pytest.mark.parametrize("direction", ["cheaper", "costlier"])
def test_roulette_frequencies_match_their_probabilities(measure: str, direction: str) -> None:
    probabilities = roulette_probabilities(measure, direction)
    costs = np.array([c.macs_per_pixel(STEM_WIDTH) if measure == "mult_adds" else c.num_params(STEM_WIDTH)
                      for c in CELL_CHOICES])
    weights = np.log1p(costs) if direction == "costlier" else 1 / np.log1p(costs)
    assert np.allclose(probabilities, weights / weights.sum())
    space, rng = SearchSpace(1), np.random.default_rng(2)
    parent = space.genome([0], [0])
    draws = 30_000
    counts = np.zeros(192)
    for _ in range(draws):
        counts[space.encode(roulette_mutation(space, parent, rng, measure, direction))[0][0]] += 1
    expected = probabilities.copy()
    expected[0] = 0.0  # the current cell is redrawn
    expected /= expected.sum()
    sigma = np.sqrt(draws * expected * (1 - expected))
    assert counts[0] == 0 and np.all(np.abs(counts - draws * expected) <= 5 * sigma + 1)


def _synthetic_reward(cells: list[int], bits: list[int]) -> float:
    """A known optimum: every cell a multiple of 8 among the 192 choices, every link bit alternating."""
    return float(np.mean([c % 8 == 0 for c in cells]) + np.mean([b == i % 2 for i, b in enumerate(bits)]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_controller_learns_a_synthetic_objective(seed: int) -> None:
    controller = Controller(3, 192, seed=seed)
    history = []
    for _ in range(50):
        actions = controller.sample(16)
        rewards = [_synthetic_reward(*action) for action in actions]
        controller.update(actions, rewards)
        history.append(np.mean(rewards))
    # random sampling scores 0.625 on average; measured 1.5-1.9 after 50 updates
    assert np.mean(history[:5]) < 0.9 and np.mean(history[-5:]) > 1.3, history


def test_controller_state_round_trip() -> None:
    a = Controller(3, 192, seed=5)
    a.update(a.sample(4), [0.1, 0.2, 0.3, 0.4])
    b = Controller(3, 192, seed=9)
    b.load_state_dict(a.state_dict())
    assert a.sample(8) == b.sample(8)


def test_hybrid_constraints() -> None:
    settings = HybridSettings(n_cells=2, population=4, psnr_min=30.0, max_mult_adds=10**10)
    search = HybridSearch(settings, seed=0)
    cheap = "conv f16 k1 b1 noskip <- 0; conv f16 k1 b1 noskip <- 1; out <- 2"
    costly = "conv f64 k3 b4 isskip <- 0; conv f64 k3 b4 isskip <- 0,1; out <- 0,1,2"
    assert search.trainable(cheap) and not search.trainable(costly)
    macs, params = search.costs(costly)
    assert search.violation(Evaluation(1, costly, None, macs, params)) > 1000
    macs, params = search.costs(cheap)
    assert search.violation(Evaluation(2, cheap, 28.5, macs, params)) == pytest.approx(1.5)
    assert search.violation(Evaluation(3, cheap, 31.0, macs, params)) == 0.0
    with pytest.raises(ConfigError, match="sum to 1"):
        HybridSettings(operator_probs={"random": 0.5, "controller": 0.2})
    with pytest.raises(ConfigError, match="outside a 2-cell"):
        HybridSearch(settings, seed_genomes=["conv f16 k1 b1 noskip <- 0; out <- 1"])


def test_the_reward_is_bounded_increasing_in_psnr_cheaper_first_and_trained_above_untrained() -> None:
    rng = np.random.default_rng(4)
    beta = 0.5
    for _ in range(200):
        reference = list(rng.normal(rng.uniform(20, 38), rng.uniform(0.01, 3), size=int(rng.integers(1, 130))))
        p1, p2 = sorted(rng.uniform(10, 45, size=2))
        c1, c2 = sorted(rng.uniform(0, 1, size=2))
        r = [reward(p, c, reference, beta) for p, c in ((p1, c1), (p2, c1), (p1, c2))]
        assert all(-beta <= value <= 1 for value in r)  # bounded
        assert r[1] > r[0] or (p2 - p1) < 1e-9  # increasing in PSNR at equal cost
        assert r[2] < r[0] or (c2 - c1) < 1e-9  # lower for a costlier genome at equal PSNR
        assert min(r) > reward(None, c1, reference, beta) == -1 - beta  # every trained above every untrained
    # PSNR counts with a single other trained candidate, and an outlier does not dominate
    assert reward(38.0, 0.5, [38.0, 20.0], beta) > reward(20.0, 0.5, [38.0, 20.0], beta)
    feasible = list(np.linspace(37.0, 37.2, 63))
    outlier = reward(20.0, 0.3, [*feasible, 20.0], beta)
    assert reward(None, 0.3, feasible, beta) < outlier < reward(37.0, 0.3, [*feasible, 20.0], beta)
    assert reward(37.2, 0.3, [*feasible, 20.0], beta) - reward(37.0, 0.3, [*feasible, 20.0], beta) > 0.5


def test_the_controller_is_told_the_rewards_of_its_own_samples() -> None:
    settings = HybridSettings(n_cells=2, population=4, operator_probs={"controller": 1.0})
    search = HybridSearch(settings, seed=1)
    first = search.ask()
    search.tell([Evaluation(i, p.x, 30.0 + i, *search.costs(p.x)) for i, p in enumerate(first)])
    offspring = search.ask()
    assert all(action is not None for action in search.pending_actions)
    told = [Evaluation(10 + i, p.x, 31.0 + i, *search.costs(p.x)) for i, p in enumerate(offspring)]
    before = search.controller.updates
    assert search.reference_psnrs(told) == pytest.approx([30, 31, 32, 33, 31, 32, 33, 34])  # population + batch
    report = search.tell(told)
    assert search.controller.updates == before + 1
    expected = np.mean([reward(e.score, search.cost(e), [30, 31, 32, 33, 31, 32, 33, 34], 0.5) for e in told])
    assert report["controller_reward"] == pytest.approx(expected)
