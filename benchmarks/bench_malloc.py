"""runtime.malloc_tuning: glibc's malloc keeping freed memory (seqgan.cpu.keep_freed_memory) against its defaults.

The setting is process-wide and permanent, so each measurement runs in a fresh child process, the two variants
interleaved (the order reversed every other repeat), each child after waiting for a quiet machine; it times its work
after a warm-up and reports the seconds and its minor page faults. Work, at the paper's sizes:

* `d_bf16`, `d_fp32`: 100 D training steps (batch 64, dropout on, fused Adam), reported per epoch of 20,000 sequences
  (313 steps); D in bfloat16 (the paper preset on this CPU) and in float32.
* `sample`: sampling 10,000 sequences. `mle`: one MLE epoch over 10,000 sequences (G's gradient GEMMs in bf16).

    .venv/bin/python benchmarks/bench_malloc.py --json benchmarks/results/malloc.json
    .venv/bin/python benchmarks/bench_malloc.py --quick      # small sizes, 1 repeat: checks the script runs
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, run_config  # noqa: E402
from timing import add_run_options, resolve_run_options, wait_for_quiet  # noqa: E402

VARIANTS = ("default", "kept")
WORK = {"d_bf16": "D epoch (20,000 sequences), bfloat16", "d_fp32": "D epoch (20,000 sequences), float32",
        "sample": "sampling 10,000 sequences", "mle": "one MLE epoch (10,000 sequences)"}
D_STEPS_PER_EPOCH = 313  # 20,000 / 64, rounded up


def child(variant: str, work: str, quick: bool, threads: int | None) -> dict[str, float]:
    """Runs in the child process: apply the variant, build the work at its size, warm up, time it."""
    import torch

    from seqgan.cpu import keep_freed_memory

    if variant == "kept":
        assert keep_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    vocab = 500 if quick else 5000
    if work.startswith("d_"):
        from seqgan.discriminator import Discriminator

        d = Discriminator(vocab, seq_len=20).set_compute_dtype(torch.bfloat16 if work == "d_bf16" else torch.float32)
        opt = torch.optim.Adam(d.parameters(), lr=1e-4, fused=True)
        x, y = torch.randint(0, vocab, (64, 20)), torch.randint(0, 2, (64,))

        def run(steps: int) -> None:
            for _ in range(steps):
                loss = d.loss(x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        steps = 10 if quick else 100
        warm, timed, scale = (lambda: run(5)), (lambda: run(steps)), D_STEPS_PER_EPOCH / steps
    else:
        from bench_workloads import mle_epoch

        from seqgan.generator import Generator

        g = Generator(vocab, emb_dim=32, hidden_dim=32, seq_len=20).set_compute_dtype(torch.bfloat16)
        n = 256 if quick else 10_000
        if work == "sample":
            def warm() -> None:
                with torch.no_grad():
                    g.sample(512)

            def timed() -> None:
                with torch.no_grad():
                    g.sample(n)
        else:
            real, order = torch.randint(0, vocab, (n, 20)), torch.randperm(n)
            opt = torch.optim.Adam(g.parameters(), lr=0.01, fused=True)

            def warm() -> None:
                mle_epoch(g, opt, g.nll, real, order, 64, 4)

            def timed() -> None:
                mle_epoch(g, opt, g.nll, real, order, 64, n // 64)
        scale = 1.0
    warm()
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    timed()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds * scale, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) * scale}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="vocabulary 500, few steps, 1 repeat: checks the script runs")
    p.add_argument("--work", default=",".join(WORK), help=f"comma-separated subset of {', '.join(WORK)}")
    p.add_argument("--child", nargs=2, metavar=("VARIANT", "WORK"), help=argparse.SUPPRESS)
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    if args.child:
        print(json.dumps(child(*args.child, args.quick, args.threads)))
        return {}
    results: dict[str, Any] = {"config": run_config(args), "environment": environment()}
    rows = ["| work | glibc defaults (s) | freed memory kept (s) | ratio | page faults per run: defaults / kept |",
            "|---|---:|---:|---:|---:|"]
    for work in args.work.split(","):
        runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        for i in range(args.repeats):
            for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
                if args.max_others < 1.0 or args.max_steal < 1.0:
                    wait_for_quiet(args.max_steal, max_others=args.max_others)
                cmd = [sys.executable, __file__, "--child", variant, work, *(["--quick"] if args.quick else []),
                       *(["--threads", str(args.threads)] if args.threads else [])]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                runs[variant].append(json.loads(out.strip().splitlines()[-1]))
        med = {v: {k: statistics.median(r[k] for r in runs[v]) for k in ("seconds", "faults")} for v in VARIANTS}
        results[work] = {"median": med, "runs": runs}
        title = WORK[work] + (" (quick: smaller)" if args.quick else "")
        rows.append(f"| {title} | {fmt_s(med['default']['seconds'])} | {fmt_s(med['kept']['seconds'])} "
                    f"| {med['default']['seconds'] / med['kept']['seconds']:.2f}× "
                    f"| {med['default']['faults']:,.0f} / {med['kept']['faults']:,.0f} |")
    table = "\n".join([*header("malloc keeping freed memory (runtime.malloc_tuning)", results["environment"]), "", *rows])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
