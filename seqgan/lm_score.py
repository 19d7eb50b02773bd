"""LM score (quality) and reverse LM score (coverage): generated text judged by LSTM language models.

LM score: a language model trained on the real training data scores the generated samples, their
per-token NLL under it (lower: the samples read more like real text). Reverse LM score: a language model
trained on the generated samples scores the real test set, its per-token NLL under it (lower: the samples
cover more of the real distribution). A generator that repeats one likely sentence gets a good LM score and
a poor reverse LM score, so the pair shows the quality-diversity trade-off that BLEU alone hides
(Semeniuta et al. 2018; Caccia et al. 2018, "Language GANs Falling Short"; de Masson d'Autume et al. 2019).

Both language models are the project's LSTM policy (`seqgan.generator.Generator`), trained by teacher-forced
MLE (positions after `<eos>` do not count) on *all* the sequences they are given: nothing is held out inside,
as in the papers. The training draws from a fixed seed under `torch.random.fork_rng`, so one corpus gives the
same real-data LM for every run scored against it, and the caller's random stream is left untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from seqgan.data import BOS_ID, EOS_ID, PAD_ID, drop_padding_columns
from seqgan.errors import TrainingDiverged
from seqgan.generator import Generator
from seqgan.steps import adam


@dataclass(frozen=True)
class LMScoreConfig:
    """The language models behind the LM and reverse LM scores; `DEFAULTS` is what runs and `seqgan evaluate` use."""

    emb_dim: int = 32
    """Token embedding size of each LM (G_θ's size in the SeqGAN paper)."""
    hidden_dim: int = 32
    """LSTM hidden size of each LM (G_θ's size in the SeqGAN paper)."""
    epochs: int = 10
    """Passes over the LM's training sequences (the real training data, or the generated samples)."""
    batch_size: int = 64
    """Sequences per Adam step; the last batch of an epoch may be smaller, so every sequence is trained on."""
    lr: float = 0.01
    """Adam learning rate (G_θ's MLE rate in the SeqGAN paper)."""
    grad_clip: float = 5.0
    """Largest gradient norm of one step (as G_θ's); 0 turns clipping off."""
    seed: int = 0
    """Seed of the initialisation and the shuffling; fixed, so every run on one corpus meets the same real-data LM."""
    full_epochs_from: int = 2000
    """Real training sequences from which `lm_scores` gives both LMs all `epochs`; on fewer, proportionally fewer
    (at least 1), so smoke runs on a few hundred lines stay fast. 0: always all `epochs`."""

    def __post_init__(self) -> None:
        for name in ("emb_dim", "hidden_dim", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LMScoreConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.full_epochs_from, int) or self.full_epochs_from < 0:
            raise ValueError(f"LMScoreConfig.full_epochs_from must be an integer >= 0 (0: no scaling), got "
                             f"{self.full_epochs_from!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"LMScoreConfig.lr must be a finite number > 0, got {self.lr!r}; the default is 0.01")
        if not (isinstance(self.grad_clip, (int, float)) and math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise ValueError(f"LMScoreConfig.grad_clip must be a finite number >= 0 (0: no clipping), got {self.grad_clip!r}")

    def epochs_for(self, num_real: int) -> int:
        """The epochs of both LMs when the real training data has `num_real` sequences."""
        if not self.full_epochs_from or num_real >= self.full_epochs_from:
            return self.epochs
        return max(1, round(self.epochs * num_real / self.full_epochs_from))


DEFAULTS = LMScoreConfig()


def train_lm(sequences_NxT: torch.Tensor, vocab_size: int, *, seq_len: int | None = None, start_token: int = BOS_ID,
             eos_token: int | None = EOS_ID, pad_token: int = PAD_ID, emb_dim: int = DEFAULTS.emb_dim,
             hidden_dim: int = DEFAULTS.hidden_dim, epochs: int = DEFAULTS.epochs, batch_size: int = DEFAULTS.batch_size,
             lr: float = DEFAULTS.lr, grad_clip: float = DEFAULTS.grad_clip, seed: int = DEFAULTS.seed) -> Generator:
    """An LSTM language model fitted by teacher-forced MLE to all of `sequences_NxT`, on their device; the same seed
    gives the same LM, and the caller's random stream is left as it was."""
    _check_sequences("sequences_NxT", sequences_NxT, vocab_size)
    LMScoreConfig(emb_dim=emb_dim, hidden_dim=hidden_dim, epochs=epochs, batch_size=batch_size, lr=lr,
                  grad_clip=grad_clip, seed=seed)  # the same checks as the settings object
    device = sequences_NxT.device
    # Every draw (initialisation, shuffling) is made on the CPU generator, inside fork_rng: no device RNG is used.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lm = Generator(vocab_size, emb_dim=emb_dim, hidden_dim=hidden_dim, seq_len=seq_len or sequences_NxT.shape[1],
                       start_token=start_token, eos_token=eos_token, pad_token=pad_token).to(device)
        opt = adam(lm.parameters(), lr)
        lm.train()
        for epoch in range(epochs):
            order_N = torch.randperm(len(sequences_NxT)).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, len(order_N), batch_size):
                batch_BxT = drop_padding_columns(sequences_NxT[order_N[lo:lo + batch_size]], eos_token)
                loss = lm.nll(batch_BxT)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip:
                    torch.nn.utils.clip_grad_norm_(lm.parameters(), grad_clip)
                opt.step()
                total += loss.detach()
            if not math.isfinite(total.item()):  # one sync per epoch: stop loudly rather than score with NaN weights
                raise TrainingDiverged(f"the language model's loss became {total.item()} in epoch {epoch + 1}; "
                                         "lower the LM's lr (LMScoreConfig.lr)")
        lm.eval()
    return lm


def lm_score(samples_NxT: torch.Tensor, real_train_NxT: torch.Tensor, vocab_size: int, *, start_token: int = BOS_ID,
             eos_token: int | None = EOS_ID, pad_token: int = PAD_ID, config: LMScoreConfig = DEFAULTS) -> float:
    """Quality: the per-token NLL of the samples under an LM trained on the real training data (lower is better)."""
    _check_sequences("samples_NxT", samples_NxT, vocab_size)
    lm = _train(real_train_NxT, vocab_size, start_token, eos_token, pad_token, config)
    return lm.nll_of(samples_NxT)


def reverse_lm_score(samples_NxT: torch.Tensor, real_test_NxT: torch.Tensor, vocab_size: int, *,
                     start_token: int = BOS_ID, eos_token: int | None = EOS_ID, pad_token: int = PAD_ID,
                     config: LMScoreConfig = DEFAULTS) -> float:
    """Coverage: the per-token NLL of the real test set under an LM trained on the samples (lower is better)."""
    _check_sequences("real_test_NxT", real_test_NxT, vocab_size)
    lm = _train(samples_NxT, vocab_size, start_token, eos_token, pad_token, config)
    return lm.nll_of(real_test_NxT)


def lm_scores(samples_NxT: torch.Tensor, real_train_NxT: torch.Tensor, real_test_NxT: torch.Tensor, vocab_size: int, *,
              start_token: int = BOS_ID, eos_token: int | None = EOS_ID, pad_token: int = PAD_ID,
              config: LMScoreConfig = DEFAULTS) -> dict[str, float]:
    """Both scores as `{"lm_score", "reverse_lm_score"}`, as summary.json and `seqgan evaluate` report them; both LMs
    train for `config.epochs_for(len(real_train_NxT))` epochs."""
    config = replace(config, epochs=config.epochs_for(len(real_train_NxT)))
    tokens = {"start_token": start_token, "eos_token": eos_token, "pad_token": pad_token, "config": config}
    return {"lm_score": lm_score(samples_NxT, real_train_NxT, vocab_size, **tokens),
            "reverse_lm_score": reverse_lm_score(samples_NxT, real_test_NxT, vocab_size, **tokens)}


def _train(sequences_NxT: torch.Tensor, vocab_size: int, start_token: int, eos_token: int | None, pad_token: int,
           config: LMScoreConfig) -> Generator:
    return train_lm(sequences_NxT, vocab_size, start_token=start_token, eos_token=eos_token, pad_token=pad_token,
                    emb_dim=config.emb_dim, hidden_dim=config.hidden_dim, epochs=config.epochs,
                    batch_size=config.batch_size, lr=config.lr, grad_clip=config.grad_clip, seed=config.seed)


def _check_sequences(name: str, sequences_NxT: torch.Tensor, vocab_size: int) -> None:
    """Refuse what would train or score silently wrong: not (N, T) ids, no sequences, ids outside the vocabulary."""
    if sequences_NxT.dim() != 2 or sequences_NxT.dtype != torch.long:
        raise ValueError(f"{name} must be a (N, T) tensor of token ids (torch.long), got {tuple(sequences_NxT.shape)} "
                         f"{sequences_NxT.dtype}")
    if sequences_NxT.numel() == 0:
        raise ValueError(f"{name} is empty; a language model needs at least one sequence")
    low, high = int(sequences_NxT.min()), int(sequences_NxT.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{name} holds token id {low if low < 0 else high}, outside the vocabulary of {vocab_size}; "
                         "encode every set with one vocabulary")
