"""The benchmarks' timing helpers: steal accounting from /proc/stat and the interleaved runner."""

import itertools
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import timing  # noqa: E402


def _stat(tmp_path, user, steal):
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    path = tmp_path / "stat"
    path.write_text(f"cpu  {user} 0 10 100 0 0 0 {steal} 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\n")
    return path


def test_steal_meter_reports_the_stolen_share_of_the_ticks_in_the_block(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "PROC_STAT", _stat(tmp_path, user=100, steal=20))
    assert timing.cpu_jiffies() == (20, 230)
    with timing.StealMeter() as meter:
        monkeypatch.setattr(timing, "PROC_STAT", _stat(tmp_path, user=160, steal=60))  # +60 user, +40 steal
    assert meter.fraction == pytest.approx(40 / 100)


def test_without_a_steal_counter_nothing_is_measured_and_nothing_waits(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "PROC_STAT", tmp_path / "missing")
    with timing.StealMeter() as meter:
        pass
    assert meter.fraction is None
    assert timing.wait_for_quiet(0.0) is None
    assert timing.steal_summary([None, None]) == {"median": None, "max": None}
    assert timing.steal_summary([0.3, None, 0.1, 0.2]) == {"median": 0.2, "max": 0.3}


def test_the_probe_leaves_the_global_rng_alone():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    timing.probe_steal(0.01)
    assert torch.equal(torch.rand(3), expected)


def test_interleaved_runs_alternate_the_order_and_collect_every_run(monkeypatch):
    monkeypatch.setattr(timing, "wait_for_quiet", lambda max_steal: None)
    calls, counter = [], itertools.count(0, 10)

    def prepare(path, warmup):
        return lambda: calls.append((path, warmup)) or path.upper()

    runs = timing.time_interleaved(("a", "b"), prepare, 3, 1.0, counter=lambda: next(counter))
    assert calls == [("a", True), ("b", True), ("a", False), ("b", False), ("b", False), ("a", False), ("a", False), ("b", False)]
    assert runs["a"]["result"] == ["A"] * 3 and len(runs["b"]["seconds"]) == 3
    assert runs["a"]["counted"] == [10, 10, 10]


def test_the_meter_counts_other_processes_busy_time_without_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "PROC_STAT", _stat(tmp_path, user=100, steal=0))
    own = iter([50.0, 80.0])  # this process: 30 ticks during the block
    monkeypatch.setattr(timing, "own_ticks", lambda: next(own))
    with timing.StealMeter() as meter:
        monkeypatch.setattr(timing, "PROC_STAT", _stat(tmp_path, user=180, steal=20))  # +80 busy, +20 steal: 100 ticks
    assert meter.fraction == 0.2
    assert meter.others == 0.5  # (80 busy − 30 own) / 100


def test_waiting_for_quiet_also_waits_out_other_processes(monkeypatch):
    probes = iter([(0.0, 0.6), (0.0, 0.4), (0.0, 0.05)])

    def fake_probe(seconds):
        meter = timing.StealMeter()
        meter.fraction, meter.others = next(probes)
        return meter

    monkeypatch.setattr(timing, "probe", fake_probe)
    assert timing.wait_for_quiet(0.1, max_others=0.1) == 0.0
    with pytest.raises(StopIteration):  # all three probes were needed
        next(probes)
