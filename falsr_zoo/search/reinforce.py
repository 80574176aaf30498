"""REINFORCE for the search controllers: the optimiser, the reward baseline, the sampling generator.

Both families' controllers are policies trained by policy gradient (FALSR Eq. 6; RENAS
Section 3.3, after ENAS): for a batch of sampled actions with rewards ``R``, the loss is
``-mean((R - b) * log pi(a))``, with ``b`` an exponential moving average of the rewards
(updated with the batch before the advantage, ENAS's convention). The controllers differ in
how the policy's entropy enters:

* ``entropy_mode = "reward"`` (RENAS, "add the entropy of the controller to the reward with
  0.1 weighted", ENAS's reading): every sample's reward is ``R + w * H(sample)``, ``H`` the
  summed entropy of the distributions it was drawn from, as a constant (no gradient through
  it), before the baseline;
* ``entropy_mode = "loss"`` (FALSR, where the paper names no entropy term; our choice): a
  differentiable regulariser ``- w * mean(H)`` added to the loss.

Sampling draws from the controller's own ``torch.Generator``; its state, the weights, the
optimiser and the baseline are all in :meth:`Reinforce.state_dict`, so a resumed search
samples what an uninterrupted one would.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Sequence

import torch
from torch import nn

from falsr_zoo.errors import ConfigError

__all__ = ["ENTROPY_MODES", "Reinforce"]

ENTROPY_MODES = ("reward", "loss")


class Reinforce:
    """A policy trained by REINFORCE.

    Args:
        make_policy: Builds the policy (called under ``seed``, so its initial weights are the seed's).
        settings: Needs ``lr``, ``baseline_decay``, ``entropy_weight`` and ``entropy_mode``.
        seed: Seed of the initial weights; ``seed + 1`` seeds the sampling generator.
    """

    def __init__(self, make_policy: Callable[[], nn.Module], settings: Any, seed: int) -> None:
        if settings.entropy_mode not in ENTROPY_MODES:
            raise ConfigError(f"entropy_mode must be one of {', '.join(ENTROPY_MODES)}, not {settings.entropy_mode!r}")
        self.settings = settings
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.policy = make_policy()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=settings.lr)
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.baseline: float | None = None
        self.updates = 0

    def _reinforce(self, rewards: Sequence[float], log_prob: torch.Tensor, entropy: torch.Tensor) -> float:
        """One policy-gradient step; returns the loss."""
        weight = self.settings.entropy_weight
        reward = torch.tensor(list(rewards), dtype=torch.float32)
        if self.settings.entropy_mode == "reward":
            reward = reward + weight * entropy.detach()
        mean = float(reward.mean())
        decay = self.settings.baseline_decay
        self.baseline = mean if self.baseline is None else decay * self.baseline + (1 - decay) * mean
        loss = -((reward - self.baseline) * log_prob).mean()
        if self.settings.entropy_mode == "loss":
            loss = loss - weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return float(loss.detach())

    def state_dict(self) -> bytes:
        """Everything needed to continue, as bytes (``torch.save``; read back with ``weights_only=True``)."""
        buffer = io.BytesIO()
        torch.save({"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "generator": self.generator.get_state(), "baseline": self.baseline,
                    "updates": self.updates}, buffer)
        return buffer.getvalue()

    def load_state_dict(self, blob: bytes) -> None:
        """Continue from :meth:`state_dict`'s bytes."""
        state: dict[str, Any] = torch.load(io.BytesIO(blob), weights_only=True)
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline, self.updates = state["baseline"], int(state["updates"])
