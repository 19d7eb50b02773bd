"""A control for every policy-gradient method: REINFORCE with the same reward for every sequence.

With a constant reward c and no baseline, Eq. 8's gradient is c·∇ log G_θ(Y) for G's own samples Y: it raises
the probability of whatever G_θ writes, so G_θ sharpens (its entropy falls) and NLL_oracle improves with no
information about the data at all. A method's gain over MLE counts as its reward's doing only beyond this row's.
(Found while explaining the paper's PG-BLEU row, reports/baselines-small: a constant 0.53 reached NLL_oracle 8.681
at the small preset, next to SeqGAN's 8.674.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqgan.config import check
from seqgan.methods.base import PolicyGradientMethod


@dataclass
class PGConstantConfig:
    """The constant reward."""

    reward: float = 0.5
    """Q at every step of every sequence: SeqGAN's D_φ starts near 0.5."""

    def __post_init__(self) -> None:
        check(math.isfinite(self.reward) and self.reward > 0,
              f"pg_constant.reward must be a positive finite number, got {self.reward}")


class PGConstant(PolicyGradientMethod):
    """g-steps of Eq. 8 with a constant reward: the sharpening any positive reward brings, and nothing else."""

    name = "pg_constant"
    label = "PG, constant reward"
    title = "PG with a constant reward: a control for what a policy gradient does without a signal"
    config = PGConstantConfig
    record_phase = "baseline"

    def uses_rollouts(self) -> bool:
        return False  # the Monte Carlo mean of a constant is that constant: no rollouts, no G_β

    def g_step(self) -> dict[str, float]:
        """Sample, then Eq. 8 with Q = the constant at every step."""
        sequences = self.sample()
        q_BxT = torch.full(sequences.shape, self.settings.reward, dtype=torch.float64, device=sequences.device)
        return self.policy_gradient(sequences, q_BxT)
