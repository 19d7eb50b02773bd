"""RelGAN (Nie, Narodytska, Patel — ICLR 2019, "RelGAN: Relational Generative Adversarial Networks for Text Generation").

Three changes to a text GAN, each a setting here so they can be told apart:

- G_θ is a relational memory (seqgan/relational_memory.py; `relgan.generator = "rmc"`), or the LSTM policy of
  `[generator]` (`"lstm"`) to isolate the objective from the architecture. G_θ is MLE-pretrained first.
- No policy gradient: G's output at step t is the relaxed one-hot ŷ_t = softmax(β·(o_t + g_t)), o_t the logits and
  g_t Gumbel(0, 1) noise; the next input is the hard token argmax(o_t + g_t) (the official code's choice), and the
  critic scores ŷ (B, T, V), so its gradient reaches θ through the softmax. The inverse temperature β grows from
  1 to β_max over N adversarial steps (`relgan.schedule`, `inverse_temperature`).
- The critic embeds its one-hot (real) or relaxed (fake) input with `num_rep` small embedding matrices, scores each
  representation with one CNN, and outputs one logit per representation; the losses average over all of them.
  Its loss is the relativistic standard GAN's by default (`relgan.loss`).

A round is `relgan.iterations` iterations, each train.g_steps updates of G_θ and then `relgan.critic_steps`
updates of the critic, each on a fresh batch of real sequences and fresh samples of G_θ (the official code: gsteps
1, dsteps 5, nadv_steps 5000 iterations = the paper preset's 200 rounds × 25; train.d_steps and d_epochs are not
used). Adam
(β1 0.9, β2 0.999) at 1e-4 for both, gradients clipped at global norm 5 (oracle_train.py, get_train_ops).

Temperature: the official code (utils/ops.py has the Gumbel noise; oracle_train.py, get_fixed_temperature) and
TextGAN-PyTorch (utils/helpers.py) both hard-code N = 5000 while training 3000 (oracle) or 2000 (COCO, EMNLP)
adversarial steps, so β never reaches β_max there: with 'exp' and β_max = 1000 it ends at 1000^0.4 ≈ 15.8 after
2000 steps. Here N (`relgan.anneal_steps`) defaults to this run's number of G steps, so β reaches β_max at the
last one; set it to 5000 to follow the official runs. The formulas are theirs, indexed so that every schedule is
exactly 1 at n = 0 and β_max at n = N (theirs reach it at N − 1, and 'exp' never within the run); their sigmoid,
which misses both ends by (β_max − 1)·σ(−10), is rescaled to hit them. G step n = 1, 2, … of the run trains at
β(n), and the critic steps of an iteration at the β of its last G step (the official code updates β after each
iteration, so its iteration i trains at β(i − 1)).

WGAN-GP: the official get_losses reads config['reg_param'], which its run.py never defines; λ = 10 here is
Gulrajani et al.'s (`relgan.gp_weight`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.config import check, non_negative, positive
from seqgan.data import valid_mask
from seqgan.errors import ConfigError
from seqgan.methods.base import Method
from seqgan.relational_memory import RelationalMemoryGenerator, tf_trunc_normal_

GENERATORS = ("rmc", "lstm")
LOSSES = ("rsgan", "standard", "wgan-gp")
SCHEDULES = ("exp", "lin", "log", "sigmoid", "quad", "sqrt", "constant")
GUMBEL_EPS = 1e-10  # the official add_gumbel's


@dataclass
class RelGANConfig:
    """The relational-memory generator, the multi-representation critic, the loss and the temperature schedule."""

    generator: str = "rmc"
    """G_θ: 'rmc' (the relational memory, the paper's) or 'lstm' (the LSTM policy of [generator], to tell RelGAN's
    objective from its architecture)."""
    emb_dim: int = 32
    """Token embedding width of the relational memory (the official gen_emb_dim)."""
    mem_slots: int = 1
    """Memory slots S of the relational memory (the paper's 1)."""
    num_heads: int = 2
    """Attention heads of the relational memory (the paper's 2)."""
    head_size: int = 256
    """Width of one attention head (the paper's 256 on synthetic data, COCO and EMNLP); a slot is num_heads ×
    head_size wide."""
    loss: str = "rsgan"
    """'rsgan' (relativistic standard GAN, the paper's), 'standard' (non-saturating GAN) or 'wgan-gp'."""
    gp_weight: float = 10.0
    """λ of the gradient penalty λ·(‖∇D(x̂)‖₂ − 1)² of 'wgan-gp' (Gulrajani et al.)."""
    beta_max: float = 1000.0
    """Largest inverse temperature β_max of the Gumbel-softmax (the official run.py's default; its COCO and EMNLP
    scripts run 100 and 1000, its synthetic script 2, 5, 10 and 100)."""
    schedule: str = "exp"
    """How β grows from 1 to β_max over N steps, r = n/N: 'exp' (β_max^r, the paper's), 'lin', 'log', 'sigmoid',
    'quad', 'sqrt', or 'constant' (β_max throughout, the official 'no')."""
    anneal_steps: int = 0
    """N: G steps over which β reaches β_max (it stays there after); 0 is this run's number of G steps
    (train.adversarial_rounds × train.g_steps). The official code hard-codes 5000."""
    g_lr: float = 1e-4
    """Adam learning rate of G_θ in the adversarial phase (the official gadv_lr)."""
    d_lr: float = 1e-4
    """Adam learning rate of the critic (the official d_lr)."""
    adam_beta1: float = 0.9
    """Adam's β1 for G_θ and the critic (the official code's)."""
    adam_beta2: float = 0.999
    """Adam's β2 for G_θ and the critic (the official code's)."""
    grad_clip: float = 5.0
    """Global gradient-norm clip of the adversarial G_θ and critic updates (the official code's 5)."""
    d_emb_dim: int = 64
    """Total embedding width of the critic, split over num_rep representations (the official dis_emb_dim)."""
    num_rep: int = 64
    """Embedded representations of the critic, each d_emb_dim / num_rep wide and scored by the same CNN (the
    official num_rep)."""
    filter_sizes: list[int] = field(default_factory=lambda: [2, 3, 4, 5])
    """Convolution widths of the critic (the official discriminator's)."""
    num_filters: list[int] = field(default_factory=lambda: [300, 300, 300, 300])
    """Feature maps per width (same length as filter_sizes)."""
    dropout: float = 0.25
    """Dropout before the critic's output layers (keep probability 0.75 in the official code)."""
    iterations: int = 25
    """Adversarial iterations per round (train.adversarial_rounds rounds, one evaluation each): each iteration is
    train.g_steps G updates, then critic_steps critic updates. The official run is 5000 iterations (200 × 25)."""
    critic_steps: int = 5
    """Critic updates per iteration (the official dsteps)."""

    def __post_init__(self) -> None:
        check(self.generator in GENERATORS, f"relgan.generator must be 'rmc' or 'lstm', got {self.generator!r}")
        check(self.loss in LOSSES, f"relgan.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        check(self.schedule in SCHEDULES, f"relgan.schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        positive("relgan", emb_dim=self.emb_dim, mem_slots=self.mem_slots, num_heads=self.num_heads,
                 head_size=self.head_size, g_lr=self.g_lr, d_lr=self.d_lr, grad_clip=self.grad_clip,
                 d_emb_dim=self.d_emb_dim, num_rep=self.num_rep, iterations=self.iterations,
                 critic_steps=self.critic_steps)
        non_negative("relgan", gp_weight=self.gp_weight, anneal_steps=self.anneal_steps)
        check(self.beta_max >= 1 and math.isfinite(self.beta_max),
              f"relgan.beta_max must be a finite number >= 1 (β grows from 1 to it), got {self.beta_max}")
        check(0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1,
              f"relgan.adam_beta1 and adam_beta2 must be in [0, 1), got {self.adam_beta1} and {self.adam_beta2}")
        check(self.d_emb_dim % self.num_rep == 0, f"relgan.d_emb_dim ({self.d_emb_dim}) must be a multiple of "
              f"relgan.num_rep ({self.num_rep}): each representation is d_emb_dim / num_rep wide")
        check(len(self.filter_sizes) > 0 and len(self.filter_sizes) == len(self.num_filters),
              f"relgan.filter_sizes ({len(self.filter_sizes)} entries) and num_filters ({len(self.num_filters)} "
              "entries) must be non-empty lists of the same length")
        check(all(w > 0 for w in self.filter_sizes) and all(n > 0 for n in self.num_filters),
              "relgan.filter_sizes and num_filters must hold positive integers")
        check(0 <= self.dropout < 1, f"relgan.dropout must be in [0, 1), got {self.dropout}")


# ---- the inverse temperature β ------------------------------------------------------------------------------


def inverse_temperature(n: int, total: int, beta_max: float, schedule: str) -> float:
    """β after n of N = `total` steps: 1 at n = 0, growing to β_max at n = N, β_max from then on."""
    if schedule == "constant" or n >= total:
        return beta_max
    r = n / total
    if schedule == "exp":
        return beta_max ** r
    if schedule == "lin":
        grown = r
    elif schedule == "log":
        grown = math.log(n + 1) / math.log(total + 1)
    elif schedule == "sigmoid":  # σ(20(r − ½)), rescaled to run from 0 to 1
        low, high = _sigmoid(-10.0), _sigmoid(10.0)
        grown = (_sigmoid(20 * (r - 0.5)) - low) / (high - low)
    elif schedule == "quad":
        grown = r * r
    elif schedule == "sqrt":
        grown = math.sqrt(r)
    else:
        raise ValueError(f"unknown schedule {schedule!r}; one of {', '.join(SCHEDULES)}")
    return 1 + (beta_max - 1) * grown


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# ---- Gumbel-softmax: G's relaxed output -----------------------------------------------------------------


def gumbel(uniforms: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) noise from U(0, 1) draws, −log(−log(u + ε) + ε) as the official add_gumbel."""
    return -torch.log(-torch.log(uniforms + GUMBEL_EPS) + GUMBEL_EPS)


def relaxed_one_hot(logits_NxV: torch.Tensor, gumbel_NxV: torch.Tensor, beta: float) -> torch.Tensor:
    """ŷ = softmax(β·(o + g)): tends to the one-hot of argmax(o + g) as β → ∞."""
    return torch.softmax(beta * (logits_NxV + gumbel_NxV), dim=-1)


class RelaxedSample(NamedTuple):
    """Sequences of G_θ with their Gumbel-softmax relaxation."""

    tokens_NxT: torch.Tensor
    """The hard tokens argmax(o_t + g_t), `pad_token` after an end token."""
    relaxed_NxTxV: torch.Tensor
    """ŷ_t = softmax(β·(o_t + g_t)), the one-hot of `pad_token` after an end token; carries θ's gradient."""
    logits_NxTxV: torch.Tensor
    """o_t, the logits each token was drawn from."""


def _stepper(g: nn.Module, n: int) -> tuple[Any, Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]]:
    """(initial state, step) of either generator: step(y_{t−1} (n,), state) → (logits of y_t (n, V), state)."""
    if isinstance(g, RelationalMemoryGenerator):
        return g.initial_state(n), g.step
    table = g.input_table()

    def step(tokens_N: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        h, c = g.step(table, tokens_N, *state)
        return g.output(h), (h, c)

    return g.zero_state(n), step


def gumbel_rollout(g: nn.Module, num: int, beta: float, uniforms_NxTxV: torch.Tensor | None = None) -> RelaxedSample:
    """Write `num` sequences with the Gumbel-max trick, keeping the relaxed one-hot of every token (differentiable in
    θ). `uniforms_NxTxV` fixes the noise; otherwise each step draws its own (n, V) uniforms."""
    state, step = _stepper(g, num)
    device = g.output.weight.device
    tokens_N = torch.full((num,), g.start_token, dtype=torch.long, device=device)
    tokens, relaxed, logits = [], [], []
    for t in range(g.seq_len):
        o_NxV, state = step(tokens_N, state)
        u_NxV = torch.rand_like(o_NxV) if uniforms_NxTxV is None else uniforms_NxTxV[:, t]
        g_NxV = gumbel(u_NxV)
        tokens_N = (o_NxV.detach() + g_NxV).argmax(dim=-1)  # the hard sample is the next input (no gradient)
        tokens.append(tokens_N)
        relaxed.append(relaxed_one_hot(o_NxV, g_NxV, beta))
        logits.append(o_NxV)
    tokens_NxT = torch.stack(tokens, dim=1)
    relaxed_NxTxV = torch.stack(relaxed, dim=1)
    mask_NxT = valid_mask(tokens_NxT, g.eos_token)
    if mask_NxT is not None:  # after the end, what real data holds: padding, as an exact one-hot
        tokens_NxT = tokens_NxT.masked_fill(~mask_NxT, g.pad_token)
        pad_V = F.one_hot(torch.tensor(g.pad_token, device=device), g.vocab_size).to(relaxed_NxTxV.dtype)
        relaxed_NxTxV = torch.where(mask_NxT.unsqueeze(-1), relaxed_NxTxV, pad_V)
    return RelaxedSample(tokens_NxT, relaxed_NxTxV, torch.stack(logits, dim=1))


# ---- the critic ----------------------------------------------------------------------------------------


class RelGANCritic(nn.Module):
    """One-hot or relaxed input (B, T, V) → num_rep embeddings → one CNN per representation (shared weights) →
    highway → dropout → linear → linear: one logit per representation (B, num_rep).

    The num_rep embedding matrices (V × d_emb_dim/num_rep each) sit side by side in one V × d_emb_dim matrix, and the
    CNN runs over all representations at once as a Conv2d whose kernel spans one representation and whose stride
    steps to the next (the official code's); `reference_critic_logits` is the same, one representation at a time.
    Sequences shorter than the widest filter are padded with zeros to its width.
    """

    def __init__(self, vocab_size: int, *, emb_dim: int = 64, num_rep: int = 64, filter_sizes: list[int] | None = None,
                 num_filters: list[int] | None = None, dropout: float = 0.25, hidden: int = 100):
        super().__init__()
        filter_sizes = filter_sizes or [2, 3, 4, 5]
        num_filters = num_filters or [300] * len(filter_sizes)
        self.vocab_size = vocab_size
        self.num_rep = num_rep
        self.rep_dim = emb_dim // num_rep
        self.min_width = max(filter_sizes)
        total = sum(num_filters)
        self.embedding = nn.Parameter(torch.empty(vocab_size, emb_dim))  # a linear map of the (relaxed) one-hot
        self.convs = nn.ModuleList(nn.Conv2d(1, n, (w, self.rep_dim), stride=(1, self.rep_dim))
                                   for w, n in zip(filter_sizes, num_filters))
        self.highway_h = nn.Linear(total, total, bias=False)  # transform: relu(W f)
        self.highway_t = nn.Linear(total, total, bias=False)  # gate: sigmoid(W f + 0), the official bias 0
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(total, hidden)  # no nonlinearity before the logit, as the official code
        self.out = nn.Linear(hidden, 1)
        self._init_like_reference()

    def _init_like_reference(self) -> None:
        """Truncated normals: std 1/√V (embedding), √(2/fan_in) (convolutions), 1/√fan_in (linear); zero biases."""
        with torch.no_grad():
            tf_trunc_normal_(self.embedding, 1 / math.sqrt(self.vocab_size))
            for conv in self.convs:
                tf_trunc_normal_(conv.weight, math.sqrt(2 / (conv.kernel_size[0] * conv.kernel_size[1])))
                conv.bias.zero_()
            for layer in (self.highway_h, self.highway_t, self.fc, self.out):
                tf_trunc_normal_(layer.weight, 1 / math.sqrt(layer.in_features))
                if layer.bias is not None:
                    layer.bias.zero_()

    def features(self, x_BxTxV: torch.Tensor) -> torch.Tensor:
        """Max-over-time ReLU features of every representation: (B, num_rep, ΣF)."""
        emb_BxTxE = x_BxTxV @ self.embedding
        if emb_BxTxE.shape[1] < self.min_width:
            emb_BxTxE = F.pad(emb_BxTxE, (0, 0, 0, self.min_width - emb_BxTxE.shape[1]))
        emb_Bx1xTxE = emb_BxTxE.unsqueeze(1)
        # max, not amax: its backward scatters to the one argmax per map instead of comparing every window with
        # the max (the same gradient: ties between windows are zeros that the ReLU already cuts)
        pooled = [torch.relu(conv(emb_Bx1xTxE)).max(dim=2).values for conv in self.convs]  # (B, F_w, num_rep) each
        return torch.cat(pooled, dim=1).transpose(1, 2)

    def forward(self, x_BxTxV: torch.Tensor) -> torch.Tensor:
        """Logits D(x), one per representation: (B, num_rep)."""
        return self.head(self.features(x_BxTxV))

    def head(self, f_BxRxF: torch.Tensor) -> torch.Tensor:
        """Highway, dropout and the two linear layers on the pooled features: (B, R)."""
        gate = torch.sigmoid(self.highway_t(f_BxRxF))
        h = gate * torch.relu(self.highway_h(f_BxRxF)) + (1 - gate) * f_BxRxF
        return self.out(self.fc(self.dropout(h))).squeeze(-1)


def reference_critic_logits(critic: RelGANCritic, x_BxTxV: torch.Tensor) -> torch.Tensor:
    """The critic written out: each representation r embeds with its own V × d matrix and is scored by the CNN
    alone (Conv1d per width, ReLU, max over time), then the shared head: (B, num_rep)."""
    d = critic.rep_dim
    reps = []
    for r in range(critic.num_rep):
        emb_BxdxT = (x_BxTxV @ critic.embedding[:, r * d:(r + 1) * d]).transpose(1, 2)
        if emb_BxdxT.shape[2] < critic.min_width:
            emb_BxdxT = F.pad(emb_BxdxT, (0, critic.min_width - emb_BxdxT.shape[2]))
        pooled = [torch.relu(F.conv1d(emb_BxdxT, conv.weight[:, 0].transpose(1, 2), conv.bias)).amax(dim=2)
                  for conv in critic.convs]
        reps.append(torch.cat(pooled, dim=1))
    return critic.head(torch.stack(reps, dim=1))


# ---- the losses (of the critic's logits, averaged over samples and representations) ---------------------------


def critic_loss(real_BxR: torch.Tensor, fake_BxR: torch.Tensor, loss: str) -> torch.Tensor:
    """The critic's loss without a gradient penalty; RSGAN pairs real sample b with fake sample b, per representation."""
    if loss == "rsgan":  # −log σ(D(x_r) − D(x_f))
        return F.softplus(-(real_BxR - fake_BxR)).mean()
    if loss == "standard":  # −log σ(D(x_r)) − log(1 − σ(D(x_f)))
        return F.softplus(-real_BxR).mean() + F.softplus(fake_BxR).mean()
    if loss == "wgan-gp":
        return fake_BxR.mean() - real_BxR.mean()
    raise ValueError(f"unknown loss {loss!r}; one of {', '.join(LOSSES)}")


def generator_loss(real_BxR: torch.Tensor | None, fake_BxR: torch.Tensor, loss: str) -> torch.Tensor:
    """G_θ's loss: RSGAN −log σ(D(x_f) − D(x_r)), non-saturating −log σ(D(x_f)), WGAN −D(x_f)."""
    if loss == "rsgan":
        if real_BxR is None:
            raise ValueError("RSGAN's generator loss compares with the critic's logits of real samples")
        return F.softplus(-(fake_BxR - real_BxR)).mean()
    if loss == "standard":
        return F.softplus(-fake_BxR).mean()
    if loss == "wgan-gp":
        return -fake_BxR.mean()
    raise ValueError(f"unknown loss {loss!r}; one of {', '.join(LOSSES)}")


def gradient_penalty(critic: nn.Module, real_BxTxV: torch.Tensor, fake_BxTxV: torch.Tensor, alpha_B: torch.Tensor
                     ) -> torch.Tensor:
    """mean_b (‖∇_x̂ Σ_r D_r(x̂_b)‖₂ − 1)² at x̂ = α·real + (1 − α)·fake, differentiable in the critic's weights."""
    alpha_Bx1x1 = alpha_B.view(-1, 1, 1)
    interpolates = (alpha_Bx1x1 * real_BxTxV + (1 - alpha_Bx1x1) * fake_BxTxV).detach().requires_grad_(True)
    (grad_BxTxV,) = torch.autograd.grad(critic(interpolates).sum(), interpolates, create_graph=True)
    return ((grad_BxTxV.flatten(1).norm(dim=1) - 1) ** 2).mean()


# ---- the objectives the loss runners compute (module functions: DDP runs them as forwards) -------------------


def generator_objective(g: nn.Module, critic: RelGANCritic, real_BxTxV: torch.Tensor, beta: float, loss: str
                        ) -> torch.Tensor:
    """G_θ's adversarial loss on a fresh relaxed batch as large as the real one."""
    fake = gumbel_rollout(g, real_BxTxV.shape[0], beta)
    real_BxR = critic(real_BxTxV) if loss == "rsgan" else None
    return generator_loss(real_BxR, critic(fake.relaxed_NxTxV), loss)


def critic_objective(critic: RelGANCritic, real_BxTxV: torch.Tensor, fake_BxTxV: torch.Tensor, loss: str,
                     gp_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's loss (with λ·GP for WGAN-GP) and the mean D(x_r) − D(x_f)."""
    real_BxR = critic(real_BxTxV)
    fake_BxR = critic(fake_BxTxV)
    total = critic_loss(real_BxR, fake_BxR, loss)
    if loss == "wgan-gp":
        alpha_B = torch.rand(real_BxTxV.shape[0], device=real_BxTxV.device, dtype=real_BxTxV.dtype)
        total = total + gp_weight * gradient_penalty(critic, real_BxTxV, fake_BxTxV, alpha_B)
    return total, (real_BxR - fake_BxR).mean().detach()


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """No weight gradients for `model` inside (its input gradients still flow): G's step leaves the critic's alone."""
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)


# ---- the method ------------------------------------------------------------------------------------------------


class RelGAN(Method):
    """train.g_steps Gumbel-softmax updates of G_θ through the critic, then train.d_steps updates of the critic."""

    name = "relgan"
    label = "RelGAN"
    title = ("RelGAN (Nie et al. 2019): relational-memory G, Gumbel-softmax output with rising β, multi-representation "
             "critic, RSGAN loss")
    config = RelGANConfig
    trains_discriminator = True  # its own critic; SeqGAN's D_φ is left untouched
    shares_pretraining = False  # its G is the relational memory (its own draws)
    own_pretraining_keys = ("generator", "emb_dim", "mem_slots", "num_heads", "head_size")

    @classmethod
    def build_generator(cls, cfg, vocab_size, seq_len, start_token, eos_token, pad_token):  # type: ignore[no-untyped-def]
        s = cfg.method
        if s.generator == "lstm":
            return super().build_generator(cfg, vocab_size, seq_len, start_token, eos_token, pad_token)
        return RelationalMemoryGenerator(vocab_size, emb_dim=s.emb_dim, mem_slots=s.mem_slots, num_heads=s.num_heads,
                                         head_size=s.head_size, seq_len=seq_len, start_token=start_token,
                                         eos_token=eos_token, pad_token=pad_token)

    @classmethod
    def validate(cls, cfg) -> None:  # type: ignore[no-untyped-def]
        if cfg.train.advantage != "none":
            raise ConfigError(f"RelGAN has no policy gradient, so no advantage: train.advantage must be 'none' with "
                              f"train.method='relgan' (got {cfg.train.advantage!r})")

    def __init__(self, trainer):  # type: ignore[no-untyped-def]
        super().__init__(trainer)
        s = self.settings
        with self.own_rng():  # the run's own draws stay as they are
            self.critic = RelGANCritic(trainer.vocab_size, emb_dim=s.d_emb_dim, num_rep=s.num_rep,
                                       filter_sizes=s.filter_sizes, num_filters=s.num_filters,
                                       dropout=s.dropout).to(trainer.device)
        betas = (s.adam_beta1, s.adam_beta2)
        # A fresh Adam for the adversarial phase, as the official code's g_optimizer.
        self.g_opt = torch.optim.Adam(trainer.generator.parameters(), lr=s.g_lr, betas=betas, fused=True)
        self.d_opt = torch.optim.Adam(self.critic.parameters(), lr=s.d_lr, betas=betas, fused=True)
        from seqgan.distributed import loss_runner

        self._critic = loss_runner(self.critic, trainer.dist)

    def d_pretrain_steps(self) -> int:
        return 0  # the official code trains the critic only in the adversarial phase

    def models(self) -> dict[str, nn.Module]:
        return {"generator": self.trainer.generator, "discriminator": self.critic}

    # ---- β -------------------------------------------------------------------------------------------
    def anneal_steps(self) -> int:
        """N: relgan.anneal_steps, or the run's number of G steps."""
        return self.settings.anneal_steps or self.rounds() * self.steps_per_round()

    def steps_per_round(self) -> int:
        """G steps of one round: relgan.iterations × train.g_steps."""
        return self.settings.iterations * self.cfg.train.g_steps

    def beta(self, step: int) -> float:
        """β of the step-th G step of the run (1-based): the schedule after `step` steps, β_max at step N."""
        s = self.settings
        return inverse_temperature(step, self.anneal_steps(), s.beta_max, s.schedule)

    def _first_step(self) -> int:
        return self.trainer.progress.done * self.steps_per_round() + 1

    # ---- the steps -----------------------------------------------------------------------------------------
    def real_batch(self, size: int) -> torch.Tensor:
        """`size` real sequences drawn at random, as exact one-hots: (size, T, V)."""
        real = self.trainer.real_data
        tokens = real[torch.randperm(len(real), device=real.device)[:size]]
        return F.one_hot(tokens, self.trainer.vocab_size).to(self.critic.embedding.dtype)

    def g_step(self, step: int | None = None) -> dict[str, float]:
        """One update of G_θ on the critic's loss of a relaxed batch (this rank's share of generator.batch_size)."""
        trainer = self.trainer
        s = self.settings
        beta = self.beta(self._first_step() if step is None else step)
        real = self.real_batch(self.cfg.generator.batch_size // trainer.dist.world)
        trainer.generator.train()
        self.critic.train()  # dropout on, as the official graph's single critic
        with frozen(self.critic):
            loss = trainer.run_g(generator_objective, self.critic, real, beta, s.loss)
            trainer.update(self.g_opt, trainer.generator, loss, s.grad_clip)
        return {"losses/g_adv": trainer.finite(loss.item(), "RelGAN generator loss"), "relgan/beta": beta}

    def critic_step(self, beta: float) -> dict[str, float]:
        """One update of the critic on real one-hots against fresh relaxed samples of G_θ at β."""
        trainer = self.trainer
        s = self.settings
        size = self.cfg.discriminator.batch_size // trainer.dist.world
        real = self.real_batch(size)
        with torch.no_grad():
            fake = gumbel_rollout(trainer.generator, size, beta).relaxed_NxTxV
        self.critic.train()
        loss, gap = self._critic(critic_objective, real, fake, s.loss, s.gp_weight)
        trainer.update(self.d_opt, self.critic, loss, s.grad_clip)
        return {"losses/d": trainer.finite(loss.item(), "RelGAN critic loss"), "d/real_minus_fake": gap.item()}

    def discriminator_step(self, epochs: int) -> dict[str, float]:
        """`epochs` critic updates at the β of the current round's last G step."""
        beta = self.beta(self._first_step() + self.steps_per_round() - 1)
        metrics: dict[str, float] = {}
        for _ in range(epochs):
            metrics = self.critic_step(beta)
        return metrics

    def round(self) -> dict[str, float]:
        """relgan.iterations × (train.g_steps G updates, then relgan.critic_steps critic updates at the last one's β)."""
        s = self.settings
        step = self._first_step()
        metrics: dict[str, float] = {}
        for _ in range(s.iterations):
            for _ in range(self.cfg.train.g_steps):
                metrics.update(self.g_step(step))
                step += 1
            for _ in range(s.critic_steps):
                metrics.update(self.critic_step(self.beta(step - 1)))
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"g_optimizer": self.g_opt.state_dict(), "critic": self.critic.state_dict(),
                "critic_optimizer": self.d_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.critic.load_state_dict(state["critic"])
        self.d_opt.load_state_dict(state["critic_optimizer"])
