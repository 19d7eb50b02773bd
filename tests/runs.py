"""Helpers for tests that train whole runs: reading metrics.jsonl, and a simulated kill."""

import json

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
