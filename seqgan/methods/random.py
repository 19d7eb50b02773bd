"""The Random baseline of the paper's Table 1: the untrained generator."""

from __future__ import annotations

from seqgan.methods.base import Method


class Untrained(Method):
    """No pretraining and no training: G_θ as initialised, evaluated once."""

    name = "random"
    label = "Random"
    title = "Random: the untrained G_θ (evaluated once)"
    pretrains_generator = False
    record_phase = "baseline"

    def rounds(self) -> int:
        return 0

    def round(self) -> dict[str, float]:
        return {}
