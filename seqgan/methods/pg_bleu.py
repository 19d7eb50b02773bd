"""PG-BLEU, the paper's baseline: SeqGAN's rollouts and policy gradient with BLEU against the real data as reward."""

from __future__ import annotations

from dataclasses import dataclass

from seqgan.config import check
from seqgan.methods.base import PolicyGradientMethod
from seqgan.rewards import BleuReward
from seqgan.rollout import RewardFn


@dataclass
class PGBleuConfig:
    """The BLEU reward."""

    n: int = 4
    """n of the BLEU-n reward (geometric mean of 1..n-gram precisions, NLTK smoothing method 1)."""

    def __post_init__(self) -> None:
        check(1 <= self.n <= 5, f"pg_bleu.n must be in 1..5, got {self.n}")


class PGBleu(PolicyGradientMethod):
    """g-steps of Eq. 8 with BLEU rewards (the base class's round); nothing to train in the reward."""

    name = "pg_bleu"
    label = "PG-BLEU"
    title = "PG-BLEU: policy gradient with sentence BLEU against the real data as the reward"
    config = PGBleuConfig
    record_phase = "baseline"

    def __init__(self, trainer):  # type: ignore[no-untyped-def]
        super().__init__(trainer)
        self._reward: BleuReward | None = None  # the reference n-gram counts, built on first use

    def reward(self) -> RewardFn:
        if self._reward is None:
            self._reward = BleuReward(self.trainer.real_data, self.settings.n, self.trainer.eos)
        return self._reward
