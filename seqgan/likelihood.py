"""How a generator scores sequences: per-token NLL up to each end token, the MLE loss, NLL_test in batches.

`FusedLikelihood`: for generators whose logits are an output layer over hidden states (the LSTM policy, RelGAN's
relational memory); on the fused projection + NLL of seqgan.kernels.fused. `LogitsLikelihood`: for generators
that only give full logits (LeakGAN's manager–worker G); it is also the plain reference the fused path must match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.data import valid_mask
from seqgan.kernels.fused import token_nll, weighted_nll


class FusedLikelihood:
    """The likelihood of a generator whose logits are an output layer over hidden states, `self.output(h)`: per-token
    NLL up to each end token, the training losses as one weighted NLL, and NLL_test in batches, all on the fused
    projection + NLL of seqgan.kernels.fused (no (B, T, V) logits kept). A subclass gives `_hidden_and_output`:
    the teacher-forced hidden states (B·T, H) and the output layer scaled by 1/τ."""

    eos_token: int | None
    output: nn.Linear
    compute_dtype: torch.dtype | None = None
    """The dtype of the training losses' gradient GEMMs: None for the parameters' own, bfloat16 for mixed precision
    (`set_compute_dtype`; seqgan.kernels.fused.WeightedLinearCrossEntropy). Logits, normalisers, losses, the
    gradients themselves and every scoring pass keep the parameters' dtype."""

    def set_compute_dtype(self, dtype: torch.dtype):
        """Run the gradient GEMMs of the training losses (MLE, Eq. 8, Scheduled Sampling) in `dtype`."""
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"G computes in float32 or bfloat16, not {dtype}")
        self.compute_dtype = None if dtype == torch.float32 else dtype
        return self

    def _hidden_and_output(self, tokens_BxT: torch.Tensor, temperature: float
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _scaled_output(self, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The output layer's weight and bias scaled by 1/τ."""
        weight, bias = self.output.weight, self.output.bias
        if temperature != 1.0:
            weight, bias = weight / temperature, bias / temperature
        return weight, bias

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
        return weighted_nll(hidden_NxH, weight, bias, tokens_BxT.reshape(-1), weights_BxT.reshape(-1), self.compute_dtype)

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
