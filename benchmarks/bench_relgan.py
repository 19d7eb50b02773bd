"""Time RelGAN's adversarial step at the paper's sizes: the critic, one G step, one critic step, one iteration.

Rows (every row's paths timed interleaved in one process, A/B/B/A…, by `timing.time_interleaved`):

1. the critic's forward + backward on a batch of relaxed samples of G_θ (the gradient reaches the critic's weights
   and the input, as the critic step and the G step need them): the fast path `critic(x)` (all representations at
   once as one Conv2d) against `reference_critic_logits(critic, x)` (one representation at a time). Both run in
   train mode with the same dropout mask, so the script asserts that they give the same float32 logits, and the
   same gradients in float64 (float32 gradients jump where rounding flips a ReLU or a max): the benchmark doubles
   as a check.
2. one G step, `RelGAN.g_step(1)`: Gumbel rollout of a batch, the critic on real and relaxed fake, RSGAN loss,
   backward, grad-norm clip 5, Adam.
3. one critic step, `RelGAN.critic_step(1.0)`: a no-grad rollout, the critic on real and fake, loss, backward,
   clip, Adam.
4. one adversarial iteration as the official code runs it, `RelGAN.round()` with relgan.iterations = 1:
   train.g_steps (1) G steps, then relgan.critic_steps (5) critic steps; interleaved with the same at the small
   preset's sizes. Multiplied out: the official 5000 iterations (paper preset: 200 rounds × 25) and the small
   preset's 200 (40 × 5) — adversarial phase only, no pretraining and no evaluation.
5. a floor: the critic's largest matrix products alone, at the shapes of one forward + backward on a batch —
   the highway's (B·R)×F by F×F products (transform and gate; forward, input gradient, weight gradient) and the
   (relaxed) one-hot × embedding product (B·T)×V by V×E (forward, weight gradient, input gradient) — in float32
   against bfloat16 (this machine's CPU has AMX). From its parts the script derives each step's GEMM floor.

Then (unless --no-profile) one critic step and one G step run once more under torch.profiler, untimed otherwise:
the operations that take their time.

Every timed run records the 1-minute load average at its start and end, its CPU time / wall time and its
hypervisor steal. By default no timed run waits for a quiet machine (--max-steal 1): the figures are the load's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_relgan.py --threads 1   # paper sizes, ~5–10 min
    .venv/bin/python benchmarks/bench_relgan.py --quick                         # tiny preset: a few seconds

A full run writes benchmarks/results/relgan.json and relgan-<UTC time>.json (not with --quick or --no-save).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.config import preset
from seqgan.methods.relgan import RelGANCritic, gumbel_rollout, reference_critic_logits
from seqgan.train import SeqGANTrainer

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, matmul_gflops, run_config  # noqa: E402
from bench_leakgan import cpu_shares, loads, measured, rng, summarise  # noqa: E402
from timing import steal_note, steal_pct, time_interleaved, wait_for_quiet  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CRITIC_PATHS = ("conv2d", "reference")
STEP_PATHS = ("g_step", "critic_step")
ITERATION_PATHS = ("paper", "small")
FLOOR_PATHS = ("bf16", "fp32")
CHECK_ROWS = 16  # sequences of row 1's float64 gradient check
FLOOR_PARTS = ("highway_fwd", "highway_dx", "highway_dw", "emb_fwd", "emb_dw", "emb_dx")


# ---- the trainers ------------------------------------------------------------------------------------------

def trainer(name: str) -> tuple[SeqGANTrainer, dict[str, int]]:
    """A RelGAN trainer of preset `name` whose round() is one iteration; and the preset's own schedule."""
    full = preset(name).override(["train.method='relgan'", "runtime.device='cpu'"])
    schedule = {"rounds": full.train.adversarial_rounds, "iterations_per_round": full.method.iterations,
                "g_steps": full.train.g_steps, "critic_steps": full.method.critic_steps}
    schedule["iterations"] = schedule["rounds"] * schedule["iterations_per_round"]
    cfg = preset(name).override(["train.method='relgan'", "runtime.device='cpu'", "relgan.iterations=1"])
    return SeqGANTrainer(cfg), schedule


def sizes(tr: SeqGANTrainer) -> dict[str, Any]:
    s, g, c = tr.cfg.method, tr.generator, tr.method.critic
    return {"vocab": tr.vocab_size, "seq_len": g.seq_len, "g_batch": tr.cfg.generator.batch_size,
            "d_batch": tr.cfg.discriminator.batch_size, "mem_slots": s.mem_slots, "num_heads": s.num_heads,
            "head_size": s.head_size, "g_emb": s.emb_dim, "num_rep": c.num_rep, "d_emb_dim": s.d_emb_dim,
            "filter_sizes": list(s.filter_sizes), "num_filters": list(s.num_filters),
            "features": c.highway_h.in_features, "g_params": sum(p.numel() for p in g.parameters()),
            "critic_params": sum(p.numel() for p in c.parameters())}


def describe(z: dict[str, Any]) -> str:
    return (f"vocab {z['vocab']}, T {z['seq_len']}, batch {z['g_batch']} (G) / {z['d_batch']} (critic); relational "
            f"memory {z['mem_slots']} slot × {z['num_heads']} heads × {z['head_size']}, emb {z['g_emb']} "
            f"({z['g_params'] / 1e6:.3g} M parameters); critic {z['num_rep']} representations of width "
            f"{z['d_emb_dim'] // z['num_rep']}, widths {z['filter_sizes']} × {z['num_filters'][0]} filters "
            f"({z['features']} features, {z['critic_params'] / 1e6:.2f} M parameters)")


def drop_outs(runs: dict[str, dict[str, list[Any]]]) -> None:
    """Forget what the timed runs returned (tensors), keeping their load records."""
    for r in runs.values():
        for res in r["result"]:
            res["out"] = None


# ---- 1. the critic, fast path against the reference ---------------------------------------------------------

def critic_fwd_bwd(critic: RelGANCritic, path: str, x: torch.Tensor, grad_out: torch.Tensor, seed: int) -> torch.Tensor:
    """Forward (train mode, dropout mask drawn from `seed`) and backward of one path; gradients land in .grad."""
    critic.zero_grad(set_to_none=True)
    x.grad = None
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        out = critic(x) if path == "conv2d" else reference_critic_logits(critic, x)
    out.backward(grad_out)
    return out.detach()


def compare_critic_paths(critic: RelGANCritic, x: torch.Tensor, grad_out: torch.Tensor, seed: int
                         ) -> tuple[float, dict[str, float], float]:
    """Max |Δ| of the two paths' logits, max |Δ| / max |g| of each gradient, and the largest |logit|."""
    res = {}
    for path in CRITIC_PATHS:
        out = critic_fwd_bwd(critic, path, x, grad_out, seed)
        res[path] = (out, {"input": x.grad.clone(), **{n: q.grad.clone() for n, q in critic.named_parameters()}})
    (a, ga), (b, gb) = res["conv2d"], res["reference"]
    grad_diff = {n: (ga[n] - gb[n]).abs().max().item() / (ga[n].abs().max().item() or 1.0) for n in ga}
    critic.zero_grad(set_to_none=True)
    return (a - b).abs().max().item(), grad_diff, a.abs().max().item()


def bench_critic(args: argparse.Namespace, tr: SeqGANTrainer) -> dict[str, Any]:
    critic: RelGANCritic = tr.method.critic
    B = tr.cfg.generator.batch_size
    with torch.no_grad():
        x0 = gumbel_rollout(tr.generator, B, 1.0).relaxed_NxTxV
    x = x0.clone().requires_grad_()
    grad_out = torch.randn(B, critic.num_rep, generator=torch.Generator().manual_seed(11))
    critic.train()  # as in both steps: dropout on, the same mask for both paths
    seed = args.seed + 12

    # The check. float32 logits agree to rounding. float32 gradients may not: where rounding flips a ReLU at 0 or
    # which window is the max over time, the gradient jumps (up to ~1% of its scale at the paper's sizes), so the
    # gradients are compared in float64 (a copy of the critic, the first CHECK_ROWS sequences), where they agree
    # to ~1e-15.
    diff, grad_diff32, scale = compare_critic_paths(critic, x, grad_out, seed)
    assert diff <= 1e-5 + 1e-4 * scale, f"critic logits differ: max |Δ| {diff:.3g} (largest |logit| {scale:.3g})"
    n = min(B, CHECK_ROWS)
    critic64 = copy.deepcopy(critic).double()
    diff64, grad_diff64, scale64 = compare_critic_paths(critic64, x0[:n].double().requires_grad_(),
                                                       grad_out[:n].double(), seed)
    del critic64
    worst = max(grad_diff64, key=grad_diff64.__getitem__)
    assert diff64 <= 1e-12 * max(scale64, 1.0), f"float64 critic logits differ: max |Δ| {diff64:.3g}"
    assert grad_diff64[worst] < 1e-10, f"float64 critic gradients differ: {worst} max |Δ| / max |g| {grad_diff64[worst]:.3g}"

    runs = time_interleaved(CRITIC_PATHS, lambda path, warmup: measured(lambda: critic_fwd_bwd(critic, path, x, grad_out, seed)),
                            args.repeats, args.max_steal)
    drop_outs(runs)
    critic.zero_grad(set_to_none=True)
    return {"batch": B, "max_abs_diff_logits": diff, "logit_scale": scale, "max_rel_diff_grad_fp32": grad_diff32,
            "check_rows_fp64": n, "max_abs_diff_logits_fp64": diff64, "max_rel_diff_grad_fp64": grad_diff64,
            **summarise(runs)}


# ---- 2, 3. one G step and one critic step --------------------------------------------------------------------

def bench_steps(args: argparse.Namespace, tr: SeqGANTrainer) -> dict[str, Any]:
    fns = {"g_step": lambda: tr.method.g_step(1), "critic_step": lambda: tr.method.critic_step(1.0)}
    runs = time_interleaved(STEP_PATHS, lambda path, warmup: measured(fns[path]), args.repeats, args.max_steal)
    out = summarise(runs)
    out.pop("ratio", None)
    out.pop("ratio_per_round", None)
    for path in STEP_PATHS:
        out[path]["metrics"] = [res["out"] for res in runs[path]["result"]]
    return out


# ---- 4. one whole iteration, paper and small sizes ----------------------------------------------------------

def bench_iteration(args: argparse.Namespace, trainers: dict[str, SeqGANTrainer]) -> dict[str, Any]:
    def prepare(path: str, warmup: bool) -> Callable[[], dict[str, Any]]:
        if warmup and path == "paper":  # its G and critic steps ran warm in rows 1–3, on this same trainer
            return lambda: {}
        return measured(trainers[path].method.round)

    runs = time_interleaved(ITERATION_PATHS, prepare, args.iteration_repeats, args.max_steal)
    out = summarise(runs)
    out.pop("ratio", None)
    out.pop("ratio_per_round", None)
    for path in ITERATION_PATHS:
        out[path]["metrics"] = [res["out"] for res in runs[path]["result"]]
    return out


# ---- 5. the GEMM floor --------------------------------------------------------------------------------------

def floor_shapes(critic: RelGANCritic, B: int, T: int) -> dict[str, int]:
    V, E = critic.embedding.shape
    return {"rows": B * critic.num_rep, "features": critic.highway_h.in_features, "tokens": B * T, "vocab": V, "emb": E}


def floor_gflop(s: dict[str, int]) -> dict[str, float]:
    """GFLOP of each part (2·m·n·k per product)."""
    highway = 2 * s["rows"] * s["features"] ** 2 / 1e9  # one (B·R)×F by F×F product
    emb = 2 * s["tokens"] * s["vocab"] * s["emb"] / 1e9
    return {"highway_fwd": 2 * highway, "highway_dx": 2 * highway, "highway_dw": 2 * highway,
            "emb_fwd": emb, "emb_dw": emb, "emb_dx": emb}


def step_floors(parts: dict[str, float]) -> dict[str, float]:
    """GEMM seconds of each step from the timed parts (the critic's products only; its convolutions and G's own
    products not counted). Critic step: real and fake batches, forward, weight and feature gradients (no input
    gradient). G step (critic frozen): forward on the real batch; forward, feature and input gradients on the fake."""
    critic = 2 * (parts["highway_fwd"] + parts["highway_dx"] + parts["highway_dw"] + parts["emb_fwd"] + parts["emb_dw"])
    g = 2 * (parts["highway_fwd"] + parts["emb_fwd"]) + parts["highway_dx"] + parts["emb_dx"]
    return {"critic_fwd_bwd": sum(parts.values()), "critic_step": critic, "g_step": g, "iteration": g + 5 * critic}


def bench_floor(args: argparse.Namespace, tr: SeqGANTrainer) -> dict[str, Any]:
    critic: RelGANCritic = tr.method.critic
    s = floor_shapes(critic, tr.cfg.generator.batch_size, tr.generator.seq_len)
    N, F, BT, V, E = s["rows"], s["features"], s["tokens"], s["vocab"], s["emb"]
    draws = torch.Generator().manual_seed(13)
    base = {"f": torch.relu(torch.randn(N, F, generator=draws)), "dy": torch.randn(N, F, generator=draws),
            "wh": critic.highway_h.weight.detach(), "wt": critic.highway_t.weight.detach(),
            "x": torch.softmax(torch.randn(BT, V, generator=draws), dim=-1), "emb": critic.embedding.detach(),
            "de": torch.randn(BT, E, generator=draws)}
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    data = {p: {k: v.to(dtypes[p]).contiguous() for k, v in base.items()} for p in FLOOR_PATHS}
    outs = {p: {"nf": torch.empty(N, F, dtype=dtypes[p]), "ff": torch.empty(F, F, dtype=dtypes[p]),
                "te": torch.empty(BT, E, dtype=dtypes[p]), "ve": torch.empty(V, E, dtype=dtypes[p]),
                "tv": torch.empty(BT, V, dtype=dtypes[p])} for p in FLOOR_PATHS}
    parts: dict[str, float] = {}

    def gemms(path: str) -> None:
        d, o = data[path], outs[path]
        t0 = time.perf_counter()
        for w in (d["wh"], d["wt"]):  # forward: f W^T
            torch.matmul(d["f"], w.T, out=o["nf"])
        t1 = time.perf_counter()
        for w in (d["wh"], d["wt"]):  # gradient of the features: dy W
            torch.matmul(d["dy"], w, out=o["nf"])
        t2 = time.perf_counter()
        for _ in range(2):  # gradient of each weight: dy^T f
            torch.matmul(d["dy"].T, d["f"], out=o["ff"])
        t3 = time.perf_counter()
        torch.matmul(d["x"], d["emb"], out=o["te"])  # embed the (relaxed) one-hots
        t4 = time.perf_counter()
        torch.matmul(d["x"].T, d["de"], out=o["ve"])  # the embedding's gradient
        t5 = time.perf_counter()
        torch.matmul(d["de"], d["emb"].T, out=o["tv"])  # the input's gradient (the G step's path to θ)
        t6 = time.perf_counter()
        parts.clear()
        parts.update(zip(FLOOR_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)))

    runs = time_interleaved(FLOOR_PATHS, lambda path, warmup: measured(lambda: gemms(path), after=lambda: dict(parts)),
                            args.repeats, args.max_steal)
    out = summarise(runs)
    gflop = floor_gflop(s)
    for path in FLOOR_PATHS:
        med = out[path]["median_run"]
        med_parts = {k: med[k] for k in FLOOR_PARTS}
        out[path]["parts_s"] = med_parts
        out[path]["gflops"] = sum(gflop.values()) / out[path]["median_s"]
        out[path]["step_floors_s"] = step_floors(med_parts)
    return {"shapes": s, "gflop": gflop, "gflop_total": sum(gflop.values()), **out}


# ---- the profile ---------------------------------------------------------------------------------------------

def profile_steps(tr: SeqGANTrainer, top: int = 10) -> dict[str, Any]:
    """One critic step and one G step under torch.profiler: the operations with the most self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    out: dict[str, Any] = {}
    for name, fn in (("critic_step", lambda: tr.method.critic_step(1.0)), ("g_step", lambda: tr.method.g_step(1))):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            fn()
        by_name = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        by_shape = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in by_name) / 1e6
        out[name] = {
            "self_cpu_total_s": total,
            "top_ops": [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "calls": e.count} for e in by_name[:top]],
            "top_ops_by_shape": [{"op": e.key, "shapes": str(e.input_shapes), "self_s": e.self_cpu_time_total / 1e6,
                                  "calls": e.count} for e in by_shape[:top]],
        }
    return out


# ---- output --------------------------------------------------------------------------------------------------

def load_cells(r: dict[str, Any]) -> str:
    """'start → end' of a path's timed runs (its first run's start, its last run's end), and the range of all."""
    runs = r["runs"]
    every = [x for run in runs for x in (run["load1_start"], run["load1_end"])]
    return f"{runs[0]['load1_start']:.2f} → {runs[-1]['load1_end']:.2f} ({rng(every)})"


def row(num: str, label: str, r: dict[str, Any], note: str) -> str:
    return (f"| {num} | {label} | {fmt_s(r['median_s'])} | {len(r['repeats_s'])} | {note} | {load_cells(r)} "
            f"| {rng([run['cpu_per_wall'] for run in r['runs']])} | {steal_pct(r['steal'])} |")


def hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    c, st, it, fl = results["critic"], results["steps"], results["iteration"], results["floor"]
    sch, sch_small = results["schedule"]["paper"], results["schedule"]["small"]
    label, label_small = ("tiny preset", "tiny preset") if args.quick else ("paper preset", "small preset")
    every = [c, st, it, fl]
    lines = [
        *header("RelGAN adversarial step: critic paths, G step, critic step, iteration, GEMM floor", env),
        f"- sizes ({label}): {describe(results['sizes']['paper'])}",
        f"- row 4's second size ({label_small}): {describe(results['sizes']['small'])}",
        f"- threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"{os.cpu_count()} CPUs; fp32 matmul {results['matmul_n']}³ in this run: {results['matmul_gflops']:.1f} GFLOP/s",
        f"- repeats: rows 1–3 and 5 {args.repeats}, row 4 {args.iteration_repeats}, after 1 warm-up per path (row 4's "
        "paper-size warm-up is rows 1–3 on the same trainer); paths of a row interleaved in alternating order; medians",
        steal_note(args.max_steal),
        f"- 1-minute load average: {results['load1_at_start']:.2f} at the start, {results['load1_at_end']:.2f} at the "
        f"end; over all timed runs {rng([x for r in every for x in loads(r)])}; CPU time / wall time of the timed runs "
        f"{rng([x for r in every for x in cpu_shares(r)])}",
        "",
        "| # | work | median (s) | n | note | load 1 min: start → end (range) | CPU / wall | steal med / max |",
        "|---|---|---:|---:|---|---|---:|---:|",
        row("1a", f"critic fwd+bwd, {c['batch']} relaxed inputs: `critic(x)` (Conv2d)", c["conv2d"], ""),
        row("1b", "critic fwd+bwd: `reference_critic_logits` (per representation)", c["reference"],
            f"reference / Conv2d **{c['ratio']:.2f}x** (per round {rng(c['ratio_per_round'])})"),
        row("2", "G step `g_step(1)`", st["g_step"], ""),
        row("3", "critic step `critic_step(1.0)`", st["critic_step"], ""),
    ]
    pred = st["g_step"]["median_s"] * sch["g_steps"] + st["critic_step"]["median_s"] * sch["critic_steps"]
    lines += [
        row("4a", f"iteration ({sch['g_steps']} G + {sch['critic_steps']} critic steps), {label}", it["paper"],
            f"rows 2 + {sch['critic_steps']}×3: {fmt_s(pred)}; × {sch['iterations']:,} = "
            f"**{hours(sch['iterations'] * it['paper']['median_s'])}**"),
        row("4b", f"iteration ({sch_small['g_steps']} G + {sch_small['critic_steps']} critic steps), {label_small}",
            it["small"], f"× {sch_small['iterations']:,} = **{hours(sch_small['iterations'] * it['small']['median_s'])}**"),
        row("5a", f"GEMM floor of 1 critic fwd+bwd, fp32 ({fl['gflop_total']:.1f} GFLOP)", fl["fp32"],
            f"{fl['fp32']['gflops']:.0f} GFLOP/s"),
        row("5b", "GEMM floor of 1 critic fwd+bwd, bf16", fl["bf16"],
            f"{fl['bf16']['gflops']:.0f} GFLOP/s; fp32 / bf16 **{fl['ratio']:.2f}x**"),
        "",
        "GEMM floor in parts (median run; seconds) and each step's floor from them:",
        "",
        "| dtype | " + " | ".join(FLOOR_PARTS) + " | critic step | G step | iteration |",
        "|---|" + "---:|" * (len(FLOOR_PARTS) + 3),
    ]
    for path in ("fp32", "bf16"):
        p, f = fl[path]["parts_s"], fl[path]["step_floors_s"]
        lines.append(f"| {path} | " + " | ".join(f"{p[k]:.4f}" for k in FLOOR_PARTS)
                     + f" | {f['critic_step']:.3f} | {f['g_step']:.3f} | {f['iteration']:.3f} |")
    s = fl["shapes"]
    lines += ["", f"Shapes: highway ({s['rows']}×{s['features']}) by ({s['features']}×{s['features']}), two weights "
              f"(transform, gate); embedding ({s['tokens']}×{s['vocab']}) by ({s['vocab']}×{s['emb']}). Step floors: critic "
              "step = 2 × (highway fwd, dx, dw + embedding fwd, dw); G step = 2 × (highway fwd + embedding fwd) + highway "
              "dx + embedding dx; iteration = G + 5 critic. The convolutions and G's own products are not in the floor.",
              "", f"Checks (row 1, asserted): float32 logits max |Δ| {c['max_abs_diff_logits']:.2g} (largest |logit| "
              f"{c['logit_scale']:.3g}); in float64 ({c['check_rows_fp64']} sequences) logits max |Δ| "
              f"{c['max_abs_diff_logits_fp64']:.2g} and every gradient max |Δ| / max |g| ≤ "
              f"{max(c['max_rel_diff_grad_fp64'].values()):.2g}. The float32 gradients differ by up to "
              f"{max(c['max_rel_diff_grad_fp32'].values()):.2g} of their scale "
              f"({max(c['max_rel_diff_grad_fp32'], key=c['max_rel_diff_grad_fp32'].__getitem__)}): rounding flips a few "
              "ReLUs at 0 or maxima over time, where the gradient jumps."]
    if results.get("profile"):
        lines += ["", "Profile (one more step each, torch.profiler; self CPU time, top operations):", "",
                  "| step | op | self (s) | share | calls |", "|---|---|---:|---:|---:|"]
        for step, prof in results["profile"].items():
            for e in prof["top_ops"][:8]:
                lines.append(f"| {step} | `{e['op']}` | {e['self_s']:.3f} | {100 * e['self_s'] / prof['self_cpu_total_s']:.0f}% "
                             f"| {e['calls']} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the tiny preset for every row, 1 repeat: checks the script runs")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per path of rows 1–3 and 5 after one warm-up (default 5; 1 with --quick)")
    p.add_argument("--iteration-repeats", type=int, default=None,
                   help="timed repeats per path of row 4, the whole iteration (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steal", type=float, default=1.0,
                   help="before each timed run, wait (up to 60 s) until a busy probe sees at most this share of CPU "
                        "time stolen by the hypervisor (default 1: no wait; the steal is recorded either way)")
    p.add_argument("--no-profile", action="store_true", help="skip the torch.profiler pass")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/relgan*.json")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    args.repeats = (1 if args.quick else 5) if args.repeats is None else args.repeats
    args.iteration_repeats = (1 if args.quick else 3) if args.iteration_repeats is None else args.iteration_repeats
    if args.repeats < 1 or args.iteration_repeats < 1:
        p.error("--repeats and --iteration-repeats must be >= 1")
    return args


def progress(what: str, t0: float) -> None:
    print(f"[bench_relgan {time.perf_counter() - t0:6.1f} s, load {os.getloadavg()[0]:.2f}] {what}", file=sys.stderr,
          flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    env.update({"omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"), "cpus": os.cpu_count()})
    results: dict[str, Any] = {"env": env, "config": run_config(args), "load1_at_start": os.getloadavg()[0]}
    matmul_n = 512 if args.quick else 2048
    wait_for_quiet(args.max_steal)
    results.update(matmul_n=matmul_n, matmul_gflops=matmul_gflops(matmul_n))

    progress("building the trainers", start)
    names = {"paper": "tiny" if args.quick else "paper", "small": "tiny" if args.quick else "small"}
    trainers, schedules = {}, {}
    for key, name in names.items():
        trainers[key], schedules[key] = trainer(name)
    results["presets"] = names
    results["schedule"] = schedules
    results["sizes"] = {key: sizes(tr) for key, tr in trainers.items()}
    tr = trainers["paper"]

    progress("row 1: critic fwd+bwd, Conv2d vs reference", start)
    results["critic"] = bench_critic(args, tr)
    progress("rows 2-3: G step, critic step", start)
    results["steps"] = bench_steps(args, tr)
    progress("row 4: whole iteration, paper and small sizes", start)
    results["iteration"] = bench_iteration(args, trainers)
    progress("row 5: GEMM floor, fp32 vs bf16", start)
    results["floor"] = bench_floor(args, tr)
    if not args.no_profile:
        progress("profile: one critic step, one G step", start)
        results["profile"] = profile_steps(tr)
    results["load1_at_end"] = os.getloadavg()[0]
    results["wall_s"] = time.perf_counter() - start
    paper, small = schedules["paper"], schedules["small"]
    results["extrapolated_s"] = {"paper": paper["iterations"] * results["iteration"]["paper"]["median_s"],
                                 "small": small["iterations"] * results["iteration"]["small"]["median_s"]}
    progress("done", start)

    out = emit(markdown(env, args, results), results, args.json)
    if not args.quick and not args.no_save:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M")
        path = RESULTS / f"relgan-{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        shutil.copyfile(path, RESULTS / "relgan.json")
        print(f"wrote {path} and {RESULTS / 'relgan.json'}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
