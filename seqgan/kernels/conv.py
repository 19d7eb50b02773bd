"""D_φ's convolutions as GEMMs: convolutions of several widths → +bias → max over time → ReLU, and dropout.

The windows of every start form one time-major (P, N, w_max·E) tensor shared by all widths, so each width is one
plain GEMM over a row and column prefix of it (`windows`, `conv_outputs`); `ConvMaxPool` is that forward with its
backward (max-pool gradient shared among ties, the windows' gradient folded back in place). `reference_forward`
beside them is the plain formulation (Conv1d per width → ReLU → amax over time) that `Discriminator.forward`,
its gradients and its scoring path must match (tests/test_discriminator.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from seqgan.discriminator import Discriminator

# Sequences per convolution pass when scoring without autograd. On CPU, small chunks keep the window tensor and the
# conv outputs (~26 MB at paper sizes) near cache: 128 measured ~1.9x faster than one 4096-sequence pass (1 thread).
# Accelerators prefer big launches; there the chunk only caps memory (~420 MB of windows at 4096).
SCORE_CHUNK_CPU = 128
SCORE_CHUNK_ACCELERATOR = 4096


def score_chunk(device: torch.device) -> int:
    """Sequences per convolution pass when scoring without autograd on this device."""
    return SCORE_CHUNK_CPU if device.type == "cpu" else SCORE_CHUNK_ACCELERATOR


def _covered_rows(widths: tuple[int, ...], seq_len: int) -> list[int]:
    """For each tap k < max(widths): how many window starts t some filter wider than k reads (a prefix 0..rows-1)."""
    return [max(seq_len - w + 1 for w in widths if w > k) for k in range(max(widths))]


def windows(x_NxTxE: torch.Tensor, widths: tuple[int, ...], seq_len: int) -> torch.Tensor:
    """Time-major sliding windows over x zero-padded to seq_len: win[t, n, k·E + e] = x[n, t + k, e], (P, N, w_max·E)."""
    # Time-major so that the windows of every start t < P_w form one (P_w·N, w·E) matrix (a row prefix and a column
    # prefix of this buffer, row stride w_max·E): each conv width is then one plain GEMM without copies. Only the
    # (t, k) slots some filter reads are written (about half at paper sizes); the rest stay uninitialised in float32.
    N, T, E = x_NxTxE.shape
    covered = _covered_rows(widths, seq_len)
    x_TxNxE = x_NxTxE.transpose(0, 1)
    # bfloat16 GEMMs (oneDNN's AMX kernels) read past the column prefix they are given, in whole blocks: garbage there
    # may be NaN, and NaN × 0 poisons the sum. Their buffer starts at zero; float32's is never read outside the prefix.
    alloc = x_NxTxE.new_zeros if x_NxTxE.dtype == torch.bfloat16 else x_NxTxE.new_empty
    win_PxNxWxE = alloc(covered[0], N, len(covered), E)
    for k, rows in enumerate(covered):
        data = max(0, min(rows, T - k))  # starts whose tap k still falls inside the sequence; later ones: padding
        win_PxNxWxE[:data, :, k] = x_TxNxE[k:k + data]
        if data < rows:
            win_PxNxWxE[data:rows, :, k] = 0.0
    return win_PxNxWxE.view(covered[0], N, len(covered) * E)


def tap_major(weight_FxExW: torch.Tensor) -> torch.Tensor:
    """A Conv1d weight laid out as the window columns (tap-major): (F, w·E)."""
    n_filters, emb, width = weight_FxExW.shape
    return weight_FxExW.permute(0, 2, 1).reshape(n_filters, width * emb)


def conv_outputs(win_PxNxK: torch.Tensor, width: int, weight_FxWE: torch.Tensor, seq_len: int, start: int = 0
                  ) -> torch.Tensor:
    """conv_w(x) without bias at every valid start from `start` on, time-major: (P_w − start, N, F)."""
    P, N, K = win_PxNxK.shape
    steps = seq_len - width + 1 - start
    a_SNxWE = win_PxNxK.view(P * N, K)[start * N:(start + steps) * N, :weight_FxWE.shape[1]]
    return torch.mm(a_SNxWE, weight_FxWE.t()).view(steps, N, -1)


def biased_relu(max_NxF: torch.Tensor, biases: list[torch.Tensor], out: torch.Tensor | None = None) -> torch.Tensor:
    """relu(max_t y + b) for all widths' features at once (max_NxF: each width's max over time, side by side).

    This equals max_t relu(y_t + b): b is the same at every t and relu is monotonic, so bias and ReLU touch
    N·ΣF values after the max instead of P·N·ΣF before it.
    """
    return torch.add(max_NxF, torch.cat(biases), out=out).clamp_min_(0.0)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """`F.dropout(x, p, training)`; on CPU the keep mask compares 31-bit random integers with (1 − p)·2³¹.

    torch's CPU Bernoulli sampler costs ~20 ns per element (2.6 ms of a ~90 ms paper D step); uniform int32 draws
    cost about a third of that. Each element is kept with probability round((1 − p)·2³¹)/2³¹, within 2⁻³² of 1 − p,
    and scaled by 1/(1 − p), as `F.dropout`.
    """
    if not training or p == 0.0 or p == 1.0 or x.device.type != "cpu":
        return F.dropout(x, p, training)
    keep = torch.empty(x.shape, dtype=torch.int32).random_() < round((1.0 - p) * 2**31)
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


class ConvMaxPool(torch.autograd.Function):
    """Convolutions of several widths → +bias → max over time → ReLU, as GEMMs over one shared window tensor."""

    @staticmethod
    def forward(ctx: Any, x_NxTxE: torch.Tensor, widths: tuple[int, ...], seq_len: int, dtype: torch.dtype,
                *params: torch.Tensor) -> torch.Tensor:
        """`dtype` is the GEMMs' (float32, or bfloat16 for mixed precision): the windows, the convolution outputs and
        their maxima are held in it; the features (bias + ReLU) and every gradient come back in the parameters' dtype."""
        weights = params[0::2]
        biases = params[1::2]
        ctx.x_dtype = x_NxTxE.dtype
        ctx.param_dtype = weights[0].dtype
        x_NxTxE = x_NxTxE.to(dtype)
        win_PxNxK = windows(x_NxTxE, widths, seq_len)
        # Each width's max over time (before bias) goes into one (N, ΣF) buffer: backward finds the argmax positions
        # from it, and bias + ReLU run once over all features instead of once per width.
        best_NxF = x_NxTxE.new_empty(x_NxTxE.shape[0], sum(len(b) for b in biases))
        taps: list[torch.Tensor] = []
        outputs: list[torch.Tensor] = []
        lo = 0
        for width, weight_FxExW, bias_F in zip(widths, weights, biases):
            weight_FxWE = tap_major(weight_FxExW).to(dtype)
            y_SxNxF = conv_outputs(win_PxNxK, width, weight_FxWE, seq_len)
            torch.amax(y_SxNxF, dim=0, out=best_NxF[:, lo:lo + len(bias_F)])
            taps.append(weight_FxWE)
            outputs.append(y_SxNxF)
            lo += len(bias_F)
        feat_NxF = biased_relu(best_NxF, biases)  # float32 (bias) whatever dtype the maxima have
        ctx.widths = widths
        ctx.seq_len = seq_len
        ctx.x_shape = x_NxTxE.shape
        ctx.save_for_backward(win_PxNxK, best_NxF, feat_NxF, *taps, *outputs)
        return feat_NxF

    @staticmethod
    def backward(ctx: Any, grad_NxF: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        widths = ctx.widths
        seq_len = ctx.seq_len
        N, T, E = ctx.x_shape
        win_PxNxK, best_NxF, feat_NxF, *rest = ctx.saved_tensors
        taps = rest[:len(widths)]
        outputs = rest[len(widths):]
        P, _, K = win_PxNxK.shape
        win_PNxK = win_PxNxK.view(P * N, K)
        grad_NxF = grad_NxF * (feat_NxF > 0)  # ReLU' (a new tensor: divided in place below), float32
        bounds = [0]
        for w in taps:
            bounds.append(bounds[-1] + w.shape[0])
        cols = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]
        # Max-pool backward, as amax's: the gradient goes to the times equal to the max, shared among ties.
        # y is overwritten with the 0/1 indicator (a float eq: ~5x cheaper than a bool mask or max's indices);
        # the tie counts of all widths share one buffer, so the gradient is divided by them in one op.
        ties_NxF = torch.empty_like(best_NxF)  # counts up to seq_len: exact in bfloat16 too
        for y_SxNxF, col in zip(outputs, cols):
            torch.sum(torch.eq(y_SxNxF, best_NxF[:, col], out=y_SxNxF), dim=0, out=ties_NxF[:, col])
        grad_bias_F = grad_NxF.sum(dim=0)
        share_NxF = grad_NxF.div_(ties_NxF)
        grads: list[torch.Tensor | None] = [None] * (2 * len(widths))
        dys: list[torch.Tensor] = []
        for i, (width, weight_FxWE, y_SxNxF, col) in enumerate(zip(widths, taps, outputs, cols)):
            dy_SNxF = y_SxNxF.mul_(share_NxF[:, col]).view(-1, y_SxNxF.shape[-1])
            dweight_FxWE = dy_SNxF.t() @ win_PNxK[:len(dy_SNxF), :weight_FxWE.shape[1]]
            grads[2 * i] = dweight_FxWE.view(len(weight_FxWE), width, E).permute(0, 2, 1).to(ctx.param_dtype).contiguous()
            grads[2 * i + 1] = grad_bias_F[col]
            dys.append(dy_SNxF)
        if not ctx.needs_input_grad[0]:
            return (None, None, None, None, *grads)
        # The windows' gradient overwrites the windows (read for the last time above): no second (P, N, K) buffer and
        # no zero fill. Widest filter first, so each filter's rows extend those written so far: the shared rows
        # accumulate, the new ones are overwritten (beta=0). In-place writes to saved tensors (y, the windows) make
        # autograd's version check refuse a second backward through this graph instead of returning wrong numbers.
        dwin_PNxK = win_PNxK
        written = 0
        for i in sorted(range(len(widths)), key=lambda i: -widths[i]):
            dy_SNxF = dys[i]
            weight_FxWE = taps[i]
            rows = len(dy_SNxF)
            cols_i = weight_FxWE.shape[1]
            if written:  # rows >= written: narrower filters have more starts
                dwin_PNxK[:written, :cols_i].addmm_(dy_SNxF[:written], weight_FxWE)
            if rows > written:
                dwin_PNxK[written:rows, :cols_i].addmm_(dy_SNxF[written:], weight_FxWE, beta=0.0)
                written = rows
        # Fold the windows back: x[t + k] gets tap k of window t, over the slots the filters wrote.
        dwin_PxNxWxE = dwin_PNxK.view(P, N, K // E, E)
        dx_TxNxE = dwin_PNxK.new_zeros(seq_len, N, E, dtype=ctx.x_dtype)  # taps summed in x's dtype, not bfloat16
        for k, rows in enumerate(_covered_rows(widths, seq_len)):
            dx_TxNxE[k:k + rows] += dwin_PxNxWxE[:rows, :, k]
        dx_NxTxE = dx_TxNxE[:T].transpose(0, 1)
        return (dx_NxTxE, None, None, None, *grads)


def reference_conv_max_pool(x_NxTxE: torch.Tensor, seq_len: int, weights: list[torch.Tensor], biases: list[torch.Tensor]
                            ) -> torch.Tensor:
    """What `ConvMaxPool` computes, the plain way: x zero-padded to seq_len, Conv1d per width → ReLU → amax over time."""
    x_NxExT = x_NxTxE.transpose(1, 2)
    if x_NxExT.shape[-1] < seq_len:
        x_NxExT = F.pad(x_NxExT, (0, seq_len - x_NxExT.shape[-1]))
    return torch.cat([F.relu(F.conv1d(x_NxExT, weight, bias)).amax(dim=-1) for weight, bias in zip(weights, biases)], dim=1)


def reference_forward(d: Discriminator, tokens_NxT: torch.Tensor) -> torch.Tensor:
    """D's logits the plain way, Conv1d per width → ReLU → amax over time: the specification `forward` matches."""
    x_NxTxE = d.embed(tokens_NxT)
    seq_len = max(x_NxTxE.shape[1], d.min_width)
    feat_NxF = reference_conv_max_pool(x_NxTxE, seq_len, [c.weight for c in d.convs], [c.bias for c in d.convs])
    return d._head(feat_NxF)
