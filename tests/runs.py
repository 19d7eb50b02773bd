"""Helpers for tests that train: reading metrics.jsonl, a simulated kill, and snapshots of weights."""

import json

import torch

from seqgan.train import Callbacks


def run_metrics(run_dir):
    """metrics.jsonl of a run folder without the wall times (the only field that differs between equal runs)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s")
    return rows


class Crash(Callbacks):
    """Simulates a kill: raises after a given number of units of a given phase."""

    def __init__(self, phase, after):
        self.phase = phase
        self.after = after

    def unit_end(self, phase, done, total, scalars):
        if phase == self.phase and done == self.after:
            raise KeyboardInterrupt


def snapshot(model):
    """A copy of a model's weights."""
    return {k: v.clone() for k, v in model.state_dict().items()}


def changed(model, before):
    """Whether any weight differs from a `snapshot`."""
    return any(not torch.equal(v, model.state_dict()[k]) for k, v in before.items())
