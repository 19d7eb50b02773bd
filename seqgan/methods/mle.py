"""The MLE baseline of the paper's Table 1: keep training G_θ by maximum likelihood."""

from __future__ import annotations

from seqgan import steps
from seqgan.methods.base import Method


class ContinuedMLE(Method):
    """As many more MLE epochs as the adversarial phase has rounds, with the pretraining optimiser."""

    name = "mle"
    label = "MLE"
    title = "MLE (continued): teacher-forced maximum likelihood, one epoch per round"
    record_phase = "baseline"

    def round(self) -> dict[str, float]:
        return steps.mle_epoch(self.trainer, self.trainer.mle_opt)
