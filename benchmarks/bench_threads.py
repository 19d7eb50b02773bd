"""Threads on a shared machine: one and two torch threads, with the machine idle and with one core kept busy.

Two workloads, each timed with 1 thread and with torch's default (all cores), interleaved:

* `tiny`: a whole `--preset tiny` training run in this process (SeqGANTrainer, no run folder): small operations,
  where OpenMP's barriers dominate;
* `small-d`: 20 D_φ training steps of the `small` preset's discriminator (batch 64, Adam), the smallest work that
  runtime.threads = 0 gives every core to.

Conditions: `idle` (nothing else started by this script; the script first waits for a quiet machine), and `busy`,
where a child process spins on one core for the whole measurement. For each condition the table also gives what
`seqgan.cpu.choose_threads` picks there (runtime.threads = 0).

    .venv/bin/python benchmarks/bench_threads.py             # both conditions, 3 repeats
    .venv/bin/python benchmarks/bench_threads.py --quick     # 1 repeat: checks the script runs
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.config import preset
from seqgan.cpu import choose_threads, idle_cpus
from seqgan.discriminator import Discriminator
from seqgan.train import SeqGANTrainer, is_small_work

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, header, run_config  # noqa: E402
from timing import wait_for_quiet  # noqa: E402

SPIN = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def tiny_run() -> Callable[[], Any]:
    cfg = preset("tiny")
    return lambda: SeqGANTrainer(cfg).fit()


def small_d_steps(steps: int = 20) -> Callable[[], Any]:
    d_cfg = preset("small").discriminator
    torch.manual_seed(0)
    d = Discriminator(5000, seq_len=20, emb_dim=d_cfg.emb_dim, filter_sizes=d_cfg.filter_sizes,
                      num_filters=d_cfg.num_filters)
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, fused=True)
    x, y = torch.randint(0, 5000, (64, 20)), torch.randint(0, 2, (64,))

    def run() -> None:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            d.loss(x, y).backward()
            opt.step()

    return run


WORKLOADS = {"tiny": (tiny_run, "a whole tiny-preset run"), "small-d": (small_d_steps, "20 small-preset D steps")}


def time_threads(make: Callable[[], Callable[[], Any]], threads: list[int], repeats: int) -> dict[int, float]:
    times: dict[int, list[float]] = {n: [] for n in threads}
    for n in threads:  # warm-up
        torch.set_num_threads(n)
        make()()
    for i in range(repeats):
        for n in threads if i % 2 == 0 else threads[::-1]:
            torch.set_num_threads(n)
            call = make()
            t0 = time.perf_counter()
            call()
            times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(t) for n, t in times.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 repeat")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per thread count (default 3; 1 quick)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    torch.set_flush_denormal(True)
    default = torch.get_num_threads()
    threads = sorted({1, default})
    results: dict[str, Any] = {"config": run_config(args), "environment": environment(), "conditions": {}}
    for condition in ("idle", "busy"):
        if condition == "idle" and not args.quick:
            wait_for_quiet(0.1, timeout_s=120, max_others=0.1)
        spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if condition == "busy" else None
        try:
            time.sleep(0.5)
            idle = idle_cpus()
            row: dict[str, Any] = {"idle_cpus": idle}
            for name, (make, _) in WORKLOADS.items():
                small = is_small_work(preset("tiny" if name == "tiny" else "small"))
                row[name] = {"seconds": time_threads(make, threads, args.repeats),
                             "chosen": choose_threads(default, small, idle)}
            results["conditions"][condition] = row
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    lines = ["| condition | idle CPUs | workload | " + " | ".join(f"{n} thread{'s' * (n > 1)} (s)" for n in threads)
             + " | threads = 0 picks | its time against the best |", "|---|---:|---|" + "---:|" * len(threads) + "---:|---:|"]
    for condition, row in results["conditions"].items():
        for name, (_, title) in WORKLOADS.items():
            secs = row[name]["seconds"]
            chosen = row[name]["chosen"]
            lines.append(f"| {condition} | {row['idle_cpus']:.2f} | {title} | "
                         + " | ".join(f"{secs[n]:.3f}" for n in threads)
                         + f" | {chosen} | {secs[chosen] / min(secs.values()):.2f}× |")
    table = "\n".join([*header("Threads on a shared machine (runtime.threads)", results["environment"]), "", *lines])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
