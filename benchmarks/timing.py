"""Timing on a shared machine: interleaved runs of several paths, each after waiting for a quiet moment.

On a shared virtual machine the host runs other guests on our cores; /proc/stat counts the time our CPUs
waited for it as "steal". This project's 2-core machine showed 50–100% steal at times, which slows a timed run
by as much, and its co-tenants' cache and memory traffic slow it further without showing as steal. The
benchmarks therefore (1) wait, before each timed run, until a short busy probe sees little steal, and (2) record
the steal during the run, so that every figure says how quiet the machine was while it was measured.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

import seqgan.cpu as seqgan_cpu

PROC_STAT = Path("/proc/stat")
CLOCK_TICKS = seqgan_cpu.CLOCK_TICKS  # /proc/stat units per second
PROBE_N = 512  # the probe's matmul: long enough to keep both cores busy, short enough to check often


def add_max_steal_option(parser: argparse.ArgumentParser) -> None:
    """--max-steal, for a benchmark's argument parser; resolve it with `max_steal(args)`."""
    parser.add_argument("--max-steal", type=float, default=None,
                        help="before each timed run, wait (up to 60 s) until a busy probe sees at most this share of CPU "
                             "time stolen by the hypervisor; 1 turns the wait off (default 0.1; 1 with --quick)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every interleaved benchmark takes: --repeats, --threads, --max-others, --json and --max-steal
    (resolve them with `resolve_run_options` after parsing; the parser needs a --quick flag)."""
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per path (default 3; 1 quick)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--max-others", type=float, default=None,
                        help="also wait until other processes use at most this share of the CPUs (default 0.1; 1 quick)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--malloc-tuning", action="store_true",
                        help="keep freed memory for reuse, as `seqgan train` does (runtime.malloc_tuning, on there by "
                             "default; process-wide, so every path of the run gets it)")
    add_max_steal_option(parser)


def resolve_run_options(args: argparse.Namespace) -> argparse.Namespace:
    """Defaults of `add_run_options`' options that depend on --quick: no waiting and one repeat when quick."""
    args.max_steal = max_steal(args)
    args.max_others = (1.0 if args.quick else 0.1) if args.max_others is None else args.max_others
    args.repeats = (1 if args.quick else 3) if args.repeats is None else args.repeats
    if args.malloc_tuning and not seqgan_cpu.keep_freed_memory():
        raise SystemExit("--malloc-tuning needs glibc's mallopt, which this system lacks; run without it")
    return args


def max_steal(args: argparse.Namespace) -> float:
    """The --max-steal to use: as given, else no wait for --quick runs and 10% otherwise."""
    return (1.0 if args.quick else 0.1) if args.max_steal is None else args.max_steal


def steal_note(threshold: float) -> str:
    """The line a results table prints about the wait."""
    if threshold >= 1:
        return "- no wait for a quiet machine (--max-steal 1)"
    return f"- each timed run waited (up to 60 s) for a busy probe to see at most {100 * threshold:.0f}% hypervisor steal"


def steal_pct(summary: dict[str, float | None]) -> str:
    """'median% / max%' of a `steal_summary`."""
    if summary["median"] is None:
        return "unknown"
    return f"{100 * summary['median']:.0f}% / {100 * summary['max']:.0f}%"


def cpu_ticks() -> list[int] | None:
    """user nice system idle iowait irq softirq steal clock ticks of all CPUs since boot (seqgan.cpu.cpu_ticks)."""
    return seqgan_cpu.cpu_ticks(PROC_STAT)


def cpu_jiffies() -> tuple[int, int] | None:
    """(steal, total) clock ticks of all CPUs since boot, or None where /proc/stat has no steal column."""
    ticks = cpu_ticks()
    return None if ticks is None else (ticks[7], sum(ticks))


def own_ticks() -> float:
    """This process's CPU time (all threads, user + system) in clock ticks."""
    t = os.times()
    return (t.user + t.system) * CLOCK_TICKS


class StealMeter:
    """`with StealMeter() as m: ...` → `m.fraction`: the share of all CPU time stolen during the block, and `m.others`:
    the share other processes of this machine were busy (user, system, interrupts less this process's own time);
    None where unknown. A benchmark's threads compete with both."""

    def __init__(self) -> None:
        self.fraction: float | None = None
        self.others: float | None = None
        self._start: tuple[list[int] | None, float] = (None, 0.0)

    def __enter__(self) -> StealMeter:
        self._start = (cpu_ticks(), own_ticks())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        end, own = cpu_ticks(), own_ticks()
        start, own0 = self._start
        if start is None or end is None or sum(end) <= sum(start):
            return
        delta = [b - a for a, b in zip(start, end)]
        total = sum(delta)
        busy = delta[0] + delta[1] + delta[2] + delta[5] + delta[6]
        self.fraction = delta[7] / total
        self.others = min(1.0, max(0.0, (busy - (own - own0)) / total))


def probe_steal(seconds: float) -> float | None:
    """Steal while the process keeps its threads busy for `seconds` (idle CPUs accrue no steal, so the probe works)."""
    return probe(seconds).fraction


def probe(seconds: float) -> StealMeter:
    """Steal and others' share while this process keeps its threads busy for `seconds` (idle CPUs accrue no steal)."""
    # Its own generator: a probe between a run's seeding and its timing must not move the global RNG (dropout masks).
    a = torch.randn(PROBE_N, PROBE_N, generator=torch.Generator().manual_seed(0))
    with StealMeter() as meter:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            a @ a
    return meter


def wait_for_quiet(max_steal: float, timeout_s: float = 60.0, probe_s: float = 1.0, max_others: float = 1.0
                   ) -> float | None:
    """Probe until the steal is at most `max_steal` and other processes' share of the CPUs at most `max_others`, or
    `timeout_s` has passed; returns the last probe's steal.

    `max_steal` and `max_others` ≥ 1 turn the wait off (no probe: returns None); so does a system without /proc/stat."""
    if (max_steal >= 1.0 and max_others >= 1.0) or cpu_jiffies() is None:
        return None
    deadline = time.perf_counter() + timeout_s
    while True:
        meter = probe(probe_s)
        if meter.fraction is None or time.perf_counter() >= deadline:
            return meter.fraction
        if meter.fraction <= max_steal and (meter.others is None or meter.others <= max_others):
            return meter.fraction


def steal_summary(fractions: list[float | None]) -> dict[str, float | None]:
    """Median and max steal over timed runs (None where it was not measured)."""
    known = sorted(f for f in fractions if f is not None)
    if not known:
        return {"median": None, "max": None}
    return {"median": known[len(known) // 2], "max": known[-1]}


def time_interleaved(paths: Sequence[str], prepare: Callable[[str, bool], Callable[[], Any]], repeats: int,
                     max_steal: float, counter: Callable[[], int | None] | None = None, max_others: float = 1.0
                     ) -> dict[str, dict[str, list[Any]]]:
    """One warm-up per path, then `repeats` rounds running every path once, the order reversed every other round
    so that drifting background load hits all paths alike. `prepare(path, warmup)` builds a run outside the
    timing; each timed run first waits for a quiet machine (`wait_for_quiet(max_steal)`).

    With `max_others` < 1 the wait is also for other processes' share of the CPUs to fall to at most that.

    Per path: "seconds", "result" (what the run returned), "steal" (its steal fraction), "others" (other processes'
    share of the CPUs during the run) and, with a `counter` (e.g. page faults so far), "counted": the counter's
    increase over the run."""
    for path in paths:
        prepare(path, True)()
    keys = ("seconds", "result", "steal", "others", "counted")
    runs: dict[str, dict[str, list[Any]]] = {p: {k: [] for k in keys} for p in paths}
    for i in range(repeats):
        for path in paths if i % 2 == 0 else paths[::-1]:
            call = prepare(path, False)
            if max_others < 1.0:
                wait_for_quiet(max_steal, max_others=max_others)
            else:
                wait_for_quiet(max_steal)
            count0 = counter() if counter is not None else None
            with StealMeter() as steal:
                t0 = time.perf_counter()
                result = call()
                seconds = time.perf_counter() - t0
            run = runs[path]
            run["seconds"].append(seconds)
            run["result"].append(result)
            run["steal"].append(steal.fraction)
            run["others"].append(steal.others)
            if count0 is not None:
                run["counted"].append(counter() - count0)
    return runs
