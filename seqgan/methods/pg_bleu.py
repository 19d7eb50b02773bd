"""PG-BLEU, the paper's baseline: SeqGAN's rollouts and policy gradient with BLEU against the real data as reward.

The authors' PG-BLEU (LantaoYu/SeqGAN before commit 5f2c0a5, pg_bleu/pg_bleu.py and pg_bleu/rollout.py, 2016)
scored each completed sequence with NLTK's `sentence_bleu(references, seq, (1/3, 1/3, 1/3))` against a fixed 40%
draw of the real data, with no smoothing function. NLTK 3.2-3.2.5 (the versions with `sentence_bleu` in 2016) leave
an n-gram order without any match out of the geometric mean instead of scoring it 0: what `smoothing = 'nltk3.2'`
reproduces. The defaults here (BLEU-4, smoothing method 1, every real sequence) are this project's first reading of
the paper; on the paper oracle they make G_θ collapse onto a run of one token the oracle likes (token 2068, BLEU-4
0.66 against about 0.05 for the oracle's own samples), see reports/baselines-small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqgan.config import check
from seqgan.data import trim
from seqgan.methods.base import PolicyGradientMethod
from seqgan.metrics import BleuScorer
from seqgan.rollout import RewardFn

SMOOTHINGS = ("method1", "nltk3.2")
REFERENCE_SEED = 88
"""Seed of the draw of references when pg_bleu.reference_fraction < 1 (the reference code's SEED): the same
references for every run seed, as the real data is."""


@dataclass
class PGBleuConfig:
    """The BLEU reward."""

    n: int = 4
    """n of the BLEU-n reward: the geometric mean of the 1..n-gram precisions (the reference code's: 3)."""
    smoothing: str = "method1"
    """An n-gram order with no match: 'method1' counts ε = 0.1 matches (NLTK's SmoothingFunction().method1);
    'nltk3.2' leaves the order out of the geometric mean, as NLTK 3.2-3.2.5's sentence_bleu without a smoothing
    function did (the reference code's reward)."""
    reference_fraction: float = 1.0
    """Share of the real data used as references: a fixed draw keeps each sequence with this probability (the
    reference code's: 0.4); 1 uses every sequence."""

    def __post_init__(self) -> None:
        check(1 <= self.n <= 5, f"pg_bleu.n must be in 1..5, got {self.n}")
        check(self.smoothing in SMOOTHINGS, f"pg_bleu.smoothing must be 'method1' or 'nltk3.2', got {self.smoothing!r}")
        check(0 < self.reference_fraction <= 1,
              f"pg_bleu.reference_fraction must be in (0, 1], got {self.reference_fraction}")


def bleu_without_empty_orders(numerators: Sequence[int], hyp_len: int, ref_len: int, n: int) -> float:
    """Sentence BLEU-n as NLTK 3.2-3.2.5 computed it without a smoothing function: 0 without a unigram match,
    else the brevity penalty times exp(Σ (1/n)·log p_k) over the orders k that have a match (an order without one
    adds 0, as if its precision were 1). From the clipped counts of orders 1..n (`BleuScorer.clipped_counts`)."""
    if numerators[0] == 0:
        return 0.0
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    logs = (math.log(numerators[k] / (hyp_len - k)) / n for k in range(n) if numerators[k])
    return bp * math.exp(math.fsum(logs))


def reference_draw(num: int, fraction: float) -> list[int]:
    """Indices of the references kept: each with probability `fraction`, from REFERENCE_SEED (at least one)."""
    if fraction >= 1:
        return list(range(num))
    keep = torch.rand(num, generator=torch.Generator().manual_seed(REFERENCE_SEED)) < fraction
    kept = keep.nonzero().flatten().tolist()
    return kept or [0]


class PGBleuReward:
    """Sentence BLEU-n of each sequence (up to its end token) against the references (the real data or a fixed
    share of it). With smoothing 'method1' and every sequence it equals NLTK's sentence_bleu with
    SmoothingFunction().method1."""

    def __init__(self, real_NxT: torch.Tensor, n: int, eos: int | None, smoothing: str = "method1",
                 reference_fraction: float = 1.0):
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be 'method1' or 'nltk3.2', got {smoothing!r}")
        self.n = n
        self.eos = eos
        self.smoothing = smoothing
        rows = real_NxT.tolist()
        self.reference_ids = reference_draw(len(rows), reference_fraction)
        self.scorer = BleuScorer([trim(rows[i], eos) for i in self.reference_ids], max_n=n)

    def score(self, hypothesis: Sequence[int]) -> float:
        """The reward of one sequence, already cut at its end token."""
        if self.smoothing == "method1":
            return self.scorer.sentence_bleu(hypothesis, self.n)
        return bleu_without_empty_orders(self.scorer.clipped_counts(hypothesis, self.n), len(hypothesis),
                                         self.scorer.closest_ref_length(len(hypothesis)), self.n)

    def __call__(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        scores = [self.score(trim(s, self.eos)) for s in tokens_NxT.tolist()]
        return torch.tensor(scores, dtype=torch.float64, device=tokens_NxT.device)


class PGBleu(PolicyGradientMethod):
    """g-steps of Eq. 8 with BLEU rewards (the base class's round); nothing to train in the reward."""

    name = "pg_bleu"
    label = "PG-BLEU"
    title = "PG-BLEU: policy gradient with sentence BLEU against the real data as the reward"
    config = PGBleuConfig
    record_phase = "baseline"

    def __init__(self, trainer):  # type: ignore[no-untyped-def]
        super().__init__(trainer)
        self._reward: PGBleuReward | None = None  # the reference n-gram counts, built on first use

    def reward(self) -> RewardFn:
        if self._reward is None:
            s = self.settings
            self._reward = PGBleuReward(self.trainer.real_data, s.n, self.trainer.eos, s.smoothing, s.reference_fraction)
        return self._reward
