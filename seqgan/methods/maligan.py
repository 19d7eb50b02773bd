"""MaliGAN (Che et al. 2017, "Maximum-Likelihood Augmented Discrete Generative Adversarial Networks").

The reward is r_D(Y) = D(Y) / (1 − D(Y)), which at the optimal D is p_data(Y) / p_θ(Y); normalised over
the batch it gives importance weights whose policy gradient estimates the gradient of KL(p_data ‖ p_θ)
with low variance: ∇ ≈ Σ_i (r_D(Y_i) / Σ_j r_D(Y_j) − b) ∇ log p_θ(Y_i), b = 1/B the baseline.

Per step t (Monte Carlo version, `maligan.rewards = 'rollout'`) the rewards are Q from G_β's rollouts
scored by r_D, normalised over the batch at each step; per sequence (`'sequence'`) one r_D per sequence.
Mixed MLE–Mali training (the paper's Algorithm 2): the first N tokens of a real sequence are teacher-
forced (their log-likelihood is maximised) and G_θ writes the rest, which gets the Mali gradient; N
starts at `mixed_start` and drops by one every `mixed_every` rounds.

Bugs elsewhere, each a test in tests/test_methods.py: Texygen uses D, not D/(1 − D); TextBox comments
out the baseline; TextGAN-PyTorch has no mixed stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan import steps
from seqgan.config import check, non_negative, positive
from seqgan.errors import ConfigError
from seqgan.generator import LSTMPolicy
from seqgan.kernels.sampling import sample_from_hidden
from seqgan.methods.base import PolicyGradientMethod
from seqgan.rewards import DiscriminatorReward, OddsReward, importance_weights
from seqgan.rollout import RewardFn


@dataclass
class MaliGANConfig:
    """MaliGAN's reward, baseline and mixed MLE–Mali schedule."""

    rewards: str = "rollout"
    """'rollout': r_D of G_β's Monte Carlo completions at every step (train.rollout_num), normalised at each step;
    'sequence': one r_D per complete sequence for all its tokens (the paper's basic MaliGAN)."""
    baseline: bool = True
    """Subtract b = 1/B (the mean of the normalised weights) from each weight."""
    mixed_start: int = 10
    """N at the first round: tokens of a real sequence teacher-forced before G_θ writes the rest; 0 turns the mixed
    MLE–Mali training off (every sequence is G_θ's own). Capped at the sequence length − 1."""
    mixed_every: int = 4
    """Rounds between decrements of N by one (N reaches 0 after mixed_start · mixed_every rounds)."""

    def __post_init__(self) -> None:
        check(self.rewards in ("rollout", "sequence"), f"maligan.rewards must be 'rollout' or 'sequence', "
              f"got {self.rewards!r}")
        non_negative("maligan", mixed_start=self.mixed_start)
        positive("maligan", mixed_every=self.mixed_every)


def mixed_prefix(round_index: int, start: int, every: int, seq_len: int) -> int:
    """N at a round: `start` (at most seq_len − 1), one less every `every` rounds, never below 0."""
    return max(0, min(start, seq_len - 1) - round_index // every)


@torch.no_grad()
def continue_sequences(policy: LSTMPolicy, prefix_BxN: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Real prefixes completed by the policy's own samples: (B, T), `pad_token` after an end token."""
    B, N = prefix_BxN.shape
    device = prefix_BxN.device
    table = policy.input_table()
    w_aug = policy.output_aug()
    out_BxT = torch.full((B, seq_len), policy.pad_token, dtype=torch.long, device=device)
    out_BxT[:, :N] = prefix_BxN
    tokens_B = torch.full((B,), policy.start_token, dtype=torch.long, device=device)
    h, c = policy.zero_state(B)
    ended_B = torch.zeros(B, dtype=torch.bool, device=device)
    for t in range(seq_len):
        h, c = policy.step(table, tokens_B, h, c)
        if t < N:
            tokens_B = prefix_BxN[:, t]
        else:
            tokens_B = sample_from_hidden(h, w_aug, torch.rand(B, device=device))
            out_BxT[:, t] = torch.where(ended_B, policy.pad_token, tokens_B)
        if policy.eos_token is not None:
            ended_B |= tokens_B == policy.eos_token
    return out_BxT


def mali_weights(r_BxT: torch.Tensor, prefix: int, baseline: bool, batch_size: int) -> torch.Tensor:
    """The weights of −log G_θ(y_t | ·): 1/B on the N teacher-forced tokens (their MLE term, on the scale of the
    weights), normalised importance weights (minus the baseline) on the tokens G_θ wrote."""
    w_BxT = importance_weights(r_BxT, baseline)
    w_BxT[:, :prefix] = 1.0 / batch_size
    return w_BxT


class MaliGAN(PolicyGradientMethod):
    """g-steps of the Mali gradient (mixed with MLE on real prefixes), then D_φ's d-steps as in SeqGAN."""

    name = "maligan"
    label = "MaliGAN"
    title = "MaliGAN (Che et al. 2017): normalised importance weights D/(1 − D), mixed MLE–Mali training"
    config = MaliGANConfig
    trains_discriminator = True
    rewards_from_discriminator = True

    @classmethod
    def validate(cls, cfg) -> None:  # type: ignore[no-untyped-def]
        if cfg.train.advantage != "none":
            raise ConfigError(f"MaliGAN's normalised importance weights are its advantage; train.advantage must be "
                              f"'none' with train.method='maligan' (got {cfg.train.advantage!r}); the baseline is "
                              "maligan.baseline")

    def uses_rollouts(self) -> bool:
        return self.settings.rewards == "rollout"

    def reward(self) -> RewardFn:
        return OddsReward(DiscriminatorReward(self.trainer.discriminator))

    def prefix(self) -> int:
        """N of this round."""
        s = self.settings
        return mixed_prefix(self.trainer.progress.done, s.mixed_start, s.mixed_every, self.trainer.seq_len)

    def batch(self, prefix: int) -> torch.Tensor:
        """G_θ's sequences, or with N > 0 real prefixes of length N completed by G_θ: this rank's share."""
        if prefix == 0:
            return self.sample()
        n = self.cfg.generator.batch_size // self.trainer.dist.world
        real = self.trainer.real_data[torch.randint(len(self.trainer.real_data), (n,), device=self.trainer.device)]
        return continue_sequences(self.trainer.generator, real[:, :prefix], self.trainer.seq_len)

    def g_step(self) -> dict[str, float]:
        """One update of G_θ with the Mali gradient."""
        prefix = self.prefix()
        sequences = self.batch(prefix)
        reward = self.reward()
        if self.settings.rewards == "rollout":
            r = self.monte_carlo_q(sequences, reward)
        else:
            r = reward(sequences).to(torch.float32)[:, None].expand(-1, sequences.shape[1])
        weights = mali_weights(r, prefix, self.settings.baseline, len(sequences))
        metrics = steps.pg_step(self.trainer, self.opt, sequences, weights)
        return {**metrics, "rewards/mean_odds": r[:, prefix:].mean().item(), "maligan/prefix": float(prefix)}
