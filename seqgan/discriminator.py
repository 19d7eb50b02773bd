"""D_φ: the CNN sequence classifier of the paper (Kim 2014 with a highway layer and dropout)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.data import valid_mask


class Discriminator(nn.Module):
    """Embedding → convolutions of several widths → max-over-time → highway → dropout → 2-way softmax.

    With an `eos_token`, positions after a sequence's first end token embed as zeros (as padding does
    in Kim 2014), so D's score does not depend on what follows the end. Sequences shorter than the
    widest filter are padded with zeros to its width.
    """

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 64,
                 filter_sizes: list[int] | None = None, num_filters: list[int] | None = None,
                 dropout: float = 0.25, l2_reg: float = 0.2, eos_token: int | None = None):
        super().__init__()
        filter_sizes = filter_sizes or [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
        num_filters = num_filters or [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
        self.vocab_size, self.seq_len, self.l2_reg, self.eos_token = vocab_size, seq_len, l2_reg, eos_token
        self.min_width = max(filter_sizes)
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

    def forward(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        """Class logits (fake, real): (N, 2)."""
        x_NxTxE = self.embedding(tokens_NxT)
        mask_NxT = valid_mask(tokens_NxT, self.eos_token)
        if mask_NxT is not None:
            x_NxTxE = x_NxTxE * mask_NxT.unsqueeze(-1)
        x_NxExT = x_NxTxE.transpose(1, 2)
        if x_NxExT.shape[-1] < self.min_width:
            x_NxExT = F.pad(x_NxExT, (0, self.min_width - x_NxExT.shape[-1]))
        pooled = [F.relu(conv(x_NxExT)).amax(dim=-1) for conv in self.convs]  # max-over-time, (N, F_w) each
        feat_NxF = torch.cat(pooled, dim=1)
        gate_NxF = torch.sigmoid(self.highway_t(feat_NxF))
        feat_NxF = gate_NxF * F.relu(self.highway_h(feat_NxF)) + (1.0 - gate_NxF) * feat_NxF
        return self.out(self.dropout(feat_NxF))

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
        was_training = self.training
        self.eval()
        try:
            probs = [torch.softmax(self(tokens_NxT[lo:lo + batch_size]), dim=-1)[:, 1]
                     for lo in range(0, len(tokens_NxT), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(probs)
