"""The RENAS search's operators: only valid cells, mutations that never keep the current value,
Algorithm 1's tournaments, the controller's structure (a per-ingredient router) and state, the
entropy added to the reward, and a controller that learns faster than random mutation."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.cell import OPERATORS, RenasCell, parse_renas_cell
from falsr_zoo.families.renas.plan import RenasNetSpec
from falsr_zoo.search.contracts import Evaluation
from falsr_zoo.search.renas.controller import MutationController, MutationControllerSettings
from falsr_zoo.search.renas.evolution import EvolutionSettings, RenasEvolution, reward
from falsr_zoo.search.renas.space import OP_NAMES, POSITIONS, RenasSpace
from falsr_zoo.search.config import load_config

RENASNET = parse_renas_cell("{0, 1, sep5x5, sep3x3}; {1, 1, identity, sep3x3}; {0, 0, sep3x3, avg3x3}; "
                            "{1, 0, sep5x5, sep3x3}; {2, 2, identity, sep3x3}")

pytestmark = pytest.mark.usefixtures("one_thread")


def _valid(cell: RenasCell, parent: RenasCell, action, keep: bool = False) -> None:
    assert isinstance(cell, RenasCell) and cell.num_blocks == parent.num_blocks
    assert parse_renas_cell(str(cell), num_blocks=None) == cell  # canonical round trip, validated by the grammar
    for b, (new, old, (position, value)) in enumerate(zip(cell.blocks, parent.blocks, action)):
        assert all(0 <= i <= b + 1 for i in new.inputs) and {new.o1, new.o2} <= set(OPERATORS)
        changed = [name for name in POSITIONS if getattr(new, name) != getattr(old, name)]
        # the routed element changes ("with each substitute"); with keep=True it may stay
        assert changed in (([], [POSITIONS[position]]) if keep else ([POSITIONS[position]],))
        expected = value if position < 2 else OP_NAMES[value]
        assert getattr(new, POSITIONS[position]) == expected
    assert cell.output_blocks and cell.output_blocks[-1] == cell.num_blocks - 1
    RenasNetSpec(cell, "cifar10", 1, 8).num_params()  # a network can be planned from it


@pytest.mark.parametrize("num_blocks", [1, 2, 5])
def test_every_mutation_gives_a_valid_cell(num_blocks: int) -> None:
    space, rng = RenasSpace(num_blocks), np.random.default_rng(num_blocks)
    cells = [space.random_cell(rng) for _ in range(200)]
    for cell in cells:  # the random initial population
        assert parse_renas_cell(str(cell), num_blocks=num_blocks) == cell
        assert all(0 <= i <= b + 1 for b, block in enumerate(cell.blocks) for i in block.inputs)
    assert len({str(c) for c in cells}) > 190 or num_blocks == 1
    for keep in (False, True):
        for _ in range(3000):  # random mutation (plain EA)
            parent = cells[int(rng.integers(len(cells)))]
            action = space.random_action(rng, parent, keep)
            _valid(space.apply(parent, action), parent, action, keep)
        for bidirectional in (True, False):  # the controller, both encoders
            settings = MutationControllerSettings(bidirectional=bidirectional, keep_current=keep)
            controller = MutationController(space, seed=num_blocks, settings=settings)
            for start in range(0, 1000, 100):
                parents = cells[start % 200: start % 200 + 100]
                for parent, action in zip(parents, controller.sample(parents)):
                    _valid(space.apply(parent, action), parent, action, keep)


def test_mutations_never_keep_the_current_value_by_default() -> None:
    space, rng = RenasSpace(5), np.random.default_rng(11)
    parents = [space.random_cell(rng) for _ in range(400)]
    controller = MutationController(space, seed=3)
    sampled = controller.sample(parents) + [space.random_action(rng, p) for p in parents]
    for parent, action in zip(parents + parents, sampled):
        child = space.apply(parent, action)
        assert all(new != old for new, old in zip(child.blocks, parent.blocks))  # every block changes
    # the controller gives the current value no probability at all
    for route, values in controller.probabilities(RENASNET):
        assert np.allclose(sum(route), 1.0)
    current = space.current_values(RENASNET)
    for block, (_, values) in enumerate(controller.probabilities(RENASNET)):
        assert all(values[p][current[block][p]] == 0.0 for p in range(4))


def test_random_mutation_is_uniform_over_the_other_values() -> None:
    space, rng = RenasSpace(3), np.random.default_rng(0)
    parent = parse_renas_cell("{0, 1, sep3x3, avg3x3}; {2, 0, identity, sep5x5}; {1, 3, max3x3, sep7x7}", num_blocks=3)
    current = space.current_values(parent)
    draws = 24_000
    counts = np.zeros((3, 4, 6))
    for _ in range(draws):
        for b, (position, value) in enumerate(space.random_action(rng, parent)):
            counts[b, position, value] += 1
    for b in range(3):
        for position in range(4):
            choices = space.choices(b, position)
            expected = draws / 4 / (choices - 1)
            others = [v for v in range(choices) if v != current[b][position]]
            assert np.all(np.abs(counts[b, position, others] - expected) <= 5 * math.sqrt(expected))
            assert counts[b, position, current[b][position]] == 0 and counts[b, position, choices:].sum() == 0


def test_out_of_space_actions_and_cells_are_refused() -> None:
    space = RenasSpace(5)
    with pytest.raises(ConfigError, match="not a mutation of this space"):
        space.apply(RENASNET, [(0, 2)] + [(2, 0)] * 4)  # block 0 may read inputs 0 and 1 only
    with pytest.raises(ConfigError, match="one \\(position, value\\) per block"):
        space.apply(RENASNET, [(2, 0)] * 4)
    with pytest.raises(ConfigError, match="outside a 3-block search space"):
        RenasSpace(3).tokens(RENASNET)


def test_tokens_and_attention_candidates() -> None:
    space = RenasSpace(5)
    tokens = space.tokens(RENASNET)
    vocabulary = space.vocabulary
    assert len(tokens) == space.sequence_length == 2 + 5 * 5
    assert [vocabulary[t] for t in tokens[:7]] == ["cell-2", "cell-1", "in0", "in1", "sep5x5", "sep3x3", "add"]
    assert [vocabulary[t] for t in tokens[-5:]] == ["in2", "in2", "identity", "sep3x3", "add"]
    # input k >= 2 (block k - 2) is represented by that block's "add" token
    assert [space.input_state_index(v) for v in range(4)] == [0, 1, 6, 11]


def test_controller_structure_follows_the_paper() -> None:
    space = RenasSpace(5)
    controller = MutationController(space, seed=0)
    policy = controller.policy
    assert policy.embedding.embedding_dim == 100 and policy.encoder.hidden_size == 100
    assert policy.encoder.bidirectional and policy.router.out_features == 1  # one score per ingredient
    assert policy.op_mutator.out_features == len(OPERATORS)
    weights = torch.cat([p.detach().flatten() for p in policy.parameters()])
    assert abs(float(weights.std()) - 0.01) < 0.001 and abs(float(weights.mean())) < 0.001
    assert controller.optimizer.defaults["lr"] == 1e-3
    uni = MutationController(space, seed=0, settings=MutationControllerSettings(bidirectional=False))
    assert not uni.policy.encoder.bidirectional
    # squashed logits: 2.5 * tanh(x / 5); near-uniform at initialisation
    route, values = controller.probabilities(RENASNET)[3]
    assert np.allclose(route, 0.25, atol=0.01) and len(values[0]) == 5 and len(values[2]) == 6
    # the router scores i1, i2, o1, o2 each from its own state: changing one state moves one score
    states = torch.randn(2, space.sequence_length, 200)
    before = policy._route_logits(states, 3)
    moved = states.clone()
    moved[:, space.token_index(3, 2)] += 1.0  # the state of block 3's o1 token
    after = policy._route_logits(moved, 3)
    assert torch.equal(before[:, [0, 1, 3]], after[:, [0, 1, 3]]) and not torch.equal(before[:, 2], after[:, 2])
    assert policy._squash(torch.tensor([1e6, -1e6, 5.0])).tolist() == pytest.approx([2.5, -2.5, 2.5 * math.tanh(1)])


def test_the_reward_is_tan_of_the_fitness() -> None:
    assert reward(50.0) == pytest.approx(1.0)
    assert reward(90.0) == pytest.approx(math.tan(0.45 * math.pi))
    assert reward(100.0) == reward(99.0) == pytest.approx(math.tan(0.495 * math.pi))  # capped, not infinite


def test_the_entropy_is_added_to_the_reward() -> None:
    """"Add the entropy of the controller to the reward with 0.1 weighted": the loss is
    -mean((R + 0.1 H - b) log pi), with H a constant, and b the batch's mean at the first update."""
    space = RenasSpace(5)
    controller = MutationController(space, seed=2)
    parents = [RENASNET, space.random_cell(np.random.default_rng(0))]
    actions = controller.sample(parents)
    tokens, current = controller._tokens(parents)
    taken = torch.tensor([list(map(list, a)) for a in actions])
    with torch.no_grad():
        _, log_prob, entropy = controller.policy(tokens, current, actions=taken)
    rewards = torch.tensor([1.0, 3.0])
    shaped = rewards + 0.1 * entropy
    expected = float(-((shaped - shaped.mean()) * log_prob).mean())
    assert controller.update(parents, actions, rewards.tolist()) == pytest.approx(expected, rel=1e-5)
    assert controller.baseline == pytest.approx(float(shaped.mean()), rel=1e-6)


def test_controller_state_round_trip() -> None:
    space = RenasSpace(5)
    a = MutationController(space, seed=5)
    a.update([RENASNET], a.sample([RENASNET]), [1.5])
    b = MutationController(space, seed=9)
    b.load_state_dict(a.state_dict())
    assert a.sample([RENASNET] * 6) == b.sample([RENASNET] * 6)


def _structured_fitness(genome: str) -> float:
    """A known optimum: every input the previous cell (1) and every operator sep3x3 (90 % "accuracy")."""
    cell = parse_renas_cell(genome)
    good = sum((b.i1 == 1) + (b.i2 == 1) + (b.o1 == "sep3x3") + (b.o2 == "sep3x3") for b in cell.blocks)
    return 90.0 * good / (4 * cell.num_blocks)


def _evolve(settings: EvolutionSettings, seed: int, fitness) -> tuple[list[float], RenasEvolution]:
    evolution, next_id, curve = RenasEvolution(settings, seed), 0, []
    for _ in range(settings.generations):
        evaluations = []
        for proposal in evolution.ask():
            next_id += 1
            evaluations.append(Evaluation(next_id, proposal.x, fitness(proposal.x), 0, 0))
        evolution.tell(evaluations)
        curve.append(statistics.fmean(m.top1 for m in evolution.population))
    return curve, evolution


def test_tournaments_keep_the_population_and_remove_the_worst_of_each_sample() -> None:
    """Each step's tournament: the best of the sample is the parent, the worst of the sample is
    removed when the child is pushed (ties: the younger parent, the older victim)."""
    settings = EvolutionSettings(population=8, sample_size=3, steps=30, children_per_step=2, mutation="random",
                                 final_retrain=True)
    evolution, next_id = RenasEvolution(settings, seed=3), 0
    for generation in range(settings.generations):
        proposals = evolution.ask()
        before = {m.id: m for m in evolution.population}
        if 1 <= generation <= settings.steps:
            assert len(proposals) == 2
            for proposal, pending in zip(proposals, evolution.pending):
                sample = [before[i] for i in pending["sample"]]
                assert len(sample) == 3 and len(set(pending["sample"])) == 3
                assert pending["parent"] == max(sample, key=lambda m: (m.top1, m.id)).id
                assert pending["victim"] == min(sample, key=lambda m: (m.top1, m.id)).id
                assert proposal.parents == (pending["parent"],) and pending["parent"] != pending["victim"]
            assert len({p["victim"] for p in evolution.pending}) == 2
        evaluations = []
        for proposal in proposals:
            next_id += 1
            score = None if next_id % 11 == 0 else _structured_fitness(proposal.x)  # some evaluations fail
            evaluations.append(Evaluation(next_id, proposal.x, score, 0, 0))
        pending = list(evolution.pending)
        evolution.tell(evaluations)
        if 1 <= generation <= settings.steps:
            alive = {m.id for m in evolution.population}
            for evaluation, step in zip(evaluations, pending):
                assert (evaluation.id in alive) == (evaluation.score is not None)
                assert (step["victim"] in alive) == (evaluation.score is None)
    assert len(evolution.population) == 8  # a failed child removes nothing
    assert set(evolution.final) == {i for i in range(next_id - 7, next_id + 1) if i % 11}
    assert evolution.summary([])["best"] == max(evolution.final, key=lambda i: (evolution.final[i], -i))
    with pytest.raises(RuntimeError, match="ended"):
        evolution.ask()


def test_an_interrupted_evolution_continues_exactly() -> None:
    settings = EvolutionSettings(population=6, sample_size=3, steps=12, final_retrain=False,
                                 controller=MutationControllerSettings(embedding=16, hidden=16))
    whole, _ = _evolve(settings, 4, _structured_fitness)
    first, next_id, curve = RenasEvolution(settings, 4), 0, []
    for generation in range(settings.generations):
        if generation == 7:  # a fresh process: state and controller from their stored forms
            second = RenasEvolution(settings, 99)
            second.load_state_dict(first.state_dict())
            second.load_controller_state(first.controller_state())
            first = second
        evaluations = []
        for proposal in first.ask():
            next_id += 1
            evaluations.append(Evaluation(next_id, proposal.x, _structured_fitness(proposal.x), 0, 0))
        first.tell(evaluations)
        curve.append(statistics.fmean(m.top1 for m in first.population))
    assert curve == whole


def test_the_controller_learns_faster_than_random_mutation() -> None:
    """The paper's controller (sizes 100, Adam 1e-3, temperature 5, tanh 2.5, entropy 0.1) on a
    synthetic fitness with a known optimum, P = 20, S = 5, 200 steps, 4 seeds; random mutation
    is the plain EA. Measured: the population's mean "accuracy" after 200 steps, controller
    57-86 (mean 72), random 48-62 (mean 55)."""
    seeds, steps = range(4), 200
    ends = {}
    for mutation in ("controller", "random"):
        settings = EvolutionSettings(population=20, sample_size=5, steps=steps, mutation=mutation, final_retrain=False)
        ends[mutation] = [_evolve(settings, seed, _structured_fitness)[0][-1] for seed in seeds]
    controller, random = statistics.fmean(ends["controller"]), statistics.fmean(ends["random"])
    assert controller > random + 8, ends
    assert sum(c > r for c, r in zip(ends["controller"], ends["random"])) >= 3, ends


@pytest.mark.parametrize("overrides, mutation, bidirectional", [
    ([], "controller", True),  # RENAS
    (["mutation=random"], "random", None),  # the plain EA: no controller at all
    (["encoder=unidirectional"], "controller", False),  # RENAS "non-bi"
    (["keep_current=true"], "controller", True),  # mutators that may keep the current value
    (["reward=improvement"], "controller", True),  # the gain over the parent as the reward
])
def test_the_ablations_baselines_are_selected_by_config(overrides, mutation, bidirectional) -> None:
    config = load_config(preset="renas-smoke", overrides=overrides)
    evolution = config.algorithm()
    if bidirectional is None:
        assert evolution.controller is None and evolution.controller_state() is None
    else:
        assert evolution.controller.policy.encoder.bidirectional is bidirectional
    initial = evolution.ask()
    # the same initial population for a seed, whichever variant: the ablation compares like with like
    reference = load_config(preset="renas-smoke").algorithm().ask()
    assert [p.x for p in initial] == [p.x for p in reference]
    evolution.tell([Evaluation(i + 1, p.x, float(10 * i), 0, 0) for i, p in enumerate(initial)])
    children = evolution.ask()
    assert children and all(p.operator == mutation and len(p.parents) == 1 for p in children)


def test_the_improvement_reward_is_the_childs_gain_over_its_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(preset="renas-smoke", overrides=["reward=improvement"])
    evolution = config.algorithm()
    initial = evolution.ask()
    evolution.tell([Evaluation(i + 1, p.x, 10.0 * (i + 1), 0, 0) for i, p in enumerate(initial)])
    children = evolution.ask()
    parent_top1 = {m.id: m.top1 for m in evolution.population}[children[0].parents[0]]
    told = []
    monkeypatch.setattr(evolution.controller, "update", lambda cells, actions, rewards: told.extend(rewards) or 0.0)
    evolution.tell([Evaluation(100, children[0].x, 55.0, 0, 0)])
    assert told == [pytest.approx(reward(55.0) - reward(parent_top1))]
