"""Time SeqGAN's four bulk workloads, the library's fast path against a plain reference, in one process.

* `sample`: draw 10,000 sequences from G_θ. Fast: `Generator.sample` (blocked inverse CDF). Naive: the same
  LSTM step loop drawing each token with multinomial(softmax) over whole (N, V) logits.
* `mle`: one MLE epoch over 10,000 oracle sequences. Fast: `generator.nll` (fused projection + NLL).
  Naive: `F.cross_entropy` over `generator(batch)` logits. Same Adam(fused) + grad clip in both.
* `nll`: NLL_oracle of 10,000 sequences. Fast: `Oracle.nll_of` (fused, batches of 256).
  Naive: `F.cross_entropy` over `oracle(batch)` logits, batches of 64, under no_grad.
* `disc`: one D epoch over 10,000 real + 10,000 generated sequences. Fast: `torch.optim.Adam(fused=True)`.
  Naive: the default `torch.optim.Adam`.

Both paths of a workload start from the same weights, data, batch order and RNG seed; only the timed call
differs. Each path gets one warm-up, then `--repeats` timed runs, interleaved with the other path's in
alternating order; the median is reported. A "check" value per path (a loss or NLL computed by the run
itself, or outside the timing for sampling) shows that both paths did the same work.

    .venv/bin/python benchmarks/bench_workloads.py                      # paper sizes
    .venv/bin/python benchmarks/bench_workloads.py --quick --threads 1  # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seqgan.discriminator import Discriminator
from seqgan.generator import Generator, LSTMPolicy
from seqgan.kernels.fused import augment, block_rows
from seqgan.oracle import PAPER_VOCAB, Oracle

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import discriminator_flops_per_sequence, emit, environment, fmt_s, header, matmul_gflops, run_config  # noqa: E402
from timing import add_max_steal_option, max_steal, steal_note, steal_pct, steal_summary, time_interleaved, wait_for_quiet  # noqa: E402

WORKLOADS = ("sample", "mle", "nll", "disc")
GEN_LR = 0.01          # reference code's generator learning rate
GRAD_CLIP = 5.0        # reference code's generator grad_clip
D_LR = 1e-4            # reference code's discriminator learning rate
NAIVE_NLL_BATCH = 64   # the plain scorer evaluates one training-sized batch at a time
D_EPOCH_REF = 20_000   # one paper D epoch: 10,000 real + 10,000 generated; D times are reported per this many
WARMUP_SEQUENCES = 512  # MLE/D warm-up: a few batches of the real shape warm the same kernels as a full epoch


@dataclass
class Workload:
    """One workload: `prepare(fast, warmup)` builds fresh state outside the timing and returns the call to time."""

    name: str
    title: str
    fast_label: str
    naive_label: str
    prepare: Callable[[bool, bool], Callable[[], Any]]
    check: Callable[[Any], float]   # turns a timed call's return value into a number both paths should agree on
    check_label: str
    gflop: float | None             # estimated useful work of one full run (fast path), for the achieved rate
    sequences: int                  # sequences one timed run processes
    scale: float = 1.0              # times are multiplied by this (D timed on fewer sequences than one paper epoch)
    note: str = ""


# ---- naive references ----------------------------------------------------------------------------------

@torch.no_grad()
def naive_sample(policy: LSTMPolicy, num: int) -> torch.Tensor:
    """The same step loop as `LSTMPolicy.sample`, but each token from multinomial(softmax) over whole (N, V) logits."""
    table = policy.input_table()
    tokens_N = torch.full((num,), policy.start_token, dtype=torch.long)
    out_NxT = torch.empty(num, policy.seq_len, dtype=torch.long)
    h, c = policy.zero_state(num)
    for t in range(policy.seq_len):
        h, c = policy.step(table, tokens_N, h, c)
        tokens_N = torch.multinomial(torch.softmax(policy.output(h), dim=-1), 1).squeeze(1)
        out_NxT[:, t] = tokens_N
    return out_NxT


def logits_nll(policy: LSTMPolicy, tokens_BxT: torch.Tensor) -> torch.Tensor:
    """Per-token mean NLL through materialised (B, T, V) logits: the plain PyTorch way."""
    return F.cross_entropy(policy(tokens_BxT).flatten(0, 1), tokens_BxT.flatten())


@torch.no_grad()
def naive_nll_of(oracle: Oracle, sequences_NxT: torch.Tensor, batch_size: int = NAIVE_NLL_BATCH) -> float:
    """NLL_oracle with plain cross-entropy over each batch's logits (summed, so the mean is over all tokens)."""
    total = 0.0
    for lo in range(0, len(sequences_NxT), batch_size):
        batch = sequences_NxT[lo:lo + batch_size]
        total += F.cross_entropy(oracle(batch).flatten(0, 1), batch.flatten(), reduction="sum").item()
    return total / sequences_NxT.numel()


def adam_default_impl() -> str:
    """What the default (fused=None, foreach=None) Adam resolves to for CPU tensors, for the table."""
    try:
        from torch.optim.optimizer import _get_foreach_kernels_supported_devices
        return "foreach" if "cpu" in _get_foreach_kernels_supported_devices() else "per-parameter for-loop on CPU"
    except ImportError:  # private helper; the label is cosmetic
        return "torch's default"


# ---- workloads -----------------------------------------------------------------------------------------

def sampling_workload(args: argparse.Namespace, generator: Generator) -> Workload:
    n = args.sequences

    def prepare(fast: bool, warmup: bool) -> Callable[[], Any]:
        torch.manual_seed(args.seed)
        return (lambda: generator.sample(n)) if fast else (lambda: naive_sample(generator, n))

    def check(samples: torch.Tensor) -> float:
        # G's own NLL of its samples estimates its entropy rate: equal in expectation for two exact samplers.
        with torch.no_grad():
            return generator.nll(samples).item()

    return Workload(
        "sample", f"sampling {n:,} sequences", "`Generator.sample`", "multinomial(softmax) on (N, V) logits",
        prepare, check, "G's NLL of its samples",
        gflop=2 * n * args.seq_len * args.hidden * args.vocab / 1e9, sequences=n,
        note="FLOPs: output projection only, 2·N·T·H·V.")


def mle_epoch(generator: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: Callable[[torch.Tensor], torch.Tensor],
              real: torch.Tensor, order: torch.Tensor, batch: int, n_batches: int) -> float:
    """`n_batches` MLE steps over real[order] (loss → backward → clip → Adam), as the trainer's MLE epoch; the mean loss."""
    total = torch.zeros(())
    for i in range(n_batches):
        loss = loss_fn(real[order[i * batch:(i + 1) * batch]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(generator.parameters(), GRAD_CLIP)
        opt.step()
        total += loss.detach()  # no .item() per batch: it would add a sync point the trainer does not have
    return total.item() / max(1, n_batches)


def mle_workload(args: argparse.Namespace, generator0: Generator, real: torch.Tensor) -> Workload:
    batches = len(real) // args.batch  # full batches only, as SeqGANTrainer.mle_epoch
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(args.seed))

    def prepare(fast: bool, warmup: bool) -> Callable[[], Any]:
        generator = copy.deepcopy(generator0)  # every run starts from the same weights and a fresh optimizer
        opt = torch.optim.Adam(generator.parameters(), lr=GEN_LR, fused=True)
        loss_fn = generator.nll if fast else (lambda b: logits_nll(generator, b))
        n_batches = min(batches, WARMUP_SEQUENCES // args.batch) if warmup else batches
        torch.manual_seed(args.seed)
        return lambda: mle_epoch(generator, opt, loss_fn, real, order, args.batch, n_batches)

    n = batches * args.batch
    return Workload(
        "mle", f"one MLE epoch over {len(real):,} sequences", "`generator.nll` (fused)", "`F.cross_entropy(generator(batch))`",
        prepare, lambda loss: loss, "mean MLE loss",
        gflop=3 * 2 * n * args.seq_len * args.hidden * args.vocab / 1e9, sequences=n,
        note=f"{batches} batches of {args.batch}, Adam(lr {GEN_LR}, fused) + clip {GRAD_CLIP} in both paths. "
             "FLOPs: projection forward + 2 backward matmuls, 3·2·N·T·H·V (the fused path builds the gradients "
             "from the probabilities in the forward pass, so it executes exactly this; the naive path too).")


def nll_workload(args: argparse.Namespace, oracle: Oracle, samples: torch.Tensor) -> Workload:
    def prepare(fast: bool, warmup: bool) -> Callable[[], Any]:
        return (lambda: oracle.nll_of(samples)) if fast else (lambda: naive_nll_of(oracle, samples))

    n = len(samples)
    return Workload(
        "nll", f"NLL_oracle of {n:,} sequences", "`Oracle.nll_of` (fused)",
        f"`F.cross_entropy(oracle(batch))`, batch {NAIVE_NLL_BATCH}",
        prepare, lambda nll: nll, "NLL_oracle",
        gflop=2 * n * args.seq_len * oracle.hidden_dim * oracle.vocab_size / 1e9, sequences=n,
        note="FLOPs: output projection only, 2·N·T·H·V.")


def disc_workload(args: argparse.Namespace, real: torch.Tensor, fake: torch.Tensor) -> Workload:
    n = args.d_sequences
    n_real = n // 2
    data = torch.cat([real[:n_real], fake[:n - n_real]])
    labels = torch.cat([torch.ones(n_real), torch.zeros(n - n_real)]).long()
    order = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    d0 = Discriminator(args.vocab, seq_len=args.seq_len)

    def prepare(fast: bool, warmup: bool) -> Callable[[], Any]:
        d = copy.deepcopy(d0)
        d.train()  # dropout on, as in training; the seed below makes both paths draw the same masks
        opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True) if fast else torch.optim.Adam(d.parameters(), lr=D_LR)
        stop = min(n, WARMUP_SEQUENCES) if warmup else n

        torch.manual_seed(args.seed)
        return lambda: d_epoch(d, opt, data, labels, order[:stop], args.batch)

    scale = D_EPOCH_REF / n
    flop_per_seq = discriminator_flops_per_sequence(d0, args.seq_len)
    return Workload(
        "disc", f"one D epoch over {D_EPOCH_REF:,} sequences", "`Adam(fused=True)`", f"`Adam()` default ({adam_default_impl()})",
        prepare, lambda loss: loss, "mean D loss",
        # forward + backward ≈ 3x the forward's conv/highway/output FLOPs, counted on the sequences actually timed
        gflop=3 * flop_per_seq * n / 1e9, sequences=n, scale=scale,
        note=f"Discriminator({args.vocab}, {args.seq_len}) defaults, batch {args.batch}, lr {D_LR}, dropout on; "
             f"{n:,} sequences ({n_real:,} real + {n - n_real:,} generated) timed"
             + (f", times scaled linearly by {scale:.3g} to per-{D_EPOCH_REF:,}" if scale != 1.0 else "")
             + ". FLOPs: 3x the forward's conv + highway + output layers.")


def d_epoch(d: Discriminator, opt: torch.optim.Optimizer, data: torch.Tensor, labels: torch.Tensor, order: torch.Tensor,
            batch: int) -> float:
    """One pass of D training over data[order] in batches: loss → backward → step; returns the mean loss."""
    total = torch.zeros(())
    for lo in range(0, len(order), batch):
        idx = order[lo:lo + batch]
        loss = d.loss(data[idx], labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    return total.item() / len(order)


def mle_floor(args: argparse.Namespace, generator0: Generator, batches: int) -> dict[str, Any]:
    """The measured floor of the MLE epoch: its three projection GEMMs alone (the fused loss's shapes and layouts:
    logits, the hidden-state gradient and the output-layer gradient, per block of rows), and the same plus one exp
    pass over the logits (the least softmax work there is), on random data, interleaved, `batches` batches each."""
    rows = args.batch * args.seq_len
    h_aug, w_aug = augment(torch.randn(rows, args.hidden), generator0.output.weight.detach(), generator0.output.bias.detach())
    weight_VxH = generator0.output.weight.detach()
    step = block_rows(h_aug.device)
    buf = torch.empty(min(step, rows), args.vocab)
    grad_h, grad_w_aug = torch.empty(rows, args.hidden), torch.zeros_like(w_aug)

    def batch(with_exp: bool) -> None:
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            logits = torch.mm(h_aug[lo:hi], w_aug, out=buf[:hi - lo])
            if with_exp:
                logits.exp_()
            torch.mm(logits, weight_VxH, out=grad_h[lo:hi])
            grad_w_aug.addmm_(h_aug[lo:hi].T, logits)

    def prepare(path: str, warmup: bool) -> Callable[[], None]:
        count = 2 if warmup else batches

        def run() -> None:
            for _ in range(count):
                batch(path == "gemms+exp")
        return run

    runs = time_interleaved(("gemms", "gemms+exp"), prepare, args.repeats, args.max_steal)
    return {path: {"median_s": statistics.median(r["seconds"]), "repeats_s": r["seconds"], "steal": steal_summary(r["steal"])}
            for path, r in runs.items()}


# ---- timing and output ---------------------------------------------------------------------------------

def time_workload(w: Workload, repeats: int, max_steal: float) -> dict[str, Any]:
    """Both paths interleaved (`timing.time_interleaved`): median seconds (unscaled), checks and steal per path."""
    runs = time_interleaved(("fast", "naive"), lambda name, warmup: w.prepare(name == "fast", warmup), repeats, max_steal)
    return {
        name: {"median_s": statistics.median(r["seconds"]), "repeats_s": r["seconds"], "check": w.check(r["result"][-1]),
               "steal_runs": r["steal"], "steal": steal_summary(r["steal"])}
        for name, r in runs.items()
    }


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    peak = results["matmul_gflops"]
    lines = [
        *header("SeqGAN workloads: fast path vs naive reference", env),
        f"- sizes: vocab {args.vocab}, seq_len {args.seq_len}, G emb {args.emb} / hidden {args.hidden}, batch {args.batch}, "
        f"{args.sequences:,} sequences; oracle: {results['oracle']}",
        f"- {args.repeats} timed repeat(s) per path after 1 warm-up (MLE/D warm up on {WARMUP_SEQUENCES} sequences), "
        "paths interleaved; median reported",
        f"- fp32 matmul {results['matmul_n']}² @ {results['matmul_n']}²: {peak:.1f} GFLOP/s (median of 3) — the "
        "reference for '% of matmul rate'",
        steal_note(args.max_steal),
        "- steal during the timed runs (median / max over runs): " + "; ".join(
            f"{name}: fast {steal_pct(r['fast']['steal'])} · naive {steal_pct(r['naive']['steal'])}"
            for name, r in results["workloads"].items()),
        "",
        "| workload | fast path | naive path | fast (s) | naive (s) | naive / fast | GFLOP (est.) | fast GFLOP/s "
        "| fast % of matmul rate | check: fast / naive |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["workloads"].values():
        fast, naive = r["fast"], r["naive"]
        scaled = "" if r["scale"] == 1.0 else f" ({r['sequences']:,} timed, ×{r['scale']:.3g})"
        rate = r["gflop"] / fast["median_s"] if r["gflop"] is not None else None
        gflop = "—" if r["gflop"] is None else f"{r['gflop'] * r['scale']:.1f}"
        frac = "—" if rate is None else f"{100 * rate / peak:.1f}%"
        lines.append(
            f"| {r['title']}{scaled} | {r['fast_label']} | {r['naive_label']} | {fmt_s(fast['median_s'] * r['scale'])} "
            f"| {fmt_s(naive['median_s'] * r['scale'])} | {naive['median_s'] / fast['median_s']:.2f}x "
            f"| {gflop} | {'—' if rate is None else f'{rate:.1f}'} | {frac} "
            f"| {r['check_label']}: {fast['check']:.4f} / {naive['check']:.4f} |")
    if "mle_floor" in results:
        mle, floor = results["workloads"]["mle"], results["mle_floor"]
        lines += ["", f"Measured floor of the MLE epoch ({mle['sequences'] // args.batch} batches), timed interleaved in the "
                  "same run:", "", "| piece | seconds | GFLOP/s | % of matmul rate | MLE epoch / piece | steal (median / max) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for path, label in (("gemms", "the projection GEMMs alone (same shapes and blocks)"),
                            ("gemms+exp", "the same plus one exp pass over the logits")):
            sec = floor[path]["median_s"]
            lines.append(f"| {label} | {fmt_s(sec)} | {mle['gflop'] / sec:.1f} | {100 * mle['gflop'] / sec / peak:.1f}% "
                         f"| {mle['fast']['median_s'] / sec:.2f}x | {steal_pct(floor[path]['steal'])} |")
    lines += ["", "Notes:", *(f"- **{r['title']}**: {r['note']}" for r in results["workloads"].values() if r["note"])]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="vocab 500, 1,000 sequences, D on 512 sequences, 1 repeat: for checking the script runs")
    p.add_argument("--only", type=str, default=None, help=f"comma-separated subset of {','.join(WORKLOADS)}")
    p.add_argument("--vocab", type=int, default=None, help="default 5000 (the paper oracle); 500 with --quick")
    p.add_argument("--seq-len", type=int, default=20)
    p.add_argument("--emb", type=int, default=32, help="generator embedding size")
    p.add_argument("--hidden", type=int, default=32, help="generator hidden size")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--sequences", type=int, default=None,
                   help="sequences sampled / trained on / scored (default 10,000; 1,000 with --quick)")
    p.add_argument("--d-sequences", type=int, default=None,
                   help=f"sequences in the timed D epoch, half real (default {D_EPOCH_REF:,}; 512 with --quick); "
                        f"times are scaled linearly to per-{D_EPOCH_REF:,}")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per path after one warm-up; median reported (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    add_max_steal_option(p)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    args.vocab = args.vocab or (500 if args.quick else PAPER_VOCAB)
    args.sequences = args.sequences or (1000 if args.quick else 10_000)
    args.d_sequences = args.d_sequences or (512 if args.quick else D_EPOCH_REF)
    args.repeats = (1 if args.quick else 3) if args.repeats is None else args.repeats
    args.max_steal = max_steal(args)
    args.only = WORKLOADS if args.only is None else tuple(s.strip() for s in args.only.split(",") if s.strip())
    if unknown := [s for s in args.only if s not in WORKLOADS]:
        p.error(f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.d_sequences < 2 or args.sequences < args.batch:
        p.error("need --d-sequences >= 2 and --sequences >= --batch")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    matmul_n = 1024 if args.quick else 2048
    wait_for_quiet(args.max_steal)
    peak = matmul_gflops(matmul_n)

    # The paper's oracle only exists at vocab 5000; other vocabularies (--quick) get a random one of the paper's shape.
    if args.vocab == PAPER_VOCAB:
        oracle, oracle_desc = Oracle.paper(seq_len=args.seq_len), "Oracle.paper() (LantaoYu/SeqGAN target_params)"
    else:
        oracle = Oracle.random(args.vocab, seq_len=args.seq_len, seed=args.seed)
        oracle_desc = f"Oracle.random({args.vocab}) (the paper oracle needs vocab {PAPER_VOCAB})"
    generator = Generator(args.vocab, emb_dim=args.emb, hidden_dim=args.hidden, seq_len=args.seq_len)
    # Shared data, made once outside any timing: real = oracle samples, fake = G samples.
    n_data = max(args.sequences, args.d_sequences - args.d_sequences // 2)
    real, fake = oracle.sample(n_data), generator.sample(n_data)

    builders: dict[str, Callable[[], Workload]] = {
        "sample": lambda: sampling_workload(args, generator),
        "mle": lambda: mle_workload(args, generator, real[:args.sequences]),
        "nll": lambda: nll_workload(args, oracle, fake[:args.sequences]),
        "disc": lambda: disc_workload(args, real, fake),
    }
    results: dict[str, Any] = {
        "env": env,
        "config": run_config(args),
        "matmul_n": matmul_n,
        "matmul_gflops": peak,
        "oracle": oracle_desc,
        "workloads": {},
    }
    for name in WORKLOADS:
        if name not in args.only:
            continue
        w = builders[name]()
        timed = time_workload(w, args.repeats, args.max_steal)
        results["workloads"][name] = {
            "title": w.title, "fast_label": w.fast_label, "naive_label": w.naive_label, "check_label": w.check_label,
            "sequences": w.sequences, "scale": w.scale, "gflop": w.gflop, "note": w.note,
            **timed,
            "speedup": timed["naive"]["median_s"] / timed["fast"]["median_s"],
        }
        if name == "mle":
            results["mle_floor"] = mle_floor(args, generator, args.sequences // args.batch)

    return emit(markdown(env, args, results), results, args.json)


if __name__ == "__main__":
    main()
