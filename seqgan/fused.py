"""Output projection fused with the per-token negative log-likelihood, in cache-sized row blocks.

Scoring and MLE on a 5000-word vocabulary are bound by memory traffic, not arithmetic: a plain
`linear → log_softmax → gather` writes and re-reads (rows, V) tensors several times (on 2 cores,
~1-2 ns per element per pass). Here each block of rows computes its logits, log-sum-exp and target
logit while the block is still in cache, and backward recomputes the block's logits instead of
storing them, so no (rows, V) tensor ever exists whole.
"""

from __future__ import annotations

import torch

BLOCK_ROWS = 256


def augment(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[h, 1] and [W^T; b]: the bias rides inside the GEMM instead of costing a pass over (rows, V)."""
    ones = h_NxH.new_ones(h_NxH.shape[0], 1)
    return torch.cat([h_NxH, ones], dim=1), torch.cat([weight_VxH.T, bias_V[None]], dim=0).contiguous()


class LinearCrossEntropy(torch.autograd.Function):
    """nll_N = logsumexp(h W^T + b) − (h W^T + b)[target], differentiable in h, W and b."""

    @staticmethod
    def forward(ctx, h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor
                ) -> torch.Tensor:
        h_aug, w_aug = augment(h_NxH, weight_VxH, bias_V)  # (N, H+1), (H+1, V)
        lse_N = torch.empty(h_NxH.shape[0], dtype=h_NxH.dtype, device=h_NxH.device)
        buf = h_NxH.new_empty(min(BLOCK_ROWS, h_NxH.shape[0]), weight_VxH.shape[0])
        for lo in range(0, h_NxH.shape[0], BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, h_NxH.shape[0])
            logits = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            top = logits.amax(dim=-1, keepdim=True)
            lse_N[lo:hi] = (top + logits.sub_(top).exp_().sum(dim=-1, keepdim=True).log_()).squeeze(-1)
        target_logit_N = (h_NxH * weight_VxH[targets_N]).sum(-1) + bias_V[targets_N]
        ctx.save_for_backward(h_aug, w_aug, weight_VxH, targets_N, lse_N)
        return lse_N - target_logit_N

    @staticmethod
    def backward(ctx, grad_N: torch.Tensor):  # type: ignore[override]
        h_aug, w_aug, weight_VxH, targets_N, lse_N = ctx.saved_tensors
        n = h_aug.shape[0]
        grad_h = h_aug.new_empty(n, h_aug.shape[1] - 1)
        grad_w_aug = torch.zeros_like(w_aug)  # rows: dW^T, then db
        buf = h_aug.new_empty(min(BLOCK_ROWS, n), w_aug.shape[1])
        for lo in range(0, n, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, n)
            rows = torch.arange(hi - lo, device=h_aug.device)
            # d nll / d logits = softmax − one_hot(target), scaled by the incoming gradient.
            probs = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            probs.sub_(lse_N[lo:hi, None]).exp_().mul_(grad_N[lo:hi, None])
            probs[rows, targets_N[lo:hi]] -= grad_N[lo:hi]
            torch.mm(probs, weight_VxH, out=grad_h[lo:hi])
            grad_w_aug.addmm_(h_aug[lo:hi].T, probs)
        return grad_h, grad_w_aug[:-1].T, grad_w_aug[-1], None


def token_nll(h_NxH: torch.Tensor, weight_VxH: torch.Tensor, bias_V: torch.Tensor, targets_N: torch.Tensor) -> torch.Tensor:
    """−log softmax(h W^T + b)[target] per row: (N,)."""
    return LinearCrossEntropy.apply(h_NxH, weight_VxH, bias_V, targets_N)
