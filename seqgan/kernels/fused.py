"""Output projection fused with the softmax work that follows it, in cache-sized row blocks.

Sampling, scoring and MLE on a 5000-word vocabulary are bound by memory traffic, not arithmetic: a
plain `linear → log_softmax → gather` writes and re-reads (rows, V) tensors several times (on 2
cores, ~0.1-0.3 ms per pass over 256 x 5000). Here each block of rows computes its logits and
everything it needs from them while the block is still in cache, so no (rows, V) tensor ever exists
whole, and the passes over a block are as few as the arithmetic allows:

* `exp_logits_` skips the max-subtraction (two passes) when a Cauchy–Schwarz bound proves exp of
  every logit stays in floating-point range — softmax is shift-invariant, so only rounding changes.
* `weighted_nll` (the training losses: MLE, Scheduled Sampling, Eq. 8) knows each row's loss weight
  in the forward pass, so it computes the gradients there, from the probabilities already in cache,
  and backward only scales them: no recomputed logits and no second exp pass.
* `token_nll` (per-token values, for scoring) recomputes the block's logits in backward instead of
  storing them.

`reference_token_nll` and `reference_weighted_nll` are the plain formulations (whole logits, then
`F.cross_entropy`) that both must match, values and gradients (tests/test_fused.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BLOCK_ROWS = 256
# On accelerators the block only bounds memory (8192 x 5000 floats: 164 MB); big launches are what they need.
BLOCK_ROWS_ACCELERATOR = 8192


# bfloat16 gradient GEMMs: d logits of up to this many bytes are kept for one h^T · d logits GEMM (a GEMM per block
# would add its (H+1, V) output to the float32 gradient once per block: on CPU that add costs half the GEMM).
LOW_GRAD_BYTES = 32 * 2**20


def block_rows(device: torch.device) -> int:
    """Rows per block of (rows, V) temporaries on this device."""
    return BLOCK_ROWS if device.type == "cpu" else BLOCK_ROWS_ACCELERATOR


def augment_hidden(h_NxH: torch.Tensor) -> torch.Tensor:
    """[h, 1]: (N, H+1), the rows that meet `augment_output`'s bias row."""
    return torch.cat([h_NxH, h_NxH.new_ones(h_NxH.shape[0], 1)], dim=1)


def augment_output(weight_VxH: torch.Tensor, bias_V: torch.Tensor) -> torch.Tensor:
    """[W^T; b]: (H+1, V), contiguous, so the bias rides inside the GEMM instead of costing a pass over (rows, V)."""
    return torch.cat([weight_VxH.T, bias_V[None]], dim=0).contiguous()


def augment(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[h, 1] and [W^T; b]: (N, H+1) and (H+1, V)."""
    return augment_hidden(h_NxH), augment_output(weight_VxH, bias_V)


def exp_limit(dtype: torch.dtype, vocab_size: int) -> float:
    """Largest |logit| for which exp(logit), and a sum of `vocab_size` of them, stay finite and normal."""
    info = torch.finfo(dtype)
    return min(math.log(info.max), -math.log(info.tiny)) - math.log(vocab_size) - 1.0


def needs_shift(h_aug_NxH1: torch.Tensor, w_aug_H1xV: torch.Tensor) -> bool:
    """Whether exp of the logits h_aug · w_aug needs the row max subtracted first.

    |h·w_v| ≤ ‖h‖·‖w_v‖ (Cauchy–Schwarz), so when that bound stays below what exp (and a sum of V of them) can hold
    without overflow or leaving the normal range, exp(logits) is exact enough as it is. One host sync
    per call, so on accelerators (which have the bandwidth) the shift is always applied.
    """
    if h_aug_NxH1.device.type != "cpu" or h_aug_NxH1.numel() == 0:
        return True
    # max_n ‖h_n‖ ≤ ‖max_n |h_n|‖: one vectorised reduction over rows instead of N short norms; and the
    # columns' squared norms as a sum over rows (torch's norm(dim=0) is ~20x slower on CPU).
    bound = h_aug_NxH1.abs().amax(dim=0).norm() * w_aug_H1xV.square().sum(dim=0).amax().sqrt()
    return not bool(bound <= exp_limit(h_aug_NxH1.dtype, w_aug_H1xV.shape[1]))


def exp_logits_(logits_NxV: torch.Tensor, shift: bool) -> torch.Tensor | None:
    """exp(logits − shift) in place; returns the subtracted row maxima (N, 1), or None when unshifted."""
    top_Nx1 = None
    if shift:
        top_Nx1 = logits_NxV.amax(dim=-1, keepdim=True)
        logits_NxV.sub_(top_Nx1)
    logits_NxV.exp_()
    return top_Nx1


def _log_sum(weights_NxV: torch.Tensor, top_Nx1: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(row sums (N,), log-sum-exp of the original logits (N,)) from exp_logits_'s output."""
    sums_N = weights_NxV.sum(dim=-1)
    lse_N = sums_N.log()
    return sums_N, lse_N if top_Nx1 is None else lse_N + top_Nx1.squeeze(-1)


def _target_logits(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor
                   ) -> torch.Tensor:
    return (h_NxH * weight_VxH[targets_N]).sum(-1) + bias_V[targets_N]


class LinearCrossEntropy(torch.autograd.Function):
    """nll_N = logsumexp(h W^T + b) − (h W^T + b)[target], differentiable in h, W and b."""

    @staticmethod
    def forward(ctx, h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor
                ) -> torch.Tensor:
        h_aug, w_aug = augment(h_NxH, weight_VxH, bias_V)  # (N, H+1), (H+1, V)
        shift = needs_shift(h_aug, w_aug)
        lse_N = torch.empty(h_NxH.shape[0], dtype=h_NxH.dtype, device=h_NxH.device)
        step = block_rows(h_NxH.device)
        buf = h_NxH.new_empty(min(step, h_NxH.shape[0]), weight_VxH.shape[0])
        for lo in range(0, h_NxH.shape[0], step):
            hi = min(lo + step, h_NxH.shape[0])
            logits = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            lse_N[lo:hi] = _log_sum(logits, exp_logits_(logits, shift))[1]
        ctx.save_for_backward(h_aug, w_aug, weight_VxH, targets_N, lse_N)
        return lse_N - _target_logits(h_NxH, weight_VxH, bias_V, targets_N)

    @staticmethod
    def backward(ctx, grad_N: torch.Tensor):  # type: ignore[override]
        h_aug, w_aug, weight_VxH, targets_N, lse_N = ctx.saved_tensors
        n = h_aug.shape[0]
        grad_h = h_aug.new_empty(n, h_aug.shape[1] - 1)
        grad_w_aug = torch.zeros_like(w_aug)  # rows: dW^T, then db
        step = block_rows(h_aug.device)
        buf = h_aug.new_empty(min(step, n), w_aug.shape[1])
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            rows = torch.arange(hi - lo, device=h_aug.device)
            # d nll / d logits = softmax − one_hot(target), scaled by the incoming gradient.
            probs = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            probs.sub_(lse_N[lo:hi, None]).exp_().mul_(grad_N[lo:hi, None])
            probs[rows, targets_N[lo:hi]] -= grad_N[lo:hi]
            torch.mm(probs, weight_VxH, out=grad_h[lo:hi])
            grad_w_aug.addmm_(h_aug[lo:hi].T, probs)
        return grad_h, grad_w_aug[:-1].T, grad_w_aug[-1], None


class WeightedLinearCrossEntropy(torch.autograd.Function):
    """loss = Σ_n w_n · nll_n with constant weights w; gradients computed in forward, scaled in backward.

    `grad_dtype` bfloat16 runs the two gradient GEMMs (d logits · W per block, h^T · d logits per span of blocks) in
    bfloat16: each block's d logits are rounded once into a bfloat16 buffer, the GEMMs' outputs go to the float32
    gradients. The logits, exp, normalisers and the loss stay float32 (a bfloat16 logits GEMM would need its output
    brought back to float32 for the exp: on CPU that copy costs what the GEMM saves).
    """

    @staticmethod
    def forward(ctx, h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor,
                weights_N: torch.Tensor, grad_dtype: torch.dtype | None = None) -> torch.Tensor:
        n = h_NxH.shape[0]
        h_aug, w_aug = augment(h_NxH, weight_VxH, bias_V)  # (N, H+1), (H+1, V)
        shift = needs_shift(h_aug, w_aug)
        lse_N = torch.empty(n, dtype=h_NxH.dtype, device=h_NxH.device)
        grad_h = h_NxH.new_empty(n, h_NxH.shape[1])
        grad_w_aug = torch.zeros_like(w_aug)  # rows: dW^T, then db
        step = block_rows(h_NxH.device)
        buf = h_NxH.new_empty(min(step, n), weight_VxH.shape[0])
        low = grad_dtype is not None and grad_dtype != h_NxH.dtype
        if low:  # operands of the gradient GEMMs, cast once per call; d logits kept for one h^T · d logits GEMM per span
            h_aug_low, weight_low = h_aug.to(grad_dtype), weight_VxH.to(grad_dtype)
            span = max(step, LOW_GRAD_BYTES // (2 * weight_VxH.shape[0])) // step * step
            dlogits_low = h_aug_low.new_empty(min(span, n), weight_VxH.shape[0])
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            probs = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            sums, lse_N[lo:hi] = _log_sum(probs, exp_logits_(probs, shift))
            # d loss / d logits = w_n · (softmax − one_hot(target)), built in place on the block.
            w_rows = weights_N[lo:hi]
            probs.mul_((w_rows / sums)[:, None])
            probs[torch.arange(hi - lo, device=probs.device), targets_N[lo:hi]] -= w_rows
            if low:
                start = lo // span * span
                block_low = dlogits_low[lo - start:hi - start].copy_(probs)
                grad_h[lo:hi] = torch.mm(block_low, weight_low)
                if hi == n or hi - start == span:  # the span is complete: its h^T · d logits in one GEMM
                    grad_w_aug += torch.mm(h_aug_low[start:hi].T, dlogits_low[:hi - start])
            else:
                torch.mm(probs, weight_VxH, out=grad_h[lo:hi])
                grad_w_aug.addmm_(h_aug[lo:hi].T, probs)
        ctx.save_for_backward(grad_h, grad_w_aug)
        return (weights_N * (lse_N - _target_logits(h_NxH, weight_VxH, bias_V, targets_N))).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        grad_h, grad_w_aug = ctx.saved_tensors
        return grad_h * grad, (grad_w_aug[:-1].T * grad).contiguous(), grad_w_aug[-1] * grad, None, None, None


def token_nll(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor) -> torch.Tensor:
    """−log softmax(h W^T + b)[target] per row: (N,)."""
    return LinearCrossEntropy.apply(h_NxH, weight_VxH, bias_V, targets_N)


def weighted_nll(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor,
                 weights_N: torch.Tensor, grad_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Σ_n weights_n · (−log softmax(h W^T + b)[target_n]): a scalar, differentiable in h, W and b (not the weights).

    Every training loss of G is this sum: MLE and Scheduled Sampling weight by mask / count, the policy
    gradient (Eq. 8) by the rewards Q. `grad_dtype` (bfloat16, or None for the inputs' dtype): the dtype of the
    gradient GEMMs (WeightedLinearCrossEntropy); the value is computed in the inputs' dtype either way.
    """
    weights_N = weights_N.detach().to(h_NxH.dtype)
    if not (h_NxH.requires_grad or weight_VxH.requires_grad or bias_V.requires_grad) or not torch.is_grad_enabled():
        return (weights_N * token_nll(h_NxH, weight_VxH, bias_V, targets_N)).sum()
    return WeightedLinearCrossEntropy.apply(h_NxH, weight_VxH, bias_V, targets_N, weights_N, grad_dtype)


def reference_token_nll(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor
                        ) -> torch.Tensor:
    """What `token_nll` computes, the plain way: the whole (N, V) logits, then cross-entropy per row."""
    return F.cross_entropy(h_NxH @ weight_VxH.T + bias_V, targets_N, reduction="none")


def reference_weighted_nll(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor,
                           weights_N: torch.Tensor) -> torch.Tensor:
    """What `weighted_nll` computes, the plain way: Σ_n weights_n · `reference_token_nll`."""
    return (reference_token_nll(h_NxH, weight_VxH, bias_V, targets_N) * weights_N).sum()
