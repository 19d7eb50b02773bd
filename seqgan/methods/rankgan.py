"""RankGAN (Lin, Li, He, Zhang, Sun — NIPS 2017, "Adversarial Ranking for Language Generation"): D_φ ranks.

The discriminator becomes a ranker R_φ: instead of a probability of real for each sentence alone, a candidate s
gets a rank score among a comparison set C, relative to a reference set U of real sentences (Sec. 2):

    α(s | u)     = cos(y_s, y_u)                                      relevance; y = the ranker's feature
    P(s | u, C′) = exp(γ α(s | u)) / Σ_{s′ ∈ C′} exp(γ α(s′ | u)),    C′ = C ∪ {s}: s is in its own softmax
    R(s | U, C)  = mean over u ∈ U of P(s | u, C′)

The ranker is D_φ's CNN up to its highway layer (`Discriminator.feature_vector`; the output layer goes unused) with
D_φ's optimiser. It ranks real sentences s_h among generated ones (C⁻) high and generated sentences s_g among real
ones (C⁺) low: it minimises −E[log R(s_h | U, C⁻)] + E[log R(s_g | U, C⁺)]. G_θ's reward for a complete sentence
is its rank score among real sentences, R(Y | U, C⁺), as the co-authors' code rewards it (positive, as SeqGAN's
D(Y)); `rankgan.log_reward` rewards log R(Y | U, C⁺) instead, the reward of the min-max objective E[log R] (with
it every reward is near log(1/|C′|) < 0, so the update pushes down the likelihood of G's own samples unless
`train.advantage` subtracts a baseline). U and C⁺ are drawn from the real data once per g-step and
held fixed for all of its rollouts; Q of every prefix then comes from the shared batched rollouts (Eq. 4 of
SeqGAN) and G_θ follows the policy gradient (Eq. 8, then `train.advantage`).

Bugs elsewhere, each a test in tests/test_rankgan.py: the co-authors' code (cookielee77/RankGan-NIPS2017, issue 1)
ranks G's sentences by a softmax over the generated batch only, dropping the real sentences of C⁺ from G's reward;
Texygen, TextBox and the co-authors' ranker add up the cosines to the references inside one softmax (|U| times
the candidate's normalised feature · the mean normalised reference feature), where the paper averages the
per-reference softmax scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seqgan import steps
from seqgan.config import check, positive
from seqgan.discriminator import Discriminator
from seqgan.errors import ConfigError
from seqgan.methods.base import PolicyGradientMethod

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps sentences (N, T) to the ranker's features y (N, F)."""


@dataclass
class RankGANConfig:
    """The ranker's reference set, comparison set and softmax temperature."""

    reference_size: int = 16
    """|U|: real sentences each candidate is compared with (ref_size = 16 in the co-authors' code, Texygen, TextBox)."""
    comparison_size: int = 64
    """|C′|: sentences each softmax ranks, the candidate and comparison_size − 1 others (the co-authors' code ranks
    within its ranker batch of 64; not a value stated in the paper)."""
    gamma: float = 1.0
    """γ, the temperature of the softmax over relevance scores (1 in the co-authors' code and TextBox)."""
    log_reward: bool = False
    """G's reward: false, the rank score R(Y | U, C⁺) (the co-authors' code); true, log R (the min-max objective's
    reward; all rewards are then negative, so pair it with train.advantage = 'mean')."""

    def __post_init__(self) -> None:
        positive("rankgan", reference_size=self.reference_size, gamma=self.gamma)
        check(self.comparison_size >= 2, f"rankgan.comparison_size must be >= 2 (the candidate and at least one other "
              f"sentence; with 1 every rank score is 1), got {self.comparison_size}")


# ---- the rank score (Sec. 2) -------------------------------------------------------------------------------------


def log_rank_scores(cand_NxF: torch.Tensor, comparison: torch.Tensor, ref_UxF: torch.Tensor,
                    gamma: float) -> torch.Tensor:
    """log R(s | U, C) of each candidate: (N,). `comparison` is one set shared by every candidate, (K−1, F), or each
    candidate's own, (N, K−1, F); the candidate joins it in each softmax (C′ = C ∪ {s})."""
    cand_NxF = F.normalize(cand_NxF, dim=-1)
    ref_UxF = F.normalize(ref_UxF, dim=-1)
    comparison = F.normalize(comparison, dim=-1)
    own_NxU = gamma * cand_NxF @ ref_UxF.T  # γ α(s | u)
    others = gamma * comparison @ ref_UxF.T  # γ α(s′ | u): (K−1, U) shared, or (N, K−1, U)
    # log Σ_{s′ ∈ C′} exp(γ α(s′ | u)): the candidate's own term plus the others'
    if comparison.dim() == 2:
        log_norm_NxU = torch.logaddexp(own_NxU, torch.logsumexp(others, dim=0))
    else:
        log_norm_NxU = torch.logaddexp(own_NxU, torch.logsumexp(others, dim=1))
    log_p_NxU = own_NxU - log_norm_NxU  # log P(s | u, C′)
    return torch.logsumexp(log_p_NxU, dim=1) - math.log(ref_UxF.shape[0])  # log of the mean over u ∈ U


def rank_scores(cand_NxF: torch.Tensor, comparison: torch.Tensor, ref_UxF: torch.Tensor, gamma: float) -> torch.Tensor:
    """R(s | U, C) of each candidate: (N,). See `log_rank_scores`."""
    return log_rank_scores(cand_NxF, comparison, ref_UxF, gamma).exp()


def reference_rank_scores(cand_NxF: torch.Tensor, comparison: torch.Tensor, ref_UxF: torch.Tensor,
                          gamma: float) -> torch.Tensor:
    """`rank_scores` as the paper writes it, one candidate, reference and comparison sentence at a time."""

    def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum() / (a.norm() * b.norm())

    scores = []
    for i, s in enumerate(cand_NxF):
        others = comparison if comparison.dim() == 2 else comparison[i]
        total = 0.0
        for u in ref_UxF:
            mine = torch.exp(gamma * cos(s, u))
            total = total + mine / (mine + sum(torch.exp(gamma * cos(c, u)) for c in others))
        scores.append(total / len(ref_UxF))
    return torch.stack(scores)


def ranker_loss(log_r_real_N: torch.Tensor, log_r_generated_N: torch.Tensor) -> torch.Tensor:
    """The ranker's loss: −mean log R(s_h | U, C⁻) + mean log R(s_g | U, C⁺) (real ranked up, generated down)."""
    return -log_r_real_N.mean() + log_r_generated_N.mean()


class RankReward:
    """G_θ's reward: R(Y | U, C⁺) of each sentence (log R with `log`), ranked among real sentences C⁺ (fixed) relative
    to real references U (fixed), each sentence on its own, so no other sentence of G's batch enters its score."""

    def __init__(self, features: FeatureFn, references_UxT: torch.Tensor, comparison_CxT: torch.Tensor, gamma: float,
                 log: bool = False):
        self.features = features
        self.references = references_UxT
        self.comparison = comparison_CxT
        self.gamma = gamma
        self.log = log
        self.ref_UxF = features(references_UxT)
        self.comparison_CxF = features(comparison_CxT)

    @torch.no_grad()
    def __call__(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        log_r_N = log_rank_scores(self.features(tokens_NxT), self.comparison_CxF, self.ref_UxF, self.gamma)
        return log_r_N if self.log else log_r_N.exp()


@torch.no_grad()
def ranker_features(ranker: Discriminator, tokens_NxT: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """The ranker's features y for scoring: no dropout (`feature_vector` stops before it), no gradient: (N, F)."""
    return torch.cat([ranker.feature_vector(tokens_NxT[lo:lo + batch_size])
                      for lo in range(0, len(tokens_NxT), batch_size)])


def _ranker_loss(ranker: Discriminator, tokens_NxT: torch.Tensor, sizes: list[int],
                 gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ranker's loss on one batch, all its sentences in one forward pass (so DDP sees one): real candidates,
    generated candidates, C⁻ (generated), C⁺ (real), U (real), concatenated in that order with these sizes."""
    y_NxF = ranker.dropout(ranker.feature_vector(tokens_NxT))
    real_y, fake_y, minus_y, plus_y, ref_y = torch.split(y_NxF, sizes)
    log_r_real = log_rank_scores(real_y, minus_y, ref_y, gamma)
    log_r_fake = log_rank_scores(fake_y, plus_y, ref_y, gamma)
    loss = ranker_loss(log_r_real, log_r_fake)
    # D_φ's output layer takes no part in ranking; a zero term keeps it in the graph, as DDP needs of every parameter.
    unused = ranker.out.weight.sum() + ranker.out.bias.sum()
    return loss + 0.0 * unused, log_r_real.detach(), log_r_fake.detach()


class RankGAN(PolicyGradientMethod):
    """g-steps of policy gradient on G's rank among real sentences, then d-steps of the ranker on fresh samples."""

    name = "rankgan"
    label = "RankGAN"
    title = "RankGAN (Lin et al. 2017): a ranker; reward = the rank score of G's sentence among real ones"
    config = RankGANConfig
    trains_discriminator = True

    def half_batch(self) -> int:
        """Real (and as many generated) candidates per ranker batch: half of this rank's discriminator.batch_size."""
        return max(1, self.cfg.discriminator.batch_size // self.trainer.dist.world // 2)

    def preflight(self) -> None:
        """The pools each draw comes from must hold the comparison and reference sets."""
        super().preflight()
        s = self.settings
        negatives = self.cfg.train.num_negatives // self.trainer.dist.world
        real = min(negatives, len(self.trainer.real_data))
        need = self.half_batch() + s.comparison_size - 1 + s.reference_size
        if negatives < s.comparison_size - 1 or real < need:
            raise ConfigError(f"RankGAN's ranker batch draws {self.half_batch()} real candidates, comparison_size − 1 = "
                              f"{s.comparison_size - 1} others and reference_size = {s.reference_size} references from "
                              f"{real} real and {negatives} generated sentences per process; raise train.num_negatives "
                              f"to at least {need * self.trainer.dist.world} or lower rankgan.comparison_size / "
                              "rankgan.reference_size")

    def reward(self) -> RankReward:
        """R(Y | U, C⁺) (or its log), with U and C⁺ drawn from the real data (disjoint) for this g-step."""
        s = self.settings
        real = self.trainer.real_data
        pick = torch.randperm(len(real), device=self.trainer.device)[:s.comparison_size - 1 + s.reference_size]
        comparison = real[pick[:s.comparison_size - 1]]
        references = real[pick[s.comparison_size - 1:]]
        discriminator = self.trainer.discriminator
        return RankReward(lambda tokens: ranker_features(discriminator, tokens), references, comparison, s.gamma,
                          s.log_reward)

    def g_step(self) -> dict[str, float]:
        """One update of G_θ: sample, Q from the rank scores of G_β's completions, policy gradient."""
        sequences = self.sample()
        q_BxT = self.monte_carlo_q(sequences, self.reward())
        metrics = self.policy_gradient(sequences, q_BxT)
        return {**metrics, "rewards/rank": q_BxT[:, -1].mean().item()}

    def discriminator_step(self, epochs: int) -> dict[str, float]:
        """Train the ranker for `epochs` passes over fresh samples of G_θ and as many real sentences: in each batch,
        real candidates ranked among generated sentences (C⁻), generated ones among real sentences (C⁺)."""
        trainer = self.trainer
        s = self.settings
        half = self.half_batch()
        others = s.comparison_size - 1
        negatives, real = steps.negatives_and_positives(trainer)
        trainer.discriminator.train()
        total = torch.zeros((), device=trainer.device)
        real_sum = torch.zeros((), device=trainer.device)
        fake_sum = torch.zeros((), device=trainer.device)
        batches = 0
        for _ in range(epochs):
            real_order = torch.randperm(len(real), device=trainer.device)
            fake_order = torch.randperm(len(negatives), device=trainer.device)
            for lo in range(0, min(len(real), len(negatives)), half):
                mine = real_order[lo:lo + half]
                # C⁺ and U: real sentences other than this batch's real candidates
                rest = torch.cat([real_order[:lo], real_order[lo + half:]])
                pick = rest[torch.randperm(len(rest), device=trainer.device)[:others + s.reference_size]]
                minus = torch.randperm(len(negatives), device=trainer.device)[:others]  # C⁻
                parts = [real[mine], negatives[fake_order[lo:lo + half]], negatives[minus], real[pick[:others]],
                         real[pick[others:]]]
                loss, log_r_real, log_r_fake = trainer.run_d(_ranker_loss, torch.cat(parts), [len(p) for p in parts],
                                                             s.gamma)
                trainer.update(trainer.d_opt, trainer.discriminator, loss, None)
                total += loss.detach()
                real_sum += log_r_real.mean()
                fake_sum += log_r_fake.mean()
                batches += 1
        return {"losses/d": trainer.finite(total.item() / max(1, batches), "ranker loss"),
                "d/log_rank_real": real_sum.item() / max(1, batches),
                "d/log_rank_generated": fake_sum.item() / max(1, batches)}
