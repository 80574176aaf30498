"""RENAS's reinforced mutation controller (Fig. 1, Algorithm 2), trained by policy gradient.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Section 3.3. Given a parent cell, the controller decides how to mutate it:

* **Encoder**: an embedding of the cell's tokens (:mod:`falsr_zoo.search.renas.space`: two
  begin tokens standing for the two previous cells, then ``i1, i2, o1, o2, add`` per block)
  and a bidirectional LSTM over them (a unidirectional one for the paper's "non-bi" ablation).
* Per block ``b``, in order:

  - **mutation-router**: "a fully connected layer to each hidden state H_i1, H_i2, H_o1, H_o2":
    one linear layer scores each of the four ingredients from its own encoder state, and the
    softmax over the four scores picks the element to mutate (so the router can learn to
    mutate the element whose current value is bad);
  - **input-mutator** (when the router picked ``i1`` or ``i2``): attention, with the state of
    the chosen input token as the query, over the states that stand for the inputs block ``b``
    may read: the two begin tokens (the previous cells) and the ``add`` tokens of blocks
    ``0 .. b - 1`` (their outputs); ``score_j = v . tanh(W_q q + W_k k_j)`` (pointer
    attention, as in ENAS);
  - **op-mutator** (when it picked ``o1`` or ``o2``): a softmax over the operators from the state
    of the chosen operator token.

  With ``keep_current = False`` (the default, the paper's "with each substitute") the current
  value of the chosen element gets no probability: every block changes.

Every logit goes through ``tanh_constant * tanh(logit / temperature)`` (2.5 and 5.0, the
paper's values, as in ENAS). The paper's sizes and training: embedding and hidden size 100,
weights initialised N(0, 0.01), Adam with learning rate 1e-3, reward ``tan(f * pi / 2)`` of the
child's fitness ``f`` (:mod:`falsr_zoo.search.renas.evolution`) with "the entropy of the
controller added to the reward with 0.1 weighted" (:mod:`falsr_zoo.search.reinforce`,
``entropy_mode = "reward"``). The loss of a batch of mutations is
``-mean((R + 0.1 H - b) * log pi(action))``, where ``log pi`` and the entropy ``H`` (a constant
in the gradient) sum over the router and the chosen mutator of every block. Our choice where
the paper is silent: the baseline ``b`` is an exponential moving average of the rewards
(decay 0.95), started at the first batch's mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from falsr_zoo.errors import ConfigError
from falsr_zoo.families.renas.cell import RenasCell
from falsr_zoo.search.reinforce import Reinforce
from falsr_zoo.search.renas.space import OP_NAMES, POSITIONS, MutationAction, RenasSpace

__all__ = ["MutationController", "MutationControllerSettings", "MutationPolicy"]

_MASKED = -1.0e4  # after the tanh squashing logits lie in [-2.5, 2.5]; this leaves no probability


@dataclass(frozen=True)
class MutationControllerSettings:
    """The controller's sizes and training (defaults: the paper's, but ``baseline_decay``: ours)."""

    embedding: int = 100
    hidden: int = 100
    init_std: float = 0.01
    lr: float = 1e-3
    tanh_constant: float = 2.5
    temperature: float = 5.0
    entropy_weight: float = 0.1
    entropy_mode: str = "reward"
    baseline_decay: float = 0.95
    bidirectional: bool = True
    keep_current: bool = False

    def __post_init__(self) -> None:
        for name in ("embedding", "hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"controller {name} size must be at least 1, got {getattr(self, name)}")
        for name in ("init_std", "lr", "tanh_constant", "temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"controller {name} must be positive, got {getattr(self, name)}")
        if self.entropy_weight < 0 or not 0 <= self.baseline_decay < 1:
            raise ConfigError("controller entropy_weight must be >= 0 and baseline_decay in [0, 1)")


class MutationPolicy(nn.Module):
    """Encoder, mutation-router, input-mutator (attention) and op-mutator."""

    def __init__(self, space: RenasSpace, settings: MutationControllerSettings) -> None:
        super().__init__()
        self.space, self.settings = space, settings
        width = settings.hidden * (2 if settings.bidirectional else 1)
        self.embedding = nn.Embedding(len(space.vocabulary), settings.embedding)
        self.encoder = nn.LSTM(settings.embedding, settings.hidden, batch_first=True,
                               bidirectional=settings.bidirectional)
        self.router = nn.Linear(width, 1)
        self.op_mutator = nn.Linear(width, len(OP_NAMES))
        self.attention_query = nn.Linear(width, settings.hidden, bias=False)
        self.attention_key = nn.Linear(width, settings.hidden, bias=False)
        self.attention_score = nn.Linear(settings.hidden, 1, bias=False)
        for parameter in self.parameters():
            nn.init.normal_(parameter, 0.0, settings.init_std)

    def _squash(self, logits: torch.Tensor) -> torch.Tensor:
        return self.settings.tanh_constant * torch.tanh(logits / self.settings.temperature)

    def _route_logits(self, states: torch.Tensor, block: int) -> torch.Tensor:
        """``(n, 4)`` router logits: the one layer applied to each ingredient's own state."""
        positions = [self.space.token_index(block, p) for p in range(len(POSITIONS))]
        return self._squash(self.router(states[:, positions]).squeeze(-1))

    def _value_logits(self, states: torch.Tensor, keys: torch.Tensor, block: int,
                      current: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, 4, width)`` logits of the mutator behind each router output (inputs padded; the
        current values masked when ``current`` ``(n, 4)`` is given)."""
        space = self.space
        width = max(block + 2, len(OP_NAMES))
        n = states.shape[0]
        logits = torch.full((n, len(POSITIONS), width), _MASKED)
        candidates = [space.input_state_index(v) for v in range(block + 2)]
        for position in range(len(POSITIONS)):
            query = states[:, space.token_index(block, position)]
            if position < 2:
                mixed = torch.tanh(self.attention_query(query)[:, None, :] + keys[:, candidates])
                scores = self._squash(self.attention_score(mixed).squeeze(-1))
                logits[:, position, : block + 2] = scores
            else:
                logits[:, position, : len(OP_NAMES)] = self._squash(self.op_mutator(query))
        if current is not None:
            logits.scatter_(2, current[:, :, None], _MASKED)
        return logits

    def forward(self, tokens: torch.Tensor, current: torch.Tensor, actions: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample mutations of a batch of cells, or score the given ``actions`` (teacher forcing).

        Args:
            tokens: ``(n, 2 + 5 #B)`` token indices of the parent cells.
            current: ``(n, #B, 4)`` the parents' current values (masked unless ``keep_current``).
            actions: ``(n, #B, 2)`` (position, value) per block to score, or ``None`` to sample.
            generator: The sampling generator.

        Returns:
            ``(actions (n, #B, 2) long, log_prob (n,), entropy (n,))``.
        """
        states, _ = self.encoder(self.embedding(tokens))
        keys = self.attention_key(states)
        n = tokens.shape[0]
        rows = torch.arange(n)
        chosen, log_prob, entropy = [], torch.zeros(n), torch.zeros(n)
        for block in range(self.space.num_blocks):
            route = torch.distributions.Categorical(logits=self._route_logits(states, block))
            position = (torch.multinomial(route.probs.detach(), 1, generator=generator).squeeze(1)
                        if actions is None else actions[:, block, 0])
            mask = None if self.settings.keep_current else current[:, block]
            mutator = torch.distributions.Categorical(logits=self._value_logits(states, keys, block, mask)[rows, position])
            value = (torch.multinomial(mutator.probs.detach(), 1, generator=generator).squeeze(1)
                     if actions is None else actions[:, block, 1])
            chosen.append(torch.stack((position, value), dim=1))
            log_prob = log_prob + route.log_prob(position) + mutator.log_prob(value)
            entropy = entropy + route.entropy() + mutator.entropy()
        return torch.stack(chosen, dim=1), log_prob, entropy


class MutationController(Reinforce):
    """The policy, its optimiser, the reward baseline and the sampling generator.

    Args:
        space: The cell space.
        seed: Seed of the initial weights and of the sampling generator.
        settings: Sizes and training settings (``bidirectional=False``: the "non-bi" ablation).
    """

    def __init__(self, space: RenasSpace, seed: int = 0, settings: MutationControllerSettings | None = None) -> None:
        self.space = space
        settings = settings or MutationControllerSettings()
        super().__init__(lambda: MutationPolicy(space, settings), settings, seed)

    def _tokens(self, cells: Sequence[RenasCell]) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.tensor([self.space.tokens(cell) for cell in cells], dtype=torch.long),
                torch.tensor([self.space.current_values(cell) for cell in cells], dtype=torch.long))

    def sample(self, cells: Sequence[RenasCell]) -> list[MutationAction]:
        """One mutation action per parent cell."""
        with torch.no_grad():
            actions, _, _ = self.policy(*self._tokens(cells), generator=self.generator)
        return [tuple((int(p), int(v)) for p, v in action) for action in actions]

    def probabilities(self, cell: RenasCell) -> list[tuple[list[float], list[list[float]]]]:
        """Per block: the router's probabilities and, per router output, the mutator's (for inspection)."""
        with torch.no_grad():
            tokens, current = self._tokens([cell])
            states, _ = self.policy.encoder(self.policy.embedding(tokens))
            keys = self.policy.attention_key(states)
            result = []
            for block in range(self.space.num_blocks):
                route = torch.softmax(self.policy._route_logits(states, block), -1)
                mask = None if self.settings.keep_current else current[:, block]
                values = torch.softmax(self.policy._value_logits(states, keys, block, mask), -1)[0]
                result.append((route[0].tolist(), [values[p, : self.space.choices(block, p)].tolist()
                                                   for p in range(len(POSITIONS))]))
            return result

    def update(self, cells: Sequence[RenasCell], actions: Sequence[MutationAction], rewards: Sequence[float]) -> float:
        """One policy-gradient step on mutations of ``cells`` and their rewards; returns the loss."""
        if not actions:
            return 0.0
        taken = torch.tensor([list(map(list, action)) for action in actions], dtype=torch.long)
        _, log_prob, entropy = self.policy(*self._tokens(cells), actions=taken)
        return self._reinforce(rewards, log_prob, entropy)
