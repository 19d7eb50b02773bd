"""D_φ: the CNN sequence classifier of the paper (Kim 2014 with a highway layer and dropout)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.data import valid_mask

# Sequences per convolution pass when scoring without autograd. On CPU, small chunks keep the window tensor and the
# conv outputs (~26 MB at paper sizes) near cache: 128 measured ~1.9x faster than one 4096-sequence pass (1 thread).
# Accelerators prefer big launches; there the chunk only caps memory (~420 MB of windows at 4096).
SCORE_CHUNK_CPU = 128
SCORE_CHUNK_ACCELERATOR = 4096


def _covered_rows(widths: tuple[int, ...], seq_len: int) -> list[int]:
    """For each tap k < max(widths): how many window starts t some filter wider than k reads (a prefix 0..rows-1)."""
    return [max(seq_len - w + 1 for w in widths if w > k) for k in range(max(widths))]


def _windows(x_NxTxE: torch.Tensor, widths: tuple[int, ...], seq_len: int) -> torch.Tensor:
    """Time-major sliding windows over x zero-padded to seq_len: win[t, n, k·E + e] = x[n, t + k, e], (P, N, w_max·E)."""
    # Time-major so that the windows of every start t < P_w form one (P_w·N, w·E) matrix (a row prefix and a column
    # prefix of this buffer, row stride w_max·E): each conv width is then one plain GEMM without copies. Only the
    # (t, k) slots some filter reads are written (about half at paper sizes); the rest stay uninitialised, unread.
    N, T, E = x_NxTxE.shape
    covered = _covered_rows(widths, seq_len)
    x_TxNxE = x_NxTxE.transpose(0, 1)
    win_PxNxWxE = x_NxTxE.new_empty(covered[0], N, len(covered), E)
    for k, rows in enumerate(covered):
        data = max(0, min(rows, T - k))  # starts whose tap k still falls inside the sequence; later ones: padding
        win_PxNxWxE[:data, :, k] = x_TxNxE[k:k + data]
        if data < rows:
            win_PxNxWxE[data:rows, :, k] = 0.0
    return win_PxNxWxE.view(covered[0], N, len(covered) * E)


def _tap_major(weight_FxExW: torch.Tensor) -> torch.Tensor:
    """A Conv1d weight laid out as the window columns (tap-major): (F, w·E)."""
    n_filters, emb, width = weight_FxExW.shape
    return weight_FxExW.permute(0, 2, 1).reshape(n_filters, width * emb)


def _conv_outputs(win_PxNxK: torch.Tensor, width: int, weight_FxWE: torch.Tensor, seq_len: int, start: int = 0
                  ) -> torch.Tensor:
    """conv_w(x) without bias at every valid start from `start` on, time-major: (P_w − start, N, F)."""
    P, N, K = win_PxNxK.shape
    steps = seq_len - width + 1 - start
    a_SNxWE = win_PxNxK.view(P * N, K)[start * N:(start + steps) * N, :weight_FxWE.shape[1]]
    return torch.mm(a_SNxWE, weight_FxWE.t()).view(steps, N, -1)


def _biased_relu(max_NxF: torch.Tensor, biases: list[torch.Tensor], out: torch.Tensor | None = None) -> torch.Tensor:
    """relu(max_t y + b) for all widths' features at once (max_NxF: each width's max over time, side by side).

    This equals max_t relu(y_t + b): b is the same at every t and relu is monotonic, so bias and ReLU touch
    N·ΣF values after the max instead of P·N·ΣF before it.
    """
    return torch.add(max_NxF, torch.cat(biases), out=out).clamp_min_(0.0)


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """`F.dropout(x, p, training)`; on CPU the keep mask compares 31-bit random integers with (1 − p)·2³¹.

    torch's CPU Bernoulli sampler costs ~20 ns per element (2.6 ms of a ~90 ms paper D step); uniform int32 draws
    cost about a third of that. Each element is kept with probability round((1 − p)·2³¹)/2³¹, within 2⁻³² of 1 − p,
    and scaled by 1/(1 − p), as `F.dropout`.
    """
    if not training or p == 0.0 or p == 1.0 or x.device.type != "cpu":
        return F.dropout(x, p, training)
    keep = torch.empty(x.shape, dtype=torch.int32).random_() < round((1.0 - p) * 2**31)
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


class _ConvMaxPool(torch.autograd.Function):
    """Convolutions of several widths → +bias → max over time → ReLU, as GEMMs over one shared window tensor."""

    @staticmethod
    def forward(ctx: Any, x_NxTxE: torch.Tensor, widths: tuple[int, ...], seq_len: int, *params: torch.Tensor) -> torch.Tensor:
        weights, biases = params[0::2], params[1::2]
        win_PxNxK = _windows(x_NxTxE, widths, seq_len)
        # Each width's max over time (before bias) goes into one (N, ΣF) buffer: backward finds the argmax positions
        # from it, and bias + ReLU run once over all features instead of once per width.
        best_NxF = x_NxTxE.new_empty(x_NxTxE.shape[0], sum(len(b) for b in biases))
        taps, outputs, lo = [], [], 0
        for width, weight_FxExW, bias_F in zip(widths, weights, biases):
            weight_FxWE = _tap_major(weight_FxExW)
            y_SxNxF = _conv_outputs(win_PxNxK, width, weight_FxWE, seq_len)
            torch.amax(y_SxNxF, dim=0, out=best_NxF[:, lo:lo + len(bias_F)])
            taps.append(weight_FxWE)
            outputs.append(y_SxNxF)
            lo += len(bias_F)
        feat_NxF = _biased_relu(best_NxF, biases)
        ctx.widths, ctx.seq_len, ctx.x_shape = widths, seq_len, x_NxTxE.shape
        ctx.save_for_backward(win_PxNxK, best_NxF, feat_NxF, *taps, *outputs)
        return feat_NxF

    @staticmethod
    def backward(ctx: Any, grad_NxF: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        widths, seq_len, (N, T, E) = ctx.widths, ctx.seq_len, ctx.x_shape
        win_PxNxK, best_NxF, feat_NxF, *rest = ctx.saved_tensors
        taps, outputs = rest[:len(widths)], rest[len(widths):]
        P, _, K = win_PxNxK.shape
        win_PNxK = win_PxNxK.view(P * N, K)
        grad_NxF = grad_NxF * (feat_NxF > 0)  # ReLU' (a new tensor: divided in place below)
        bounds = [0]
        for w in taps:
            bounds.append(bounds[-1] + w.shape[0])
        cols = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]
        # Max-pool backward, as amax's: the gradient goes to the times equal to the max, shared among ties.
        # y is overwritten with the 0/1 indicator (a float eq: ~5x cheaper than a bool mask or max's indices);
        # the tie counts of all widths share one buffer, so the gradient is divided by them in one op.
        ties_NxF = torch.empty_like(best_NxF)
        for y_SxNxF, col in zip(outputs, cols):
            torch.sum(torch.eq(y_SxNxF, best_NxF[:, col], out=y_SxNxF), dim=0, out=ties_NxF[:, col])
        grad_bias_F = grad_NxF.sum(dim=0)
        share_NxF = grad_NxF.div_(ties_NxF)
        grads: list[torch.Tensor | None] = [None] * (2 * len(widths))
        dys: list[torch.Tensor] = []
        for i, (width, weight_FxWE, y_SxNxF, col) in enumerate(zip(widths, taps, outputs, cols)):
            dy_SNxF = y_SxNxF.mul_(share_NxF[:, col]).view(-1, y_SxNxF.shape[-1])
            dweight_FxWE = dy_SNxF.t() @ win_PNxK[:len(dy_SNxF), :weight_FxWE.shape[1]]
            grads[2 * i] = dweight_FxWE.view(len(weight_FxWE), width, E).permute(0, 2, 1).contiguous()
            grads[2 * i + 1] = grad_bias_F[col]
            dys.append(dy_SNxF)
        if not ctx.needs_input_grad[0]:
            return (None, None, None, *grads)
        # The windows' gradient overwrites the windows (read for the last time above): no second (P, N, K) buffer and
        # no zero fill. Widest filter first, so each filter's rows extend those written so far: the shared rows
        # accumulate, the new ones are overwritten (beta=0). In-place writes to saved tensors (y, the windows) make
        # autograd's version check refuse a second backward through this graph instead of returning wrong numbers.
        dwin_PNxK, written = win_PNxK, 0
        for i in sorted(range(len(widths)), key=lambda i: -widths[i]):
            dy_SNxF, weight_FxWE = dys[i], taps[i]
            rows, cols_i = len(dy_SNxF), weight_FxWE.shape[1]
            if written:  # rows >= written: narrower filters have more starts
                dwin_PNxK[:written, :cols_i].addmm_(dy_SNxF[:written], weight_FxWE)
            if rows > written:
                dwin_PNxK[written:rows, :cols_i].addmm_(dy_SNxF[written:], weight_FxWE, beta=0.0)
                written = rows
        # Fold the windows back: x[t + k] gets tap k of window t, over the slots the filters wrote.
        dwin_PxNxWxE = dwin_PNxK.view(P, N, K // E, E)
        dx_TxNxE = dwin_PNxK.new_zeros(seq_len, N, E)
        for k, rows in enumerate(_covered_rows(widths, seq_len)):
            dx_TxNxE[k:k + rows] += dwin_PxNxWxE[:rows, :, k]
        dx_NxTxE = dx_TxNxE[:T].transpose(0, 1)
        return (dx_NxTxE, None, None, *grads)


class Discriminator(nn.Module):
    """Embedding → convolutions of several widths → max-over-time → highway → dropout → 2-way softmax.

    With an `eos_token`, positions after a sequence's first end token embed as zeros (as padding does
    in Kim 2014), so D's score does not depend on what follows the end. Sequences shorter than the
    widest filter are padded with zeros to its width.

    The convolutions run as one GEMM per width over a shared tensor of time-major windows (`_ConvMaxPool`):
    the same function and gradients as `reference_forward`'s Conv1d per width, with less time in oneDNN's
    small convolutions and their max-pool backward. Parameters keep the Conv1d names and layout.
    """

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 64,
                 filter_sizes: list[int] | None = None, num_filters: list[int] | None = None,
                 dropout: float = 0.25, l2_reg: float = 0.2, eos_token: int | None = None):
        super().__init__()
        filter_sizes = filter_sizes or [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
        num_filters = num_filters or [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
        self.vocab_size, self.seq_len, self.l2_reg, self.eos_token = vocab_size, seq_len, l2_reg, eos_token
        self.min_width = max(filter_sizes)
        self.widths = tuple(filter_sizes)
        total = sum(num_filters)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, w) for w, n in zip(filter_sizes, num_filters))
        self.highway_h = nn.Linear(total, total)   # transform: relu(W x + b)
        self.highway_t = nn.Linear(total, total)   # gate: sigmoid(W x + b), bias 0 as the reference code passes
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(total, 2)
        self._init_like_reference()

    def _init_like_reference(self) -> None:
        """Embedding U(-1, 1); conv and output weights truncated N(0, 0.1), biases 0.1 (reference code)."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
            for layer in [*self.convs, self.out]:
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.bias, 0.1)

    def embed(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        """Token embeddings, zero after the first end token: (N, T, E)."""
        x_NxTxE = self.embedding(tokens_NxT)
        mask_NxT = valid_mask(tokens_NxT, self.eos_token)
        return x_NxTxE if mask_NxT is None else x_NxTxE * mask_NxT.unsqueeze(-1)

    def features(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        """Max-over-time ReLU features of all convolutions, before the highway: (N, ΣF)."""
        x_NxTxE = self.embed(tokens_NxT)
        seq_len = max(x_NxTxE.shape[1], self.min_width)  # shorter sequences: zero-padded to the widest filter
        weights = [c.weight for c in self.convs]
        biases = [c.bias for c in self.convs]
        if torch.is_grad_enabled() and any(t.requires_grad for t in [x_NxTxE, *weights, *biases]):
            return _ConvMaxPool.apply(x_NxTxE, self.widths, seq_len, *(p for wb in zip(weights, biases) for p in wb))
        taps = [_tap_major(w) for w in weights]
        feat_NxF = x_NxTxE.new_empty(x_NxTxE.shape[0], sum(len(b) for b in biases))
        chunk = SCORE_CHUNK_CPU if x_NxTxE.device.type == "cpu" else SCORE_CHUNK_ACCELERATOR
        for lo in range(0, len(x_NxTxE), chunk):
            win_PxNxK = _windows(x_NxTxE[lo:lo + chunk], self.widths, seq_len)
            out_NxF = feat_NxF[lo:lo + chunk]
            col = 0
            for width, weight_FxWE, bias_F in zip(self.widths, taps, biases):
                torch.amax(_conv_outputs(win_PxNxK, width, weight_FxWE, seq_len), dim=0, out=out_NxF[:, col:col + len(bias_F)])
                col += len(bias_F)
        return _biased_relu(feat_NxF, biases, out=feat_NxF)

    def forward(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        """Class logits (fake, real): (N, 2)."""
        return self._head(self.features(tokens_NxT))

    def _head(self, feat_NxF: torch.Tensor) -> torch.Tensor:
        """Highway → dropout → output layer: logits (N, 2)."""
        gate_NxF = torch.sigmoid(self.highway_t(feat_NxF))
        # g·relu(W_h x + b_h) + (1 − g)·x, as one lerp from x towards the transform.
        feat_NxF = torch.lerp(feat_NxF, F.relu(self.highway_h(feat_NxF)), gate_NxF)
        return self.out(_dropout(feat_NxF, self.dropout.p, self.dropout.training))

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
        """Dropout off for scoring; the training mode is restored afterwards."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
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
            taps = [_tap_major(c.weight) for c in self.convs]
            # Y's convolution outputs as running maxima over window starts: cummax_w[s] = max_{s' ≤ s} conv_w(Y)[s'].
            win_Y = _windows(self.embed(sequences_BxT), self.widths, seq_len)
            y_cummax = [_conv_outputs(win_Y, w, tap, seq_len).cummax(dim=0).values for w, tap in zip(self.widths, taps)]
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
        chunk = SCORE_CHUNK_CPU if rollouts_RxT.device.type == "cpu" else SCORE_CHUNK_ACCELERATOR
        for t in torch.unique(prefix_R).tolist():
            rows_G = torch.nonzero(prefix_R == t).squeeze(1)
            first = max(0, t - self.min_width + 1)  # the earliest window start any width still needs
            for lo in range(0, len(rows_G), chunk):
                rows_N = rows_G[lo:lo + chunk]
                # Windows from `first` on: the sequence's tail, zero-padded to seq_len as in `features`.
                win_PxNxK = _windows(self.embed(rollouts_RxT[rows_N])[:, first:], self.widths, seq_len - first)
                out_NxF = feat_RxF.new_empty(len(rows_N), feat_RxF.shape[1])
                col = 0
                for width, weight_FxWE, bias_F, cummax_SxBxF in zip(self.widths, taps, biases, y_cummax):
                    start = max(0, t - width + 1)  # the first window of this width that reaches past the prefix
                    best_NxF = out_NxF[:, col:col + len(bias_F)]
                    torch.amax(_conv_outputs(win_PxNxK, width, weight_FxWE, seq_len - first, start - first), dim=0, out=best_NxF)
                    if start > 0:  # windows 0..start−1 lie inside the prefix: Y's running max
                        torch.maximum(best_NxF, cummax_SxBxF[start - 1, seq_R[rows_N]], out=best_NxF)
                    col += len(bias_F)
                feat_RxF[rows_N] = out_NxF
        return _biased_relu(feat_RxF, biases, out=feat_RxF)


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


def reference_forward(d: Discriminator, tokens_NxT: torch.Tensor) -> torch.Tensor:
    """D's logits the plain way, Conv1d per width → ReLU → amax over time: the specification `forward` matches."""
    x_NxExT = d.embed(tokens_NxT).transpose(1, 2)
    if x_NxExT.shape[-1] < d.min_width:
        x_NxExT = F.pad(x_NxExT, (0, d.min_width - x_NxExT.shape[-1]))
    feat_NxF = torch.cat([F.relu(conv(x_NxExT)).amax(dim=-1) for conv in d.convs], dim=1)
    return d._head(feat_NxF)
