"""Scheduled Sampling (Bengio et al., 2015), the paper's SS baseline.

During training the generator is fed its own sampled token instead of the true previous token with
probability 1 − ε_i, where the teacher-forcing probability ε_i decays over training steps i:

    linear            ε_i = max(ε_min, 1 − i / total)
    exponential       ε_i = k^i                      (0 < k < 1)
    inverse_sigmoid   ε_i = k / (k + exp(i / k))     (k ≥ 1)

The loss is always the NLL of the true next token, as in the paper.
"""

from __future__ import annotations

import math

import torch

from seqgan.data import valid_mask
from seqgan.generator import LSTMPolicy
from seqgan.kernels.fused import weighted_nll
from seqgan.kernels.sampling import sample_from_hidden

SCHEDULES = ("linear", "exponential", "inverse_sigmoid")


def teacher_forcing_prob(step: int, total: int, schedule: str, k: float, floor: float = 0.0) -> float:
    """ε at training step `step` of `total` (the probability of feeding the true token)."""
    if schedule == "linear":
        return max(floor, 1.0 - step / max(1, total))
    if schedule == "exponential":
        return max(floor, k ** step)
    if schedule == "inverse_sigmoid":
        return max(floor, k / (k + math.exp(step / k)))
    raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")


def scheduled_sampling_nll(policy: LSTMPolicy, tokens_BxT: torch.Tensor, teacher_prob: float,
                           draws_BxTx2: torch.Tensor | None = None) -> torch.Tensor:
    """Per-token mean NLL of the true tokens when each input is the true previous token with probability
    `teacher_prob`, else the model's own sample at that position. `draws_BxTx2` fixes the random draws
    (coin, sampling uniform) for tests."""
    B, T = tokens_BxT.shape
    if draws_BxTx2 is None:
        draws_BxTx2 = torch.rand(B, T, 2, device=tokens_BxT.device)
    table = policy.input_table()
    w_aug = policy.output_aug()
    h, c = policy.zero_state(B)
    inputs_B = torch.full((B,), policy.start_token, dtype=torch.long, device=tokens_BxT.device)
    hidden = []
    for t in range(T):
        h, c = policy.step(table, inputs_B, h, c)
        hidden.append(h)
        if t + 1 < T:
            with torch.no_grad():
                own_B = sample_from_hidden(h.detach(), w_aug.detach(), draws_BxTx2[:, t, 1])
            use_true = draws_BxTx2[:, t, 0] < teacher_prob
            inputs_B = torch.where(use_true, tokens_BxT[:, t], own_B)
    hidden_NxH = torch.stack(hidden, dim=1).reshape(-1, policy.hidden_dim)
    mask_BxT = valid_mask(tokens_BxT, policy.eos_token)  # the true sequence's end bounds the loss
    weights_BxT = torch.full((B, T), 1.0 / (B * T), device=tokens_BxT.device) if mask_BxT is None \
        else mask_BxT / mask_BxT.sum().clamp_min(1)
    return weighted_nll(hidden_NxH, policy.output.weight, policy.output.bias, tokens_BxT.reshape(-1), weights_BxT.reshape(-1))
