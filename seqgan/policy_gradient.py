"""The REINFORCE objective of SeqGAN (Eq. 8), fused, with its plain three-line reference beside it."""

from __future__ import annotations

import torch

from seqgan.data import valid_mask
from seqgan.generator import LSTMPolicy


def pg_loss(policy: LSTMPolicy, sequences_BxT: torch.Tensor, weights_BxT: torch.Tensor) -> torch.Tensor:
    """−Σ_t log G_θ(y_t | Y_1:t−1) · Q(Y_1:t−1, y_t), summed over batch and time as the reference code.

    `weights_BxT` is Q, or an advantage of it (seqgan.rewards: a baseline, rescaled ranks, importance
    weights); it is a constant here. Positions after a sequence's end token do not count.
    """
    # −Σ log G · Q is Σ NLL · Q: the fused weighted NLL builds its gradient in the forward pass.
    return policy.weighted_nll(sequences_BxT, weights_BxT.detach())


def reference_pg_loss(policy: LSTMPolicy, sequences_BxT: torch.Tensor, weights_BxT: torch.Tensor) -> torch.Tensor:
    """Eq. 8 as written: log-softmax of the logits, the log-probability of each token, weighted and summed."""
    log_probs_BxT = torch.log_softmax(policy(sequences_BxT), dim=-1).gather(-1, sequences_BxT.unsqueeze(-1)).squeeze(-1)
    mask_BxT = valid_mask(sequences_BxT, policy.eos_token)
    return -(log_probs_BxT * weights_BxT.detach() * (1.0 if mask_BxT is None else mask_BxT)).sum()
