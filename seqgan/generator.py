"""The LSTM policy G_θ(y_t | Y_1:t-1): the generator, its rollout copy G_β, and the oracle share it."""

from __future__ import annotations

import torch
from torch import nn

from seqgan.kernels.fused import augment_output
from seqgan.kernels.sampling import sample_from_hidden
from seqgan.likelihood import FusedLikelihood


class LSTMPolicy(FusedLikelihood, nn.Module):
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
        return (hidden_BxTxH.reshape(-1, self.hidden_dim), *self._scaled_output(temperature))

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
