"""The synthetic oracle (the paper's "target LSTM"): it writes the real data and scores G_θ by NLL_oracle."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from seqgan.data import read_lines
from seqgan.errors import DataError
from seqgan.generator import LSTMPolicy

PAPER_VOCAB = 5000
PAPER_EMB = 32
PAPER_HIDDEN = 32
PAPER_SEQ_LEN = 20
_NPZ_KEYS = ["00_g_embeddings", "01_Wi", "02_Ui", "03_bi", "04_Wf", "05_Uf", "06_bf", "07_Wog", "08_Uog",
             "09_bog", "10_Wc", "11_Uc", "12_bc", "13_Wo", "14_bo"]


class Oracle(LSTMPolicy):
    """A frozen LSTMPolicy whose distribution is the ground truth."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, seq_len: int):
        super().__init__(vocab_size, emb_dim=emb_dim, hidden_dim=hidden_dim, seq_len=seq_len, start_token=0)
        self.requires_grad_(False)

    @classmethod
    def paper(cls, seq_len: int = PAPER_SEQ_LEN, path: str | Path | None = None) -> Oracle:
        """The authors' oracle (LantaoYu/SeqGAN save/target_params.pkl, converted losslessly to npz)."""
        source = Path(path) if path else resources.files("seqgan") / "assets" / "oracle_params.npz"
        try:
            with resources.as_file(source) as p, np.load(p, allow_pickle=False) as npz:
                missing = [k for k in _NPZ_KEYS if k not in npz.files]
                if missing:
                    raise DataError(f"{str(source)!r} is not an oracle: it lacks {', '.join(missing)}")
                a = {k: torch.from_numpy(npz[k].copy()) for k in _NPZ_KEYS}
        except (ValueError, OSError) as exc:  # a pickle inside (refused), not an npz at all
            raise DataError(f"{str(source)!r} is not an oracle npz file (it may hold a pickle, which is never "
                            f"loaded): {str(exc).splitlines()[0][:120]}") from None
        vocab, emb = a["00_g_embeddings"].shape
        oracle = cls(vocab, emb, a["02_Ui"].shape[0], seq_len)
        lstm = oracle.lstm
        with torch.no_grad():
            # TF cell: gates = x·W + h·U + b, order (i, f, o, c̃); torch.nn.LSTM wants rows (i, f, g, o).
            oracle.embedding.weight.copy_(a["00_g_embeddings"])
            lstm.weight_ih_l0.copy_(torch.cat([a["01_Wi"].T, a["04_Wf"].T, a["10_Wc"].T, a["07_Wog"].T]))
            lstm.weight_hh_l0.copy_(torch.cat([a["02_Ui"].T, a["05_Uf"].T, a["11_Uc"].T, a["08_Uog"].T]))
            lstm.bias_ih_l0.copy_(torch.cat([a["03_bi"], a["06_bf"], a["12_bc"], a["09_bog"]]))
            lstm.bias_hh_l0.zero_()
            oracle.output.weight.copy_(a["13_Wo"].T)
            oracle.output.bias.copy_(a["14_bo"])
        return oracle

    @classmethod
    def random(cls, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, seq_len: int = 20, seed: int = 0) -> Oracle:
        """A fresh oracle with N(0, 1) parameters, as the paper builds its own."""
        oracle = cls(vocab_size, emb_dim, hidden_dim, seq_len)
        return oracle.init_normal_(1.0, generator=torch.Generator().manual_seed(seed))  # type: ignore[return-value]

    def nll_of(self, sequences_NxT: torch.Tensor, batch_size: int = 256) -> float:
        """NLL_oracle: per-token mean negative log-likelihood of the sequences under the oracle."""
        self._check_tokens(sequences_NxT)
        return super().nll_of(sequences_NxT, batch_size)

    def _check_tokens(self, sequences_NxT: torch.Tensor) -> None:
        if sequences_NxT.ndim != 2 or len(sequences_NxT) == 0:
            raise DataError(f"expected a non-empty (N, T) array of token ids, got shape {tuple(sequences_NxT.shape)}")
        if sequences_NxT.shape[1] != self.seq_len:
            raise DataError(f"sequences have length {sequences_NxT.shape[1]} but the oracle's is {self.seq_len}")
        lo, hi = int(sequences_NxT.min()), int(sequences_NxT.max())
        if lo < 0 or hi >= self.vocab_size:
            raise DataError(f"token ids must lie in [0, {self.vocab_size - 1}] for this oracle; found {lo}..{hi}")


def oracle_data(oracle: Oracle, n: int, seed: int) -> torch.Tensor:
    """n oracle samples drawn with their own seeded generator (the same sequences for every run seed)."""
    gen = torch.Generator().manual_seed(seed)
    uniforms = torch.rand(n, oracle.seq_len, generator=gen).to(oracle.output.weight.device)
    return oracle.sample(n, uniforms_NxT=uniforms)


def nll_oracle(oracle: Oracle, generator: LSTMPolicy, num_samples: int = 10_000) -> float:
    """Sample `num_samples` sequences from G and score them under the oracle (the paper's metric)."""
    return oracle.nll_of(generator.sample(num_samples))


def read_token_file(path: str | Path) -> torch.Tensor:
    """Read sequences of whitespace-separated token ids, one per line: (N, T) int64."""
    rows = []
    for lineno, line in enumerate(read_lines(path, "sequences"), 1):
        try:
            rows.append([int(tok) for tok in line.split()])
        except ValueError:
            raise DataError(f"{str(path)}: sequence {lineno}: expected integer token ids, got {line.strip()[:60]!r}") from None
        if any(not 0 <= tok < 2**63 for tok in rows[-1]):
            raise DataError(f"{str(path)}: sequence {lineno}: token ids must be non-negative integers below 2^63, got "
                            f"{line.strip()[:60]!r}")
        if len(rows[-1]) != len(rows[0]):
            raise DataError(f"{str(path)}: sequence {lineno} has length {len(rows[-1])}, but the first has {len(rows[0])}; "
                            "the oracle benchmark needs sequences of one length")
    return torch.tensor(rows, dtype=torch.long)


def write_token_file(path: str | Path, sequences_NxT: torch.Tensor) -> None:
    """Write sequences as whitespace-separated token ids, one per line (the reference code's format)."""
    lines = (" ".join(map(str, row)) for row in sequences_NxT.tolist())
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
