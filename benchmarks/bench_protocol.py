"""The whole `paper` protocol, extrapolated from measured pieces of the real trainer.

Builds `SeqGANTrainer` with the `paper` preset and times, with the trainer's own methods, one of each
unit of Algorithm 1: an MLE epoch, an evaluation (10,000 samples scored by the oracle + NLL_test), a
D step (10,000 fresh negatives + 3 epochs over 20,000 sequences), a g-step (64 sequences, 16 rollouts,
rewards + update) and the G_β sync. The protocol's time is each piece's median times how often the
`paper` schedule runs it (120 MLE epochs, 50 D-pretraining steps, 200 rounds of 1 g-step + 5 d-steps,
evaluations every 5 epochs/rounds and at the end of each phase).

    .venv/bin/python benchmarks/bench_protocol.py --json benchmarks/results/protocol.json
    .venv/bin/python benchmarks/bench_protocol.py --set "runtime.precision='bf16'"   # D_φ in bfloat16
    .venv/bin/python benchmarks/bench_protocol.py --quick     # the tiny preset: checks the script runs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.config import Config, preset
from seqgan.rollout import Rollout
from seqgan.train import SeqGANTrainer, configure_runtime, is_small_work

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, matmul_gflops  # noqa: E402
from timing import StealMeter, add_max_steal_option, max_steal, steal_note, steal_pct, steal_summary, wait_for_quiet  # noqa: E402


def evaluations(total: int, every: int) -> int:
    """How many evaluations a phase of `total` units makes (every `every` units and at its last)."""
    return sum(1 for i in range(total) if i % every == 0 or i == total - 1)


def timed(fn: Callable[[], Any], repeats: int, steal_limit: float) -> tuple[list[float], list[float | None]]:
    """Wall times of `repeats` calls after one warm-up call, each after waiting for a quiet machine; and their steal."""
    fn()
    seconds, steals = [], []
    for _ in range(repeats):
        wait_for_quiet(steal_limit)
        with StealMeter() as steal:
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        steals.append(steal.fraction)
    return seconds, steals


def schedule(cfg: Config) -> dict[str, int]:
    """How many times the protocol runs each piece."""
    t = cfg.train
    return {"mle_epoch": t.pretrain_epochs,
            "d_step": t.d_pretrain_steps + t.adversarial_rounds * t.d_steps,
            "g_step": t.adversarial_rounds * t.g_steps,
            "rollout_sync": t.adversarial_rounds,
            "evaluate": evaluations(t.pretrain_epochs, t.eval_every) + evaluations(t.adversarial_rounds, t.eval_every)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the tiny preset, 1 repeat")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per piece (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the preset, e.g. runtime.precision='bf16' (repeatable)")
    add_max_steal_option(p)
    args = p.parse_args(argv)
    args.max_steal = max_steal(args)
    repeats = args.repeats or (1 if args.quick else 3)
    cfg = preset("tiny" if args.quick else "paper").override(["runtime.device='cpu'", *args.set])
    configure_runtime(cfg.runtime, torch.device("cpu"), is_small_work(cfg))  # as `seqgan train`: denormals flushed
    if args.threads:
        torch.set_num_threads(args.threads)
    trainer = SeqGANTrainer(cfg)
    method = trainer.method  # SeqGAN: the paper's g-step, d-step and G_β sync
    method.rollout = Rollout(trainer.generator, cfg.train.update_rate)
    t = cfg.train
    pieces = {
        "mle_epoch": (f"one MLE epoch ({len(trainer.real_data):,} sequences)", method.pretrain_epoch),
        "evaluate": (f"one evaluation ({cfg.oracle.num_eval:,} samples for NLL_oracle; NLL_test of {cfg.oracle.num_test:,})",
                     trainer.evaluate),
        "d_step": (f"one d-step ({t.num_negatives:,} negatives + {t.d_epochs} epochs)",
                   lambda: method.discriminator_step(t.d_epochs)),
        "g_step": (f"one g-step ({cfg.generator.batch_size} sequences × {t.rollout_num} rollouts)", method.g_step),
        "rollout_sync": ("G_β sync", method.sync_rollout_policy),
    }
    wait_for_quiet(args.max_steal)
    env = {**environment(), "matmul_gflops": matmul_gflops()}
    counts = schedule(cfg)
    rows: dict[str, Any] = {}
    for key, (title, fn) in pieces.items():
        times, steals = timed(fn, repeats, args.max_steal)
        median = statistics.median(times)
        rows[key] = {"title": title, "times_s": times, "median_s": median, "count": counts[key], "total_s": median * counts[key],
                     "steal_runs": steals, "steal": steal_summary(steals)}
    total = sum(r["total_s"] for r in rows.values())
    results = {"env": env, "preset": "tiny" if args.quick else "paper", "settings": args.set, "repeats": repeats,
               "pieces": rows, "protocol_s": total}
    lines = [f"Settings: {', '.join(args.set) or 'the preset'}. "
             f"Machine: {env['cpu_model']}, {env['torch_threads']} threads, torch {env['torch_version']}; "
             f"matmul {env['matmul_gflops']:.0f} GFLOP/s; {env['date_utc']}; `{env['command']}`", "",
             steal_note(args.max_steal), "",
             "| piece | median (s) | steal while timed (median / max) | times in the protocol | protocol total (s) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows.values():
        lines.append(f"| {r['title']} | {r['median_s']:.3f} | {steal_pct(r['steal'])} | {r['count']} | {r['total_s']:.0f} |")
    lines.append(f"| **whole `{results['preset']}` protocol (extrapolated)** | | | | **{total:.0f} s = {total / 3600:.2f} h** |")
    return emit("\n".join(lines), results, args.json)


if __name__ == "__main__":
    main()
