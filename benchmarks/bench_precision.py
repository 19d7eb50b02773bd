"""runtime.precision: SeqGAN's bulk workloads with D_φ in float32 and in bfloat16, in one process, beside their floors.

* `disc`: one D epoch over 20,000 sequences (paper D, batch 64, dropout on, `Adam(fused=True)`), fp32 against
  `Discriminator.set_compute_dtype(torch.bfloat16)` on the same weights, data, order and dropout seed.
* `gstep`: one adversarial g-step at paper sizes: `batched_rewards` (64 sequences × 16 rollouts, scored by
  `DiscriminatorReward`) + the policy-gradient update; only D's precision differs.
* Floors measured in the same run: the GEMMs alone of one D epoch at their real shapes and layouts (the conv
  GEMMs forward, their weight and window gradients, the highway's six) in float32 and in bfloat16, and the fused
  Adam step alone over D's 7.05M float32 parameters, times the epoch's steps. bf16 GEMMs + Adam is the floor of
  the bf16 epoch as long as the optimizer keeps float32 master weights and states (it does, by design).
* Sampling and the MLE epoch are G_θ's work, which runtime.precision does not change (yet): their float32 figures
  are in `bench_workloads.py`.

Paths are interleaved (the order reversed every other repeat); before each timed run the script waits (up to 60 s)
for a quiet machine: at most --max-steal hypervisor steal and at most --max-others of the CPUs busy with other
processes. Medians are reported, with the steal and other processes' share seen during the runs.

    .venv/bin/python benchmarks/bench_precision.py                      # paper sizes
    .venv/bin/python benchmarks/bench_precision.py --quick --threads 1  # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.discriminator import Discriminator, DiscriminatorReward
from seqgan.generator import Generator
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import Rollout, batched_rewards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, run_config  # noqa: E402
from bench_workloads import d_epoch  # noqa: E402
from timing import add_max_steal_option, max_steal, steal_pct, steal_summary, time_interleaved  # noqa: E402

D_LR = 1e-4
GEN_LR = 0.01
GRAD_CLIP = 5.0
D_EPOCH_REF = 20_000
PATHS = ("fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small vocabulary and few sequences: checks the script runs")
    p.add_argument("--d-sequences", type=int, default=None, help="sequences timed per D epoch (default 20,000; 256 quick)")
    p.add_argument("--rollout-num", type=int, default=None, help="rollouts per prefix (default 16; 2 quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per path (default 3; 1 quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--max-others", type=float, default=None,
                   help="also wait until other processes use at most this share of the CPUs (default 0.1; 1 quick)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    add_max_steal_option(p)
    args = p.parse_args(argv)
    args.max_steal = max_steal(args)
    args.max_others = (1.0 if args.quick else 0.1) if args.max_others is None else args.max_others
    args.vocab = 500 if args.quick else 5000
    args.seq_len = 20
    args.batch = 64
    args.d_sequences = args.d_sequences or (256 if args.quick else D_EPOCH_REF)
    args.rollout_num = args.rollout_num or (2 if args.quick else 16)
    args.repeats = (1 if args.quick else 3) if args.repeats is None else args.repeats
    return args


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def time_call(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of `fn` over `repeats` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


def d_epoch_paths(args: argparse.Namespace, d0: Discriminator, data: torch.Tensor, labels: torch.Tensor
                  ) -> Callable[[str, bool], Callable[[], float]]:
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))

    def prepare(path: str, warmup: bool) -> Callable[[], float]:
        d = copy.deepcopy(d0).set_compute_dtype(DTYPES[path]).train()
        opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True)
        stop = min(len(data), 256) if warmup else len(data)

        torch.manual_seed(1)  # the same dropout masks in both paths
        return lambda: d_epoch(d, opt, data, labels, order[:stop], args.batch)

    return prepare


def gemm_floor(d: Discriminator, batch: int, dtype: torch.dtype, repeats: int) -> float:
    """Seconds of the GEMMs of one D training step (batch sequences) alone, at their shapes, in `dtype`."""
    seq_len = max(d.seq_len, d.min_width)
    emb = d.embedding.weight.shape[1]
    ops: list[tuple[torch.Tensor, torch.Tensor]] = []
    for conv in d.convs:
        filters, _, width = conv.weight.shape
        rows = (seq_len - width + 1) * batch
        win = torch.randn(rows, width * emb, dtype=dtype)
        w = torch.randn(filters, width * emb, dtype=dtype)
        dy = torch.randn(rows, filters, dtype=dtype)
        ops += [(win, w.t()), (dy.t(), win), (dy, w)]  # forward, weight gradient, window gradient
    total = d.highway_h.in_features
    x = torch.randn(batch, total, dtype=dtype)
    w = torch.randn(total, total, dtype=dtype)
    ops += [(x, w.t()), (x.t(), x), (x, w)] * 2  # transform and gate: forward, weight gradient, input gradient

    def step() -> None:
        for a, b in ops:
            torch.mm(a, b)

    return time_call(step, repeats * 5)


def adam_floor(d: Discriminator, repeats: int) -> float:
    """Seconds of one fused Adam step over D's float32 parameters (gradients present)."""
    d = copy.deepcopy(d)
    for p in d.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True)
    return time_call(opt.step, repeats * 5)


def gstep_paths(args: argparse.Namespace, d0: Discriminator, g0: Generator, Y: torch.Tensor
                ) -> Callable[[str, bool], Callable[[], float]]:
    def prepare(path: str, warmup: bool) -> Callable[[], float]:
        d = copy.deepcopy(d0).set_compute_dtype(DTYPES[path]).eval()
        g = copy.deepcopy(g0)
        opt = torch.optim.Adam(g.parameters(), lr=GEN_LR)
        policy = Rollout(g).policy
        reward = DiscriminatorReward(d)

        def step() -> float:
            q = batched_rewards(policy, Y, reward, args.rollout_num)
            opt.zero_grad(set_to_none=True)
            pg_loss(g, Y, q).backward()
            torch.nn.utils.clip_grad_norm_(g.parameters(), GRAD_CLIP)
            opt.step()
            return q.mean().item()

        torch.manual_seed(2)  # the same rollouts in both paths
        return step

    return prepare


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as the CLI does
    torch.manual_seed(0)
    d0 = Discriminator(args.vocab, seq_len=args.seq_len)
    g0 = Generator(args.vocab, emb_dim=32, hidden_dim=32, seq_len=args.seq_len)
    with torch.no_grad():
        real = torch.randint(0, args.vocab, (args.d_sequences // 2, args.seq_len))
        fake = g0.sample(args.d_sequences - len(real))
        Y = g0.sample(args.batch)
    data = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).long()
    steps = -(-args.d_sequences // args.batch)
    scale = D_EPOCH_REF / args.d_sequences

    results: dict[str, Any] = {"config": run_config(args), "environment": environment()}
    disc = time_interleaved(PATHS, d_epoch_paths(args, d0, data, labels), args.repeats, args.max_steal,
                            max_others=args.max_others)
    gstep = time_interleaved(PATHS, gstep_paths(args, d0, g0, Y), args.repeats, args.max_steal, max_others=args.max_others)
    floors = {f"gemm_{p}": gemm_floor(d0, args.batch, DTYPES[p], args.repeats) * steps * scale for p in PATHS}
    floors["adam"] = adam_floor(d0, args.repeats) * steps * scale
    results["disc"] = {p: {"seconds": median(disc[p]["seconds"]) * scale, "loss": disc[p]["result"],
                           "steal": steal_summary(disc[p]["steal"]), "others": steal_summary(disc[p]["others"])}
                       for p in PATHS}
    results["gstep"] = {p: {"seconds": median(gstep[p]["seconds"]), "mean_q": gstep[p]["result"],
                            "steal": steal_summary(gstep[p]["steal"]), "others": steal_summary(gstep[p]["others"])}
                        for p in PATHS}
    results["floors"] = floors

    dd, gg = results["disc"], results["gstep"]
    rows = [
        "| work | float32 (s) | bfloat16 (s) | fp32 / bf16 | floor (s) | goal | check fp32 / bf16 | steal, others' CPU |",
        "|---|---:|---:|---:|---:|---:|---|---|",
        f"| one D epoch ({D_EPOCH_REF:,} sequences, paper D) | {fmt_s(dd['fp32']['seconds'])} | {fmt_s(dd['bf16']['seconds'])} "
        f"| {dd['fp32']['seconds'] / dd['bf16']['seconds']:.2f}× | {fmt_s(floors['gemm_bf16'] + floors['adam'])} | ≤ 4 "
        f"| loss {median(dd['fp32']['loss']):.4f} / {median(dd['bf16']['loss']):.4f} "
        f"| {steal_pct(dd['bf16']['steal'])}, {steal_pct(dd['bf16']['others'])} |",
        f"| one g-step (64 × {args.rollout_num} rollouts, rewards + update) | {fmt_s(gg['fp32']['seconds'])} "
        f"| {fmt_s(gg['bf16']['seconds'])} | {gg['fp32']['seconds'] / gg['bf16']['seconds']:.2f}× | | ≤ 1.5 "
        f"| mean Q {median(gg['fp32']['mean_q']):.4f} / {median(gg['bf16']['mean_q']):.4f} "
        f"| {steal_pct(gg['bf16']['steal'])}, {steal_pct(gg['bf16']['others'])} |",
    ]
    floor_rows = [
        "", "Floors of the D epoch, measured in the same run (per 20,000 sequences):", "",
        "| part | float32 (s) | bfloat16 (s) |", "|---|---:|---:|",
        f"| its GEMMs alone, at their shapes | {fmt_s(floors['gemm_fp32'])} | {fmt_s(floors['gemm_bf16'])} |",
        f"| the fused Adam steps alone (float32 master weights and states) | {fmt_s(floors['adam'])} | {fmt_s(floors['adam'])} |",
    ]
    table = "\n".join([*header("D_φ in float32 and bfloat16 (runtime.precision)", results["environment"]), "",
                       *rows, *floor_rows])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
