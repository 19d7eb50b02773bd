"""Scheduled Sampling (Bengio et al. 2015), the paper's SS baseline: own samples fed with a rising probability."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan.config import check
from seqgan.methods.base import Method
from seqgan.scheduled_sampling import SCHEDULES, scheduled_sampling_nll, teacher_forcing_prob


@dataclass
class SSConfig:
    """How fast the teacher-forcing probability decays."""

    schedule: str = "inverse_sigmoid"
    """Decay of the teacher-forcing probability: 'linear', 'exponential' or 'inverse_sigmoid'."""
    k: float = 1000.0
    """k of the exponential (0 < k < 1, per step) or inverse-sigmoid (k >= 1, in steps) schedule; with 1000
    the teacher-forcing probability is 0.98 after 3,000 steps, 0.66 after 6,240 (the small preset's
    baseline phase) and 0.5 near step 6,900."""
    floor: float = 0.5
    """Lowest teacher-forcing probability. An unconditional LM fed only its own samples while fitting
    the true tokens learns noise (k = 100 with no floor took NLL_oracle from 9.03 to 10.13 in 20 epochs)."""

    def __post_init__(self) -> None:
        check(self.schedule in SCHEDULES, f"ss.schedule must be 'linear', 'exponential' or 'inverse_sigmoid', "
              f"got {self.schedule!r}")
        if self.schedule == "exponential":
            check(0 < self.k < 1, f"ss.k must be in (0, 1) for the exponential schedule, got {self.k}")
        if self.schedule == "inverse_sigmoid":
            check(self.k >= 1, f"ss.k must be >= 1 for the inverse-sigmoid schedule, got {self.k}")
        check(0 <= self.floor <= 1, f"ss.floor must be in [0, 1], got {self.floor}")


class ScheduledSampling(Method):
    """One epoch of Scheduled Sampling per round, the schedule running over the whole phase."""

    name = "ss"
    label = "Scheduled Sampling"
    title = "Scheduled Sampling (Bengio et al. 2015): MLE fed G_θ's own tokens with a decaying teacher probability"
    config = SSConfig
    record_phase = "baseline"

    def round(self) -> dict[str, float]:
        trainer = self.trainer
        s = self.settings
        g = self.cfg.generator
        trainer.generator.train()
        order = trainer.shared_order(len(trainer.real_data))
        batches = len(order) // g.batch_size
        total = torch.zeros((), device=trainer.device)
        first_step = trainer.progress.done * batches
        teacher = 1.0
        for i in range(batches):
            teacher = teacher_forcing_prob(first_step + i, self.rounds() * batches, s.schedule, s.k, s.floor)
            loss = trainer.run_g(scheduled_sampling_nll, trainer.real_data[trainer.my_part(order, i, g.batch_size)],
                                 teacher)
            trainer.update(trainer.mle_opt, trainer.generator, loss, g.grad_clip)
            total += loss.detach()
        return {"losses/g_ss": trainer.finite(total.item() / max(1, batches), "scheduled-sampling loss"),
                "ss/teacher_prob": teacher}
