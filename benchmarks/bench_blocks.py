"""Block sizes by measurement: each kernel's rows-per-block (or sequences-per-chunk) constant, swept on the device
the script runs on, beside the value the library uses there.

* `sample`: G_θ (the paper's: 5,000 words, hidden 32, 20 steps) sampling --sequences sequences; the sampler's rows
  per block of (rows, V) weights (`seqgan.kernels.sampling.sample_block_rows`: SAMPLE_BLOCK_ROWS on CPU,
  BLOCK_ROWS_ACCELERATOR elsewhere).
* `score`: D_φ (the paper's, in the dtype `runtime.precision = 'auto'` gives it there) scoring --sequences
  sequences without autograd, as the rewards and the evaluations do; the sequences per convolution pass
  (`seqgan.kernels.conv.score_chunk`: SCORE_CHUNK_CPU / SCORE_CHUNK_ACCELERATOR).
* `loss`: G_θ's fused MLE loss, forward and backward, over --loss-rows rows (64 sequences × 16 rollouts × 20 steps
  by default); rows per block of (rows, V) logits (`seqgan.kernels.fused.block_rows`: BLOCK_ROWS /
  BLOCK_ROWS_ACCELERATOR).
* `mle`: the same constant on the work that uses it in training: an MLE epoch of G_θ over --sequences sequences in
  the paper's batches of 64 (1,280 rows a step: forward, backward, fused Adam), its gradient GEMMs in the dtype
  `runtime.precision = 'auto'` gives the paper's G_θ there. The policy-gradient step has the same 1,280 rows.

Each candidate sets the module constant for the duration of its run (the kernels read it at call time) and the
candidates are interleaved, the order reversed every other repeat; on CUDA each run ends with a synchronize. The
table gives the median seconds of each candidate and its speed against the value in use, which is marked; a
candidate faster by more than 5% is worth a look (on a quiet machine, with more repeats).

    .venv/bin/python benchmarks/bench_blocks.py                    # this CPU
    python benchmarks/bench_blocks.py --device cuda --max-steal 1  # a GPU (benchmarks/gpu_check.sh runs it)
    .venv/bin/python benchmarks/bench_blocks.py --quick            # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import seqgan.kernels.conv as conv
import seqgan.kernels.fused as fused
import seqgan.kernels.sampling as sampling
from seqgan.cpu import has_bf16_matmul
from seqgan.discriminator import Discriminator
from seqgan.generator import Generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, run_config  # noqa: E402
from timing import add_run_options, resolve_run_options, steal_pct, steal_summary, time_interleaved  # noqa: E402

# The constant each kernel reads on each kind of device: (module, name).
CONSTANTS = {
    "sample": {"cpu": (sampling, "SAMPLE_BLOCK_ROWS"), "accelerator": (sampling, "BLOCK_ROWS_ACCELERATOR")},
    "score": {"cpu": (conv, "SCORE_CHUNK_CPU"), "accelerator": (conv, "SCORE_CHUNK_ACCELERATOR")},
    "loss": {"cpu": (fused, "BLOCK_ROWS"), "accelerator": (fused, "BLOCK_ROWS_ACCELERATOR")},
    "mle": {"cpu": (fused, "BLOCK_ROWS"), "accelerator": (fused, "BLOCK_ROWS_ACCELERATOR")},
}
CANDIDATES = {
    "sample": {"cpu": (128, 256, 512, 1024, 2048), "accelerator": (1024, 2048, 4096, 8192, 16384, 32768)},
    "score": {"cpu": (32, 64, 128, 256, 512), "accelerator": (512, 1024, 2048, 4096, 8192, 16384)},
    "loss": {"cpu": (64, 128, 256, 512, 1024), "accelerator": (1024, 2048, 4096, 8192, 16384)},
    "mle": {"cpu": (128, 256, 640, 1024, 1280), "accelerator": (1280, 8192)},
}
MLE_BATCH = 64  # the paper's generator.batch_size
WHAT = {"sample": "sampling {n:,} sequences", "score": "D_φ scoring {n:,} sequences ({dtype})",
        "loss": "fused MLE loss, forward + backward, {rows:,} rows (gradient GEMMs in {dtype})",
        "mle": "an MLE epoch of G_θ over {n:,} sequences, batches of 64 (gradient GEMMs in {dtype})"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--kernels", default=",".join(CONSTANTS), help=f"comma-separated subset of {', '.join(CONSTANTS)}")
    p.add_argument("--sequences", type=int, default=None, help="sequences sampled and scored (default 10,000)")
    p.add_argument("--loss-rows", type=int, default=20_480, help="rows of the loss (default 64 × 16 × 20)")
    p.add_argument("--quick", action="store_true", help="vocabulary 500, 512 sequences, 1 repeat: checks it runs")
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    args.sequences = args.sequences or (512 if args.quick else 10_000)
    if args.quick:
        args.loss_rows = min(args.loss_rows, 1024)
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def work(kernel: str, args: argparse.Namespace, device: torch.device) -> tuple[Callable[[], Any], str]:
    """The run a kernel's candidates are timed on, and its description."""
    vocab, seq_len = (500 if args.quick else 5000), 20
    torch.manual_seed(0)
    g = Generator(vocab, emb_dim=32, hidden_dim=32, seq_len=seq_len).to(device)
    if kernel == "sample":
        return lambda: g.sample(args.sequences), WHAT[kernel].format(n=args.sequences)
    if kernel == "score":
        d = Discriminator(vocab, seq_len=seq_len).to(device)
        dtype = torch.bfloat16 if has_bf16_matmul(device) and not args.quick else torch.float32
        d.set_compute_dtype(dtype)
        tokens = g.sample(args.sequences)
        chunk = max(CANDIDATES["score"][kind(device)])
        return (lambda: d.prob_real(tokens, batch_size=max(4096, chunk)),
                WHAT[kernel].format(n=args.sequences, dtype=str(dtype).removeprefix("torch.")))
    grad_dtype = torch.bfloat16 if has_bf16_matmul(device) and not args.quick else None  # 'auto' at the paper's G
    dtype = "bfloat16" if grad_dtype else "float32"
    if kernel == "mle":
        g.set_compute_dtype(grad_dtype or torch.float32)
        data = g.sample(args.sequences)
        opt = torch.optim.Adam(g.parameters(), lr=0.01, fused=True)

        def epoch() -> None:
            for lo in range(0, len(data) - MLE_BATCH + 1, MLE_BATCH):
                opt.zero_grad(set_to_none=True)
                g.nll(data[lo:lo + MLE_BATCH]).backward()
                opt.step()
        return epoch, WHAT[kernel].format(n=args.sequences, dtype=dtype)
    h = torch.randn(args.loss_rows, 32, device=device, requires_grad=True)
    targets = torch.randint(0, vocab, (args.loss_rows,), device=device)
    weights = torch.ones(args.loss_rows, device=device)
    w, b = g.output.weight, g.output.bias

    def loss() -> None:
        value = fused.weighted_nll(h, w, b, targets, weights, grad_dtype)
        torch.autograd.grad(value, (h, w, b))

    return loss, WHAT[kernel].format(rows=args.loss_rows, dtype=dtype)


def kind(device: torch.device) -> str:
    return "cpu" if device.type == "cpu" else "accelerator"


def sweep(kernel: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    module, name = CONSTANTS[kernel][kind(device)]
    in_use = getattr(module, name)
    candidates = sorted({*CANDIDATES[kernel][kind(device)], in_use})
    if args.quick:
        candidates = sorted({candidates[0], in_use})
    run, what = work(kernel, args, device)

    def prepare(path: str, warmup: bool) -> Callable[[], None]:
        def timed() -> None:
            setattr(module, name, int(path))
            try:
                run()
                synchronize(device)
            finally:
                setattr(module, name, in_use)
        return timed

    runs = time_interleaved([str(c) for c in candidates], prepare, args.repeats, args.max_steal,
                            max_others=args.max_others)
    seconds = {c: statistics.median(runs[str(c)]["seconds"]) for c in candidates}
    steal = steal_summary([s for c in candidates for s in runs[str(c)]["steal"]])
    return {"what": what, "constant": f"{module.__name__}.{name}", "in_use": in_use, "seconds": seconds,
            "fastest": min(seconds, key=seconds.get), "steal": steal,
            "runs": {str(c): runs[str(c)]["seconds"] for c in candidates}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results: dict[str, Any] = {"config": run_config(args), "environment": environment(), "device": str(device)}
    if device.type == "cuda":
        results["environment"]["gpu"] = torch.cuda.get_device_name(device)
    lines = [*header("Block sizes by measurement", results["environment"]), ""]
    for kernel in args.kernels.split(","):
        r = results[kernel] = sweep(kernel, args, device)
        base = r["seconds"][r["in_use"]]
        lines += [f"**{r['what']}** (`{r['constant']}`; {args.repeats} repeats, medians, steal {steal_pct(r['steal'])})",
                  "", "| rows / sequences per block | seconds | speed against the value in use |", "|---:|---:|---:|"]
        for c, s in r["seconds"].items():
            mark = " (in use)" if c == r["in_use"] else (" (fastest)" if c == r["fastest"] else "")
            lines.append(f"| {c:,}{mark} | {fmt_s(s)} | {base / s:.2f}× |")
        lines.append("")
    return emit("\n".join(lines), results, args.json)


if __name__ == "__main__":
    main()
