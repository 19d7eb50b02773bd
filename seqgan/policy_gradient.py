"""The REINFORCE objective of SeqGAN (Eq. 8)."""

from __future__ import annotations

import torch

from seqgan.generator import LSTMPolicy


def pg_loss(policy: LSTMPolicy, sequences_BxT: torch.Tensor, rewards_BxT: torch.Tensor,
            baseline: str = "none") -> torch.Tensor:
    """−Σ_t log G_θ(y_t | Y_1:t−1) · Q(Y_1:t−1, y_t), summed over batch and time as the reference code.

    `baseline='mean'` subtracts the batch mean of Q at each step (variance reduction; off in the paper).
    """
    if baseline == "mean":
        rewards_BxT = rewards_BxT - rewards_BxT.mean(dim=0, keepdim=True)
    elif baseline != "none":
        raise ValueError(f"unknown baseline {baseline!r}; use 'none' or 'mean'")
    # −Σ log G · Q is Σ NLL · Q: the fused weighted NLL builds its gradient in the forward pass.
    return policy.weighted_nll(sequences_BxT, rewards_BxT.detach())
