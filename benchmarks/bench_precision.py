"""runtime.precision: SeqGAN's bulk workloads in float32 and in bfloat16, in one process, beside their floors.

* `disc`: one D epoch over 20,000 sequences (paper D, batch 64, dropout on, `Adam(fused=True)`), fp32 against
  `Discriminator.set_compute_dtype(torch.bfloat16)` on the same weights, data, order and dropout seed.
* `gstep`: one adversarial g-step at paper sizes: `batched_rewards` (64 sequences × 16 rollouts, scored by
  `DiscriminatorReward`) + the policy-gradient update; only D's precision differs.
* Floors measured in the same run: the GEMMs alone of one D epoch at their real shapes and layouts (the conv
  GEMMs forward, their weight and window gradients, the highway's six) in float32 and in bfloat16, and the fused
  Adam step alone over D's 7.05M float32 parameters, times the epoch's steps. bf16 GEMMs + Adam is the floor of
  the bf16 epoch as long as the optimizer keeps float32 master weights and states (it does, by design).
* `mle`: one MLE epoch over 10,000 sequences at paper sizes (batch 64, fused Adam, clip 5), G_θ's gradient GEMMs
  in float32 against `Generator.set_compute_dtype(torch.bfloat16)`, same weights, data and order.
* `sample`: sampling 10,000 sequences. runtime.precision leaves the sampler in float32; the reason is measured here:
  one 512-row block of its projection (GEMM → exp → chunk sums) with a float32 GEMM against a bfloat16 GEMM whose
  output is brought back to float32 for the exp, beside the GEMMs and the exp alone, scaled to the 10,000 sequences.
* G's floors, per block at the fused kernels' shapes, scaled to the epoch or the sampling run: the MLE loss's three
  projection GEMMs alone in each dtype, and one exp pass over its logits (the least softmax work there is).
* `g_loss`: the fused MLE loss forward + backward over 1,280 rows (one batch of 64 × 20) at vocabularies 500 to 5,000,
  float32 against bfloat16 gradient GEMMs: where `auto` starts to use them (seqgan.cpu.GENERATOR_BF16_MIN_FLOPS).

Paths are interleaved (the order reversed every other repeat); before each timed run the script waits (up to 60 s)
for a quiet machine: at most --max-steal hypervisor steal and at most --max-others of the CPUs busy with other
processes. Medians are reported, with the steal and other processes' share seen during the runs.

    .venv/bin/python benchmarks/bench_precision.py                      # paper sizes
    .venv/bin/python benchmarks/bench_precision.py --quick --threads 1  # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.discriminator import Discriminator, DiscriminatorReward
from seqgan.generator import Generator
from seqgan.kernels.fused import augment, block_rows, weighted_nll
from seqgan.kernels.sampling import cdf_chunk, sample_block_rows
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import Rollout, batched_rewards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, run_config  # noqa: E402
from bench_workloads import d_epoch, mle_epoch  # noqa: E402
from timing import add_run_options, resolve_run_options, steal_pct, steal_summary, time_interleaved  # noqa: E402

D_LR = 1e-4
GEN_LR = 0.01
GRAD_CLIP = 5.0
D_EPOCH_REF = 20_000
G_SEQUENCES_REF = 10_000
G_LOSS_VOCABS = (500, 1000, 2000, 5000)
PATHS = ("fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small vocabulary and few sequences: checks the script runs")
    p.add_argument("--d-sequences", type=int, default=None, help="sequences timed per D epoch (default 20,000; 256 quick)")
    p.add_argument("--rollout-num", type=int, default=None, help="rollouts per prefix (default 16; 2 quick)")
    p.add_argument("--g-sequences", type=int, default=None,
                   help="sequences per MLE epoch and per sampling run (default 10,000; 256 quick)")
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    args.vocab = 500 if args.quick else 5000
    args.seq_len = 20
    args.batch = 64
    args.d_sequences = args.d_sequences or (256 if args.quick else D_EPOCH_REF)
    args.rollout_num = args.rollout_num or (2 if args.quick else 16)
    args.g_sequences = args.g_sequences or (256 if args.quick else G_SEQUENCES_REF)
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


def mle_paths(args: argparse.Namespace, g0: Generator, real: torch.Tensor) -> Callable[[str, bool], Callable[[], float]]:
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
    batches = len(real) // args.batch

    def prepare(path: str, warmup: bool) -> Callable[[], float]:
        g = copy.deepcopy(g0).set_compute_dtype(DTYPES[path])
        opt = torch.optim.Adam(g.parameters(), lr=GEN_LR, fused=True)
        return lambda: mle_epoch(g, opt, g.nll, real, order, args.batch, min(batches, 4) if warmup else batches)

    return prepare


def sample_paths(args: argparse.Namespace, g0: Generator) -> Callable[[str, bool], Callable[[], float]]:
    def prepare(path: str, warmup: bool) -> Callable[[], float]:
        torch.manual_seed(4)
        n = min(args.g_sequences, 512) if warmup else args.g_sequences
        return lambda: float(g0.sample(n).float().mean())

    return prepare


def g_floors(args: argparse.Namespace, g0: Generator, repeats: int) -> dict[str, float]:
    """Seconds per `args.g_sequences` sequences of G's projection work, measured per block at the kernels' shapes."""
    weight_VxH = g0.output.weight.detach()
    v, hidden = weight_VxH.shape
    h_aug, w_aug = augment(torch.randn(max(sample_block_rows(torch.device("cpu")), block_rows(torch.device("cpu"))), hidden),
                           weight_VxH, g0.output.bias.detach())
    bf = torch.bfloat16
    out: dict[str, float] = {}

    # sampling: one block of the sampler's rows, GEMM → exp → the chunk sums of the two-level inverse CDF
    rows = sample_block_rows(h_aug.device)
    blocks = args.g_sequences * args.seq_len / rows
    h, hb, wb = h_aug[:rows], h_aug[:rows].to(bf), w_aug.to(bf)
    buf, buf_b = torch.empty(rows, v), torch.empty(rows, v, dtype=bf)
    width = cdf_chunk(v)
    full = v // width
    sums = torch.empty(rows, full)
    logits = torch.mm(h, w_aug)

    def chunk_sums(weights: torch.Tensor) -> None:
        torch.sum(weights[:, :full * width].view(rows, full, width), dim=-1, out=sums)

    def block_fp32() -> None:
        chunk_sums(torch.mm(h, w_aug, out=buf).exp_())

    def block_bf16() -> None:
        chunk_sums(buf.copy_(torch.mm(hb, wb, out=buf_b)).exp_())

    for name, fn in (("sample_gemm_fp32", lambda: torch.mm(h, w_aug, out=buf)),
                     ("sample_gemm_bf16", lambda: torch.mm(hb, wb, out=buf_b)),
                     ("sample_exp", lambda: torch.exp(logits, out=buf)),
                     ("sample_block_fp32", block_fp32), ("sample_block_bf16", block_bf16)):
        out[name] = time_call(fn, repeats * 20) * blocks

    # MLE: the fused loss's three projection GEMMs per block (logits, d logits · W, h^T · d logits), and the exp
    rows = block_rows(h_aug.device)
    blocks = (args.g_sequences // args.batch) * -(-args.batch * args.seq_len // rows)
    h, hb = h_aug[:rows], h_aug[:rows].to(bf)
    buf, buf_b = torch.empty(rows, v), torch.empty(rows, v, dtype=bf)
    grad_h, grad_w = torch.empty(rows, hidden), torch.zeros_like(w_aug)
    weight_b = weight_VxH.to(bf)
    logits = torch.mm(h, w_aug)

    def gemms_fp32() -> None:
        torch.mm(h, w_aug, out=buf)
        torch.mm(buf, weight_VxH, out=grad_h)
        grad_w.addmm_(h.T, buf)

    def gemms_bf16() -> None:
        torch.mm(hb, wb, out=buf_b)
        torch.mm(buf_b, weight_b)
        torch.mm(hb.T, buf_b)

    for name, fn in (("mle_gemms_fp32", gemms_fp32), ("mle_gemms_bf16", gemms_bf16),
                     ("mle_exp", lambda: torch.exp(logits, out=buf))):
        out[name] = time_call(fn, repeats * 20) * blocks
    return out


def loss_and_grads(params: tuple[torch.Tensor, torch.Tensor, torch.Tensor], targets: torch.Tensor, weights: torch.Tensor,
                   dtype: torch.dtype) -> None:
    """The fused weighted NLL and its gradients in h, W and b (returned, not accumulated)."""
    torch.autograd.grad(weighted_nll(*params, targets, weights, dtype), params)


def g_loss_by_vocab(args: argparse.Namespace, repeats: int) -> dict[int, dict[str, float]]:
    """The fused MLE loss forward + backward over one batch (batch × seq_len rows, H 32) at several vocabularies, with
    float32 and with bfloat16 gradient GEMMs, interleaved per vocabulary: median seconds."""
    rows, hidden = args.batch * args.seq_len, 32
    out = {}
    for v in G_LOSS_VOCABS:
        torch.manual_seed(v)
        h = (torch.randn(rows, hidden) * 0.5).requires_grad_()
        weight = (torch.randn(v, hidden) * 0.3).requires_grad_()
        bias = torch.zeros(v, requires_grad=True)
        targets, weights = torch.randint(0, v, (rows,)), torch.full((rows,), 1.0 / rows)
        times: dict[str, list[float]] = {p: [] for p in PATHS}
        for i in range(repeats * 5):
            for path in PATHS if i % 2 == 0 else PATHS[::-1]:
                step = functools.partial(loss_and_grads, (h, weight, bias), targets, weights, DTYPES[path])
                times[path].append(time_call(step, 5))
        out[v] = {p: median(t) for p, t in times.items()}
    return out


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

    real_g = torch.randint(0, args.vocab, (args.g_sequences, args.seq_len))
    mle = time_interleaved(PATHS, mle_paths(args, g0, real_g), args.repeats, args.max_steal, max_others=args.max_others)
    sample = time_interleaved(("fp32",), sample_paths(args, g0), args.repeats, args.max_steal, max_others=args.max_others)
    results["mle"] = {p: {"seconds": median(mle[p]["seconds"]), "loss": mle[p]["result"],
                          "steal": steal_summary(mle[p]["steal"]), "others": steal_summary(mle[p]["others"])} for p in PATHS}
    results["sample"] = {"fp32": {"seconds": median(sample["fp32"]["seconds"]), "steal": steal_summary(sample["fp32"]["steal"]),
                                  "others": steal_summary(sample["fp32"]["others"])}}
    gf = results["g_floors"] = g_floors(args, g0, args.repeats)
    gl = results["g_loss"] = g_loss_by_vocab(args, args.repeats)

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
    mm, sm = results["mle"], results["sample"]["fp32"]
    n_g = f"{args.g_sequences:,}"
    rows += [
        f"| sampling {n_g} sequences | {fmt_s(sm['seconds'])} | — (float32: see below) | | "
        f"{fmt_s(gf['sample_gemm_bf16'] + gf['sample_exp'])} | ≤ 0.4 | | {steal_pct(sm['steal'])}, {steal_pct(sm['others'])} |",
        f"| one MLE epoch ({n_g} sequences) | {fmt_s(mm['fp32']['seconds'])} | {fmt_s(mm['bf16']['seconds'])} "
        f"| {mm['fp32']['seconds'] / mm['bf16']['seconds']:.2f}× | {fmt_s(gf['mle_gemms_bf16'] + gf['mle_exp'])} | ≤ 1.0 "
        f"| loss {median(mm['fp32']['loss']):.4f} / {median(mm['bf16']['loss']):.4f} "
        f"| {steal_pct(mm['bf16']['steal'])}, {steal_pct(mm['bf16']['others'])} |",
    ]
    g_rows = [
        "", f"G_θ's projection work, per block at the kernels' shapes, scaled to {n_g} sequences (seconds):", "",
        "| part | float32 | bfloat16 |", "|---|---:|---:|",
        f"| sampling: the projection GEMMs alone | {fmt_s(gf['sample_gemm_fp32'])} | {fmt_s(gf['sample_gemm_bf16'])} |",
        f"| sampling: one exp pass over the logits (float32) | {fmt_s(gf['sample_exp'])} | {fmt_s(gf['sample_exp'])} |",
        f"| sampling: GEMM → exp → chunk sums (bf16: the GEMM's output brought back to float32) "
        f"| {fmt_s(gf['sample_block_fp32'])} | {fmt_s(gf['sample_block_bf16'])} |",
        f"| MLE epoch: the three projection GEMMs alone | {fmt_s(gf['mle_gemms_fp32'])} | {fmt_s(gf['mle_gemms_bf16'])} |",
        f"| MLE epoch: one exp pass over the logits (float32) | {fmt_s(gf['mle_exp'])} | {fmt_s(gf['mle_exp'])} |",
        "", f"The fused MLE loss, forward + backward over {args.batch * args.seq_len:,} rows, H 32 (ms):", "",
        "| vocabulary | MFLOP (logits GEMM) | float32 | bf16 gradient GEMMs | fp32 / bf16 |", "|---:|---:|---:|---:|---:|",
        *(f"| {v:,} | {2 * args.batch * args.seq_len * 33 * v / 1e6:.0f} | {t['fp32'] * 1e3:.2f} | {t['bf16'] * 1e3:.2f} "
          f"| {t['fp32'] / t['bf16']:.2f}× |" for v, t in gl.items()),
    ]
    floor_rows = [
        "", "Floors of the D epoch, measured in the same run (per 20,000 sequences):", "",
        "| part | float32 (s) | bfloat16 (s) |", "|---|---:|---:|",
        f"| its GEMMs alone, at their shapes | {fmt_s(floors['gemm_fp32'])} | {fmt_s(floors['gemm_bf16'])} |",
        f"| the fused Adam steps alone (float32 master weights and states) | {fmt_s(floors['adam'])} | {fmt_s(floors['adam'])} |",
    ]
    table = "\n".join([*header("D_φ and G_θ in float32 and bfloat16 (runtime.precision)", results["environment"]), "",
                       *rows, *floor_rows, *g_rows])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
