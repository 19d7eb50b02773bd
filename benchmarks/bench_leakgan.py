"""Time LeakGAN's adversarial generator step at the paper's sizes: batched block rewards against the official loop.

Rows (each a pair of paths timed interleaved in one process, A/B/B/A…, on the same inputs):

1. block rewards: `block_rewards(g, Y, reward, rollout_num, uniforms)` — every block end and rollout steps
   together, the leaked features of still-given prefixes looked up from one teacher-forced pass — against
   `naive_block_rewards` (the official code's loop: per rollout, per block end, a pass over the batch that
   recomputes D's features at every step). Same uniforms (rollout_num, K−1, B, T), so the script asserts
   that both give the same Q: the benchmark doubles as a check.
2. the whole g-step: sample Y, block rewards, rescaled ranks (δ 16), `adversarial_loss` (extrinsic and
   intrinsic weights 1), backward, grad-norm clip 5, Adam(fused, lr 0.01) step — with either reward path.
   Both paths start from copies of the same generator and draw the same uniforms in each round.
3. worker logits at B·T rows, forward + backward: `worker_logits` (one GEMM of w ⊗ h against W as (V, k·H))
   against `reference_worker_logits` (builds O_t, N × V × k floats).
4. plain timings: one MLE pretraining batch (`pretrain_loss`, forward + backward) and sampling 10,000 sequences.

The generator's leak (D's feature function) and the reward are wrapped in timers from the outside
(`g.attach(TimedCall(leak_from(d)))`, `TimedCall(DiscriminatorReward(d))`), so each path's time splits into D's
feature passes, D's scoring and the rest (the generator's steps). Every timed run also records the 1-minute
load average at its start and end and its CPU time / wall time (with --threads 1: the share of a core it got).

    .venv/bin/python benchmarks/bench_leakgan.py --threads 1   # paper sizes: 9.5 min on the loaded 2-core machine
    .venv/bin/python benchmarks/bench_leakgan.py --quick       # a few seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.discriminator import Discriminator
from seqgan.leakgan_generator import LeakGANGenerator, leak_from, reference_worker_logits, worker_logits
from seqgan.methods.leakgan import adversarial_loss, block_rewards, naive_block_rewards, pretrain_loss, rollout_prefixes
from seqgan.rewards import DiscriminatorReward, rescale
from seqgan.steps import adam

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import TimedCall, emit, environment, fmt_s, header, matmul_gflops, run_config  # noqa: E402
from timing import add_max_steal_option, max_steal, steal_note, steal_pct, steal_summary, time_interleaved, wait_for_quiet  # noqa: E402

GRAD_CLIP = 5.0      # generator.grad_clip
PG_LR = 0.01         # generator.pg_lr
RESCALE_DELTA = 16.0  # train.rescale_delta
PAPER_FILTERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
PAPER_NUM_FILTERS = [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
QUICK_FILTERS, QUICK_NUM_FILTERS = [2, 3], [4, 5]
PATHS = ("batched", "naive")


# ---- models and measured runs -------------------------------------------------------------------------------

class Models:
    """D, and per path its own generator copy with timers around the leak and the reward."""

    def __init__(self, args: argparse.Namespace):
        filters, num = (QUICK_FILTERS, QUICK_NUM_FILTERS) if args.quick else (PAPER_FILTERS, PAPER_NUM_FILTERS)
        self.d = Discriminator(args.vocab, seq_len=args.seq_len, emb_dim=args.d_emb, filter_sizes=filters, num_filters=num)
        self.feature_dim = sum(num)
        g0 = LeakGANGenerator(args.vocab, emb_dim=args.emb, hidden_dim=args.hidden, seq_len=args.seq_len,
                              feature_dim=self.feature_dim, goal_dim=args.goal_dim, step_size=args.step_size)
        self.g: dict[str, LeakGANGenerator] = {}
        self.leak: dict[str, TimedCall] = {}
        self.reward: dict[str, TimedCall] = {}
        for path in PATHS:
            g = copy.deepcopy(g0)
            self.leak[path] = TimedCall(leak_from(self.d))
            g.attach(self.leak[path])
            self.g[path] = g
            self.reward[path] = TimedCall(DiscriminatorReward(self.d))

    def reset(self, path: str) -> None:
        self.leak[path].reset()
        self.reward[path].reset()

    def split(self, path: str) -> dict[str, float]:
        leak, reward = self.leak[path], self.reward[path]
        return {"leak_s": leak.seconds, "leak_calls": leak.calls, "leak_rows": leak.rows,
                "reward_s": reward.seconds, "reward_calls": reward.calls, "reward_rows": reward.rows}


def measured(fn: Callable[[], Any], before: Callable[[], None] = lambda: None,
             after: Callable[[], dict[str, Any]] = dict) -> Callable[[], dict[str, Any]]:
    """A run that also records the load average at its start and end and its CPU time per wall second."""

    def run() -> dict[str, Any]:
        before()
        load0, cpu0, t0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return {"out": out, "load1_start": load0, "load1_end": os.getloadavg()[0], "cpu_per_wall": cpu / wall, **after()}
    return run


def summarise(runs: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    """Per path: median seconds, every repeat, steal, load and CPU share; plus naive / batched ratios."""
    out: dict[str, Any] = {}
    for path, r in runs.items():
        extra = [{k: v for k, v in res.items() if k != "out"} for res in r["result"]]
        med_i = sorted(range(len(r["seconds"])), key=r["seconds"].__getitem__)[(len(r["seconds"]) - 1) // 2]
        out[path] = {"median_s": statistics.median(r["seconds"]), "repeats_s": r["seconds"], "runs": extra,
                     "median_run": extra[med_i], "steal_runs": r["steal"], "steal": steal_summary(r["steal"])}
    if len(runs) == 2:
        a, b = (out[p]["repeats_s"] for p in runs)
        names = list(runs)
        out["ratio"] = out[names[1]]["median_s"] / out[names[0]]["median_s"]
        out["ratio_per_round"] = [y / x for x, y in zip(a, b)]
    return out


def loads(summary: dict[str, Any]) -> list[float]:
    return [x for p in summary if isinstance(summary[p], dict) and "runs" in summary[p]
            for run in summary[p]["runs"] for x in (run["load1_start"], run["load1_end"])]


def cpu_shares(summary: dict[str, Any]) -> list[float]:
    return [run["cpu_per_wall"] for p in summary if isinstance(summary[p], dict) and "runs" in summary[p]
            for run in summary[p]["runs"]]


# ---- 1. block rewards ----------------------------------------------------------------------------------------

def bench_block_rewards(args: argparse.Namespace, m: Models, Y: torch.Tensor, rollout_num: int) -> dict[str, Any]:
    B, T = Y.shape
    J = len(rollout_prefixes(T, args.step_size))
    uniforms = torch.rand(rollout_num, J, B, T, generator=torch.Generator().manual_seed(1))
    fns = {"batched": block_rewards, "naive": naive_block_rewards}

    def prepare(path: str, warmup: bool) -> Callable[[], dict[str, Any]]:
        n = 1 if warmup else rollout_num  # warm-up: one rollout per block end (the naive path's shapes exactly)
        return measured(lambda: fns[path](m.g[path], Y, m.reward[path], n, uniforms[:n]),
                        before=lambda: m.reset(path), after=lambda: m.split(path))

    runs = time_interleaved(PATHS, prepare, args.repeats, args.max_steal)
    q = {path: runs[path]["result"][-1]["out"] for path in PATHS}
    diff = (q["batched"] - q["naive"]).abs().max().item()
    # The same draws give the same rollouts, so the same rewards (float32 sums over different batch shapes aside).
    assert torch.allclose(q["batched"], q["naive"], rtol=1e-4, atol=1e-5), f"block rewards differ: max |Δq| {diff:.3g}"
    return {"rollout_num": rollout_num, "rows_batched": rollout_num * J * B, "max_abs_diff_q": diff,
            "mean_q": q["batched"].mean().item(), **summarise(runs)}


# ---- 2. the whole g-step -------------------------------------------------------------------------------------

def bench_g_step(args: argparse.Namespace, m: Models, rollout_num: int) -> dict[str, Any]:
    B, T = args.batch, args.seq_len
    J = len(rollout_prefixes(T, args.step_size))
    opts = {path: adam(m.g[path].parameters(), PG_LR) for path in PATHS}
    rounds = dict.fromkeys(PATHS, 0)
    fns = {"batched": block_rewards, "naive": naive_block_rewards}

    def step(path: str, n: int, seed: int) -> dict[str, float]:
        g, opt = m.g[path], opts[path]
        draws = torch.Generator().manual_seed(seed)  # the same draws for both paths in each round
        u_sample, u_roll = torch.rand(B, T, generator=draws), torch.rand(n, J, B, T, generator=draws)
        t0 = time.perf_counter()
        Y = g.sample(B, uniforms_NxT=u_sample)
        t1 = time.perf_counter()
        q_BxK = fns[path](g, Y, m.reward[path], n, u_roll)
        t2 = time.perf_counter()
        r_BxK = rescale(q_BxK, RESCALE_DELTA).to(torch.float32)
        loss, worker, manager, _ = adversarial_loss(g, Y, r_BxK, 1.0, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g.parameters(), GRAD_CLIP)
        opt.step()
        t3 = time.perf_counter()
        return {"sample_s": t1 - t0, "rewards_s": t2 - t1, "update_s": t3 - t2, "loss": loss.item(),
                "mean_q": q_BxK.mean().item(), "q": q_BxK}

    def prepare(path: str, warmup: bool) -> Callable[[], dict[str, Any]]:
        seed = 100 + rounds[path]
        rounds[path] += 1
        return measured(lambda: step(path, 1 if warmup else rollout_num, seed),
                        before=lambda: m.reset(path), after=lambda: m.split(path))

    runs = time_interleaved(PATHS, prepare, args.repeats, args.max_steal)
    for path in PATHS:  # the per-step split and checks, out of "out" (summarise drops it)
        for res in runs[path]["result"]:
            res.update({k: v for k, v in res["out"].items() if k != "q"})
    q_diff = max((a["out"]["q"] - b["out"]["q"]).abs().max().item()
                 for a, b in zip(runs["batched"]["result"], runs["naive"]["result"]))
    w_diff = max((a - b).abs().max().item() for a, b in zip(m.g["batched"].parameters(), m.g["naive"].parameters()))
    return {"rollout_num": rollout_num, "max_abs_diff_q": q_diff, "max_abs_diff_weights_after": w_diff,
            "losses": {p: [r["loss"] for r in runs[p]["result"]] for p in PATHS}, **summarise(runs)}


# ---- 3. worker logits ----------------------------------------------------------------------------------------

def bench_worker_logits(args: argparse.Namespace, g: LeakGANGenerator) -> dict[str, Any]:
    N, H, K = args.batch * args.seq_len, args.hidden, args.goal_dim
    draws = torch.Generator().manual_seed(2)
    h = torch.randn(N, H, generator=draws).requires_grad_()
    w = torch.nn.functional.normalize(torch.randn(N, K, generator=draws), dim=-1).requires_grad_()
    weight = g.worker_out.weight.detach().clone().requires_grad_()
    bias = g.worker_out.bias.detach().clone().requires_grad_()
    grad_out = torch.randn(N, args.vocab, generator=draws)
    fns = {"fused": worker_logits, "reference": reference_worker_logits}

    def fwd_bwd(path: str) -> torch.Tensor:
        for p in (h, w, weight, bias):
            p.grad = None
        out = fns[path](h, w, weight, bias)
        out.backward(grad_out)
        return out.detach()

    a, b = fwd_bwd("fused"), fwd_bwd("reference")
    diff = (a - b).abs().max().item()
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4), f"worker logits differ: max |Δ| {diff:.3g}"
    runs = time_interleaved(("fused", "reference"), lambda path, warmup: measured(lambda: fwd_bwd(path)),
                            args.repeats, args.max_steal)
    for path in runs:
        for res in runs[path]["result"]:
            res["out"] = None
    gflop = 3 * 2 * N * args.vocab * K * H / 1e9  # forward GEMM + two backward GEMMs, N × V × k·H each
    return {"rows": N, "gflop": gflop, "max_abs_diff": diff, "o_t_mib": N * args.vocab * K * 4 / 2**20, **summarise(runs)}


# ---- 4. plain timings ----------------------------------------------------------------------------------------

def bench_plain(args: argparse.Namespace, m: Models) -> dict[str, Any]:
    g = m.g["batched"]
    tokens = torch.randint(1, args.vocab, (args.batch, args.seq_len), generator=torch.Generator().manual_seed(3))

    def mle_batch() -> float:
        g.zero_grad(set_to_none=True)
        loss, _, _ = pretrain_loss(g, tokens)
        loss.backward()
        return loss.item()

    def prepare_mle(path: str, warmup: bool) -> Callable[[], dict[str, Any]]:
        return measured(mle_batch, before=lambda: m.reset("batched"), after=lambda: m.split("batched"))

    mle = summarise(time_interleaved(("mle",), prepare_mle, args.repeats, args.max_steal))
    out: dict[str, Any] = {"mle_batch": mle}
    if args.sample_num:
        def prepare_sample(path: str, warmup: bool) -> Callable[[], dict[str, Any]]:
            n = min(args.batch, args.sample_num) if warmup else args.sample_num
            return measured(lambda: g.sample(n).shape[0], before=lambda: m.reset("batched"), after=lambda: m.split("batched"))

        out["sample"] = {"sequences": args.sample_num,
                         **summarise(time_interleaved(("sample",), prepare_sample, 1, args.max_steal))}
    return out


# ---- output --------------------------------------------------------------------------------------------------

def rng(xs: list[float], digits: int = 2) -> str:
    return f"{min(xs):.{digits}f}–{max(xs):.{digits}f}" if xs else "—"


def pair_row(label: str, r: dict[str, Any], a: str = "batched", b: str = "naive") -> str:
    return (f"| {label} | {fmt_s(r[a]['median_s'])} | {fmt_s(r[b]['median_s'])} | **{r['ratio']:.2f}x** "
            f"| {rng(r['ratio_per_round'])}x | {rng(loads(r))} | {rng(cpu_shares(r))} "
            f"| {steal_pct(r[a]['steal'])} · {steal_pct(r[b]['steal'])} |")


def split_cells(run: dict[str, Any], seconds: float) -> str:
    rest = seconds - run["leak_s"] - run["reward_s"]
    return (f"{fmt_s(run['leak_s'])} ({run['leak_calls']:,} calls, {run['leak_rows']:,} rows) | "
            f"{fmt_s(run['reward_s'])} ({run['reward_rows']:,} rows) | {fmt_s(rest)}")


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    lines = [
        *header("LeakGAN adversarial generator step: batched vs the official loop", env),
        f"- sizes: vocab {args.vocab}, seq_len {args.seq_len}, G emb {args.emb} / hidden {args.hidden}, goal_dim "
        f"{args.goal_dim}, step_size {args.step_size} ({results['blocks']} blocks), D emb {args.d_emb} with "
        f"{results['feature_dim']} features, batch {args.batch}",
        f"- {args.repeats} timed repeat(s) per path after 1 warm-up (rewards and g-step warm up with rollout_num 1), "
        "paths interleaved in alternating order; medians; ratio = naive median / batched median (per-round ratios beside it)",
        f"- fp32 matmul {results['matmul_n']}³: {results['matmul_gflops']:.1f} GFLOP/s (median of 3, this run)",
        steal_note(args.max_steal),
        f"- 1-minute load average at the start and end of every timed run: {rng(results['load_all'])} "
        f"(on {os.cpu_count()} CPUs); CPU time / wall time of the timed runs: {rng(results['cpu_share_all'])}",
        "",
        "| work | batched (s) | naive (s) | naive / batched | per round | load (1 min) | CPU / wall | steal b · n |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["block_rewards"]:
        lines.append(pair_row(f"block rewards, rollout_num {r['rollout_num']}", r))
    for r in results["g_step"]:
        lines.append(pair_row(f"whole g-step, rollout_num {r['rollout_num']}", r))
    wl = results["worker_logits"]
    lines.append(pair_row(f"worker logits fwd+bwd, {wl['rows']:,} rows (fused vs O_t)", wl, "fused", "reference"))
    lines += ["", "Where the time goes (the median run of each path; D features = the leak to the manager, D scoring = "
              "the reward; rest = generator steps, sampling, bookkeeping):", "",
              "| run | path | total (s) | D features (s) | D scoring (s) | rest (s) |", "|---|---|---:|---:|---:|---:|"]
    for key, label in (("block_rewards", "block rewards"), ("g_step", "g-step")):
        for r in results[key]:
            for path in PATHS:
                run, sec = r[path]["median_run"], r[path]["median_s"]
                lines.append(f"| {label}, rollout_num {r['rollout_num']} | {path} | {fmt_s(sec)} | {split_cells(run, sec)} |")
    for r in results["g_step"]:
        for path in PATHS:
            run = r[path]["median_run"]
            lines.append(f"| g-step parts, rollout_num {r['rollout_num']} | {path} | sample {fmt_s(run['sample_s'])} · "
                         f"rewards {fmt_s(run['rewards_s'])} · loss+update {fmt_s(run['update_s'])} | | | |")
    plain = results["plain"]
    lines += ["", "| plain timing | median (s) | D features (s) | D scoring (s) | rest (s) | load (1 min) |",
              "|---|---:|---:|---:|---:|---:|"]
    for key, label in (("mle_batch", f"MLE pretraining batch of {args.batch} (pretrain_loss fwd+bwd)"),
                       ("sample", f"sampling {args.sample_num:,} sequences (1 run)")):
        if key in plain:
            r = plain[key]
            name = next(iter(k for k in r if isinstance(r[k], dict) and "median_s" in r[k]))
            sec = r[name]["median_s"]
            lines.append(f"| {label} | {fmt_s(sec)} | {split_cells(r[name]['median_run'], sec)} | {rng(loads(r))} |")
    lines += ["", "Checks: block rewards batched vs naive, max |Δq| "
              + ", ".join(f"{r['max_abs_diff_q']:.2g} (rollout_num {r['rollout_num']})" for r in results["block_rewards"])
              + "; g-step: max |Δq| "
              + ", ".join(f"{r['max_abs_diff_q']:.2g}, weights after all steps max |Δ| {r['max_abs_diff_weights_after']:.2g}"
                          for r in results["g_step"])
              + f"; worker logits max |Δ| {wl['max_abs_diff']:.2g} (the reference builds O_t: {wl['o_t_mib']:.0f} MiB; "
              f"{wl['gflop']:.3g} GFLOP either way)."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="vocab 200, seq_len 8, a 2-width D, batch 8, rollout_num 2, 64 samples, 1 repeat: checks the script runs")
    p.add_argument("--vocab", type=int, default=None, help="default 5000; 200 with --quick")
    p.add_argument("--seq-len", type=int, default=None, help="default 20; 8 with --quick")
    p.add_argument("--emb", type=int, default=32, help="generator embedding size")
    p.add_argument("--hidden", type=int, default=32, help="generator hidden size")
    p.add_argument("--goal-dim", type=int, default=16)
    p.add_argument("--step-size", type=int, default=4)
    p.add_argument("--d-emb", type=int, default=None, help="D's embedding size (default 64; 8 with --quick)")
    p.add_argument("--batch", type=int, default=None, help="sequences per step (default 64; 8 with --quick)")
    p.add_argument("--rollout-nums", type=str, default=None,
                   help="comma-separated rollout_num values for the block-rewards rows; the first also for the g-step "
                        "(default '16,4': SeqGAN's 16 and the official LeakGAN code's 4; '2' with --quick)")
    p.add_argument("--sample-num", type=int, default=None, help="sequences sampled in the plain timing (default 10,000; "
                                                                "64 with --quick; 0: skip)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per path after one warm-up; median reported (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    add_max_steal_option(p)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    q = args.quick
    args.vocab = args.vocab or (200 if q else 5000)
    args.seq_len = args.seq_len or (8 if q else 20)
    args.d_emb = args.d_emb or (8 if q else 64)
    args.batch = args.batch or (8 if q else 64)
    args.rollout_nums = [int(x) for x in (args.rollout_nums or ("2" if q else "16,4")).split(",") if x.strip()]
    args.sample_num = (64 if q else 10_000) if args.sample_num is None else args.sample_num
    args.repeats = (1 if q else 3) if args.repeats is None else args.repeats
    args.max_steal = max_steal(args)
    if args.repeats < 1 or not args.rollout_nums or min(args.rollout_nums) < 1:
        p.error("--repeats and every --rollout-nums value must be >= 1")
    if args.seq_len <= args.step_size:
        p.error("--seq-len must exceed --step-size (else there are no block ends to roll out from)")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    matmul_n = 512 if args.quick else 2048
    wait_for_quiet(args.max_steal)
    peak = matmul_gflops(matmul_n)

    m = Models(args)
    with torch.no_grad():
        Y = m.g["batched"].sample(args.batch, uniforms_NxT=torch.rand(args.batch, args.seq_len,
                                                                      generator=torch.Generator().manual_seed(0)))
    results: dict[str, Any] = {"env": env, "config": run_config(args), "matmul_n": matmul_n, "matmul_gflops": peak,
                               "feature_dim": m.feature_dim, "blocks": m.g["batched"].num_blocks(),
                               "load1_at_start": os.getloadavg()[0]}
    # Rows 3, 1, 4 before the g-step: the g-step updates the generators; the others use the starting weights.
    results["worker_logits"] = bench_worker_logits(args, m.g["batched"])
    results["block_rewards"] = [bench_block_rewards(args, m, Y, n) for n in args.rollout_nums]
    results["plain"] = bench_plain(args, m)
    results["g_step"] = [bench_g_step(args, m, args.rollout_nums[0])]
    every = [results["worker_logits"], *results["block_rewards"], *results["g_step"], *results["plain"].values()]
    results["load_all"] = [x for r in every for x in loads(r)]
    results["cpu_share_all"] = [x for r in every for x in cpu_shares(r)]
    return emit(markdown(env, args, results), results, args.json)


if __name__ == "__main__":
    main()
