"""RelGAN's generator G_θ: a relational memory core (Santoro et al., NeurIPS 2018) as RelGAN uses it (Nie et al. 2019).

At step t the memory M_{t−1} (S slots of width d = num_heads × head_size) and the projected input x_t = W_x e(y_{t−1})
(e: the token embedding, the start token first) form the rows [M_{t−1}; x_t] (S + 1, d). One block of multi-head
self-attention over those rows, a residual connection and layer norm, a 2-layer MLP, another residual and layer norm
give the candidate memory M̃_t (its first S rows). The memory is then updated as an LSTM's cell:

    i_t = σ(W_i x_t + U_i tanh(M_{t−1}))          input gate, bias 0
    f_t = σ(W_f x_t + U_f tanh(M_{t−1}) + 1)      forget gate, bias 1
    M_t = i_t ⊙ tanh(M̃_t) + f_t ⊙ M_{t−1}

and the logits of y_t are o_t = W_o vec(M_t) + b_o. M_0 is the identity, padded with zeros to width d (every slot
distinct). The layout follows the official code (weilinie/RelGAN, utils/models/relational_memory.py, itself
Sonnet's): layer norm on the (q, k, v) projection, queries scaled by (2·key_size + head_size)^−½ (Sonnet's
scale, not key_size^−½), no bias in the (q, k, v) and gate projections, truncated-normal weights with std
1/√fan_in. Its layer norms (tf.contrib.layers.layer_norm, begin_norm_axis=1) normalise the
S + 1 rows and their features *together*, with a gain and bias per feature; Sonnet normalised each row alone.

The attention at step t sees only M_{t−1} and y_{t−1}: the logits of y_t depend on no later token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.kernels.sampling import sample_from_logits
from seqgan.likelihood import FusedLikelihood

LAYER_NORM_EPS = 1e-12  # tf.contrib.layers.layer_norm's variance epsilon


class RelationalMemoryGenerator(FusedLikelihood, nn.Module):
    """Embedding → relational memory (attention over [memory; input], MLP, gated update) → linear logits.

    With an `eos_token` a sequence ends at its first end token: sampling writes `pad_token` after it, and the
    NLL ignores every position after it, as `seqgan.generator.LSTMPolicy` does.
    """

    def __init__(self, vocab_size: int, *, emb_dim: int = 32, mem_slots: int = 1, num_heads: int = 2,
                 head_size: int = 256, seq_len: int = 20, start_token: int = 0, eos_token: int | None = None,
                 pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.start_token = start_token
        self.eos_token = eos_token
        self.pad_token = pad_token
        self.mem_slots = mem_slots
        self.num_heads = num_heads
        self.head_size = head_size
        self.mem_size = num_heads * head_size  # d, the width of a slot
        qkv_size = 3 * head_size  # key_size = head_size, as the official code's default
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.input_proj = nn.Linear(emb_dim, self.mem_size)  # W_x, with bias
        self.qkv = nn.Linear(self.mem_size, num_heads * qkv_size, bias=False)
        self.qkv_norm = nn.LayerNorm(num_heads * qkv_size, eps=LAYER_NORM_EPS)
        self.attention_norm = nn.LayerNorm(self.mem_size, eps=LAYER_NORM_EPS)
        self.mlp = nn.Sequential(nn.Linear(self.mem_size, self.mem_size), nn.ReLU(), nn.Linear(self.mem_size, self.mem_size))
        self.mlp_norm = nn.LayerNorm(self.mem_size, eps=LAYER_NORM_EPS)
        self.gate_input = nn.Linear(self.mem_size, 2 * self.mem_size, bias=False)  # W_i, W_f
        self.gate_memory = nn.Linear(self.mem_size, 2 * self.mem_size, bias=False)  # U_i, U_f
        self.output = nn.Linear(mem_slots * self.mem_size, vocab_size)  # W_o, b_o
        self.forget_bias = 1.0
        self.input_bias = 0.0
        self._init_like_reference()

    def _init_like_reference(self) -> None:
        """Truncated N(0, 1/fan_in) weights (the embedding's fan-in is V), zero biases, unit layer-norm gains."""
        with torch.no_grad():
            tf_trunc_normal_(self.embedding.weight, 1 / math.sqrt(self.vocab_size))
            for layer in (self.input_proj, self.qkv, self.mlp[0], self.mlp[2], self.gate_input, self.gate_memory,
                          self.output):
                tf_trunc_normal_(layer.weight, 1 / math.sqrt(layer.in_features))
                if layer.bias is not None:
                    layer.bias.zero_()

    # ---- one step of the core ----------------------------------------------------------------
    def initial_state(self, n: int) -> torch.Tensor:
        """M_0: the identity over the slots, zero-padded (or cut) to width d: (n, S, d)."""
        eye_SxD = torch.eye(self.mem_slots, self.mem_size, device=self.output.weight.device, dtype=self.output.weight.dtype)
        return eye_SxD.expand(n, -1, -1).clone()

    def attend(self, rows_NxRxD: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention over the rows (memory slots and the input): (N, R, d)."""
        N, R, _ = rows_NxRxD.shape
        H, K = self.num_heads, self.head_size
        qkv_NxRxF = layer_norm_rows(self.qkv(rows_NxRxD), self.qkv_norm)
        qkv_NxHxRx3K = qkv_NxRxF.view(N, R, H, 3 * K).transpose(1, 2)
        q, k, v = qkv_NxHxRx3K.split(K, dim=-1)
        q = q * (3 * K) ** -0.5  # the official (Sonnet's) scale: the whole q, k, v width
        weights_NxHxRxR = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        return (weights_NxHxRxR @ v).transpose(1, 2).reshape(N, R, H * K)

    def cell(self, x_NxD: torch.Tensor, memory_NxSxD: torch.Tensor) -> torch.Tensor:
        """M_t from the projected input x_t and M_{t−1}: attention + MLP block, then the gated update."""
        rows = torch.cat([memory_NxSxD, x_NxD.unsqueeze(1)], dim=1)  # (N, S+1, d)
        rows = layer_norm_rows(rows + self.attend(rows), self.attention_norm)
        rows = layer_norm_rows(rows + self.mlp(rows), self.mlp_norm)
        candidate_NxSxD = rows[:, :self.mem_slots]  # the input row is dropped
        gates = self.gate_memory(torch.tanh(memory_NxSxD)) + self.gate_input(x_NxD).unsqueeze(1)
        i, f = gates.chunk(2, dim=-1)
        i = torch.sigmoid(i + self.input_bias)
        f = torch.sigmoid(f + self.forget_bias)
        return i * torch.tanh(candidate_NxSxD) + f * memory_NxSxD

    def step(self, tokens_N: torch.Tensor, memory_NxSxD: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Consume y_{t−1} (N,), return the logits of y_t (N, V) and M_t."""
        memory = self.cell(self.input_proj(self.embedding(tokens_N)), memory_NxSxD)
        return self.output(memory.flatten(1)), memory

    # ---- teacher-forced passes ------------------------------------------------------------------
    def _inputs(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        start_Bx1 = torch.full_like(tokens_BxT[:, :1], self.start_token)
        return torch.cat([start_Bx1, tokens_BxT[:, :-1]], dim=1)  # (B, T): y_t is predicted from y_<t

    def memories(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """vec(M_t) of every position given the true prefix: (B, T, S·d)."""
        B, T = tokens_BxT.shape
        x_BxTxD = self.input_proj(self.embedding(self._inputs(tokens_BxT)))  # every input projected at once
        memory = self.initial_state(B)
        memories = []
        for t in range(T):
            memory = self.cell(x_BxTxD[:, t], memory)
            memories.append(memory.flatten(1))
        return torch.stack(memories, dim=1)

    def forward(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Logits of every position given the true prefix: (B, T, V)."""
        return self.output(self.memories(tokens_BxT))

    def _hidden_and_output(self, tokens_BxT: torch.Tensor, temperature: float
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The memories (B·T, S·d) and the output layer scaled by 1/τ, for the fused NLL (seqgan.likelihood)."""
        return (self.memories(tokens_BxT).flatten(0, 1), *self._scaled_output(temperature))

    # ---- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, num: int, temperature: float = 1.0, uniforms_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """Draw `num` sequences of length T: (num, T) token ids, `pad_token` after an end token.

        `uniforms_NxT` fixes the random draws (one per token, inverse CDF); otherwise they come from torch's RNG.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = self.output.weight.device
        if uniforms_NxT is None:
            uniforms_NxT = torch.rand(num, self.seq_len, device=device)
        out_NxT = torch.full((num, self.seq_len), self.pad_token, dtype=torch.long, device=device)
        tokens_N = torch.full((num,), self.start_token, dtype=torch.long, device=device)
        ended_N = torch.zeros(num, dtype=torch.bool, device=device)
        memory = self.initial_state(num)
        for t in range(self.seq_len):
            logits_NxV, memory = self.step(tokens_N, memory)
            tokens_N = sample_from_logits(logits_NxV / temperature if temperature != 1.0 else logits_NxV,
                                          uniforms_NxT[:, t])
            out_NxT[:, t] = torch.where(ended_N, self.pad_token, tokens_N)
            if self.eos_token is not None:
                ended_N |= tokens_N == self.eos_token
                if bool(ended_N.all()):
                    break
        return out_NxT


def layer_norm_rows(x_NxRxF: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """Layer norm over the rows and features of each sample together, then `norm`'s gain and bias per feature
    (the official code's tf.contrib.layers.layer_norm on (N, R, F)): (N, R, F)."""
    normed = F.layer_norm(x_NxRxF, x_NxRxF.shape[-2:], eps=norm.eps)
    return normed * norm.weight + norm.bias


def tf_trunc_normal_(weight: torch.Tensor, std: float) -> None:
    """TensorFlow's truncated_normal_initializer: N(0, std) redrawn outside two standard deviations."""
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)
