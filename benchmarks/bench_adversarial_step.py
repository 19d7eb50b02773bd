"""Time one adversarial generator step of SeqGAN: Monte Carlo rewards (Eq. 4) + policy-gradient update (Eq. 8).

Two paths run in the same process, on the same sequences Y and the same starting weights:

* batched: `batched_rewards(G_beta, Y, DiscriminatorReward(D), rollout_num)` (as the trainer calls it: D
  scores the rollouts sharing the convolution windows inside each prefix), then the update;
* naive:   `naive_rewards(G_beta, Y, reward_fn, rollout_num)` with torch.multinomial (uniforms=None) and a
  reward_fn that scores 64 sequences per D forward, as the popular PyTorch implementation does; same update.

The update is pg_loss + backward + grad-norm clip 5.0 + Adam step. Sampling Y itself is not part of the step
timed here (both paths share it). Library code is not touched: the splits come from timers wrapped around
the callables passed in (reward_fn) or set on the benchmark's own rollout-policy instance (`states`).

    .venv/bin/python benchmarks/bench_adversarial_step.py            # paper sizes
    .venv/bin/python benchmarks/bench_adversarial_step.py --quick    # a few seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from seqgan.discriminator import Discriminator, DiscriminatorReward
from seqgan.generator import Generator, LSTMPolicy
from seqgan.memory import PeakMemory
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import Rollout, batched_rewards, naive_rewards

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import StealMeter, add_max_steal_option, max_steal, steal_note, steal_pct, steal_summary, wait_for_quiet  # noqa: E402

GRAD_CLIP = 5.0        # reference code's generator grad_clip
GEN_LR = 0.01          # reference code's generator learning rate
NAIVE_D_BATCH = 64     # the popular implementation scores each rollout batch of 64 in one D forward
MATMUL_N = 2048


class TimedCall:
    """Wraps a callable from the outside; accumulates wall time, call count and rows of the first tensor argument."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.reset()
        if hasattr(fn, "of_rollouts"):  # a reward that scores rollouts sharing their prefix: time that path too
            self.of_rollouts = lambda *args: self._timed(fn.of_rollouts, args[1], args)

    def reset(self) -> None:
        self.seconds, self.calls, self.rows = 0.0, 0, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self.fn, args[0] if args else None, args, kwargs)

    def _timed(self, fn: Callable[..., Any], rows: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **(kwargs or {}))
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        if isinstance(rows, torch.Tensor):
            self.rows += rows.shape[0]
        return out


@dataclass
class StepTiming:
    """One adversarial generator step of one path; seconds unless noted."""

    sampling_s: float        # reward pass minus D calls minus states() (batched) — for naive includes prefix re-runs
    states_s: float | None   # batched: wall time of policy.states(Y); naive: None (inside sampling)
    discriminator_s: float   # wall time inside reward_fn calls
    update_s: float          # pg_loss + backward + clip + Adam step
    total_s: float           # reward pass + update
    reward_calls: int
    sequences_scored: int    # rows passed through D
    mean_q: float            # sanity check: both paths estimate the same Q, so means should be close


@dataclass
class BenchPath:
    """A path's own generator, optimizer, rollout policy and timers, so both paths start from the same state."""

    name: str
    generator: Generator
    optimizer: torch.optim.Optimizer
    policy: LSTMPolicy
    reward_fn: TimedCall
    states_timer: TimedCall | None
    rewards: Callable[[], torch.Tensor]


def make_path(name: str, generator0: Generator, discriminator: Discriminator, Y: torch.Tensor, rollout_num: int,
              budget_mb: float) -> BenchPath:
    """Copy G_theta, build G_beta from it (as training does) and wire the timers around the reward pass."""
    generator = copy.deepcopy(generator0)
    optimizer = torch.optim.Adam(generator.parameters(), lr=GEN_LR)
    policy = Rollout(generator).policy
    if name == "batched":
        reward_fn = TimedCall(DiscriminatorReward(discriminator))  # what the trainer passes
        # Instance attribute shadows the method for this copy only; batched_rewards calls policy.states once.
        states_timer = TimedCall(policy.states)
        policy.states = states_timer  # type: ignore[method-assign]

        def rewards() -> torch.Tensor:
            return batched_rewards(policy, Y, reward_fn, rollout_num, memory_budget_mb=budget_mb)
    else:
        reward_fn = TimedCall(lambda s: discriminator.prob_real(s, batch_size=NAIVE_D_BATCH))
        states_timer = None

        def rewards() -> torch.Tensor:
            return naive_rewards(policy, Y, reward_fn, rollout_num, uniforms=None)
    return BenchPath(name, generator, optimizer, policy, reward_fn, states_timer, rewards)


def run_step(path: BenchPath, Y: torch.Tensor) -> StepTiming:
    """Reward pass then one policy-gradient update, with the split read from the wrapped timers."""
    path.reward_fn.reset()
    if path.states_timer is not None:
        path.states_timer.reset()
    t0 = time.perf_counter()
    q_BxT = path.rewards()
    t1 = time.perf_counter()
    path.optimizer.zero_grad(set_to_none=True)
    loss = pg_loss(path.generator, Y, q_BxT)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(path.generator.parameters(), GRAD_CLIP)
    path.optimizer.step()
    t2 = time.perf_counter()
    states_s = path.states_timer.seconds if path.states_timer is not None else None
    return StepTiming(
        sampling_s=(t1 - t0) - path.reward_fn.seconds - (states_s or 0.0),
        states_s=states_s,
        discriminator_s=path.reward_fn.seconds,
        update_s=t2 - t1,
        total_s=t2 - t0,
        reward_calls=path.reward_fn.calls,
        sequences_scored=path.reward_fn.rows,
        mean_q=q_BxT.mean().item(),
    )


def median_step(steps: list[StepTiming]) -> StepTiming:
    """The repeat with the median total, so its components add up (lower middle for an even count)."""
    return sorted(steps, key=lambda s: s.total_s)[(len(steps) - 1) // 2]


def discriminator_flops_per_sequence(discriminator: Discriminator, seq_len: int, prefix: int = 0) -> int:
    """Multiply-adds x2 of conv + highway + output layers, from the layer shapes (embedding, pooling, softmax ignored).

    With `prefix` = t, for a rollout scored by `prob_real_of_rollouts`: only the windows reaching past the first
    t tokens are computed."""
    flops = 0
    for conv in discriminator.convs:
        filters, emb, width = conv.weight.shape
        flops += 2 * (seq_len - width + 1 - max(0, prefix - width + 1)) * width * emb * filters
    f_tot = discriminator.highway_h.in_features
    flops += 2 * (2 * f_tot * discriminator.highway_h.out_features)  # transform and gate linears
    flops += 2 * f_tot * discriminator.out.out_features
    return flops


def matmul_gflops(n: int = MATMUL_N, repeats: int = 3) -> float:
    """Measured fp32 n x n @ n x n rate (median of `repeats` after a warm-up): the reference for D's fraction of peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.matmul(a, b, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def environment() -> dict[str, Any]:
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "processor": platform.processor() or "unknown",
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "command": shlex.join(["python", *sys.argv]),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="rollout_num 2, batch 16, 1 repeat: for checking the script runs")
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--seq-len", type=int, default=20)
    p.add_argument("--emb", type=int, default=32, help="generator embedding size")
    p.add_argument("--hidden", type=int, default=32, help="generator hidden size")
    p.add_argument("--batch", type=int, default=None, help="sequences per step (default 64; 16 with --quick)")
    p.add_argument("--rollout-num", type=int, default=None, help="rollouts per prefix (default 16; 2 with --quick)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per path after one warm-up; median reported (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--memory-budget-mb", type=float, default=1024.0,
                   help="the batched reward pass's memory budget (runtime.memory_budget_mb; default 1024)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    add_max_steal_option(p)
    args = p.parse_args(argv)
    args.max_steal = max_steal(args)
    args.batch = args.batch or (16 if args.quick else 64)
    args.rollout_num = args.rollout_num or (2 if args.quick else 16)
    args.repeats = (1 if args.quick else 3) if args.repeats is None else args.repeats
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    b, n = results["paths"]["batched"]["median"], results["paths"]["naive"]["median"]
    peak = results["matmul_gflops"]
    lines = [
        "## SeqGAN adversarial generator step: batched vs naive",
        "",
        *(f"- {k}: `{v}`" for k, v in env.items()),
        f"- sizes: vocab {args.vocab}, seq_len {args.seq_len}, G emb {args.emb} / hidden {args.hidden}, batch {args.batch}, "
        f"rollout_num {args.rollout_num}, D = Discriminator({args.vocab}, {args.seq_len}) defaults "
        f"({results['d_features']} features, {results['d_flops_per_sequence'] / 1e6:.2f} MFLOP/sequence)",
        f"- repeats {args.repeats} per path after 1 warm-up, paths interleaved; each row is the repeat with the median total",
        f"- fp32 matmul {MATMUL_N}x{MATMUL_N} @ {MATMUL_N}x{MATMUL_N}: {peak:.1f} GFLOP/s (median of 3)",
        steal_note(args.max_steal),
        "- steal during the timed steps (median / max over repeats): "
        + " · ".join(f"{k} {steal_pct(results['paths'][k]['steal'])}" for k in ("batched", "naive")),
        "",
        "| metric | batched | naive | naive / batched |",
        "|---|---:|---:|---:|",
        f"| sampling (s) | {fmt(b['sampling_s'])} | {fmt(n['sampling_s'])} (incl. prefix re-runs) "
        f"| {ratio(n['sampling_s'], b['sampling_s'])} |",
        f"| LSTM prefix states (s) | {fmt(b['states_s'])} | included in sampling | — |",
        f"| discriminator (s) | {fmt(b['discriminator_s'])} | {fmt(n['discriminator_s'])} "
        f"| {ratio(n['discriminator_s'], b['discriminator_s'])} |",
        f"| update (s) | {fmt(b['update_s'])} | {fmt(n['update_s'])} | {ratio(n['update_s'], b['update_s'])} |",
        f"| **total (s)** | **{fmt(b['total_s'])}** | **{fmt(n['total_s'])}** | **{ratio(n['total_s'], b['total_s'])}** |",
        f"| reward_fn calls | {b['reward_calls']} | {n['reward_calls']} | — |",
        f"| D forwards (sequences scored) | {b['sequences_scored']} | {n['sequences_scored']} | — |",
    ]
    d = {k: results["paths"][k] for k in ("batched", "naive")}
    lines += [
        f"| D work (GFLOP) | {fmt(d['batched']['d_gflop'], 1)} | {fmt(d['naive']['d_gflop'], 1)} | — |",
        f"| D achieved (GFLOP/s) | {fmt(d['batched']['d_gflops'], 1)} | {fmt(d['naive']['d_gflops'], 1)} | — |",
        f"| D % of matmul rate | {fmt(d['batched']['d_fraction_of_peak'] * 100, 1)} "
        f"| {fmt(d['naive']['d_fraction_of_peak'] * 100, 1)} | — |",
        f"| mean Q (sanity) | {fmt(b['mean_q'], 4)} | {fmt(n['mean_q'], 4)} | — |",
        f"| reward pass peak tensor memory (MiB) | {fmt(results['paths']['batched']['reward_peak_mib'], 1)} "
        "| not measured | — |",
        "",
        "How the splits are measured: discriminator = wall time inside the reward_fn calls (a timer wraps the callable); "
        "LSTM prefix states (batched) = wall time of the single `policy.states(Y)` call, timed by a wrapper set on the "
        "benchmark's rollout-policy instance; naive has no separate prefix pass (it re-runs each prefix step by step), so "
        "that cost is included in its sampling; sampling = reward-pass wall time minus the above; update = pg_loss + "
        f"backward + grad-norm clip {GRAD_CLIP} + Adam step. D GFLOP counts conv + highway + output layers only, the "
        f"whole forward per sequence scored: the batched path skips the convolution windows inside each prefix "
        f"({results['d_flops_per_sequence'] / results['d_flops_per_rollout_shared']:.2f}x fewer FLOPs per rollout, "
        f"{results['d_flops_per_rollout_shared'] / 1e6:.2f} MFLOP), so its GFLOP/s and % are effective rates against "
        "plain scoring. "
        f"Peak tensor memory: one extra, untimed batched reward pass under `seqgan.memory.PeakMemory` (the most "
        f"bytes allocated at once above the start, D's scoring included; batched budget {args.memory_budget_mb:g} MB).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float32)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()

    wait_for_quiet(args.max_steal)
    peak = matmul_gflops()
    generator0 = Generator(args.vocab, emb_dim=args.emb, hidden_dim=args.hidden, seq_len=args.seq_len)
    discriminator = Discriminator(args.vocab, seq_len=args.seq_len)
    Y = generator0.sample(args.batch)  # shared by both paths; not part of the timed step
    paths = [make_path(name, generator0, discriminator, Y, args.rollout_num, args.memory_budget_mb)
             for name in ("batched", "naive")]

    for path in paths:  # warm-up: allocator, oneDNN primitive caches, lazy init
        run_step(path, Y)
    steps: dict[str, list[StepTiming]] = {path.name: [] for path in paths}
    steals: dict[str, list[float | None]] = {path.name: [] for path in paths}
    for i in range(args.repeats):
        # Interleave and alternate the order so drifting background load hits both paths alike.
        for path in paths if i % 2 == 0 else paths[::-1]:
            wait_for_quiet(args.max_steal)
            with StealMeter() as steal:
                steps[path.name].append(run_step(path, Y))
            steals[path.name].append(steal.fraction)

    # One more, untimed batched pass: the profiler that counts allocations slows it down (and the naive
    # path's ~10^5 small ops by minutes, so its memory is not measured).
    peak_mib: dict[str, float | None] = {"naive": None}
    with PeakMemory(Y.device) as peak_memory:
        paths[0].rewards()
    peak_mib["batched"] = peak_memory.bytes / 2**20
    flops_per_seq = discriminator_flops_per_sequence(discriminator, args.seq_len)
    results: dict[str, Any] = {
        "env": env,
        "config": run_config(args),
        "matmul_gflops": peak,
        "d_features": discriminator.highway_h.in_features,
        "d_flops_per_sequence": flops_per_seq,
        # the same averaged over the rollouts' prefix lengths 1..T-1, as prob_real_of_rollouts computes them
        "d_flops_per_rollout_shared": statistics.mean(
            discriminator_flops_per_sequence(discriminator, args.seq_len, t) for t in range(1, args.seq_len)),
        "paths": {},
    }
    for name, runs in steps.items():
        med = median_step(runs)
        d_flop = flops_per_seq * med.sequences_scored
        d_gflops = d_flop / med.discriminator_s / 1e9
        results["paths"][name] = {
            "median": asdict(med),
            "repeats": [asdict(s) for s in runs],
            "d_gflop": d_flop / 1e9,
            "d_gflops": d_gflops,
            "d_fraction_of_peak": d_gflops / peak,
            "reward_peak_mib": peak_mib[name],
            "steal_runs": steals[name],
            "steal": steal_summary(steals[name]),
        }
    results["speedup_total"] = results["paths"]["naive"]["median"]["total_s"] / results["paths"]["batched"]["median"]["total_s"]

    return emit(markdown(env, args, results), results, args.json)


def fmt_s(x: float) -> str:
    """Seconds with 3 decimals below 100 s."""
    return f"{x:.3f}" if x < 100 else f"{x:.1f}"


def header(title: str, env: dict[str, Any]) -> list[str]:
    """The first lines of a results section: its title and the machine it ran on."""
    return [f"## {title}", "", *(f"- {k}: `{v}`" for k, v in env.items())]


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line options as JSON-ready values."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def emit(table: str, results: dict[str, Any], json_path: Path | None) -> dict[str, Any]:
    """Print the Markdown table; with --json also write the raw numbers."""
    print(table)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
