"""What a method is: a name, a title, its own config section, what it trains, and one round of training.

The trainer (seqgan.train) runs the phases every method shares — MLE pretraining of G_θ, pretraining
of the method's discriminator, then `rounds()` calls of `round()` — and evaluates, checkpoints and
resumes around them. It knows no method by name: each method is a subclass here, registered in
seqgan.methods, and its settings are the dataclass in `config` (TOML section `[name]`, `--set name.key=…`).

A method may bring its own models: `build_generator` (a relational-memory G, an encoder–decoder for
conditional generation) and its own critic (built in `__init__` under `own_rng`, so the draws of the
shared pretraining stay the same for every method).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from seqgan import steps
from seqgan.errors import ConfigError
from seqgan.generator import Generator, LSTMPolicy
from seqgan.memory import available_bytes
from seqgan.rewards import advantage_fn
from seqgan.rollout import RewardFn, Rollout, reward_pass_bytes

if TYPE_CHECKING:
    from seqgan.config import Config
    from seqgan.train import SeqGANTrainer


class Method:
    """One text-GAN objective (or baseline) on the shared core."""

    name: ClassVar[str]
    """The value of train.method that selects it."""
    label: ClassVar[str]
    """Its name in tables and plots (e.g. 'SeqGAN')."""
    title: ClassVar[str]
    """One line: the paper and what the method changes."""
    config: ClassVar[type | None] = None
    """Its settings: a dataclass with a docstring under each field, validated in __post_init__."""
    pretrains_generator: ClassVar[bool] = True
    """Whether G_θ is MLE-pretrained first (Algorithm 1, line 2)."""
    trains_discriminator: ClassVar[bool] = False
    """Whether a discriminator is pretrained (line 4) and trained in the rounds."""
    rewards_from_discriminator: ClassVar[bool] = False
    """Whether G_θ's reward is D_φ's P(real): then each evaluation after pretraining also records how D_φ scores real
    sequences it trains on, held-out real ones and G_θ's samples (seqgan.health.discriminator_fit)."""
    record_phase: ClassVar[str] = "adversarial"
    """How its evaluations are labelled in metrics.jsonl ('adversarial', or 'baseline' for the paper's baselines)."""
    shares_pretraining: ClassVar[bool] = True
    """Whether its MLE pretraining is every LSTM method's (so `reproduce` can pretrain G_θ once per seed for all)."""
    samples_with_discriminator: ClassVar[bool] = False
    """Whether G_θ needs D_φ to write (LeakGAN's leaked features): then D_φ is saved beside G_θ for `seqgan sample`."""
    own_pretraining_keys: ClassVar[tuple[str, ...] | None] = None
    """For a method with its own G_θ (shares_pretraining False) whose MLE pretraining depends on nothing else of its
    section: the keys of its section that shape G_θ. Runs of it that differ elsewhere (RelGAN's β_max) can then start
    from one pretraining run of it; None: its pretraining is part of each run (LeakGAN's trains D_φ alongside)."""

    def __init__(self, trainer: SeqGANTrainer):
        self.trainer = trainer
        self.cfg = trainer.cfg
        self.settings = trainer.cfg.method  # this method's own section (None without one)

    @classmethod
    def build_generator(cls, cfg: Config, vocab_size: int, seq_len: int, start_token: int, eos_token: int | None,
                        pad_token: int) -> LSTMPolicy:
        """G_θ, drawn first from the run seed: the LSTM policy of `[generator]` (a method with another generator,
        e.g. RelGAN's relational memory, overrides this)."""
        g = cfg.generator
        return Generator(vocab_size, emb_dim=g.emb_dim, hidden_dim=g.hidden_dim, seq_len=seq_len, init_std=g.init_std,
                         start_token=start_token, eos_token=eos_token, pad_token=pad_token)

    @classmethod
    def attach_discriminator(cls, generator: nn.Module, discriminator: nn.Module) -> None:
        """Connect G_θ to the D_φ it writes with (only where `samples_with_discriminator`)."""

    @classmethod
    def validate(cls, cfg: Config) -> None:
        """Refuse combinations of shared settings the method cannot honour (raise ConfigError)."""

    def preflight(self) -> None:
        """Refuse, before any work, a configuration whose largest step cannot fit (raise ConfigError)."""

    def pretrain_epoch(self) -> dict[str, float]:
        """One unit of MLE pretraining (Algorithm 1, line 2): an epoch of teacher-forced maximum likelihood."""
        return steps.mle_epoch(self.trainer, self.trainer.mle_opt)

    def d_pretrain_steps(self) -> int:
        """Units of the discriminator-pretraining phase (lines 3–4)."""
        return self.cfg.train.d_pretrain_steps if self.trains_discriminator else 0

    def rounds(self) -> int:
        """Units of the method's training phase."""
        return self.cfg.train.adversarial_rounds

    def discriminator_step(self, epochs: int) -> dict[str, float]:
        """One step of discriminator training on fresh negatives (pretraining and d-steps): D_φ's by default."""
        return steps.d_step(self.trainer, epochs)

    def round(self) -> dict[str, float]:
        """One round of the method's training; returns its metrics."""
        raise NotImplementedError

    def models(self) -> dict[str, nn.Module]:
        """The models this method trains, by role."""
        trained = {"generator": self.trainer.generator}
        if self.trains_discriminator:
            trained["discriminator"] = self.trainer.discriminator
        return trained

    def state_dict(self) -> dict[str, Any]:
        """What the method keeps between rounds (optimisers, G_β, its own models), for the checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @contextlib.contextmanager
    def own_rng(self) -> Iterator[None]:
        """Draw from a generator seeded by the run seed and the method's name, leaving the run's stream untouched."""
        with torch.random.fork_rng(devices=[self.trainer.device] if self.trainer.device.type == "cuda" else []):
            torch.manual_seed(self.cfg.seed * 1_000_003 + zlib.crc32(self.name.encode()))
            yield


class PolicyGradientMethod(Method):
    """A method that updates G_θ by policy gradient (Eq. 8) on rewards from Monte Carlo rollouts of G_β (Eq. 4)."""

    def __init__(self, trainer: SeqGANTrainer):
        super().__init__(trainer)
        # A fresh Adam for policy gradient: the MLE moments would swamp the tiny early rewards.
        self.opt = steps.adam(trainer.generator.parameters(), self.cfg.generator.pg_lr)
        self.rollout: Rollout | None = None  # G_β exists from the first reward on
        self.advantage = advantage_fn(self.cfg.train.advantage, self.cfg.train.rescale_delta)

    def uses_rollouts(self) -> bool:
        """Whether its rewards come from Monte Carlo rollouts (Eq. 4)."""
        return True

    def preflight(self) -> None:
        """The reward pass of one sequence's rollouts must fit runtime.memory_budget_mb: it is chunked by sequence,
        so a longer sequence (one enormous line sets data.max_len) cannot be made to fit by chunking."""
        if not self.uses_rollouts():
            return
        batch = max(1, self.cfg.generator.batch_size // self.trainer.dist.world)
        fixed, per_seed = reward_pass_bytes(self.trainer.generator, batch, self.trainer.seq_len)
        need = fixed + per_seed
        budget = self.cfg.runtime.memory_budget_mb * 2**20
        if need > budget:
            raise ConfigError(f"the rollouts of one sequence of length {self.trainer.seq_len} need {need / 2**20:,.0f} "
                              f"MiB, more than runtime.memory_budget_mb = {self.cfg.runtime.memory_budget_mb}; lower "
                              "data.max_len, or raise runtime.memory_budget_mb if the machine has the memory")
        available = available_bytes(self.trainer.device)
        whole_pass = fixed + per_seed * self.cfg.train.rollout_num * batch  # every seed in one chunk
        if available is not None and min(budget, whole_pass) > available:
            # The reward pass sizes its chunks to the budget: a budget above what the machine has left swaps or dies.
            raise ConfigError(f"runtime.memory_budget_mb = {self.cfg.runtime.memory_budget_mb} lets the reward pass use "
                              f"more than the {available / 2**20:,.0f} MiB this machine has available now; lower "
                              "runtime.memory_budget_mb (or data.max_len, train.rollout_num) or free memory")

    def reward(self) -> RewardFn:
        """The reward of complete sequences."""
        raise NotImplementedError

    def sample(self) -> torch.Tensor:
        """A batch of G_θ's sequences: this rank's share of generator.batch_size."""
        return self.trainer.generator.sample(self.cfg.generator.batch_size // self.trainer.dist.world)

    def monte_carlo_q(self, sequences_BxT: torch.Tensor, reward: RewardFn) -> torch.Tensor:
        """Q(Y_1:t−1, y_t) for every t: the mean reward of rollout_num completions by G_β (Eq. 4): (B, T)."""
        if self.rollout is None:
            self.rollout = Rollout(self.trainer.generator, self.cfg.train.update_rate)
        return self.rollout.rewards(sequences_BxT, reward, self.cfg.train.rollout_num,
                                    memory_budget_mb=self.cfg.runtime.memory_budget_mb)

    def policy_gradient(self, sequences_BxT: torch.Tensor, q_BxT: torch.Tensor) -> dict[str, float]:
        """Update G_θ with the advantage of Q (Eq. 8)."""
        metrics = steps.pg_step(self.trainer, self.opt, sequences_BxT, self.advantage(q_BxT))
        return {**metrics, "rewards/mean_q": q_BxT.mean().item()}

    def g_step(self) -> dict[str, float]:
        """One update of G_θ: sample, reward, policy gradient."""
        sequences = self.sample()
        return self.policy_gradient(sequences, self.monte_carlo_q(sequences, self.reward()))

    def round(self) -> dict[str, float]:
        """g_steps updates of G_θ, d_steps of the discriminator (if the method trains one), then G_β ← θ."""
        t = self.cfg.train
        metrics: dict[str, float] = {}
        for _ in range(t.g_steps):
            metrics.update(self.g_step())
        for _ in range(t.d_steps if self.trains_discriminator else 0):
            metrics.update(self.discriminator_step(t.d_epochs))
        self.sync_rollout_policy()
        return metrics

    def sync_rollout_policy(self) -> None:
        """β ← r·β + (1 − r)·θ (Algorithm 1, line 16)."""
        if self.rollout is not None:
            self.rollout.update(self.trainer.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(),
                "rollout": self.rollout.policy.state_dict() if self.rollout is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        if state.get("rollout") is not None:
            self.rollout = Rollout(self.trainer.generator, self.cfg.train.update_rate)
            self.rollout.policy.load_state_dict(state["rollout"])
