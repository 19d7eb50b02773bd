"""LeakGAN (Guo, Lu, Cai, Zhang, Yu, Wang — AAAI 2018, "Long Text Generation via Adversarial Training with Leaked
Information").

D_φ is SeqGAN's CNN; its feature of each prefix leaks to a hierarchical G_θ (seqgan/leakgan_generator.py): a
manager that sets a goal in D's feature space every c steps and a worker that writes tokens towards it.

- Rewards: Q of each block of c tokens is the mean D(Y) of `rollout_num` completions from the prefix that ends the
  block (Eq. 4 at block ends; the last block's Q is D(Y)), turned into rescaled ranks σ(δ·(0.5 − rank/B)) over
  the batch (Eq. 13; seqgan.rewards.rescale, ranks in *sorted* order).
- Manager (Eq. 9): −Σ_k Q_k · cos(f_{kc+c} − f_{kc}, G_k), its goal pointed along the change of D's features.
- Worker (Eq. 10–11): REINFORCE, −Σ_t (extrinsic_weight · Q_{block(t)} + intrinsic_weight · r^I_t) log G(y_t | ·),
  with the intrinsic reward r^I_t = cos(f_t − f_{block start}, G_{block(t)}) of following the goal.
- Training (the official code, synthetic and COCO): D's pretraining steps are interleaved with G's MLE pretraining
  (worker NLL + manager cosine loss) — every pretraining epoch is preceded by its share of them — and an MLE
  epoch is interleaved into the adversarial rounds every `mle_every` rounds.

Bugs elsewhere, each a test in tests/test_leakgan.py: the official code and Texygen rank the rewards in dict
(batch) order, so the rescaled reward ignores the score; TextGAN-PyTorch has no rescaling, and its rollout
reshape mixes rewards across samples (TextGAN-PyTorch #62); Texygen pretrains G without D (no interleaving)
and with a shallow D. The official code also samples its evaluation text at inverse temperature 1.5 (logits ×
1.5 in `generate_samples(..., train=0)`), which flatters NLL_oracle; here evaluation samples at τ = 1 as every
method does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seqgan import steps
from seqgan.config import check, non_negative, positive
from seqgan.errors import ConfigError
from seqgan.leakgan_generator import LeakGANGenerator, Unrolled, complete, leak_from
from seqgan.methods.base import Method
from seqgan.rewards import DiscriminatorReward, rescale
from seqgan.rollout import RewardFn


@dataclass
class LeakGANConfig:
    """The hierarchical generator's goal space and LeakGAN's rewards and schedule."""

    step_size: int = 4
    """c: tokens per goal; the manager's goal for the worker changes every c steps (the paper's 4)."""
    goal_dim: int = 16
    """k: size of the goal space the worker's output matrix is multiplied with (the paper's 16)."""
    rescale: bool = True
    """Rescaled ranks σ(δ·(0.5 − rank/B)) of Q over the batch at each block (δ = train.rescale_delta), as the paper;
    false: Q itself."""
    extrinsic_weight: float = 1.0
    """Weight of the (rescaled) extrinsic reward Q in the worker's REINFORCE weights (the official code: 0)."""
    intrinsic_weight: float = 1.0
    """Weight of the intrinsic reward cos(f_t − f_{block start}, goal) in the worker's REINFORCE weights."""
    mle_every: int = 15
    """Rounds between MLE epochs interleaved into adversarial training (the official COCO code's 15); 0: none."""

    def __post_init__(self) -> None:
        positive("leakgan", step_size=self.step_size, goal_dim=self.goal_dim)
        non_negative("leakgan", extrinsic_weight=self.extrinsic_weight, intrinsic_weight=self.intrinsic_weight,
                     mle_every=self.mle_every)
        check(self.extrinsic_weight + self.intrinsic_weight > 0, "leakgan.extrinsic_weight and "
              "leakgan.intrinsic_weight are both 0: the worker would learn nothing; set one above 0")


# ---- losses (module functions: DDP runs them through trainer.run_g) --------------------------------------------


def cosine(a_NxF: torch.Tensor, b_NxF: torch.Tensor) -> torch.Tensor:
    """cos(a, b) along the last dimension, 0 where either is zero (a prefix whose feature did not move)."""
    return (F.normalize(a_NxF, dim=-1) * F.normalize(b_NxF, dim=-1)).sum(-1)


def block_feature_change(features_BxT1xF: torch.Tensor, step_size: int) -> torch.Tensor:
    """f_{min(kc+c, T)} − f_{kc} for every block k: (B, K, F)."""
    T = features_BxT1xF.shape[1] - 1
    starts = torch.arange(0, T, step_size, device=features_BxT1xF.device)
    ends = (starts + step_size).clamp_max(T)
    return features_BxT1xF[:, ends] - features_BxT1xF[:, starts]


def manager_loss(u: Unrolled, rewards_BxK: torch.Tensor, step_size: int) -> torch.Tensor:
    """Eq. 9: −mean_{b,k} Q_k · cos(f_{kc+c} − f_{kc}, G_k) (Q = 1 in pretraining)."""
    change_BxKxF = block_feature_change(u.features_BxT1xF, step_size)
    return -(rewards_BxK * cosine(change_BxKxF, u.goals_BxKxF)).mean()


def intrinsic_rewards(u: Unrolled, step_size: int) -> torch.Tensor:
    """r^I_t = cos(f_t − f_{start of t's block}, G_{block(t)}) for t = 1..T (the official code's): (B, T), constants."""
    f = u.features_BxT1xF.detach()
    T = f.shape[1] - 1
    t_T = torch.arange(1, T + 1, device=f.device)
    block_T = (t_T - 1) // step_size
    return cosine(f[:, t_T] - f[:, block_T * step_size], u.goals_BxKxF.detach()[:, block_T])


def pretrain_loss(g: LeakGANGenerator, tokens_BxT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MLE pretraining: the worker's per-token NLL plus the manager's cosine loss with Q = 1; (total, worker, manager)."""
    u = g.unroll(tokens_BxT)
    worker = g.nll(tokens_BxT, logits_BxTxV=u.logits_BxTxV)
    manager = manager_loss(u, torch.ones_like(u.goals_BxKxF[..., 0]), g.step_size)
    return worker + manager, worker, manager


def adversarial_loss(g: LeakGANGenerator, tokens_BxT: torch.Tensor, rewards_BxK: torch.Tensor, extrinsic_weight: float,
                     intrinsic_weight: float, features_BxT1xF: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 9 for the manager plus REINFORCE for the worker with weights extrinsic·Q + intrinsic·r^I, both per token
    means as the official code; (total, worker, manager, mean r^I). `features_BxT1xF`: the sequences' leaked
    features, if already computed."""
    u = g.unroll(tokens_BxT, features_BxT1xF)
    r_intrinsic_BxT = intrinsic_rewards(u, g.step_size)
    block_T = torch.arange(tokens_BxT.shape[1], device=tokens_BxT.device) // g.step_size
    weights_BxT = extrinsic_weight * rewards_BxK[:, block_T] + intrinsic_weight * r_intrinsic_BxT
    worker = (weights_BxT.detach() * g.token_nll(tokens_BxT, logits_BxTxV=u.logits_BxTxV)).mean()
    manager = manager_loss(u, rewards_BxK, g.step_size)
    return worker + manager, worker, manager, r_intrinsic_BxT.mean()


# ---- Monte Carlo rewards at block ends --------------------------------------------------------------------------


def rollout_prefixes(seq_len: int, step_size: int) -> list[int]:
    """Prefix lengths rolled out from: the ends of every block but the last (c, 2c, … < T)."""
    return list(range(step_size, seq_len, step_size))


@torch.no_grad()
def block_rewards(g: LeakGANGenerator, sequences_BxT: torch.Tensor, reward: RewardFn, rollout_num: int,
                  uniforms: torch.Tensor | None = None, features_BxT1xF: torch.Tensor | None = None) -> torch.Tensor:
    """Q of every block (B, K): the mean reward of rollout_num completions of G_θ from the prefix ending the block,
    D(Y) for the last. All prefixes and rollouts step together; row r = (n, j, b) keeps its rollout's own
    sequence index b throughout (TextGAN-PyTorch's reshape mixes samples here, issue #62). `uniforms`
    (rollout_num, K−1, B, T) fixes the draws; `features_BxT1xF`: Y's leaked features, if already computed."""
    B, T = sequences_BxT.shape
    prefixes = rollout_prefixes(T, g.step_size)
    J = len(prefixes)
    q_BxK = torch.empty(B, J + 1, dtype=torch.float64, device=sequences_BxT.device)
    q_BxK[:, J] = reward(sequences_BxT).to(torch.float64)
    if J == 0:
        return q_BxK
    if uniforms is None:
        uniforms = torch.rand(rollout_num, J, B, T, device=sequences_BxT.device)
    if features_BxT1xF is None:
        features_BxT1xF = g.prefix_features(sequences_BxT)
    # Rows ordered (n, j, b): sequence b of rollout n from prefix length prefixes[j].
    seq_R = torch.arange(B, device=sequences_BxT.device).repeat(rollout_num * J)
    prefix_R = torch.tensor(prefixes, device=sequences_BxT.device).repeat_interleave(B).repeat(rollout_num)
    rollouts_RxT = complete(g, sequences_BxT[seq_R], prefix_R, uniforms.reshape(-1, T), 1.0, features_BxT1xF, seq_R)
    scores_NxJxB = reward(rollouts_RxT).to(torch.float64).view(rollout_num, J, B)
    q_BxK[:, :J] = scores_NxJxB.mean(dim=0).T
    return q_BxK


@torch.no_grad()
def naive_block_rewards(g: LeakGANGenerator, sequences_BxT: torch.Tensor, reward: RewardFn, rollout_num: int,
                        uniforms: torch.Tensor) -> torch.Tensor:
    """The official code's loop, for tests and benchmarks: for each rollout, for each block end, run the generator
    over the batch — teacher-forced on the prefix, D's features recomputed at every step — then score it."""
    B, T = sequences_BxT.shape
    prefixes = rollout_prefixes(T, g.step_size)
    q_BxK = torch.zeros(B, len(prefixes) + 1, dtype=torch.float64, device=sequences_BxT.device)
    for n in range(rollout_num):
        for j, given in enumerate(prefixes):
            prefix_B = torch.full((B,), given, dtype=torch.long, device=sequences_BxT.device)
            q_BxK[:, j] += reward(complete(g, sequences_BxT, prefix_B, uniforms[n, j])).to(torch.float64)
    q_BxK[:, :-1] /= rollout_num
    q_BxK[:, -1] = reward(sequences_BxT).to(torch.float64)
    return q_BxK


# ---- the method -----------------------------------------------------------------------------------------------


class LeakGAN(Method):
    """g-steps of manager and worker on rescaled block rewards, an interleaved MLE epoch every mle_every rounds, then
    D_φ's d-steps as SeqGAN's."""

    name = "leakgan"
    label = "LeakGAN"
    title = "LeakGAN (Guo et al. 2018): D_φ's features leaked to a manager–worker G; rescaled block rewards"
    config = LeakGANConfig
    trains_discriminator = True
    rewards_from_discriminator = True
    shares_pretraining = False  # its G is its own (manager and worker), pretrained with D interleaved
    samples_with_discriminator = True

    @classmethod
    def build_generator(cls, cfg, vocab_size, seq_len, start_token, eos_token, pad_token):  # type: ignore[no-untyped-def]
        g, s = cfg.generator, cfg.method
        return LeakGANGenerator(vocab_size, emb_dim=g.emb_dim, hidden_dim=g.hidden_dim, seq_len=seq_len,
                                feature_dim=sum(cfg.discriminator.num_filters), goal_dim=s.goal_dim,
                                step_size=s.step_size, init_std=g.init_std, start_token=start_token,
                                eos_token=eos_token, pad_token=pad_token)

    @classmethod
    def attach_discriminator(cls, generator: LeakGANGenerator, discriminator: torch.nn.Module) -> None:
        generator.attach(leak_from(discriminator))

    @classmethod
    def validate(cls, cfg) -> None:  # type: ignore[no-untyped-def]
        if cfg.train.advantage != "none":
            raise ConfigError(f"LeakGAN's rescaled ranks are its advantage; train.advantage must be 'none' with "
                              f"train.method='leakgan' (got {cfg.train.advantage!r}); use leakgan.rescale")

    def __init__(self, trainer):  # type: ignore[no-untyped-def]
        super().__init__(trainer)
        self.attach_discriminator(trainer.generator, trainer.discriminator)
        self.opt = steps.adam(trainer.generator.parameters(), self.cfg.generator.pg_lr)

    # ---- pretraining: G's MLE epochs with D's pretraining steps interleaved ---------------------------------
    def d_pretrain_steps(self) -> int:
        # With G pretrained, D's pretraining steps run inside its epochs; without, in their own phase.
        return 0 if self.cfg.train.pretrain_epochs else super().d_pretrain_steps()

    def pretrain_epoch(self) -> dict[str, float]:
        """D's share of its pretraining steps (on fresh samples of G_θ), then one MLE epoch of worker and manager."""
        t = self.cfg.train
        epoch = self.trainer.progress.done
        share = -(-(epoch + 1) * t.d_pretrain_steps // t.pretrain_epochs) - (-(-epoch * t.d_pretrain_steps // t.pretrain_epochs))
        metrics: dict[str, float] = {}
        for _ in range(share):
            metrics.update(self.discriminator_step(t.d_pretrain_epochs))
        return {**metrics, **self.mle_epoch(self.trainer.mle_opt)}

    def mle_epoch(self, opt: torch.optim.Optimizer) -> dict[str, float]:
        """One pass of MLE over the real data: the worker's NLL and the manager's cosine loss (Q = 1)."""
        trainer = self.trainer
        g = self.cfg.generator
        trainer.generator.train()
        order = trainer.shared_order(len(trainer.real_data))
        worker = torch.zeros((), device=trainer.device)
        manager = torch.zeros((), device=trainer.device)
        batches = len(order) // g.batch_size
        for i in range(batches):
            loss, w, m = trainer.run_g(pretrain_loss, trainer.real_data[trainer.my_part(order, i, g.batch_size)])
            trainer.update(opt, trainer.generator, loss, g.grad_clip)
            worker += w.detach()
            manager += m.detach()
        n = max(1, batches)
        return {"losses/g_mle": trainer.finite(worker.item() / n, "MLE loss"), "losses/g_manager_mle": manager.item() / n}

    # ---- adversarial training ----------------------------------------------------------------------------
    def reward(self) -> RewardFn:
        return DiscriminatorReward(self.trainer.discriminator)

    def g_step(self) -> dict[str, float]:
        """Sample, block rewards from rollouts, rescaled ranks, one update of manager and worker."""
        trainer = self.trainer
        s = self.settings
        sequences = trainer.generator.sample(self.cfg.generator.batch_size // trainer.dist.world)
        features = trainer.generator.prefix_features(sequences)  # D's features of Y, for the rewards and the loss
        q_BxK = block_rewards(trainer.generator, sequences, self.reward(), self.cfg.train.rollout_num,
                              features_BxT1xF=features)
        r_BxK = (rescale(q_BxK, self.cfg.train.rescale_delta) if s.rescale else q_BxK).to(torch.float32)
        loss, worker, manager, intrinsic = trainer.run_g(adversarial_loss, sequences, r_BxK, s.extrinsic_weight,
                                                         s.intrinsic_weight, features)
        trainer.update(self.opt, trainer.generator, loss, self.cfg.generator.grad_clip)  # a mean: DDP's average is right
        return {"losses/g_pg": trainer.finite(worker.item(), "worker loss"), "losses/g_manager": manager.item(),
                "rewards/mean_q": q_BxK.mean().item(), "rewards/intrinsic": intrinsic.item()}

    def round(self) -> dict[str, float]:
        t = self.cfg.train
        metrics: dict[str, float] = {}
        for _ in range(t.g_steps):
            metrics.update(self.g_step())
        every = self.settings.mle_every
        if every and (self.trainer.progress.done + 1) % every == 0:  # interleaved MLE (the paper's Sec. "Training")
            metrics.update(self.mle_epoch(self.trainer.mle_opt))
        for _ in range(t.d_steps):
            metrics.update(self.discriminator_step(t.d_epochs))
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
