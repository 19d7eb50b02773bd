"""Rewards and advantages: what multiplies log G_θ in the policy gradient (Eq. 8) and its successors.

A *reward* maps complete sequences (N, T) to scores (N,): D_φ's probability of real (SeqGAN), its odds
D/(1 − D) (MaliGAN), BLEU against the real data (PG-BLEU), a language model's log-likelihood (DPGAN).
Monte Carlo rollouts (seqgan.rollout, Eq. 4) turn a reward into Q for every prefix: (B, T).

An *advantage* maps Q (B, T) to the weights of −log G_θ(y_t | Y_1:t−1) in the loss: the identity (the
paper), a mean baseline, LeakGAN's rescaled ranks, normalisation, or MaliGAN's normalised importance
weights. Any policy-gradient method takes any of them from `train.advantage`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqgan.data import valid_mask
from seqgan.discriminator import DiscriminatorReward
from seqgan.generator import LSTMPolicy

# ---- rewards of complete sequences -------------------------------------------------------------------


def odds(prob_real_N: torch.Tensor) -> torch.Tensor:
    """r_D = D / (1 − D) in float64; D is kept in [1e-12, 1 − 1e-12] so a saturated D gives a finite, positive reward
    (a batch of zero rewards could not be normalised)."""
    p = prob_real_N.to(torch.float64).clamp(1e-12, 1.0 - 1e-12)
    return p / (1.0 - p)


class OddsReward:
    """MaliGAN's r_D(Y) = D(Y) / (1 − D(Y)): at the optimal D this is p_data(Y) / p_θ(Y) (Che et al. 2017, Eq. 3)."""

    def __init__(self, prob_real: DiscriminatorReward):
        self.prob_real = prob_real

    def __call__(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        return odds(self.prob_real(tokens_NxT))

    def of_rollouts(self, sequences_BxT: torch.Tensor, rollouts_RxT: torch.Tensor, seq_R: torch.Tensor,
                    prefix_R: torch.Tensor) -> torch.Tensor:
        """The same rewards for rollouts, sharing D's convolution windows inside each prefix."""
        return odds(self.prob_real.of_rollouts(sequences_BxT, rollouts_RxT, seq_R, prefix_R))


class LanguageModelReward:
    """DPGAN's rewards from a language model D_φ: −log D_φ(y_t | Y_1:t−1) of each token (word level) and their
    mean over the sequence's tokens (sentence level). Text the LM predicts well earns little."""

    def __init__(self, lm: LSTMPolicy):
        self.lm = lm

    @torch.no_grad()
    def tokens(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Word-level rewards (B, T), 0 after a sequence's end token. (The LM has no dropout: no eval mode needed.)"""
        return self.lm.token_nll(tokens_BxT)

    def sentence(self, word_BxT: torch.Tensor, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Sentence-level rewards (B,): the mean word-level reward over each sequence's tokens."""
        mask_BxT = valid_mask(tokens_BxT, self.lm.eos_token)
        count_B = torch.full_like(word_BxT[:, 0], tokens_BxT.shape[1]) if mask_BxT is None else mask_BxT.sum(1)
        return word_BxT.sum(1) / count_B.clamp_min(1)

    def __call__(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        return self.sentence(self.tokens(tokens_NxT), tokens_NxT)


# ---- advantages: Q (B, T) → weights of −log G_θ (B, T); each step t is normalised over the batch ------


def identity(q_BxT: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. 8: Q itself."""
    return q_BxT


def mean_baseline(q_BxT: torch.Tensor) -> torch.Tensor:
    """Q minus the batch mean at each step (variance reduction; off in the paper)."""
    return q_BxT - q_BxT.mean(dim=0, keepdim=True)


def normalize(q_BxT: torch.Tensor) -> torch.Tensor:
    """(Q − mean) / std over the batch at each step (a step whose rewards are all equal gets 0)."""
    centred = q_BxT - q_BxT.mean(dim=0, keepdim=True)
    std = q_BxT.std(dim=0, keepdim=True, unbiased=False)
    return torch.where(std > 0, centred / std.clamp_min(torch.finfo(q_BxT.dtype).tiny), torch.zeros_like(centred))


def descending_ranks(q_BxT: torch.Tensor) -> torch.Tensor:
    """Rank of each reward among the batch at its step, 1 = highest: (B, T). Ties take their order in the batch."""
    order_BxT = torch.sort(q_BxT, dim=0, descending=True, stable=True).indices
    ranks_BxT = torch.empty_like(order_BxT)
    positions = torch.arange(1, q_BxT.shape[0] + 1, device=q_BxT.device).unsqueeze(1).expand_as(order_BxT)
    ranks_BxT.scatter_(0, order_BxT, positions)
    return ranks_BxT


def rescale(q_BxT: torch.Tensor, delta: float = 16.0) -> torch.Tensor:
    """LeakGAN's bootstrapped rescaled activation (Guo et al. 2018, Eq. 13): σ(δ·(0.5 − rank/B)) with the rank of
    each reward in *sorted* order at each step. (The official code and Texygen rank the batch in dict order,
    i.e. batch order, so the reward does not depend on the score at all; tests/test_rewards.py checks ours does.)"""
    ranks_BxT = descending_ranks(q_BxT).to(q_BxT.dtype)
    return torch.sigmoid(delta * (0.5 - ranks_BxT / q_BxT.shape[0]))


def importance_weights(r_BxT: torch.Tensor, baseline: bool = True) -> torch.Tensor:
    """MaliGAN's normalised importance weights (Che et al. 2017, Eq. 9): r / Σ_batch r at each step, minus the
    baseline 1/B (the weights' mean) when `baseline`. The rewards r must be positive (D/(1 − D))."""
    w_BxT = r_BxT / r_BxT.sum(dim=0, keepdim=True)
    return w_BxT - 1.0 / r_BxT.shape[0] if baseline else w_BxT


ADVANTAGES = ("none", "mean", "rescale", "normalize", "importance")


def advantage_fn(name: str, rescale_delta: float = 16.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The advantage named in `train.advantage`."""
    if name == "none":
        return identity
    if name == "mean":
        return mean_baseline
    if name == "rescale":
        return lambda q: rescale(q, rescale_delta)
    if name == "normalize":
        return normalize
    if name == "importance":
        return importance_weights
    raise ValueError(f"unknown advantage {name!r}; use one of {', '.join(ADVANTAGES)}")


__all__ = ["DiscriminatorReward", "OddsReward", "LanguageModelReward", "odds", "identity", "mean_baseline",
           "normalize", "rescale", "descending_ranks", "importance_weights", "ADVANTAGES", "advantage_fn"]
