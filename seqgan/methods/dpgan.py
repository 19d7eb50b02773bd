"""DPGAN (Xu, Ren, Lin, Sun — EMNLP 2018, "Diversity-Promoting GAN"): a language model as the discriminator.

D_φ is an LSTM language model. The reward of a generated token is its negative log-likelihood under D_φ,
R(y_t) = −log D_φ(y_t | Y_1:t−1) (word level); a sequence's reward is their mean, R(Y) (sentence level);
token t of sequence Y gets q_t = R(Y) · Σ_{i≥t} γ^{i−t} R(y_i), and G_θ follows the policy gradient of
Σ_t q_t log G_θ(y_t | Y_1:t−1) (then `train.advantage`). No rollouts: the word-level reward is dense.

D_φ learns G_θ's text: the official code (lancopku/DPGAN, batcher_discriminator.py) weights the LM loss of
generated text by 1 and of real text by −0.0001, so D_φ predicts what G_θ keeps writing — repeated text
then has a low NLL and earns little, while novel and real-like text, which D_φ predicts badly, earns
much. `dpgan.real_weight` is that 0.0001. (TextGAN-PyTorch minimises Σ log G · q instead of −Σ log G · q,
which pushes G_θ *away* from high-reward text; tests/test_methods.py checks the direction here.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seqgan import steps
from seqgan.config import check, non_negative, positive
from seqgan.generator import Generator, LSTMPolicy
from seqgan.methods.base import PolicyGradientMethod
from seqgan.rewards import LanguageModelReward


@dataclass
class DPGANConfig:
    """The language-model discriminator and how its rewards combine."""

    emb_dim: int = 32
    """Token embedding width of the LM discriminator."""
    hidden_dim: int = 32
    """LSTM width of the LM discriminator."""
    lr: float = 0.01
    """Adam learning rate of the LM discriminator."""
    real_weight: float = 1e-4
    """Weight of real text's NLL, subtracted from the LM loss (the official code's 0.0001): D_φ learns G_θ's
    text and is pushed slightly away from real text."""
    discount: float = 1.0
    """γ of the discounted sum of word-level rewards from each token on (TextGAN-PyTorch's 1)."""

    def __post_init__(self) -> None:
        positive("dpgan", emb_dim=self.emb_dim, hidden_dim=self.hidden_dim, lr=self.lr)
        non_negative("dpgan", real_weight=self.real_weight)
        check(0 <= self.discount <= 1, f"dpgan.discount must be in [0, 1], got {self.discount}")


def dpgan_returns(word_BxT: torch.Tensor, sentence_B: torch.Tensor, discount: float) -> torch.Tensor:
    """q_t = R(Y) · Σ_{i≥t} γ^{i−t} R(y_i): (B, T). Word rewards after the end token are 0 and add nothing."""
    returns_BxT = torch.empty_like(word_BxT)
    running_B = torch.zeros_like(word_BxT[:, 0])
    for t in range(word_BxT.shape[1] - 1, -1, -1):
        running_B = word_BxT[:, t] + discount * running_B
        returns_BxT[:, t] = running_B
    return sentence_B[:, None] * returns_BxT


def lm_loss(lm: LSTMPolicy, fake_BxT: torch.Tensor, real_BxT: torch.Tensor, real_weight: float) -> torch.Tensor:
    """D_φ's loss: its mean NLL of generated text minus real_weight times its mean NLL of real text."""
    return lm.nll(fake_BxT) - real_weight * lm.nll(real_BxT)


class DPGAN(PolicyGradientMethod):
    """g-steps of policy gradient on the LM's rewards, then d-steps of the LM on fresh samples and real text."""

    name = "dpgan"
    label = "DPGAN"
    title = "DPGAN (Xu et al. 2018): a language-model discriminator; reward = its NLL of each generated token"
    config = DPGANConfig
    trains_discriminator = True

    def __init__(self, trainer):  # type: ignore[no-untyped-def]
        super().__init__(trainer)
        s = self.settings
        with self.own_rng():  # the run's own draws (and so a shared pretraining) stay as every method's
            self.lm = Generator(trainer.vocab_size, emb_dim=s.emb_dim, hidden_dim=s.hidden_dim, seq_len=trainer.seq_len,
                                init_std=trainer.cfg.generator.init_std, start_token=trainer.generator.start_token,
                                eos_token=trainer.eos, pad_token=trainer.generator.pad_token).to(trainer.device)
        self.lm_opt = steps.adam(self.lm.parameters(), s.lr)
        from seqgan.distributed import loss_runner

        self._lm = loss_runner(self.lm, trainer.dist)

    def uses_rollouts(self) -> bool:
        return False  # the word-level reward is dense

    def models(self) -> dict[str, nn.Module]:
        return {"generator": self.trainer.generator, "discriminator": self.lm}

    def reward(self) -> LanguageModelReward:
        return LanguageModelReward(self.lm)

    def g_step(self) -> dict[str, float]:
        sequences = self.sample()
        reward = self.reward()
        word_BxT = reward.tokens(sequences)
        sentence_B = reward.sentence(word_BxT, sequences)
        q_BxT = dpgan_returns(word_BxT, sentence_B, self.settings.discount)
        metrics = self.policy_gradient(sequences, q_BxT)
        return {**metrics, "rewards/sentence": sentence_B.mean().item()}

    def discriminator_step(self, epochs: int) -> dict[str, float]:
        """Train the LM for `epochs` passes over fresh samples of G_θ and as many real sequences."""
        trainer = self.trainer
        batch_size = self.cfg.discriminator.batch_size // trainer.dist.world
        negatives, real = steps.negatives_and_positives(trainer)
        self.lm.train()
        total = torch.zeros((), device=trainer.device)
        fake_nll = torch.zeros((), device=trainer.device)
        batches = 0
        for _ in range(epochs):
            fake_order = torch.randperm(len(negatives), device=trainer.device)
            real_order = torch.randperm(len(real), device=trainer.device)
            for lo in range(0, min(len(negatives), len(real)), batch_size):
                fake = negatives[fake_order[lo:lo + batch_size]]
                loss = self._lm(lm_loss, fake, real[real_order[lo:lo + batch_size]], self.settings.real_weight)
                trainer.update(self.lm_opt, self.lm, loss, self.cfg.generator.grad_clip)
                total += loss.detach()
                with torch.no_grad():
                    fake_nll += self.lm.nll(fake)
                batches += 1
        return {"losses/d": trainer.finite(total.item() / max(1, batches), "LM discriminator loss"),
                "d/lm_nll_generated": fake_nll.item() / max(1, batches)}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lm": self.lm.state_dict(), "lm_optimizer": self.lm_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.lm.load_state_dict(state["lm"])
        self.lm_opt.load_state_dict(state["lm_optimizer"])
