"""torch.compile on this CPU: the training losses of D_φ and G_θ compiled (inductor, default mode) against eager.

The speed issue asks for torch.compile where it measures faster. Timed, at the paper's sizes, per training step
(loss → backward → fused Adam; the optimizer stays eager):

* `d_step`: D_φ's loss (`Discriminator.loss`, batch 64, dropout on) in bfloat16 (runtime.precision 'auto' here);
* `mle_step`: G_θ's MLE loss (`Generator.nll`, batch 64 × 20 steps, gradient clipping 5).

The compiled path is built once (its compile time is reported apart), then both paths run the same steps on the
same weights, data and seeds, interleaved (the order reversed every other repeat), each after waiting for a quiet
machine; medians per step. The library's own kernels are custom autograd functions (D's convolutions as GEMMs, G's
fused loss), at which dynamo breaks the graph: what compile can fuse is the work around them.

    .venv/bin/python benchmarks/bench_compile.py --json benchmarks/results/compile.json
    .venv/bin/python benchmarks/bench_compile.py --quick     # small sizes, 1 repeat: checks the script runs
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

from seqgan.cpu import has_bf16_matmul
from seqgan.discriminator import Discriminator
from seqgan.generator import Generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, header, run_config  # noqa: E402
from timing import add_run_options, resolve_run_options, steal_pct, steal_summary, time_interleaved  # noqa: E402

PATHS = ("eager", "compiled")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="vocabulary 500, few steps, 1 repeat: checks the script runs")
    p.add_argument("--steps", type=int, default=None, help="training steps per timed run (default 50; 3 quick)")
    p.add_argument("--work", default="d_step,mle_step", help="comma-separated subset of d_step, mle_step")
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    args.steps = args.steps or (3 if args.quick else 50)
    args.vocab = 500 if args.quick else 5000
    return args


def build(work: str, args: argparse.Namespace) -> tuple[torch.nn.Module, Callable[..., torch.Tensor], tuple, float]:
    """The model, its loss, one batch, and the gradient-clipping norm (0: none)."""
    torch.manual_seed(0)
    if work == "d_step":
        d = Discriminator(args.vocab, seq_len=20)
        if has_bf16_matmul(torch.device("cpu")) and not args.quick:
            d.set_compute_dtype(torch.bfloat16)
        batch = (torch.randint(0, args.vocab, (64, 20)), torch.randint(0, 2, (64,)))
        return d.train(), d.loss, batch, 0.0
    g = Generator(args.vocab, emb_dim=32, hidden_dim=32, seq_len=20)
    return g.train(), g.nll, (torch.randint(0, args.vocab, (64, 20)),), 5.0


def measure(work: str, args: argparse.Namespace) -> dict[str, Any]:
    model0, _, batch, clip = build(work, args)
    compile_s: dict[str, float] = {}
    models: dict[str, tuple[torch.nn.Module, Callable[..., torch.Tensor], torch.optim.Optimizer]] = {}
    for path in PATHS:
        model = copy.deepcopy(model0)
        loss_fn = getattr(model, "loss" if work == "d_step" else "nll")
        if path == "compiled":
            torch._dynamo.reset()
            loss_fn = torch.compile(loss_fn)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
        start = time.perf_counter()
        step(model, loss_fn, opt, batch, clip)  # the first call compiles
        compile_s[path] = time.perf_counter() - start
        models[path] = (model, loss_fn, opt)

    def prepare(path: str, warmup: bool) -> Callable[[], float]:
        model, loss_fn, opt = models[path]
        torch.manual_seed(1)  # the same dropout masks on both paths

        def run() -> float:
            loss = 0.0
            for _ in range(1 if warmup else args.steps):
                loss = step(model, loss_fn, opt, batch, clip)
            return loss
        return run

    runs = time_interleaved(PATHS, prepare, args.repeats, args.max_steal, max_others=args.max_others)
    per_step = {p: statistics.median(runs[p]["seconds"]) / args.steps for p in PATHS}
    return {"per_step_s": per_step, "first_call_s": compile_s, "steal": steal_summary(
        [s for p in PATHS for s in runs[p]["steal"]]), "loss": {p: runs[p]["result"][-1] for p in PATHS},
        "runs": {p: runs[p]["seconds"] for p in PATHS}}


def step(model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor], opt: torch.optim.Optimizer, batch: tuple,
         clip: float) -> float:
    loss = loss_fn(*batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return float(loss.detach())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"config": run_config(args), "environment": environment()}
    titles = {"d_step": "D_φ training step (paper D, batch 64" + (", bfloat16)" if not args.quick
                                                                   and has_bf16_matmul(torch.device("cpu")) else ")"),
              "mle_step": "G_θ MLE step (paper G, batch 64 × 20)"}
    rows = ["| work | eager (ms/step) | compiled (ms/step) | eager / compiled | first call: eager / compiled (s) "
            "| steal |", "|---|---:|---:|---:|---:|---|"]
    for work in args.work.split(","):
        r = results[work] = measure(work, args)
        e, c = r["per_step_s"]["eager"], r["per_step_s"]["compiled"]
        rows.append(f"| {titles[work]} | {1e3 * e:.2f} | {1e3 * c:.2f} | {e / c:.2f}× "
                    f"| {r['first_call_s']['eager']:.2f} / {r['first_call_s']['compiled']:.1f} | {steal_pct(r['steal'])} |")
    table = "\n".join([*header("torch.compile on CPU against eager", results["environment"]), "", *rows])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
