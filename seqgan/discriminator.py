"""D_φ: the CNN sequence classifier of the paper (Kim 2014 with a highway layer and dropout)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.data import valid_mask
from seqgan.kernels.conv import ConvMaxPool, biased_relu, conv_outputs, dropout, score_chunk, tap_major, windows


class Discriminator(nn.Module):
    """Embedding → convolutions of several widths → max-over-time → highway → dropout → 2-way softmax.

    With an `eos_token`, positions after a sequence's first end token embed as zeros (as padding does
    in Kim 2014), so D's score does not depend on what follows the end. Sequences shorter than the
    widest filter are padded with zeros to its width.

    The convolutions run as one GEMM per width over a shared tensor of time-major windows (seqgan.kernels.conv):
    the same function and gradients as its `reference_forward`'s Conv1d per width, with less time in oneDNN's
    small convolutions and their max-pool backward. Parameters keep the Conv1d names and layout.
    """

    def __init__(self, vocab_size: int, *, seq_len: int, emb_dim: int = 64,
                 filter_sizes: list[int] | None = None, num_filters: list[int] | None = None,
                 dropout: float = 0.25, l2_reg: float = 0.2, eos_token: int | None = None):
        super().__init__()
        filter_sizes = filter_sizes or [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
        num_filters = num_filters or [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.l2_reg = l2_reg
        self.eos_token = eos_token
        self.min_width = max(filter_sizes)
        self.widths = tuple(filter_sizes)
        total = sum(num_filters)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, w) for w, n in zip(filter_sizes, num_filters))
        self.highway_h = nn.Linear(total, total)   # transform: relu(W x + b)
        self.highway_t = nn.Linear(total, total)   # gate: sigmoid(W x + b), bias 0 as the reference code passes
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(total, 2)
        self._scoring_casts: dict[int, Any] | None = None  # within a scoring call: the head's casts (`_linear_in`)
        self.compute_dtype: torch.dtype | None = None
        """The dtype of the convolution and highway GEMMs: None for the parameters' own (float32, or float64 in
        tests), bfloat16 for mixed precision (`set_compute_dtype`). Parameters, features, logits, the loss and
        every gradient keep the parameters' dtype."""
        self._init_like_reference()

    def set_compute_dtype(self, dtype: torch.dtype) -> Discriminator:
        """Run the convolutions and the highway in `dtype` (bfloat16: AMX/AVX512-BF16 on CPU, tensor cores on CUDA),
        with float32 master weights: each GEMM reads a bfloat16 copy of its weights made in that forward pass
        (once per call when scoring)."""
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"D computes in float32 or bfloat16, not {dtype}")
        self.compute_dtype = None if dtype == torch.float32 else dtype
        return self

    def _init_like_reference(self) -> None:
        """Embedding U(-1, 1); conv and output weights truncated N(0, 0.1), biases 0.1 (reference code)."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
            for layer in [*self.convs, self.out]:
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.bias, 0.1)

    def embed(self, tokens_NxT: torch.Tensor, keep_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings, zero after the first end token and wherever `keep_NxT` is False: (N, T, E)."""
        x_NxTxE = self.embedding(tokens_NxT)
        mask_NxT = valid_mask(tokens_NxT, self.eos_token)
        if keep_NxT is not None:
            mask_NxT = keep_NxT if mask_NxT is None else mask_NxT & keep_NxT
        return x_NxTxE if mask_NxT is None else x_NxTxE * mask_NxT.unsqueeze(-1)

    def features(self, tokens_NxT: torch.Tensor, keep_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """Max-over-time ReLU features of all convolutions, before the highway: (N, ΣF). Positions where
        `keep_NxT` is False embed as zeros, as padding does (a prefix: keep the first t positions)."""
        x_NxTxE = self.embed(tokens_NxT, keep_NxT)
        seq_len = max(x_NxTxE.shape[1], self.min_width)  # shorter sequences: zero-padded to the widest filter
        weights = [c.weight for c in self.convs]
        biases = [c.bias for c in self.convs]
        dtype = self.compute_dtype or x_NxTxE.dtype
        if torch.is_grad_enabled() and any(t.requires_grad for t in [x_NxTxE, *weights, *biases]):
            return ConvMaxPool.apply(x_NxTxE, self.widths, seq_len, dtype, *(p for wb in zip(weights, biases) for p in wb))
        x_NxTxE = x_NxTxE.to(dtype)
        taps = [tap_major(w).to(dtype) for w in weights]
        feat_NxF = x_NxTxE.new_empty(x_NxTxE.shape[0], sum(len(b) for b in biases))
        chunk = score_chunk(x_NxTxE.device)
        for lo in range(0, len(x_NxTxE), chunk):
            win_PxNxK = windows(x_NxTxE[lo:lo + chunk], self.widths, seq_len)
            out_NxF = feat_NxF[lo:lo + chunk]
            col = 0
            for width, weight_FxWE, bias_F in zip(self.widths, taps, biases):
                torch.amax(conv_outputs(win_PxNxK, width, weight_FxWE, seq_len), dim=0, out=out_NxF[:, col:col + len(bias_F)])
                col += len(bias_F)
        return _biased_relu_float32(feat_NxF, biases)

    def forward(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        """Class logits (fake, real): (N, 2)."""
        return self._head(self.features(tokens_NxT))

    def _head(self, feat_NxF: torch.Tensor) -> torch.Tensor:
        """Highway → dropout → output layer: logits (N, 2)."""
        return self.out(dropout(self.highway(feat_NxF), self.dropout.p, self.dropout.training))

    def highway(self, feat_NxF: torch.Tensor) -> torch.Tensor:
        """g·relu(W_h x + b_h) + (1 − g)·x with the gate g = σ(W_t x + b_t), as one lerp from x towards the transform."""
        if self.compute_dtype is None:
            gate_NxF = torch.sigmoid(self.highway_t(feat_NxF))
            return torch.lerp(feat_NxF, F.relu(self.highway_h(feat_NxF)), gate_NxF)
        # Mixed precision: the two GEMMs in the compute dtype, the gate's sigmoid and the lerp in float32.
        x_NxF = feat_NxF.to(self.compute_dtype)
        gate_NxF = torch.sigmoid(_linear_in(x_NxF, self.highway_t, self._scoring_casts).float())
        return torch.lerp(feat_NxF, F.relu(_linear_in(x_NxF, self.highway_h, self._scoring_casts)).float(), gate_NxF)

    def feature_vector(self, tokens_NxT: torch.Tensor, keep_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """The sequence's feature after the highway, before dropout and the output layer: (N, ΣF). RankGAN's ranker
        compares these by cosine; LeakGAN leaks them (of each prefix: `keep_NxT`) to its generator's manager."""
        return self.highway(self.features(tokens_NxT, keep_NxT))

    def loss(self, tokens_NxT: torch.Tensor, labels_N: torch.Tensor) -> torch.Tensor:
        """Training loss of a batch; labels 1 = real, 0 = generated."""
        return self.loss_from_logits(self(tokens_NxT), labels_N)

    def loss_from_logits(self, logits_Nx2: torch.Tensor, labels_N: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy plus l2_reg · (‖W_out‖² + ‖b_out‖²) / 2, as tf.nn.l2_loss."""
        l2 = 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())
        return F.cross_entropy(logits_Nx2, labels_N) + self.l2_reg * l2

    @torch.no_grad()
    def prob_real(self, tokens_NxT: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """D_φ(Y): probability that each sequence is real, with dropout off: (N,). This is the reward."""
        with self._eval_mode():
            return torch.cat([torch.softmax(self(tokens_NxT[lo:lo + batch_size]), dim=-1)[:, 1]
                              for lo in range(0, len(tokens_NxT), batch_size)])

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        """Dropout off for scoring, and the head's low-precision weight casts kept for the call (the weights do not
        change within it); the training mode is restored afterwards."""
        was_training = self.training
        self.eval()
        self._scoring_casts = {}
        try:
            yield
        finally:
            self._scoring_casts = None
            self.train(was_training)

    @torch.no_grad()
    def prob_real_of_rollouts(self, sequences_BxT: torch.Tensor, rollouts_RxT: torch.Tensor, seq_R: torch.Tensor,
                              prefix_R: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """`prob_real(rollouts_RxT)`, for rollouts whose first prefix_R[r] tokens are those of sequences_BxT[seq_R[r]].

        A convolution window that lies inside the prefix reads only Y's tokens, so its output is Y's, shared by
        every rollout of that prefix. Y's outputs are computed once and kept as running maxima over time; each
        rollout computes only the windows that reach past its prefix (at paper sizes a third of the
        convolution FLOPs), then takes the max with Y's running max up to the last window inside the prefix.
        """
        with self._eval_mode():
            seq_len = max(sequences_BxT.shape[1], self.min_width)
            dtype = self.compute_dtype or self.embedding.weight.dtype
            taps = [tap_major(c.weight).to(dtype) for c in self.convs]
            # Y's convolution outputs as running maxima over window starts: cummax_w[s] = max_{s' ≤ s} conv_w(Y)[s'].
            win_Y = windows(self.embed(sequences_BxT).to(dtype), self.widths, seq_len)
            y_cummax = [conv_outputs(win_Y, w, tap, seq_len).cummax(dim=0).values for w, tap in zip(self.widths, taps)]
            probs = []
            for lo in range(0, len(rollouts_RxT), batch_size):  # bounds the (rows, ΣF) features and the head's temporaries
                rows = slice(lo, lo + batch_size)
                feat_RxF = self._rollout_features(rollouts_RxT[rows], seq_R[rows], prefix_R[rows], taps, y_cummax, seq_len)
                probs.append(torch.softmax(self._head(feat_RxF), dim=-1)[:, 1])
            return torch.cat(probs)

    def _rollout_features(self, rollouts_RxT: torch.Tensor, seq_R: torch.Tensor, prefix_R: torch.Tensor,
                          taps: list[torch.Tensor], y_cummax: list[torch.Tensor], seq_len: int) -> torch.Tensor:
        biases = [c.bias for c in self.convs]
        feat_RxF = y_cummax[0].new_empty(len(rollouts_RxT), sum(len(b) for b in biases))
        chunk = score_chunk(rollouts_RxT.device)
        for t in torch.unique(prefix_R).tolist():
            rows_G = torch.nonzero(prefix_R == t).squeeze(1)
            first = max(0, t - self.min_width + 1)  # the earliest window start any width still needs
            for lo in range(0, len(rows_G), chunk):
                rows_N = rows_G[lo:lo + chunk]
                # Windows from `first` on: the sequence's tail, zero-padded to seq_len as in `features`.
                win_PxNxK = windows(self.embed(rollouts_RxT[rows_N])[:, first:].to(taps[0].dtype), self.widths,
                                    seq_len - first)
                out_NxF = feat_RxF.new_empty(len(rows_N), feat_RxF.shape[1])
                col = 0
                for width, weight_FxWE, bias_F, cummax_SxBxF in zip(self.widths, taps, biases, y_cummax):
                    start = max(0, t - width + 1)  # the first window of this width that reaches past the prefix
                    best_NxF = out_NxF[:, col:col + len(bias_F)]
                    torch.amax(conv_outputs(win_PxNxK, width, weight_FxWE, seq_len - first, start - first), dim=0, out=best_NxF)
                    if start > 0:  # windows 0..start−1 lie inside the prefix: Y's running max
                        torch.maximum(best_NxF, cummax_SxBxF[start - 1, seq_R[rows_N]], out=best_NxF)
                    col += len(bias_F)
                feat_RxF[rows_N] = out_NxF
        return _biased_relu_float32(feat_RxF, biases)


def _biased_relu_float32(max_NxF: torch.Tensor, biases: list[torch.Tensor]) -> torch.Tensor:
    """`biased_relu` into float32: in place on float32 maxima, a new float32 tensor from bfloat16 ones."""
    return biased_relu(max_NxF, biases, out=max_NxF if max_NxF.dtype == biases[0].dtype else None)


def _linear_in(x_NxI: torch.Tensor, layer: nn.Linear, casts: dict[int, torch.Tensor] | None) -> torch.Tensor:
    """`layer(x)` with the layer's weight and bias in x's dtype (autograd returns their gradients in float32).

    `casts`, where given, keeps the casts of a scoring call, which runs the head once per chunk on unchanged weights.
    Training casts afresh each forward: the weights change in place at every step, and fused optimizers do not bump
    version counters, so no cache across steps could tell that they changed."""
    if casts is None:
        return F.linear(x_NxI, layer.weight.to(x_NxI.dtype), layer.bias.to(x_NxI.dtype))
    if id(layer) not in casts:
        casts[id(layer)] = (layer.weight.to(x_NxI.dtype), layer.bias.to(x_NxI.dtype))
    weight, bias = casts[id(layer)]
    return F.linear(x_NxI, weight, bias)


class DiscriminatorReward:
    """D_φ's probability of real as the reward function of `batched_rewards`: plain scoring when called, and
    `of_rollouts`, which shares the convolution windows inside each rollout's prefix (the same values)."""

    def __init__(self, discriminator: Discriminator):
        self.discriminator = discriminator

    def __call__(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        return self.discriminator.prob_real(tokens_NxT)

    def of_rollouts(self, sequences_BxT: torch.Tensor, rollouts_RxT: torch.Tensor, seq_R: torch.Tensor,
                    prefix_R: torch.Tensor) -> torch.Tensor:
        return self.discriminator.prob_real_of_rollouts(sequences_BxT, rollouts_RxT, seq_R, prefix_R)
