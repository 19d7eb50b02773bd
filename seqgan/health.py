"""Training health: the failure modes the seed documents name, watched at every evaluation.

A discriminator too strong to learn from (its accuracy pinned near 1, the rewards vanishing), a
discriminator that has memorised its real sequences (it scores held-out real ones as fake), and
mode collapse (few distinct samples, one sequence repeated, training sequences copied verbatim). The
trainer records these figures beside every evaluation and logs a warning that says what to try.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import torch

# Thresholds of the warnings. A healthy generator on the oracle or a real corpus draws almost no duplicates.
D_ACCURACY_PINNED = 0.99
REWARD_VANISHED = 0.02
DISTINCT_LOW = 0.5
TOP_REPEAT_HIGH = 0.05
COPY_RATE_HIGH = 0.5
MEMORISED_GAP = 0.5  # mean P(real) of D_φ's own real sequences minus that of held-out real ones
FIT_ROWS = 10_000  # sequences of each kind that `discriminator_fit` scores (the oracle's test draw: all of it)


def sequence_keys(sequences_NxT: torch.Tensor) -> list[bytes]:
    """One hashable key per sequence (padding after an end token included, as sampling writes it)."""
    rows = sequences_NxT.detach().to("cpu", torch.long).contiguous().numpy()
    return [row.tobytes() for row in rows]


def sample_health(samples_NxT: torch.Tensor, training: set[bytes] | None = None) -> dict[str, float]:
    """Share of distinct samples, share of the most repeated one, and (given the training set's keys) the share
    copied verbatim from the training data."""
    keys = sequence_keys(samples_NxT)
    counts = Counter(keys)
    n = max(1, len(keys))
    stats = {"health/distinct": len(counts) / n, "health/top_repeat": max(counts.values(), default=0) / n}
    if training is not None:
        stats["health/copy_rate"] = sum(count for key, count in counts.items() if key in training) / n
    return stats


def discriminator_fit(prob_real: Callable[[torch.Tensor], torch.Tensor], training_NxT: torch.Tensor,
                      heldout_NxT: torch.Tensor | None, generated_NxT: torch.Tensor) -> dict[str, float]:
    """Mean P(real) that D_φ gives the real sequences it trains on, real sequences it never saw (the test data) and
    G_θ's samples (each: the first FIT_ROWS). A D_φ that only learned real against generated scores both real kinds
    alike; one that memorised its positives scores held-out real sequences as fake, and its reward then favours
    closeness to the training set over realism."""
    fit = {"d/p_real_training": prob_real(training_NxT[:FIT_ROWS]).mean().item(),
           "d/p_real_generated": prob_real(generated_NxT[:FIT_ROWS]).mean().item()}
    if heldout_NxT is not None:
        fit["d/p_real_heldout"] = prob_real(heldout_NxT[:FIT_ROWS]).mean().item()
    return fit


def diagnose(record: dict[str, Any]) -> list[str]:
    """Warnings for an evaluation record, each saying what it means and what to try."""
    return list(findings(record).values())


def findings(record: dict[str, Any]) -> dict[str, str]:
    """The warnings of `diagnose` by kind ('d_too_strong', 'd_memorised', 'collapse', 'copying'), so that a run can
    say each kind once on the console and count it over its evaluations."""
    found = {}
    accuracy = record.get("d/train_accuracy")
    reward = record.get("rewards/mean_q")
    if accuracy is not None and reward is not None and accuracy >= D_ACCURACY_PINNED and reward <= REWARD_VANISHED:
        found["d_too_strong"] = (
            f"the discriminator is too strong to learn from: training accuracy {accuracy:.3f}, mean reward {reward:.3g}, "
            "so the policy gradient vanishes; try train.advantage='rescale' or 'normalize', fewer train.d_steps or "
            "train.d_epochs, or a lower discriminator.lr")
    training, heldout = record.get("d/p_real_training"), record.get("d/p_real_heldout")
    if training is not None and heldout is not None and training - heldout >= MEMORISED_GAP:
        found["d_memorised"] = (
            f"the discriminator has memorised its real sequences: it gives them P(real) {training:.2f} on average but "
            f"real sequences it never trained on {heldout:.2f}, so its reward favours closeness to the training set over "
            "realism; give it more real sequences (on the synthetic oracle: oracle.fresh_positives=true, or a larger "
            "oracle.num_train), fewer train.d_steps or train.d_epochs, or fewer discriminator.num_filters")
    distinct = record.get("health/distinct")
    top = record.get("health/top_repeat")
    if distinct is not None and (distinct < DISTINCT_LOW or top > TOP_REPEAT_HIGH):
        found["collapse"] = (
            f"the samples are collapsing: {distinct:.0%} of them distinct, the most frequent one {top:.1%} of all; "
            "compare NLL_test with continued MLE, and try train.advantage='rescale', a lower generator.pg_lr or fewer "
            "adversarial rounds")
    copied = record.get("health/copy_rate")
    if copied is not None and copied > COPY_RATE_HIGH:
        found["copying"] = (f"{copied:.0%} of the samples are training sequences copied verbatim (memorisation); "
                            "NLL_test shows what coverage it cost")
    return found


def summarize_warnings(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each kind of warning a run's evaluations raised, once: the last one's words (its figures) and how often."""
    last: dict[str, str] = {}
    count: Counter[str] = Counter()
    for record in records:
        for kind, message in findings(record).items():
            last[kind] = message
            count[kind] += 1
    return {kind: f"{message} (at {count[kind]} of {len(records)} evaluations; figures of the last)"
            for kind, message in last.items()}
