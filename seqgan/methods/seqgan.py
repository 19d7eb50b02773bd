"""SeqGAN (Yu, Zhang, Wang, Yu — AAAI 2017): REINFORCE with Monte Carlo rewards from a CNN discriminator."""

from __future__ import annotations

from seqgan import steps
from seqgan.methods.base import PolicyGradientMethod
from seqgan.rewards import DiscriminatorReward
from seqgan.rollout import RewardFn


class SeqGAN(PolicyGradientMethod):
    """Algorithm 1, lines 5–17; lines 1–4 (MLE pretraining of G_θ, pretraining of D_φ) are the trainer's phases."""

    name = "seqgan"
    label = "SeqGAN"
    title = "SeqGAN (Yu et al. 2017): policy gradient on D_φ's probability of real, Monte Carlo Q from G_β"
    trains_discriminator = True
    rewards_from_discriminator = True

    def reward(self) -> RewardFn:
        return DiscriminatorReward(self.trainer.discriminator)

    def round(self) -> dict[str, float]:
        t = self.cfg.train
        metrics: dict[str, float] = {}
        for _ in range(t.g_steps):                                   # 6: for g-steps do
            sequences = self.sample()                                # 7:   generate Y_1:T ~ G_θ
            q = self.monte_carlo_q(sequences, self.reward())         # 8-9: Q(a = y_t; s = Y_1:t−1) by Eq. (4)
            metrics.update(self.policy_gradient(sequences, q))       # 10:  update θ via Eq. (8)
        for _ in range(t.d_steps):                                   # 12: for d-steps do
            metrics.update(steps.d_step(self.trainer, t.d_epochs))   # 13-14: fresh negatives + S; D_φ for k epochs (Eq. 5)
        self.sync_rollout_policy()                                   # 16: β ← θ (delayed: r·β + (1 − r)·θ)
        return metrics
