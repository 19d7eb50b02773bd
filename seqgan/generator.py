"""The LSTM policy G_θ(y_t | Y_1:t-1): the generator, its rollout copy G_β, and the oracle share it."""

from __future__ import annotations

import functools

import torch
from torch import nn

from seqgan.data import valid_mask
from seqgan.fused import (
    BLOCK_ROWS_ACCELERATOR,
    augment_hidden,
    augment_output,
    exp_limit,
    exp_logits_,
    needs_shift,
    token_nll,
    weighted_nll,
)

# Rows per block of (rows, V) temporaries on CPU: 512 x 5000 floats (10 MB) stay in the last-level cache;
# on 2 cores this is ~1.5-2x faster per row than one pass over 10,000 rows, which is bound by memory traffic.
# (Sampling 10,000 sequences, interleaved A/B: 512 rows 1.17 s, 256 rows 1.32 s, 1024 rows 1.29 s, medians of 8.)
# Accelerators take seqgan.fused.BLOCK_ROWS_ACCELERATOR.
SAMPLE_BLOCK_ROWS = 512


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
        self.v, self.width, self.chunks = vocab_size, width, -(-vocab_size // width)
        self.uniforms_Nx1 = uniforms_N.to(like.dtype).unsqueeze(-1)
        self.sums_NxK, self.cdf_NxK = like.new_empty(n, self.chunks), like.new_empty(n, self.chunks)
        self.target_Nx1, self.k_Nx1 = like.new_empty(n, 1), torch.empty(n, 1, dtype=torch.long, device=like.device)
        self.zero = like.new_zeros(())
        self.chunk_NxC = like.new_empty(n, width)
        self.offsets_C = torch.arange(width, device=like.device)

    def block(self, lo: int, weights_RxV: torch.Tensor) -> None:
        r, v, c = weights_RxV.shape[0], self.v, self.width
        hi, full = lo + r, v // c
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


def _inverse_cdf(weights_NxV: torch.Tensor, uniforms_N: torch.Tensor) -> torch.Tensor:
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
    return _inverse_cdf(weights_NxV, uniforms_N)


def sample_from_hidden(h_NxH: torch.Tensor, w_aug: torch.Tensor, uniforms_N: torch.Tensor,
                       temperature: float = 1.0) -> torch.Tensor:
    """Project hidden states to logits and sample, in row blocks so no (N, V) tensor is ever whole.

    `w_aug` is the output layer as [W^T; b] (H+1, V), from `LSTMPolicy.output_aug()`. Same arithmetic
    as `sample_from_logits`: each block does the GEMM, exp and the first level of the inverse CDF in
    one reused buffer, and the second level runs once over all rows. The max-subtraction is skipped
    when a bound proves it unnecessary (seqgan.fused.needs_shift).
    """
    (n, v), rows = (h_NxH.shape[0], w_aug.shape[1]), min(sample_block_rows(h_NxH.device), h_NxH.shape[0])
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
            tokens_N[lo:hi] = _inverse_cdf(weights, uniforms_N[lo:hi])
    return cdf.tokens() if two_level else tokens_N


class LSTMPolicy(nn.Module):
    """Embedding → one-layer LSTM → linear softmax over the vocabulary, with a start token fed first.

    With an `eos_token` a sequence ends at its first end token: sampling writes `pad_token` after it,
    and the NLL and log-probabilities ignore every position after it (whatever it holds).
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, seq_len: int, start_token: int = 0,
                 eos_token: int | None = None, pad_token: int = 0):
        super().__init__()
        self.vocab_size, self.seq_len, self.start_token = vocab_size, seq_len, start_token
        self.eos_token, self.pad_token = eos_token, pad_token
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)

    def init_normal_(self, std: float, generator: torch.Generator | None = None) -> LSTMPolicy:
        """Every parameter N(0, std), as the reference code initialises G_θ (std 0.1) and the oracle (std 1)."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std, generator=generator)
            # The reference cell has one bias per gate; nn.LSTM has two, so keep the second at zero.
            self.lstm.bias_hh_l0.zero_()
        return self

    # ---- teacher-forced passes -------------------------------------------------------------
    def _inputs(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        start_Bx1 = torch.full_like(tokens_BxT[:, :1], self.start_token)
        return torch.cat([start_Bx1, tokens_BxT[:, :-1]], dim=1)  # (B, T): y_t is predicted from y_<t

    def forward(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Logits of every position given the true prefix: (B, T, V)."""
        hidden_BxTxH, _ = self.lstm(self.embedding(self._inputs(tokens_BxT)))
        return self.output(hidden_BxTxH)

    def _hidden_and_output(self, tokens_BxT: torch.Tensor, temperature: float
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced hidden states (B·T, H) and the output layer scaled by 1/τ."""
        hidden_BxTxH, _ = self.lstm(self.embedding(self._inputs(tokens_BxT)))
        weight, bias = self.output.weight, self.output.bias
        if temperature != 1.0:
            weight, bias = weight / temperature, bias / temperature
        return hidden_BxTxH.reshape(-1, self.hidden_dim), weight, bias

    def token_nll(self, tokens_BxT: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """−log G(y_t | Y_1:t-1) for every position, 0 after the end token: (B, T). Fused projection + NLL
        (see seqgan.fused); `temperature` scores under softmax(logits / τ), what `sample(temperature=τ)` draws from."""
        return self._masked_token_nll(tokens_BxT, temperature)[0]

    def _masked_token_nll(self, tokens_BxT: torch.Tensor, temperature: float
                          ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`token_nll` and the mask it applied (None without an end token)."""
        hidden_NxH, weight, bias = self._hidden_and_output(tokens_BxT, temperature)
        nll_BxT = token_nll(hidden_NxH, weight, bias, tokens_BxT.reshape(-1)).view_as(tokens_BxT)
        mask_BxT = valid_mask(tokens_BxT, self.eos_token)
        return (nll_BxT, None) if mask_BxT is None else (nll_BxT * mask_BxT, mask_BxT)

    def weighted_nll(self, tokens_BxT: torch.Tensor, weights_BxT: torch.Tensor) -> torch.Tensor:
        """Σ_t weight_t · −log G(y_t | Y_1:t-1) over the positions up to each end token: a scalar loss.

        The weights are constants (no gradient flows into them). The training losses are all of this form
        (MLE: 1 / count; Eq. 8: the rewards Q), so they take the fused path that builds the gradient
        during the forward pass (seqgan.fused.weighted_nll).
        """
        mask_BxT = valid_mask(tokens_BxT, self.eos_token)
        return self._weighted_nll(tokens_BxT, weights_BxT if mask_BxT is None else weights_BxT * mask_BxT)

    def _weighted_nll(self, tokens_BxT: torch.Tensor, weights_BxT: torch.Tensor) -> torch.Tensor:
        hidden_NxH, weight, bias = self._hidden_and_output(tokens_BxT, 1.0)
        return weighted_nll(hidden_NxH, weight, bias, tokens_BxT.reshape(-1), weights_BxT.reshape(-1))

    def _nll_sum_and_count(self, tokens_BxT: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed NLL over the positions that count (up to each end token) and how many there are."""
        nll_BxT, mask_BxT = self._masked_token_nll(tokens_BxT, temperature)
        count = torch.tensor(tokens_BxT.numel(), device=tokens_BxT.device) if mask_BxT is None else mask_BxT.sum()
        return nll_BxT.sum(), count

    def log_probs(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """log G(y_t | Y_1:t-1) for every position: (B, T)."""
        return -self.token_nll(tokens_BxT)

    def nll(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """Per-token mean negative log-likelihood over the positions that count (the MLE loss, and
        NLL_oracle when self is the oracle)."""
        mask_BxT = valid_mask(tokens_BxT, self.eos_token)
        if mask_BxT is None:
            weights_BxT = torch.full(tokens_BxT.shape, 1.0 / tokens_BxT.numel(), device=tokens_BxT.device)
            return self._weighted_nll(tokens_BxT, weights_BxT)
        return self._weighted_nll(tokens_BxT, mask_BxT / mask_BxT.sum().clamp_min(1))

    @torch.no_grad()
    def nll_of(self, sequences_NxT: torch.Tensor, batch_size: int = 256, temperature: float = 1.0) -> float:
        """Per-token mean NLL of many sequences, in batches: NLL_oracle when self is the oracle,
        NLL_test when self is G_θ and the sequences are held-out real data."""
        total, count = 0.0, 0
        for lo in range(0, len(sequences_NxT), batch_size):
            batch = sequences_NxT[lo:lo + batch_size].to(self.output.weight.device)
            batch_total, batch_count = self._nll_sum_and_count(batch, temperature)
            total += batch_total.item()
            count += int(batch_count)
        return total / max(1, count)

    # ---- step-by-step passes (sampling and rollouts) -----------------------------------------
    def input_table(self) -> torch.Tensor:
        """Input-to-gates projection of every token plus both biases: (V, 4H), so a step is one lookup."""
        return self.embedding.weight @ self.lstm.weight_ih_l0.T + self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0

    def step(self, table_Vx4H: torch.Tensor, tokens_N: torch.Tensor, h_NxH: torch.Tensor, c_NxH: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Consume one token per row; gate order i, f, g, o as torch.nn.LSTM."""
        gates_Nx4H = torch.index_select(table_Vx4H, 0, tokens_N).addmm_(h_NxH, self.lstm.weight_hh_l0.T)
        # One sigmoid over all four gates (contiguous, vectorised) beats three over strided slices.
        i, f, _, o = torch.sigmoid(gates_Nx4H).chunk(4, dim=-1)
        g = torch.tanh(gates_Nx4H[:, 2 * self.hidden_dim:3 * self.hidden_dim])
        c_NxH = torch.addcmul(f * c_NxH, i, g)
        h_NxH = o * torch.tanh(c_NxH)
        return h_NxH, c_NxH

    def zero_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.lstm.weight_hh_l0
        return w.new_zeros(n, self.hidden_dim), w.new_zeros(n, self.hidden_dim)

    def states(self, tokens_BxT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States s_1..s_T of one pass over the sequences; s_t emits the distribution of y_t: (B, T, H) each."""
        table = self.input_table()
        inputs_BxT = self._inputs(tokens_BxT)
        h, c = self.zero_state(tokens_BxT.shape[0])
        hs, cs = [], []
        for t in range(tokens_BxT.shape[1]):
            h, c = self.step(table, inputs_BxT[:, t], h, c)
            hs.append(h)
            cs.append(c)
        return torch.stack(hs, dim=1), torch.stack(cs, dim=1)

    def output_aug(self) -> torch.Tensor:
        """The output layer as one contiguous (H+1, V) matrix [W^T; b], for `sample_from_hidden`."""
        return augment_output(self.output.weight, self.output.bias)

    @torch.no_grad()
    def sample(self, num: int, temperature: float = 1.0, uniforms_NxT: torch.Tensor | None = None) -> torch.Tensor:
        """Draw `num` sequences of length T: (num, T) token ids, `pad_token` after an end token.

        `uniforms_NxT` fixes the random draws (one per token); otherwise they come from torch's RNG.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = self.output.weight.device
        table, w_aug = self.input_table(), self.output_aug()
        if uniforms_NxT is None:
            uniforms_NxT = torch.rand(num, self.seq_len, device=device)
        out_NxT = torch.full((num, self.seq_len), self.pad_token, dtype=torch.long, device=device)
        tokens_N = torch.full((num,), self.start_token, dtype=torch.long, device=device)
        h, c = self.zero_state(num)
        live_N = torch.arange(num, device=device)  # rows that have not ended yet
        for t in range(self.seq_len):
            h, c = self.step(table, tokens_N, h, c)
            tokens_N = sample_from_hidden(h, w_aug, uniforms_NxT[live_N, t], temperature)
            out_NxT[live_N, t] = tokens_N
            if self.eos_token is not None:
                # Ended rows leave the batch: no more LSTM steps or projections for them.
                going = tokens_N != self.eos_token
                if not bool(going.all()):
                    live_N, tokens_N, h, c = live_N[going], tokens_N[going], h[going], c[going]
                    if len(live_N) == 0:
                        break
        return out_NxT


class Generator(LSTMPolicy):
    """G_θ: the LSTM policy being trained (embedding 32, hidden 32, N(0, 0.1) init by default)."""

    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, seq_len: int = 20,
                 init_std: float = 0.1, start_token: int = 0, eos_token: int | None = None, pad_token: int = 0):
        super().__init__(vocab_size, emb_dim, hidden_dim, seq_len, start_token, eos_token, pad_token)
        self.init_normal_(init_std)
