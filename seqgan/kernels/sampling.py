"""Exact categorical sampling by inverse CDF, in cache-sized row blocks: the sampler of `LSTMPolicy.sample`,
the rollouts and Scheduled Sampling.

One uniform per row and no per-entry random draws; the same distribution as `torch.multinomial`, and
with the uniforms passed in every draw is reproducible across implementations. The plain reference,
`reference_sample_from_logits` (softmax, one cumulative sum over V, a binary search), is what
`sample_from_logits` and `sample_from_hidden` must return token for token (tests/test_generator.py).
"""

from __future__ import annotations

import functools

import torch

from seqgan.kernels.fused import BLOCK_ROWS_ACCELERATOR, augment_hidden, exp_limit, exp_logits_, needs_shift

# Rows per block of (rows, V) temporaries on CPU; on 2 cores blocks are ~1.5-2x faster per row than one pass over
# 10,000 rows, which is bound by memory traffic. By measurement (benchmarks/bench_blocks.py, 2026-11-30, 2 threads,
# quiet, sampling 10,000 sequences, interleaved, medians of 7): 256 rows 0.823 s, 512 rows 0.684 s, 1024 rows
# 0.624 s, 2048 rows 0.953 s. (An earlier, slower phase of the machine had 512 ahead: 1.17 s against 1.29 s.)
# The samples do not depend on it (tests/test_generator.py). Accelerators take fused.BLOCK_ROWS_ACCELERATOR.
SAMPLE_BLOCK_ROWS = 1024


def sample_block_rows(device: torch.device) -> int:
    """Rows per block of the sampler's (rows, V) weights on this device."""
    return SAMPLE_BLOCK_ROWS if device.type == "cpu" else BLOCK_ROWS_ACCELERATOR


@functools.lru_cache(maxsize=64)
def cdf_chunk(vocab_size: int) -> int:
    """Width of the first level of the two-level inverse CDF: a divisor of V near 128 when there is one."""
    for width in sorted(range(64, 257), key=lambda w: abs(w - 128)):
        if vocab_size % width == 0:
            return width
    return 128


def _search(cdf_NxC: torch.Tensor, target_Nx1: torch.Tensor) -> torch.Tensor:
    """First index whose cumulative weight exceeds the target, never past the last positive weight: (N,)."""
    index_N = torch.searchsorted(cdf_NxC, target_Nx1, right=True).squeeze(-1)
    last_N = (cdf_NxC < cdf_NxC[:, -1:]).sum(-1)  # a chunk's cumsum can round below its separately summed total
    return torch.minimum(index_N, last_N)


class _TwoLevelCDF:
    """Inverse-CDF sampling in two levels, over row blocks of weights that need not exist all at once.

    `block` does the level that needs the (rows, V) weights: the chunk sums of each row (chunks of
    `width` tokens), the chunk its target falls in, and a copy of that chunk's weights. `tokens` then
    finishes every row at once: the remaining target inside the chunk, and the token there. The same
    inverse CDF as one cumsum over V, with a vectorised sum in place of that sequential scan (the
    sampler's most expensive pass), and the per-row bookkeeping done once rather than per block.
    """

    def __init__(self, n: int, vocab_size: int, width: int, uniforms_N: torch.Tensor, like: torch.Tensor):
        self.v = vocab_size
        self.width = width
        self.chunks = -(-vocab_size // width)
        self.uniforms_Nx1 = uniforms_N.to(like.dtype).unsqueeze(-1)
        self.sums_NxK = like.new_empty(n, self.chunks)
        self.cdf_NxK = like.new_empty(n, self.chunks)
        self.target_Nx1 = like.new_empty(n, 1)
        self.k_Nx1 = torch.empty(n, 1, dtype=torch.long, device=like.device)
        self.zero = like.new_zeros(())
        self.chunk_NxC = like.new_empty(n, width)
        self.offsets_C = torch.arange(width, device=like.device)

    def block(self, lo: int, weights_RxV: torch.Tensor) -> None:
        r = weights_RxV.shape[0]
        v = self.v
        c = self.width
        hi = lo + r
        full = v // c
        torch.sum(weights_RxV[:, :full * c].view(r, full, c), dim=-1, out=self.sums_NxK[lo:hi, :full])
        if v % c:
            torch.sum(weights_RxV[:, full * c:], dim=-1, keepdim=True, out=self.sums_NxK[lo:hi, full:])
        cdf_RxK = torch.cumsum(self.sums_NxK[lo:hi], dim=-1, out=self.cdf_NxK[lo:hi])
        # u·total kept strictly below the total (it can round up to it), so the chosen chunk has weight.
        total_Rx1 = cdf_RxK[:, -1:]
        target_Rx1 = torch.minimum(self.uniforms_Nx1[lo:hi] * total_Rx1, torch.nextafter(total_Rx1, self.zero),
                                   out=self.target_Nx1[lo:hi])
        k_Rx1 = torch.searchsorted(cdf_RxK, target_Rx1, right=True, out=self.k_Nx1[lo:hi])
        cols_RxC = torch.add(self.offsets_C, k_Rx1, alpha=c)
        if v % c:  # the ragged last chunk reads zeros past V
            torch.gather(weights_RxV, 1, cols_RxC.clamp_max(v - 1), out=self.chunk_NxC[lo:hi])
            self.chunk_NxC[lo:hi].masked_fill_(cols_RxC >= v, 0.0)
        else:
            torch.gather(weights_RxV, 1, cols_RxC, out=self.chunk_NxC[lo:hi])

    def tokens(self) -> torch.Tensor:
        before_Nx1 = (self.cdf_NxK - self.sums_NxK).gather(1, self.k_Nx1)
        left_Nx1 = (self.target_Nx1 - before_Nx1).clamp_min_(0.0)  # ≥ 0 despite rounding: lands on a positive weight
        return self.k_Nx1.squeeze(-1) * self.width + _search(self.chunk_NxC.cumsum(-1), left_Nx1)


def inverse_cdf(weights_NxV: torch.Tensor, uniforms_N: torch.Tensor) -> torch.Tensor:
    """Tokens whose cumulative weight first exceeds u·total (weights need not be normalised); never a
    zero-weight token, even where u·total rounds up to the total."""
    n, v = weights_NxV.shape
    width = cdf_chunk(v)
    if v <= 2 * width:
        cdf_NxV = weights_NxV.cumsum(-1)
        total_Nx1 = cdf_NxV[:, -1:]
        target_Nx1 = torch.minimum(uniforms_N.to(cdf_NxV.dtype).unsqueeze(-1) * total_Nx1,
                                   torch.nextafter(total_Nx1, total_Nx1.new_zeros(())))
        return _search(cdf_NxV, target_Nx1)
    cdf = _TwoLevelCDF(n, v, width, uniforms_N, weights_NxV)
    cdf.block(0, weights_NxV)
    return cdf.tokens()


def sample_from_logits(logits_NxV: torch.Tensor, uniforms_N: torch.Tensor) -> torch.Tensor:
    """Exact categorical sampling by inverse CDF: one uniform per row, no per-entry random draws.

    `torch.multinomial` draws an exponential per vocabulary entry and is single-threaded; exp, a
    cumulative sum and a binary search give the same distribution, and passing the uniforms in
    makes every draw reproducible across implementations (the tests rely on it).
    """
    weights_NxV = logits_NxV.clone()
    # Unshifted exp only where every logit is in range; checking costs a host sync, so only on CPU.
    shift = weights_NxV.device.type != "cpu" or not bool(
        weights_NxV.abs().amax() <= exp_limit(weights_NxV.dtype, weights_NxV.shape[1]))
    exp_logits_(weights_NxV, shift)
    return inverse_cdf(weights_NxV, uniforms_N)


def sample_from_hidden(h_NxH: torch.Tensor, w_aug: torch.Tensor, uniforms_N: torch.Tensor,
                       temperature: float = 1.0) -> torch.Tensor:
    """Project hidden states to logits and sample, in row blocks so no (N, V) tensor is ever whole.

    `w_aug` is the output layer as [W^T; b] (H+1, V), from `LSTMPolicy.output_aug()`. Same arithmetic
    as `sample_from_logits`: each block does the GEMM, exp and the first level of the inverse CDF in
    one reused buffer, and the second level runs once over all rows. The max-subtraction is skipped
    when a bound proves it unnecessary (seqgan.kernels.fused.needs_shift).
    """
    n = h_NxH.shape[0]
    v = w_aug.shape[1]
    rows = min(sample_block_rows(h_NxH.device), n)
    if temperature != 1.0:
        w_aug = w_aug / temperature  # softmax(logits / τ): the scale rides in the GEMM
    h_aug = augment_hidden(h_NxH)
    shift = needs_shift(h_aug, w_aug)
    weights_buf = h_NxH.new_empty(rows, v)
    two_level = v > 2 * cdf_chunk(v)
    if two_level:
        cdf = _TwoLevelCDF(n, v, cdf_chunk(v), uniforms_N, h_NxH)
    else:
        tokens_N = torch.empty(n, dtype=torch.long, device=h_NxH.device)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        weights = torch.mm(h_aug[lo:hi], w_aug, out=weights_buf[:hi - lo])
        exp_logits_(weights, shift)
        if two_level:
            cdf.block(lo, weights)
        else:
            tokens_N[lo:hi] = inverse_cdf(weights, uniforms_N[lo:hi])
    return cdf.tokens() if two_level else tokens_N


def reference_inverse_cdf(weights_NxV: torch.Tensor, uniforms_N: torch.Tensor) -> torch.Tensor:
    """What `inverse_cdf` computes, the plain way: one cumulative sum over V and a binary search for u·total,
    never past the last positive weight (where u·total rounds up to the total)."""
    cdf_NxV = weights_NxV.cumsum(-1)
    tokens_N = torch.searchsorted(cdf_NxV, (uniforms_N.to(cdf_NxV.dtype) * cdf_NxV[:, -1]).unsqueeze(-1), right=True)
    return torch.minimum(tokens_N.squeeze(-1), (cdf_NxV < cdf_NxV[:, -1:]).sum(-1))


def reference_sample_from_logits(logits_NxV: torch.Tensor, uniforms_N: torch.Tensor) -> torch.Tensor:
    """The specification `sample_from_logits` and `sample_from_hidden` match: softmax, then `reference_inverse_cdf`."""
    return reference_inverse_cdf(torch.softmax(logits_NxV, dim=-1), uniforms_N)
