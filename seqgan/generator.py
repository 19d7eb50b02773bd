"""The LSTM policy G_θ(y_t | Y_1:t-1): the generator, its rollout copy G_β, and the oracle share it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.data import valid_mask
from seqgan.kernels.fused import augment_output, token_nll, weighted_nll
from seqgan.kernels.sampling import sample_from_hidden


class LSTMPolicy(nn.Module):
    """Embedding → one-layer LSTM → linear softmax over the vocabulary, with a start token fed first.

    With an `eos_token` a sequence ends at its first end token: sampling writes `pad_token` after it,
    and the NLL and log-probabilities ignore every position after it (whatever it holds).
    """

    def __init__(self, vocab_size: int, *, emb_dim: int, hidden_dim: int, seq_len: int, start_token: int = 0,
                 eos_token: int | None = None, pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.start_token = start_token
        self.eos_token = eos_token
        self.pad_token = pad_token
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
        (see seqgan.kernels.fused); `temperature` scores under softmax(logits / τ), what `sample(temperature=τ)` draws from."""
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
        during the forward pass (seqgan.kernels.fused.weighted_nll).
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
        table = self.input_table()
        w_aug = self.output_aug()
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

    def __init__(self, vocab_size: int, *, emb_dim: int = 32, hidden_dim: int = 32, seq_len: int = 20,
                 init_std: float = 0.1, start_token: int = 0, eos_token: int | None = None, pad_token: int = 0):
        super().__init__(vocab_size, emb_dim=emb_dim, hidden_dim=hidden_dim, seq_len=seq_len, start_token=start_token,
                         eos_token=eos_token, pad_token=pad_token)
        self.init_normal_(init_std)


class LogitsLikelihood:
    """The likelihood of a generator whose `forward(tokens)` gives full logits (B, T, V) of each position given the
    true prefix (LeakGAN's manager–worker G, RelGAN's relational memory): per-token NLL up to each end token, the
    MLE loss, and NLL_test in batches. The LSTM policy has its own fused path instead."""

    eos_token: int | None

    def token_nll(self, tokens_BxT: torch.Tensor, temperature: float = 1.0,
                  logits_BxTxV: torch.Tensor | None = None) -> torch.Tensor:
        """−log G(y_t | Y_1:t−1) for every position, 0 after the end token: (B, T); `temperature` scores under
        softmax(logits / τ), what `sample(temperature=τ)` draws from. `logits_BxTxV`: this pass's, if computed."""
        logits = self(tokens_BxT) if logits_BxTxV is None else logits_BxTxV
        if temperature != 1.0:
            logits = logits / temperature
        nll_BxT = F.cross_entropy(logits.transpose(1, 2), tokens_BxT, reduction="none")
        mask_BxT = valid_mask(tokens_BxT, self.eos_token)
        return nll_BxT if mask_BxT is None else nll_BxT * mask_BxT

    def log_probs(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        """log G(y_t | Y_1:t−1) for every position: (B, T)."""
        return -self.token_nll(tokens_BxT)

    def nll(self, tokens_BxT: torch.Tensor, logits_BxTxV: torch.Tensor | None = None) -> torch.Tensor:
        """Per-token mean NLL over the positions that count (the MLE loss)."""
        nll_BxT = self.token_nll(tokens_BxT, logits_BxTxV=logits_BxTxV)
        mask_BxT = valid_mask(tokens_BxT, self.eos_token)
        return nll_BxT.mean() if mask_BxT is None else nll_BxT.sum() / mask_BxT.sum().clamp_min(1)

    @torch.no_grad()
    def nll_of(self, sequences_NxT: torch.Tensor, batch_size: int = 256, temperature: float = 1.0) -> float:
        """Per-token mean NLL of many sequences, in batches (NLL_test on held-out data)."""
        device = next(self.parameters()).device
        total, count = 0.0, 0
        for lo in range(0, len(sequences_NxT), batch_size):
            batch = sequences_NxT[lo:lo + batch_size].to(device)
            mask_BxT = valid_mask(batch, self.eos_token)
            total += self.token_nll(batch, temperature).sum().item()
            count += batch.numel() if mask_BxT is None else int(mask_BxT.sum())
        return total / max(1, count)
