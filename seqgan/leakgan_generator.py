"""LeakGAN's hierarchical generator (Guo et al., AAAI 2018): a MANAGER that reads D_φ's leaked features, a WORKER that writes.

At step t the generator has written y_1..y_{t−1}. D_φ's feature of that prefix, f_{t−1} (its CNN feature after the
highway, positions from t on embedded as zeros), is leaked to the manager, an LSTM that emits a unit sub-goal
g_{t−1} in D's feature space. Every c steps (`step_size`) the goal the worker follows becomes the sum of the c
sub-goals since the last change: G_k = Σ_{j=(k−1)c+1}^{kc} g_j for the tokens of block k = (t−1)//c, G_0 a
learned vector. The worker is an LSTM over the tokens; its output is a matrix O_t (V × k) per step, and its
token logits are O_t · w_t with w_t = ψ(G_k) / ‖ψ(G_k)‖, ψ a linear map to the small goal space (k = 16).

The manager learns to point its goals along the change of D's features over the block they govern
(f_{kc+c} − f_{kc}, cosine loss); the worker learns by MLE, and in adversarial training by REINFORCE on the
extrinsic reward plus the intrinsic reward cos(f_t − f_{block start}, G_k) of following its goal (see
seqgan/methods/leakgan.py). The goal is an input to the worker's loss, never trained through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.kernels.sampling import sample_from_logits
from seqgan.likelihood import LogitsLikelihood

FeatureFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(tokens (N, T), keep (N, T) bool) → D_φ's feature vector (N, F) of the kept positions, without gradient."""


@dataclass
class Unrolled:
    """One teacher-forced pass over sequences Y (B, T)."""

    logits_BxTxV: torch.Tensor
    """Worker logits of y_t given y_<t and the goal of its block."""
    features_BxT1xF: torch.Tensor
    """f_0..f_T: D_φ's leaked feature of the first t tokens (constants)."""
    goals_BxKxF: torch.Tensor
    """G_0..G_{K−1}, the goal of each block (K = ⌈T / c⌉), G_0 the learned initial goal; trained by the manager's loss."""


class LeakGANGenerator(LogitsLikelihood, nn.Module):
    """Manager LSTM over leaked features → goals; worker LSTM over tokens → O_t; logits O_t · w_t. See the module docstring."""

    def __init__(self, vocab_size: int, *, emb_dim: int, hidden_dim: int, seq_len: int, feature_dim: int,
                 goal_dim: int = 16, step_size: int = 4, init_std: float = 0.1, start_token: int = 0,
                 eos_token: int | None = None, pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.hidden_dim = hidden_dim
        self.feature_dim = feature_dim
        self.goal_dim = goal_dim
        self.step_size = step_size
        self.start_token = start_token
        self.eos_token = eos_token
        self.pad_token = pad_token
        # Worker: tokens → O_t (V × k), one row of goal weights per token.
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.worker = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.worker_out = nn.Linear(hidden_dim, vocab_size * goal_dim)
        self.goal_proj = nn.Linear(feature_dim, goal_dim, bias=False)  # ψ
        # Manager: leaked features → unit sub-goals in D's feature space.
        self.manager = nn.LSTM(feature_dim, hidden_dim, batch_first=True)
        self.manager_out = nn.Linear(hidden_dim, feature_dim)
        self.goal_init = nn.Parameter(torch.empty(feature_dim))  # G_0, the goal of the first block
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, init_std)
            self.worker.bias_hh_l0.zero_()  # one bias per gate, as the reference cells
            self.manager.bias_hh_l0.zero_()
        self._leak: FeatureFn | None = None

    # ---- the leak ------------------------------------------------------------------------------
    def attach(self, leak: FeatureFn) -> LeakGANGenerator:
        """Set the feature function leaked to the manager (D_φ's; see `leak_from`). Not a parameter, not saved."""
        self._leak = leak
        return self

    def leak(self, tokens_NxT: torch.Tensor, keep_NxT: torch.Tensor) -> torch.Tensor:
        if self._leak is None:
            raise RuntimeError("LeakGAN's generator needs D_φ's features: attach(leak_from(discriminator)) first")
        with torch.no_grad():
            return self._leak(tokens_NxT, keep_NxT)

    def prefix_features(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """f_0..f_T of every sequence, f_t the leaked feature of its first t tokens: (B, T+1, F)."""
        B, T = tokens_BxT.shape
        keep_T1xT = torch.arange(T, device=tokens_BxT.device) < torch.arange(T + 1, device=tokens_BxT.device)[:, None]
        tokens_RxT = tokens_BxT.unsqueeze(1).expand(B, T + 1, T).reshape(-1, T)
        keep_RxT = keep_T1xT.unsqueeze(0).expand(B, T + 1, T).reshape(-1, T)
        return self.leak(tokens_RxT, keep_RxT).view(B, T + 1, -1)

    # ---- teacher-forced passes ---------------------------------------------------------------------
    def block_of(self, t: int) -> int:
        """Block index of the 1-based position t: its goal is G_{(t−1)//c}."""
        return (t - 1) // self.step_size

    def num_blocks(self) -> int:
        return -(-self.seq_len // self.step_size)

    def goals(self, features_BxT1xF: torch.Tensor) -> torch.Tensor:
        """The goal of every block, G_0..G_{K−1} (B, K, F): G_0 learned, G_k the sum of the unit sub-goals the manager
        emitted after reading f_{(k−1)c+1}..f_{kc}."""
        B, T1, _ = features_BxT1xF.shape
        hidden_BxT1xH, _ = self.manager(features_BxT1xF)
        sub_BxT1xF = F.normalize(self.manager_out(hidden_BxT1xH), dim=-1)  # g_0..g_T (g_0 and g_T govern no token)
        c = self.step_size
        goals = [self.goal_init.expand(B, -1)]
        for k in range(1, self.num_blocks()):
            goals.append(sub_BxT1xF[:, (k - 1) * c + 1:k * c + 1].sum(dim=1))
        return torch.stack(goals, dim=1)

    def unroll(self, tokens_BxT: torch.Tensor, features_BxT1xF: torch.Tensor | None = None) -> Unrolled:
        """Logits, leaked features and goals of one teacher-forced pass (the goals carry the manager's gradient;
        the logits see them as constants)."""
        B, T = tokens_BxT.shape
        features = self.prefix_features(tokens_BxT) if features_BxT1xF is None else features_BxT1xF
        goals_BxKxF = self.goals(features)
        start_Bx1 = torch.full_like(tokens_BxT[:, :1], self.start_token)
        hidden_BxTxH, _ = self.worker(self.embedding(torch.cat([start_Bx1, tokens_BxT[:, :-1]], dim=1)))
        block_T = torch.arange(T, device=tokens_BxT.device) // self.step_size
        w_BxTxK = self.goal_weights(goals_BxKxF.detach()[:, block_T])
        logits = worker_logits(hidden_BxTxH.reshape(B * T, -1), w_BxTxK.reshape(B * T, -1), self.worker_out.weight,
                               self.worker_out.bias).view(B, T, -1)
        return Unrolled(logits, features, goals_BxKxF)

    def goal_weights(self, goals_NxF: torch.Tensor) -> torch.Tensor:
        """w = ψ(G) / ‖ψ(G)‖ in the goal space: (…, k)."""
        return F.normalize(self.goal_proj(goals_NxF), dim=-1)

    def forward(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Worker logits of every position given the true prefix: (B, T, V)."""
        return self.unroll(tokens_BxT).logits_BxTxV

    # ---- step by step: sampling and rollouts ----------------------------------------------------------
    def _cell(self, lstm: nn.LSTM, x_NxI: torch.Tensor, h_NxH: torch.Tensor, c_NxH: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of an nn.LSTM from its weights (gate order i, f, g, o)."""
        gates = F.linear(x_NxI, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0) + h_NxH @ lstm.weight_hh_l0.T
        i, f, g, o = gates.chunk(4, dim=-1)
        c_NxH = torch.sigmoid(f) * c_NxH + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_NxH), c_NxH

    def start_state(self, n: int) -> State:
        z = self.goal_init.new_zeros(n, self.hidden_dim)
        return State(worker=(z, z.clone()), manager=(z.clone(), z.clone()), goal=self.goal_init.expand(n, -1).clone(),
                     pending=self.goal_init.new_zeros(n, self.feature_dim),
                     tokens=torch.full((n,), self.start_token, dtype=torch.long, device=z.device))

    def step(self, state: State, t: int, feature_NxF: torch.Tensor) -> torch.Tensor:
        """Advance every row to emit y_t (1-based) given f_{t−1}, the leaked feature of its first t−1 tokens; returns
        the logits of y_t (N, V). The caller sets `state.tokens` to y_t before the next step."""
        state.manager = self._cell(self.manager, feature_NxF, *state.manager)
        if t > 1:  # g_{t−1}; g_0 governs no token
            state.pending = state.pending + F.normalize(self.manager_out(state.manager[0]), dim=-1)
            if (t - 1) % self.step_size == 0:  # a new block: its goal is the sum of the last c sub-goals
                state.goal, state.pending = state.pending, torch.zeros_like(state.pending)
        state.worker = self._cell(self.worker, self.embedding(state.tokens), *state.worker)
        return worker_logits(state.worker[0], self.goal_weights(state.goal), self.worker_out.weight, self.worker_out.bias)

    @torch.no_grad()
    def sample(self, num: int, temperature: float = 1.0, uniforms_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """Draw `num` sequences of length T: (num, T), `pad_token` after an end token."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = self.goal_init.device
        if uniforms_NxT is None:
            uniforms_NxT = torch.rand(num, self.seq_len, device=device)
        out_NxT = torch.full((num, self.seq_len), self.pad_token, dtype=torch.long, device=device)
        return complete(self, out_NxT, torch.zeros(num, dtype=torch.long, device=device), uniforms_NxT, temperature)


@dataclass
class State:
    """The recurrent state of N rows between steps."""

    worker: tuple[torch.Tensor, torch.Tensor]
    manager: tuple[torch.Tensor, torch.Tensor]
    goal: torch.Tensor
    """The goal of the current block (N, F)."""
    pending: torch.Tensor
    """Sub-goals emitted since the current block began (N, F): the next block's goal."""
    tokens: torch.Tensor
    """The last token each row consumed or wrote (N,)."""


def worker_logits(h_NxH: torch.Tensor, w_NxK: torch.Tensor, weight_VKxH: torch.Tensor, bias_VK: torch.Tensor
                  ) -> torch.Tensor:
    """O_t · w_t with O_t = reshape(W h + b, (V, k)), without building O_t (N × V × k floats): Σ_j w_j (W_j h + b_j) is
    one GEMM of the outer product w ⊗ h (N, k·H) with W laid out as (V, k·H). Logits (N, V)."""
    N, H = h_NxH.shape
    K = w_NxK.shape[1]
    V = bias_VK.shape[0] // K
    wh_NxKH = (w_NxK.unsqueeze(2) * h_NxH.unsqueeze(1)).reshape(N, K * H)
    return torch.addmm(w_NxK @ bias_VK.view(V, K).T, wh_NxKH, weight_VKxH.view(V, K * H).T)


def reference_worker_logits(h_NxH: torch.Tensor, w_NxK: torch.Tensor, weight_VKxH: torch.Tensor, bias_VK: torch.Tensor
                            ) -> torch.Tensor:
    """The paper's formula as written: O_t = reshape(W h + b, (V, k)), logits = O_t w_t."""
    N = h_NxH.shape[0]
    K = w_NxK.shape[1]
    o_NxVxK = (h_NxH @ weight_VKxH.T + bias_VK).view(N, -1, K)
    return (o_NxVxK @ w_NxK.unsqueeze(2)).squeeze(2)


def complete(g: LeakGANGenerator, tokens_NxT: torch.Tensor, prefix_N: torch.Tensor, uniforms_NxT: torch.Tensor,
             temperature: float = 1.0, prefix_features_BxT1xF: torch.Tensor | None = None,
             seq_N: torch.Tensor | None = None) -> torch.Tensor:
    """Rows that keep their first prefix_N[i] tokens of `tokens_NxT` and are completed by sampling (position p from
    uniforms_NxT[:, p−1]): a rollout (Eq. 4) when the prefix is Y's, sampling when it is empty. All rows step
    together; the leaked feature of a prefix that is still the given one is looked up in
    `prefix_features_BxT1xF[seq_N]` (the teacher-forced pass's) rather than recomputed. Returns (N, T)."""
    N, T = tokens_NxT.shape
    out_NxT = tokens_NxT.clone()
    state = g.start_state(N)
    ended_N = torch.zeros(N, dtype=torch.bool, device=out_NxT.device)
    positions_T = torch.arange(T, device=out_NxT.device)
    for t in range(1, T + 1):
        given_N = prefix_N >= t - 1  # f_{t−1} reads only given tokens
        feature_NxF = out_NxT.new_empty(N, g.feature_dim, dtype=state.goal.dtype)
        if prefix_features_BxT1xF is not None and bool(given_N.any()):
            feature_NxF[given_N] = prefix_features_BxT1xF[seq_N[given_N], t - 1]
            own_M = torch.nonzero(~given_N).squeeze(1)
        else:
            own_M = torch.arange(N, device=out_NxT.device)
        if len(own_M):
            feature_NxF[own_M] = g.leak(out_NxT[own_M], positions_T < t - 1)
        logits_NxV = g.step(state, t, feature_NxF)
        drawn_N = sample_from_logits(logits_NxV / temperature if temperature != 1.0 else logits_NxV, uniforms_NxT[:, t - 1])
        given_t = prefix_N >= t
        tokens_N = torch.where(given_t, out_NxT[:, t - 1], drawn_N)
        out_NxT[:, t - 1] = torch.where(ended_N & ~given_t, g.pad_token, tokens_N)
        if g.eos_token is not None:
            ended_N |= tokens_N == g.eos_token
        state.tokens = tokens_N
    return out_NxT


def leak_from(discriminator: nn.Module) -> FeatureFn:
    """D_φ's feature vector (after the highway, dropout off) of the kept positions: what LeakGAN leaks."""

    def leak(tokens_NxT: torch.Tensor, keep_NxT: torch.Tensor) -> torch.Tensor:
        with discriminator._eval_mode():
            return discriminator.feature_vector(tokens_NxT, keep_NxT.expand_as(tokens_NxT))

    return leak
