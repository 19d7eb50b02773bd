"""Time D_φ's two bulk workloads, `Discriminator.forward` against two plain formulations, in one process.

* `train`: one D epoch: batches of 64 → logits → `loss_from_logits` → backward → `Adam(fused=True)` step, dropout on.
* `score`: the reward of many sequences: softmax(logits)[:, 1] in batches of 4096, eval mode, no autograd
  (`Discriminator.prob_real` for the new path).

new = `Discriminator.forward` (convolutions as one GEMM per width over shared time-major windows, max-pool backward
from an indicator); reference = `seqgan.kernels.conv.reference_forward` (Conv1d per width → ReLU → amax), the code
before that change; conv2d = the layout of the popular PyTorch SeqGAN implementations (`nn.Conv2d(1, F, (w, E))`
over the (N, 1, T, E) embeddings → ReLU → `F.max_pool1d` over time), with its own Conv2d parameters so that no
re-layout is timed. All paths start from the same weights, data, batch order and RNG seed (so the same dropout
masks) and share the highway, dropout and output layers; only the convolutions differ. Each path gets one warm-up,
then `--repeats` timed runs interleaved with the others' in alternating order; medians are reported, and the
median of the per-repeat ratios. The "check" columns (mean loss, mean reward) show that the paths did the same work.

    .venv/bin/python benchmarks/bench_discriminator.py                      # paper sizes, 20,000 sequences
    .venv/bin/python benchmarks/bench_discriminator.py --quick --threads 1  # seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqgan.discriminator import Discriminator
from seqgan.kernels.conv import reference_forward

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import discriminator_flops_per_sequence, emit, environment, fmt_s, header, matmul_gflops, run_config  # noqa: E402
from timing import add_max_steal_option, max_steal, steal_note, steal_pct, steal_summary, time_interleaved, wait_for_quiet  # noqa: E402

try:
    import resource
except ImportError:  # not on Windows: no page-fault counts there
    resource = None  # type: ignore[assignment]

D_LR = 1e-4             # reference code's discriminator learning rate
D_EPOCH_REF = 20_000    # one paper D epoch (10,000 real + 10,000 generated); times are also given per this many
WARMUP_SEQUENCES = 256  # a few batches of the real shape warm the same kernels as a full run
PATHS = ("new", "reference", "conv2d")
BASELINES = PATHS[1:]  # timed against "new"


class Conv2dDiscriminator(nn.Module):
    """The same D in the popular PyTorch implementations' layout: Conv2d(1, F, (w, E)) → ReLU → max_pool1d."""

    def __init__(self, d: Discriminator):
        super().__init__()
        self.d = copy.deepcopy(d)  # embedding, highway, dropout and output layer
        self.convs = nn.ModuleList(nn.Conv2d(1, c.out_channels, (c.kernel_size[0], c.in_channels)) for c in d.convs)
        with torch.no_grad():
            for conv2d, conv1d in zip(self.convs, d.convs):
                conv2d.weight.copy_(conv1d.weight.transpose(1, 2).unsqueeze(1))  # (F, E, w) → (F, 1, w, E)
                conv2d.bias.copy_(conv1d.bias)
        self.d.convs = nn.ModuleList()  # the Conv1d copies are not used: keep them out of the optimizer

    def forward(self, tokens_NxT: torch.Tensor) -> torch.Tensor:
        x_Nx1xTxE = self.d.embed(tokens_NxT).unsqueeze(1)
        if x_Nx1xTxE.shape[2] < self.d.min_width:
            x_Nx1xTxE = F.pad(x_Nx1xTxE, (0, 0, 0, self.d.min_width - x_Nx1xTxE.shape[2]))
        pooled = []
        for conv in self.convs:
            y_NxFxS = F.relu(conv(x_Nx1xTxE)).squeeze(3)
            pooled.append(F.max_pool1d(y_NxFxS, y_NxFxS.shape[2]).squeeze(2))
        return self.d._head(torch.cat(pooled, dim=1))

    def loss_from_logits(self, logits_Nx2: torch.Tensor, labels_N: torch.Tensor) -> torch.Tensor:
        return self.d.loss_from_logits(logits_Nx2, labels_N)


def minor_faults() -> int | None:
    """Minor page faults of this process so far: fresh pages the kernel had to map (zeroed) on first touch."""
    return None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def path_model(path: str, d0: Discriminator) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """A fresh copy of D0 for a path, and the forward it times: D's own, the plain Conv1d formulation on the same
    parameters, or the Conv2d layout with its own parameters."""
    if path == "conv2d":
        model = Conv2dDiscriminator(d0)
        return model, model
    d = copy.deepcopy(d0)
    return d, (d if path == "new" else (lambda tokens_NxT: reference_forward(d, tokens_NxT)))


def train_run(path: str, d0: Discriminator, data_NxT: torch.Tensor, labels_N: torch.Tensor, order_N: torch.Tensor,
              batch: int, seed: int) -> Callable[[], float]:
    """A fresh copy of D and its optimizer, outside the timing; returns the epoch to time (→ mean loss)."""
    d, forward = path_model(path, d0)
    d.train()
    opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True)

    def epoch() -> float:
        total = torch.zeros(())
        for lo in range(0, len(order_N), batch):
            idx = order_N[lo:lo + batch]
            loss = d.loss_from_logits(forward(data_NxT[idx]), labels_N[idx])
            opt.zero_grad(set_to_none=True)  # as SeqGANTrainer._update
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        return total.item() / len(order_N)

    torch.manual_seed(seed)
    return epoch


def score_run(path: str, d0: Discriminator, data_NxT: torch.Tensor, batch: int) -> Callable[[], float]:
    """Returns the scoring pass to time (→ mean probability of real)."""
    if path == "new":
        return lambda: d0.prob_real(data_NxT, batch_size=batch).mean().item()
    model, forward = path_model(path, d0)

    @torch.no_grad()
    def baseline_prob_real() -> float:
        model.eval()
        probs = [torch.softmax(forward(data_NxT[lo:lo + batch]), dim=-1)[:, 1] for lo in range(0, len(data_NxT), batch)]
        return torch.cat(probs).mean().item()

    return baseline_prob_real


def step_gemms(d: Discriminator, batch: int, seq_len: int) -> Callable[[], None]:
    """The matrix products of one training step of `d`, alone: the same shapes and layouts as `Discriminator.forward`
    and `ConvMaxPool`'s backward (windows as row/column prefixes of one buffer) and the highway and output layers
    forward and backward, on random data. Their time is the floor of this formulation on this machine, at the
    rate MKL reaches on these shapes (skinny convolution GEMMs, 64-row highway GEMMs)."""
    n_win = max(seq_len - w + 1 for w in d.widths)
    win = torch.randn(n_win * batch, max(d.widths) * d.embedding.embedding_dim)
    convs = []
    for conv in d.convs:
        filters, emb, width = conv.weight.shape
        rows = (seq_len - width + 1) * batch
        convs.append((win[:rows, :width * emb], torch.randn(filters, width * emb), torch.randn(rows, filters)))
    f_tot = d.highway_h.in_features
    x = torch.randn(batch, f_tot)
    linears = [(torch.randn(layer.out_features, f_tot), torch.randn(batch, layer.out_features))
               for layer in (d.highway_h, d.highway_t, d.out)]

    def run() -> None:
        for a, w, dy in convs:
            torch.mm(a, w.t())     # forward
            torch.mm(dy.t(), a)    # weight gradient
            a.addmm_(dy, w, beta=0.0)  # window gradient, written over the windows as in the step
        for w, dy in linears:
            torch.mm(x, w.t())
            torch.mm(dy, w)
            torch.mm(dy.t(), x)

    return run


def time_floor(d0: Discriminator, args: argparse.Namespace, steps: int) -> dict[str, Any]:
    """The measured floor of `steps` training steps: their GEMMs alone, and fused Adam alone over D's parameters."""
    gemms = step_gemms(d0, args.batch, args.seq_len)
    d = copy.deepcopy(d0)
    for p in d.parameters():
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True)

    def prepare(path: str, warmup: bool) -> Callable[[], None]:
        fn = gemms if path == "gemms" else opt.step
        count = 2 if warmup else steps

        def run() -> None:
            for _ in range(count):
                fn()
        return run

    runs = time_interleaved(("gemms", "adam"), prepare, args.repeats, args.max_steal)
    return {path: {"median_s": statistics.median(r["seconds"]), "repeats_s": r["seconds"],
                   "steal": steal_summary(r["steal"])} for path, r in runs.items()}


def time_workload(prepare: Callable[[str, bool], Callable[[], float]], repeats: int, max_steal: float) -> dict[str, Any]:
    """All paths interleaved (`timing.time_interleaved`): median seconds, checks, page faults and steal per path."""
    runs = time_interleaved(PATHS, prepare, repeats, max_steal, counter=minor_faults)
    out: dict[str, Any] = {}
    for path, r in runs.items():
        out[path] = {"median_s": statistics.median(r["seconds"]), "repeats_s": r["seconds"], "check": r["result"][-1],
                     "minor_faults": statistics.median(r["counted"]) if r["counted"] else None,
                     "steal_runs": r["steal"], "steal": steal_summary(r["steal"])}
    for base in BASELINES:
        paired = [b / new for b, new in zip(runs[base]["seconds"], runs["new"]["seconds"])]
        out[base]["ratio_of_medians"] = out[base]["median_s"] / out["new"]["median_s"]
        out[base]["median_paired_ratio"] = statistics.median(paired)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="train on 640 sequences, score 4,096, 3 repeats, 1024² matmul: for checking the script runs")
    p.add_argument("--sequences", type=int, default=None,
                   help=f"sequences in the timed epoch and in the scoring pass (default {D_EPOCH_REF:,})")
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--seq-len", type=int, default=20)
    p.add_argument("--batch", type=int, default=64, help="training batch")
    p.add_argument("--score-batch", type=int, default=4096, help="sequences per D forward when scoring")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per path after one warm-up; median reported")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    add_max_steal_option(p)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    args.train_sequences = args.sequences or (640 if args.quick else D_EPOCH_REF)
    args.score_sequences = args.sequences or (4096 if args.quick else D_EPOCH_REF)
    args.max_steal = max_steal(args)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.train_sequences < 2 or args.batch < 1 or args.score_batch < 1:
        p.error("need --sequences >= 2, --batch >= 1 and --score-batch >= 1")
    return args


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    peak = results["matmul_gflops"]
    lines = [
        *header("D_φ: window-GEMM forward vs the Conv1d reference and the Conv2d layout", env),
        f"- D = Discriminator({args.vocab}, {args.seq_len}) defaults: {results['d_features']} features, "
        f"{results['d_flops_per_sequence'] / 1e6:.2f} MFLOP per sequence forward (conv + highway + output layers)",
        f"- {args.repeats} timed repeat(s) per path after 1 warm-up, paths interleaved; medians reported; "
        "'x / new' is the median of the per-repeat ratios (the ratio of the medians is in the JSON)",
        f"- fp32 matmul {results['matmul_n']}² @ {results['matmul_n']}²: {peak:.1f} GFLOP/s, the higher of the medians of 3 "
        f"before and after the workloads ({', '.join(f'{r:.1f}' for r in results['matmul_gflops_runs'])}): the reference "
        "for '% of matmul rate'. Absolute seconds move with other load on the machine; the ratio, from interleaved "
        "runs, is the steadier figure.",
        steal_note(args.max_steal),
        "- steal during the timed runs (median / max over runs): " + "; ".join(
            f"{name}: " + " · ".join(f"{p} {steal_pct(r[p]['steal'])}" for p in PATHS)
            for name, r in results["workloads"].items()),
        "",
        "| workload | sequences timed | new (s) | reference (s) | ref / new | conv2d (s) | conv2d / new "
        "| new, per 20,000 (s) | GFLOP per 20,000 | new GFLOP/s | % of matmul rate: new / ref / conv2d "
        "| minor page faults per run: new / ref / conv2d | check: new / ref / conv2d |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["workloads"].values():
        new, ref, c2d = r["new"], r["reference"], r["conv2d"]
        gflop = r["gflop"]
        scale = D_EPOCH_REF / r["sequences"]
        shares = " / ".join(f"{100 * gflop / p['median_s'] / peak:.1f}%" for p in (new, ref, c2d))
        faults = ("—" if new["minor_faults"] is None
                  else " / ".join(f"{p['minor_faults']:,.0f}" for p in (new, ref, c2d)))
        checks = " / ".join(f"{p['check']:.5f}" for p in (new, ref, c2d))
        lines.append(
            f"| {r['title']} | {r['sequences']:,} | {fmt_s(new['median_s'])} | {fmt_s(ref['median_s'])} "
            f"| {ref['median_paired_ratio']:.2f}x | {fmt_s(c2d['median_s'])} | {c2d['median_paired_ratio']:.2f}x "
            f"| {fmt_s(new['median_s'] * scale)} | {gflop * scale:.1f} | {gflop / new['median_s']:.1f} | {shares} "
            f"| {faults} | {r['check_label']}: {checks} |")
    train, floor = results["workloads"]["train"], results["floor"]
    floor_s = floor["gemms"]["median_s"] + floor["adam"]["median_s"]
    scale = D_EPOCH_REF / train["sequences"]
    lines += [
        "",
        f"Measured floor of the training epoch ({floor['steps']} steps of batch {args.batch}, the same as the timed "
        "epoch), timed interleaved in the same run:",
        "",
        "| piece | seconds | per 20,000 (s) | GFLOP/s | % of matmul rate | steal (median / max) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| the step's GEMMs alone (same shapes and layouts) | {fmt_s(floor['gemms']['median_s'])} "
        f"| {fmt_s(floor['gemms']['median_s'] * scale)} | {train['gflop'] / floor['gemms']['median_s']:.1f} "
        f"| {100 * train['gflop'] / floor['gemms']['median_s'] / peak:.1f}% | {steal_pct(floor['gemms']['steal'])} |",
        f"| fused Adam alone over the {floor['parameters'] / 1e6:.2f}M parameters | {fmt_s(floor['adam']['median_s'])} "
        f"| {fmt_s(floor['adam']['median_s'] * scale)} | — | — | {steal_pct(floor['adam']['steal'])} |",
        f"| **floor (sum)** | **{fmt_s(floor_s)}** | **{fmt_s(floor_s * scale)}** | | | |",
        f"| new: the whole epoch | {fmt_s(train['new']['median_s'])} | {fmt_s(train['new']['median_s'] * scale)} "
        f"| | | new / floor = **{train['new']['median_s'] / floor_s:.2f}x** |",
        "",
        "Notes:",
        f"- **train**: batch {args.batch}, Adam(fused=True) lr {D_LR}, dropout on, zero_grad(set_to_none=True); "
        "FLOPs = 3x the forward's (forward + input and weight gradients). Half the sequences are labelled real.",
        f"- **score**: batches of {args.score_batch}, eval mode, no autograd; new = `Discriminator.prob_real`, "
        "the baselines = the same loop over their forward.",
        "- Data are uniform random tokens: D's cost does not depend on them (no end token).",
        "- Minor page faults count first touches of memory the kernel had to map and zero: glibc serves big blocks "
        "with mmap and may hand them back on free, so a step's large gradients and buffers can fault again every "
        "step. The count depends on the allocator's history in the process; MALLOC_MMAP_THRESHOLD_ / "
        "MALLOC_TRIM_THRESHOLD_ (or jemalloc / tcmalloc) remove most of it.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    matmul_n = 1024 if args.quick else 2048
    wait_for_quiet(args.max_steal)
    rates = [matmul_gflops(matmul_n)]  # measured again after the workloads: the higher one is the reference

    gen = torch.Generator().manual_seed(args.seed)
    n_train, n_score = args.train_sequences, args.score_sequences
    train_data = torch.randint(0, args.vocab, (n_train, args.seq_len), generator=gen)
    labels = (torch.arange(n_train) < n_train // 2).long()
    order = torch.randperm(n_train, generator=gen)
    score_data = torch.randint(0, args.vocab, (n_score, args.seq_len), generator=gen)
    d0 = Discriminator(args.vocab, seq_len=args.seq_len)
    flops_per_seq = discriminator_flops_per_sequence(d0, args.seq_len)
    warm = order[:min(n_train, WARMUP_SEQUENCES)]

    def prepare_train(path: str, warmup: bool) -> Callable[[], float]:
        return train_run(path, d0, train_data, labels, warm if warmup else order, args.batch, args.seed)

    def prepare_score(path: str, warmup: bool) -> Callable[[], float]:
        return score_run(path, d0, score_data[:min(n_score, args.score_batch)] if warmup else score_data, args.score_batch)

    workloads = {
        "train": ("one D epoch (train)", n_train, 3 * flops_per_seq * n_train / 1e9, "mean loss", prepare_train),
        "score": ("scoring (reward)", n_score, flops_per_seq * n_score / 1e9, "mean D(Y)", prepare_score),
    }
    results: dict[str, Any] = {
        "env": env,
        "config": run_config(args),
        "matmul_n": matmul_n,
        "d_features": d0.highway_h.in_features,
        "d_flops_per_sequence": flops_per_seq,
        "workloads": {},
    }
    for name, (title, sequences, gflop, check_label, prepare) in workloads.items():
        results["workloads"][name] = {"title": title, "sequences": sequences, "gflop": gflop, "check_label": check_label,
                                      **time_workload(prepare, args.repeats, args.max_steal)}
    steps = -(-n_train // args.batch)
    results["floor"] = {"steps": steps, "parameters": sum(p.numel() for p in d0.parameters()),
                        **time_floor(d0, args, steps)}
    wait_for_quiet(args.max_steal)
    rates.append(matmul_gflops(matmul_n))
    results["matmul_gflops_runs"] = rates
    results["matmul_gflops"] = max(rates)  # background load only ever slows a measurement down
    return emit(markdown(env, args, results), results, args.json)


if __name__ == "__main__":
    main()
