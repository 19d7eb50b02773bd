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


def train_through_crashes(cfg, run_dir, crashes):
    """Train into run_dir, killed after each (phase, units) of `crashes` in turn and resumed each time, to the end."""
    import pytest

    from seqgan.run import train

    for i, (phase, after) in enumerate(crashes):
        with pytest.raises(KeyboardInterrupt):
            train(cfg, run_dir, resume=i > 0, callbacks=Crash(phase, after))
    train(cfg, run_dir, resume=True)


def cli_sample_ids(run_dir, capsys, num):
    """`seqgan sample --checkpoint RUN --num N --ids`, parsed into rows, and the rows the run's final generator draws
    itself under the command's default sampling seed 0: (cli rows, expected rows)."""
    from seqgan.cli import main
    from seqgan.run import load_generator

    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(run_dir), "--num", str(num), "--ids"]) == 0
    rows = [[int(tok) for tok in line.split()] for line in capsys.readouterr().out.strip().splitlines()]
    final = load_generator(run_dir / "checkpoints" / "latest.pt")
    torch.manual_seed(0)
    return rows, final.sample(num).tolist()
