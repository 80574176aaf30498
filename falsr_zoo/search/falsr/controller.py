"""FALSR's reinforcement-learning controller (Fig. 2, Eq. 6): an LSTM samples cells, an MLP the links.

The LSTM runs ``n`` steps; at each it emits a softmax over the 192 cell choices, and the
embedding of the sampled choice is its next input (a learned start embedding comes first). The
``n`` chosen embeddings, concatenated, go through two fully connected layers (ReLU) and a last
one with ``n(n+1)/2`` sigmoid outputs, the probabilities of the link bits, each sampled as a
Bernoulli. The policy is trained with REINFORCE (:mod:`falsr_zoo.search.reinforce`), one
episode per sampled genome and the same reward for all of its actions (gamma = 1, Eq. 6): the
loss is ``-(R - b) * log pi(a)`` minus a small entropy regulariser (the paper names none; ours),
with ``b`` an exponential moving average of the rewards. Which reward the search feeds it is
the search's choice (:mod:`falsr_zoo.search.falsr.hybrid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from falsr_zoo.search.reinforce import Reinforce

__all__ = ["Controller", "ControllerSettings", "PolicyNetwork"]


@dataclass(frozen=True)
class ControllerSettings:
    """Sizes and learning settings of the controller (our choices; the paper gives the structure only)."""

    embedding: int = 64
    hidden: int = 64
    link_hidden: int = 64
    lr: float = 3e-3
    baseline_decay: float = 0.8
    entropy_weight: float = 1e-3
    entropy_mode: str = "loss"
    init_range: float = 0.1


class PolicyNetwork(nn.Module):
    """The controller's network: LSTM over cells, MLP over the concatenated cell embeddings for links."""

    def __init__(self, n_cells: int, num_choices: int, settings: ControllerSettings) -> None:
        super().__init__()
        self.n_cells, self.num_choices = n_cells, num_choices
        self.num_links = n_cells * (n_cells + 1) // 2
        self.start = nn.Parameter(torch.zeros(1, settings.embedding))
        self.embedding = nn.Embedding(num_choices, settings.embedding)
        self.lstm = nn.LSTMCell(settings.embedding, settings.hidden)
        self.cell_logits = nn.Linear(settings.hidden, num_choices)
        self.links = nn.Sequential(
            nn.Linear(n_cells * settings.embedding, settings.link_hidden), nn.ReLU(),
            nn.Linear(settings.link_hidden, settings.link_hidden), nn.ReLU(),
            nn.Linear(settings.link_hidden, self.num_links),
        )
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -settings.init_range, settings.init_range)

    def forward(self, count: int, generator: torch.Generator | None = None,
                cells: torch.Tensor | None = None, bits: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``count`` genomes, or score the given ``cells`` / ``bits`` (teacher forcing).

        Returns:
            ``(cells (count, n) long, bits (count, L) long, log_prob (count,), entropy (count,))``.
        """
        x = self.start.expand(count, -1)
        state = None
        chosen, log_prob, entropy, embedded = [], torch.zeros(count), torch.zeros(count), []
        for step in range(self.n_cells):
            state = self.lstm(x, state)
            distribution = torch.distributions.Categorical(logits=self.cell_logits(state[0]))
            if cells is None:
                probabilities = distribution.probs.detach()
                action = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
            else:
                action = cells[:, step]
            chosen.append(action)
            log_prob = log_prob + distribution.log_prob(action)
            entropy = entropy + distribution.entropy()
            x = self.embedding(action)
            embedded.append(x)
        link_logits = self.links(torch.cat(embedded, dim=1))
        links = torch.distributions.Bernoulli(logits=link_logits)
        if bits is None:
            bits = torch.bernoulli(torch.sigmoid(link_logits).detach(), generator=generator).long()
        log_prob = log_prob + links.log_prob(bits.float()).sum(1)
        entropy = entropy + links.entropy().sum(1)
        return torch.stack(chosen, dim=1), bits, log_prob, entropy


class Controller(Reinforce):
    """The policy, its optimiser, the reward baseline and the sampling generator.

    Args:
        n_cells: Cells per genome.
        num_choices: Micro choices per cell.
        seed: Seed of the initial weights and of the sampling generator.
        settings: Sizes and learning settings.
    """

    def __init__(self, n_cells: int, num_choices: int, seed: int = 0,
                 settings: ControllerSettings | None = None) -> None:
        settings = settings or ControllerSettings()
        super().__init__(lambda: PolicyNetwork(n_cells, num_choices, settings), settings, seed)

    def sample(self, count: int) -> list[tuple[list[int], list[int]]]:
        """``count`` genomes as ``(cell choice indices, link bits)``."""
        with torch.no_grad():
            cells, bits, _, _ = self.policy(count, self.generator)
        return [(c.tolist(), b.tolist()) for c, b in zip(cells, bits)]

    def update(self, actions: list[tuple[list[int], list[int]]], rewards: list[float]) -> float:
        """One REINFORCE step on sampled genomes and their rewards; returns the loss."""
        if not actions:
            return 0.0
        cells = torch.tensor([a[0] for a in actions], dtype=torch.long)
        bits = torch.tensor([a[1] for a in actions], dtype=torch.long)
        _, _, log_prob, entropy = self.policy(len(actions), cells=cells, bits=bits)
        return self._reinforce(rewards, log_prob, entropy)
