"""SeqGAN here against TextGAN-PyTorch's SeqGAN, side by side: the same four workloads, same machine, same process.

TextGAN-PyTorch (github.com/williamSYSU/TextGAN-PyTorch) is the most used PyTorch implementation of SeqGAN. This
script imports its models and its own training functions from a checkout you name with --peer (nothing is copied
into this repository, nothing downloads) and times, at the paper's sizes, interleaved with this project's paths:

* `sample`: 10,000 sequences. Peer: `SeqGAN_G.sample(10000, 256)` (batch 4 × 64, as its d-step draws negatives).
* `gstep`: one adversarial g-step, 64 sequences × 16 rollouts. Peer: its `adv_train_generator` body (sample 64,
  `ROLLOUT.get_reward`, `batchPGLoss`, Adam). Here: `batched_rewards` + `pg_loss` + clip + Adam on 64 sequences.
* `mle`: one MLE epoch over 10,000 sequences, batch 64. Peer: `BasicInstructor.train_gen_epoch` over its
  `GenDataIter` loader (NLLLoss, Adam lr 0.01, clip 5). Here: `generator.nll` (fused), the same optimiser settings.
* `disc`: one D epoch over 20,000 sequences (10,000 + 10,000), batch 64. Peer: `BasicInstructor.train_dis_epoch`
  over its `DisDataIter` loader with its `SeqGAN_D` (the same 1,720 filters, embedding 64, one highway layer,
  dropout 0.25; Adam lr 1e-4, clip 5). Here: the paper D (two highway layers), Adam(fused) lr 1e-4.

Both sides in float32 (the peer has no bfloat16 path; this project's bf16 figures are bench_precision.py's), 2
threads unless --threads, each timed run after waiting for a quiet machine (--max-steal, --max-others), medians.

    .venv/bin/python benchmarks/bench_peer.py --peer ../peer/TextGAN-PyTorch --json benchmarks/results/peer.json
    .venv/bin/python benchmarks/bench_peer.py --peer PATH --quick      # vocabulary 500, few sequences: checks it runs
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from seqgan.discriminator import Discriminator
from seqgan.generator import Generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment, fmt_s, header, run_config  # noqa: E402
from bench_precision import gstep_paths  # noqa: E402
from bench_workloads import d_epoch, mle_epoch  # noqa: E402
from timing import add_run_options, resolve_run_options, steal_pct, steal_summary, time_interleaved  # noqa: E402

GEN_LR = 0.01
D_LR = 1e-4
PATHS = ("peer", "seqgan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", type=Path, required=True, help="a checkout of TextGAN-PyTorch (its root: config.py, models/)")
    p.add_argument("--quick", action="store_true", help="vocabulary 500 and few sequences: checks the script runs")
    add_run_options(p)
    args = resolve_run_options(p.parse_args(argv))
    args.vocab = 500 if args.quick else 5000
    args.seq_len, args.batch, args.rollout_num = 20, 64, (2 if args.quick else 16)
    args.g_sequences = 256 if args.quick else 10_000
    args.d_sequences = 256 if args.quick else 20_000
    return args


def import_peer(root: Path, args: argparse.Namespace) -> types.SimpleNamespace:
    """TextGAN-PyTorch's modules, configured for the CPU and the paper's sizes (its settings are module globals)."""
    if not (root / "config.py").is_file() or not (root / "models" / "SeqGAN_G.py").is_file():
        raise SystemExit(f"error: {root} is not a TextGAN-PyTorch checkout (no config.py and models/SeqGAN_G.py); "
                         "clone github.com/williamSYSU/TextGAN-PyTorch and pass its folder as --peer")
    sys.path.insert(0, str(root.resolve()))
    import config as cfg  # the peer's

    cfg.CUDA = False
    cfg.vocab_size, cfg.max_seq_len, cfg.batch_size, cfg.rollout_num = args.vocab, args.seq_len, args.batch, args.rollout_num
    from instructor.oracle_data.instructor import BasicInstructor
    from models.SeqGAN_D import SeqGAN_D
    from models.SeqGAN_G import SeqGAN_G
    from utils import rollout
    from utils.data_loader import DisDataIter, GenDataIter

    return types.SimpleNamespace(cfg=cfg, Instructor=BasicInstructor, G=SeqGAN_G, D=SeqGAN_D, rollout=rollout,
                                 GenDataIter=GenDataIter, DisDataIter=DisDataIter,
                                 stub=types.SimpleNamespace(optimize=BasicInstructor.optimize))


def workloads(args: argparse.Namespace, peer: types.SimpleNamespace) -> dict[str, tuple[str, Callable]]:
    """Per workload: its title and `prepare(path, warmup) -> run`."""
    cfg = peer.cfg
    torch.manual_seed(0)
    g0 = Generator(args.vocab, emb_dim=32, hidden_dim=32, seq_len=args.seq_len)
    d0 = Discriminator(args.vocab, seq_len=args.seq_len)
    pg0 = peer.G(cfg.gen_embed_dim, cfg.gen_hidden_dim, args.vocab, args.seq_len, cfg.padding_idx, gpu=False)
    pd0 = peer.D(cfg.dis_embed_dim, args.vocab, cfg.padding_idx, gpu=False)
    with torch.no_grad():
        real = torch.randint(0, args.vocab, (args.g_sequences, args.seq_len))
        fake = g0.sample(args.d_sequences - args.d_sequences // 2)
        Y = g0.sample(args.batch)
    d_real = torch.randint(0, args.vocab, (args.d_sequences // 2, args.seq_len))

    def sample(path: str, warmup: bool) -> Callable[[], Any]:
        n = 512 if warmup else args.g_sequences
        torch.manual_seed(1)
        if path == "peer":
            return lambda: pg0.sample(n, 4 * args.batch)
        return lambda: g0.sample(n)

    ours_gstep = gstep_paths(args, d0, g0, Y)

    def gstep(path: str, warmup: bool) -> Callable[[], Any]:
        if path == "seqgan":
            return ours_gstep("fp32", warmup)
        gen, dis = copy.deepcopy(pg0), copy.deepcopy(pd0).eval()
        opt = torch.optim.Adam(gen.parameters(), lr=GEN_LR)
        torch.manual_seed(2)

        def step() -> float:  # the body of its adv_train_generator, one g-step
            inp, target = peer.GenDataIter.prepare(gen.sample(args.batch, args.batch), gpu=False)
            rewards = peer.rollout.ROLLOUT(gen, False).get_reward(target, args.rollout_num, dis)
            loss = gen.batchPGLoss(inp, target, rewards)
            peer.Instructor.optimize(opt, loss)
            return loss.item()

        return step

    def mle(path: str, warmup: bool) -> Callable[[], Any]:
        data = real[:512] if warmup else real
        torch.manual_seed(3)
        if path == "peer":
            gen = copy.deepcopy(pg0)
            opt = torch.optim.Adam(gen.parameters(), lr=GEN_LR)
            loader = peer.GenDataIter(data).loader
            return lambda: peer.Instructor.train_gen_epoch(peer.stub, gen, loader, nn.NLLLoss(), opt)
        g = copy.deepcopy(g0)
        opt = torch.optim.Adam(g.parameters(), lr=GEN_LR, fused=True)
        order = torch.randperm(len(data))
        return lambda: mle_epoch(g, opt, g.nll, data, order, args.batch, len(data) // args.batch)

    def disc(path: str, warmup: bool) -> Callable[[], Any]:
        n = 256 if warmup else args.d_sequences
        pos, neg = d_real[:n // 2], fake[:n - n // 2]
        torch.manual_seed(4)
        if path == "peer":
            dis = copy.deepcopy(pd0).train()
            opt = torch.optim.Adam(dis.parameters(), lr=D_LR)
            loader = peer.DisDataIter(pos, neg).loader
            return lambda: peer.Instructor.train_dis_epoch(peer.stub, dis, loader, nn.CrossEntropyLoss(), opt)[0]
        d = copy.deepcopy(d0).train()
        opt = torch.optim.Adam(d.parameters(), lr=D_LR, fused=True)
        data = torch.cat([pos, neg])
        labels = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long()
        return lambda: d_epoch(d, opt, data, labels, torch.randperm(len(data)), args.batch)

    return {"sample": (f"sampling {args.g_sequences:,} sequences", sample),
            "gstep": (f"one g-step (64 × {args.rollout_num} rollouts, rewards + update)", gstep),
            "mle": (f"one MLE epoch ({args.g_sequences:,} sequences)", mle),
            "disc": (f"one D epoch ({args.d_sequences:,} sequences)", disc)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    peer = import_peer(args.peer, args)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # both sides, as this project's CLI does
    results: dict[str, Any] = {"config": run_config(args), "environment": environment()}
    rows = ["| work | TextGAN-PyTorch (s) | seqgan, float32 (s) | ratio | steal, others' CPU: median / max |",
            "|---|---:|---:|---:|---|"]
    for key, (title, prepare) in workloads(args, peer).items():
        runs = time_interleaved(PATHS, prepare, args.repeats, args.max_steal, max_others=args.max_others)
        r = results[key] = {p: {"seconds": statistics.median(runs[p]["seconds"]), "repeats_s": runs[p]["seconds"],
                                "steal": steal_summary(runs[p]["steal"]), "others": steal_summary(runs[p]["others"])}
                            for p in PATHS}
        rows.append(f"| {title} | {fmt_s(r['peer']['seconds'])} | {fmt_s(r['seqgan']['seconds'])} "
                    f"| {r['peer']['seconds'] / r['seqgan']['seconds']:.1f}× "
                    f"| peer {steal_pct(r['peer']['steal'])}, {steal_pct(r['peer']['others'])}; "
                    f"seqgan {steal_pct(r['seqgan']['steal'])}, {steal_pct(r['seqgan']['others'])} |")
    table = "\n".join([*header("TextGAN-PyTorch's SeqGAN against seqgan, side by side", results["environment"]), "", *rows])
    return emit(table, results, args.json)


if __name__ == "__main__":
    main()
