"""Where the paper D_φ's training step spends its time: each part timed by hand, at batch 64 (the paper's) and 1.

The D epoch (20,000 sequences, 312 steps of 64) is 98% of the `paper` protocol. This script splits one training step
of the paper's D_φ (5,000 words, length 20, 1,720 filters, highway, dropout; bfloat16 GEMMs as `runtime.precision =
'auto'` gives it on this CPU, or --precision fp32) into its parts, each timed with perf_counter around the call
(torch.profiler's split proved unreliable here), medians over --steps steps:

* features forward / backward: embedding, the convolutions of 12 widths as GEMMs, max over time, bias, ReLU
  (seqgan.kernels.conv.ConvMaxPool);
* head forward / backward: the highway's two 1720² layers, dropout, the output layer and the loss;
* Adam: the fused step over D's 7.05M float32 parameters and moments.

Batch 1 against batch 64 shows what is fixed per step. Then the part of it that float32 master weights impose on any
implementation: Adam's pass, and the casts of the two 1720² highway weights to bfloat16 (forward) and of their
gradients back to float32 (backward), each timed *after a training step* as they run in training, beside the same
cast in a tight loop (cache-warm, the figure an isolated micro-benchmark gives). Their sum times 312 is the D epoch's
floor from weight traffic alone, before any convolution or GEMM.

    .venv/bin/python benchmarks/bench_dstep.py --threads 2 --malloc-tuning   # as `seqgan train` runs it
    .venv/bin/python benchmarks/bench_dstep.py --quick                       # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from seqgan.cpu import has_bf16_matmul
from seqgan.discriminator import Discriminator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, header, run_config  # noqa: E402
from timing import add_run_options, resolve_run_options, steal_pct, steal_summary, time_interleaved  # noqa: E402

PARTS = ("features forward", "head forward", "head backward", "features backward", "Adam")
STEPS_PER_EPOCH = 20_000 // 64  # the paper's D epoch: 10,000 real + 10,000 generated sequences, batches of 64


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="D's GEMMs: 'auto' (bfloat16 where the CPU has AMX or AVX512-BF16), 'bf16' or 'fp32'")
    p.add_argument("--batches", default="64,1", help="batch sizes to split (default 64,1)")
    p.add_argument("--steps", type=int, default=None, help="steps timed per batch size and repeat (default 40; 3 quick)")
    p.add_argument("--quick", action="store_true", help="a small D and few steps: checks the script runs")
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    args.steps = args.steps or (3 if args.quick else 40)
    return args


def build(args: argparse.Namespace) -> tuple[Discriminator, torch.optim.Optimizer, torch.dtype]:
    torch.manual_seed(0)
    if args.quick:
        d = Discriminator(500, seq_len=20, filter_sizes=[1, 2, 3], num_filters=[16, 16, 16])
    else:
        d = Discriminator(5000, seq_len=20)  # the paper's D: 12 widths, 1,720 filters, embedding 64
    dtype = torch.float32 if args.precision == "fp32" or (args.precision == "auto" and not has_bf16_matmul(
        torch.device("cpu"))) else torch.bfloat16
    d.set_compute_dtype(dtype).train()
    return d, torch.optim.Adam(d.parameters(), lr=1e-4, fused=True), dtype


def split_steps(d: Discriminator, opt: torch.optim.Optimizer, batch: int, steps: int) -> dict[str, list[float]]:
    """Seconds of each part of `steps` training steps on fresh random batches (the loss and gradients as d_step's)."""
    times: dict[str, list[float]] = {part: [] for part in PARTS}
    for _ in range(steps):
        tokens = torch.randint(0, d.vocab_size, (batch, 20))
        labels = torch.randint(0, 2, (batch,))
        opt.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        feat = d.features(tokens)
        t1 = time.perf_counter()
        cut = feat.detach().requires_grad_()  # the head's backward ends here, so the two halves time apart
        loss = d.loss_from_logits(d._head(cut), labels)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        feat.backward(cut.grad)
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        for part, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            times[part].append(seconds)
    return times


def weight_traffic(d: Discriminator, opt: torch.optim.Optimizer, dtype: torch.dtype, steps: int) -> dict[str, float]:
    """Median seconds of what float32 master weights cost each step: a 1720² highway weight cast to the compute dtype
    and a gradient of that size cast back, each right after a training step (as in training) and in a tight loop;
    and Adam's step alone (after a training step too)."""
    weight = d.highway_h.weight
    grad = torch.randn(weight.shape).to(dtype)
    after: dict[str, list[float]] = {"weight cast": [], "gradient cast": []}
    for _ in range(steps):
        for name, cast in (("weight cast", lambda: weight.detach().to(dtype)), ("gradient cast", lambda: grad.float())):
            split_steps(d, opt, 64, 1)
            t0 = time.perf_counter()
            cast()
            after[name].append(time.perf_counter() - t0)
    tight: dict[str, list[float]] = {"weight cast": [], "gradient cast": []}
    for name, cast in (("weight cast", lambda: weight.detach().to(dtype)), ("gradient cast", lambda: grad.float())):
        cast()
        for _ in range(steps):
            t0 = time.perf_counter()
            cast()
            tight[name].append(time.perf_counter() - t0)
    return {**{f"{k}, after a step": statistics.median(v) for k, v in after.items()},
            **{f"{k}, tight loop": statistics.median(v) for k, v in tight.items()}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    d, opt, dtype = build(args)
    batches = [int(b) for b in args.batches.split(",")]
    results: dict[str, Any] = {"config": run_config(args), "environment": environment(), "dtype": str(dtype)}

    def prepare(path: str, warmup: bool) -> Any:
        return lambda: split_steps(d, opt, int(path), 2 if warmup else args.steps)

    runs = time_interleaved([str(b) for b in batches], prepare, args.repeats, args.max_steal, max_others=args.max_others)
    split = {}
    for b in batches:
        per_part = {part: statistics.median(s for run in runs[str(b)]["result"] for s in run[part]) for part in PARTS}
        split[b] = {**per_part, "step": sum(per_part.values())}
    results["split"] = {str(b): v for b, v in split.items()}
    results["steal"] = steal_summary([s for b in batches for s in runs[str(b)]["steal"]])
    traffic = weight_traffic(d, opt, dtype, args.steps)
    adam = split[batches[0]]["Adam"]
    per_step = adam + 2 * traffic["weight cast, after a step"] + 2 * traffic["gradient cast, after a step"]
    results["weight_traffic"] = {**traffic, "Adam": adam, "per step": per_step, "per epoch": per_step * STEPS_PER_EPOCH}

    ms = 1e3
    lines = [*header("The paper D_φ's training step, part by part", results["environment"]), "",
             f"D's GEMMs in {str(dtype).removeprefix('torch.')}; {args.steps} steps × {args.repeats} repeats per batch "
             f"size, interleaved, medians; steal {steal_pct(results['steal'])}; glibc malloc "
             f"{'keeping freed memory (as seqgan train)' if args.malloc_tuning else 'defaults'}.", "",
             "| part (ms) | " + " | ".join(f"batch {b}" for b in batches) + " |", "|---|" + "---:|" * len(batches)]
    for part in (*PARTS, "step"):
        label = f"**{part}**" if part == "step" else part
        lines.append(f"| {label} | " + " | ".join(f"{split[b][part] * ms:.2f}" for b in batches) + " |")
    rows, cols = d.highway_h.weight.shape
    lines += ["", f"Weight traffic that float32 master weights impose (a {rows}×{cols} highway weight; ms; medians of "
              f"{args.steps}):",
              "", "| cast | after a training step | in a tight loop |", "|---|---:|---:|"]
    for name in ("weight cast", "gradient cast"):
        lines.append(f"| {name} | {traffic[f'{name}, after a step'] * ms:.2f} | {traffic[f'{name}, tight loop'] * ms:.2f} |")
    lines += ["", f"Adam ({adam * ms:.2f} ms) + 2 weight casts + 2 gradient casts = **{per_step * ms:.2f} ms a step**, "
              f"{per_step * STEPS_PER_EPOCH:.2f} s over a D epoch's {STEPS_PER_EPOCH} steps, before any convolution "
              f"or GEMM (the whole step: {split[batches[0]]['step'] * ms:.2f} ms at batch {batches[0]}, "
              f"{split[batches[0]]['step'] * STEPS_PER_EPOCH:.2f} s an epoch).", ""]
    return emit("\n".join(lines), results, args.json)


if __name__ == "__main__":
    main()
