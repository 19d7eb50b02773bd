"""The `seqgan` command: train, sample, evaluate. Kept thin: the work is in the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from seqgan.errors import SeqGANError

PRESET_NAMES = ("paper", "small", "tiny")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Progress shows on the bars; per-evaluation lines go to the run folder's train.log (-v shows them too).
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    try:
        return int(args.func(args) or 0)
    except SeqGANError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted. Work up to the last checkpoint is kept; run the same command with --resume "
              "to continue.", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqgan", description="SeqGAN: sequence GANs trained with policy gradient.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr, no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every evaluation on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train SeqGAN on the synthetic oracle into a run folder",
                       description="Train G_θ by MLE, pretrain D_φ, then run adversarial rounds (Algorithm 1).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=PRESET_NAMES, help="paper (reference hyperparameters), small (CPU, ~10 min), "
                     "tiny (seconds); default small")
    src.add_argument("--config", type=Path, help="TOML config file (may name a base with preset = \"NAME\")")
    p.add_argument("--out", type=Path, required=True, help="run folder (created; refused if it exists without --resume)")
    p.add_argument("--seed", type=int, help="run seed (overrides the config's)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.rollout_num=8 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--help-config", action="store_true", help="list every setting with its default and meaning, and exit")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="regenerate the paper's synthetic results (table1, ablation)",
                       description="table1: every method from one shared MLE-pretrained generator per seed; writes "
                       "table1.md (NLL_oracle mean ± std, NLL_test, the paper's figures, Welch p-values), figure2.png "
                       "and the temperature sweep. ablation: the four g-steps/d-steps/k strategies of Figure 3 "
                       "(first seed).")
    p.add_argument("experiment", choices=["table1", "ablation"], help="what to reproduce")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=PRESET_NAMES, help="tiny (tests), small (CPU), paper (GPU); default small")
    src.add_argument("--config", type=Path, help="TOML config file")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--out", type=Path, required=True, help="output folder (reused: finished runs are not redone)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce, seed=None)

    p = sub.add_parser("sample", help="draw sequences from a trained generator")
    p.add_argument("--checkpoint", type=Path, required=True, help="run folder or checkpoint file")
    p.add_argument("--num", type=int, default=10, help="number of sequences (default 10)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="score a file of token-id sequences")
    p.add_argument("--samples", type=Path, required=True, help="text file, one sequence of token ids per line")
    p.add_argument("--oracle", default="paper",
                   help="'paper' (default), a run folder (its configured oracle, random ones included) or an oracle .npz")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)
    return parser


def resolve_config(args: argparse.Namespace) -> Any:
    from seqgan.config import load_config, preset

    cfg = load_config(args.config) if args.config else preset(args.preset or "small")
    if args.seed is not None:
        args.set = [f"seed={args.seed}", *args.set]
    return cfg.override(args.set) if args.set else cfg


def cmd_train(args: argparse.Namespace) -> int:
    if args.help_config:
        from seqgan.config import describe

        print(describe())
        return 0
    from seqgan.run import train

    cfg = resolve_config(args)
    bars = None if args.no_progress or args.quiet else ProgressBars()
    try:
        summary = train(cfg, args.out, resume=args.resume, callbacks=bars)
    finally:
        if bars:
            bars.close()
    print(format_summary(summary, args.out))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from seqgan.errors import ConfigError
    from seqgan.reproduce import ablation, table1

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    cfg = resolve_config(args)
    bars = None if args.no_progress or args.quiet else ProgressBars()
    try:
        if args.experiment == "table1":
            table1(cfg, args.seeds, args.out, callbacks=bars)
        else:
            result = ablation(cfg, args.out, callbacks=bars)
    finally:
        if bars:
            bars.close()
    if args.experiment == "table1":
        print((args.out / "table1.md").read_text(encoding="utf-8"))
        print(f"written in {args.out}: table1.md, table1.json, figure2.png, temperature_sweep.png")
    else:
        print("| strategy (g-steps/d-steps/k) | final NLL_oracle | best NLL_oracle |\n|---|---|---|")
        for row in result.values():
            print(f"| {row['g_steps']}/{row['d_steps']}/{row['d_epochs']} | {row['nll_oracle_final']:.3f} | "
                  f"{row['nll_oracle_best']:.3f} |")
        print(f"written in {args.out}: ablation.json, figure3.png")
    return 0


def format_summary(summary: dict[str, Any], run_dir: Path) -> str:
    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    name = {"seqgan": "SeqGAN", "mle": "MLE (continued)", "ss": "Scheduled Sampling", "pg_bleu": "PG-BLEU",
            "random": "Random"}.get(
        summary["method"], summary["method"])
    rows = [("after MLE pretraining", summary["nll_oracle_pretrained"]), (f"after {name} (final)", summary["nll_oracle_final"]),
            (f"after {name} (best eval)", summary["nll_oracle_best"])]
    lines = ["", "| stage | NLL_oracle |", "|---|---|"] + [f"| {name} | {fmt(v)} |" for name, v in rows]
    lines += ["", f"wall time {summary['wall_time_s']:.0f} s; run folder {run_dir} "
              "(metrics.jsonl, learning_curve.png, tb/, checkpoints/, samples/)"]
    return "\n".join(lines)


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from seqgan.errors import ConfigError
    from seqgan.oracle import write_token_file
    from seqgan.run import load_generator

    if args.num <= 0:
        raise ConfigError(f"--num must be > 0, got {args.num}")
    if args.temperature <= 0:
        raise ConfigError(f"--temperature must be > 0, got {args.temperature}")
    torch.manual_seed(args.seed)
    samples = load_generator(args.checkpoint).sample(args.num, temperature=args.temperature)
    if args.out:
        write_token_file(args.out, samples)
    else:
        sys.stdout.write("".join(" ".join(map(str, row)) + "\n" for row in samples.tolist()))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from seqgan.oracle import read_token_file

    sequences = read_token_file(args.samples)
    oracle = resolve_oracle(args.oracle, seq_len=sequences.shape[1])
    result = {"nll_oracle": oracle.nll_of(sequences), "num_sequences": int(sequences.shape[0]),
              "seq_len": int(sequences.shape[1]), "oracle": args.oracle}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"NLL_oracle {result['nll_oracle']:.4f} over {result['num_sequences']} sequences of length {result['seq_len']}")
    return 0


def resolve_oracle(spec: str, seq_len: int) -> Any:
    """'paper', a run folder (rebuilds its oracle from config.toml) or an .npz of oracle parameters."""
    from seqgan.config import load_config
    from seqgan.errors import DataError
    from seqgan.oracle import Oracle
    from seqgan.train import build_oracle

    if spec == "paper":
        return Oracle.paper(seq_len=seq_len)
    path = Path(spec)
    if path.is_dir() and (path / "config.toml").is_file():
        cfg = load_config(path / "config.toml")
        return build_oracle(cfg.override([f"oracle.seq_len={seq_len}"]))
    if path.is_file() and path.suffix == ".npz":
        return Oracle.paper(seq_len=seq_len, path=path)
    raise DataError(f"--oracle {spec!r}: expected 'paper', a run folder with config.toml, or an oracle .npz file")


class ProgressBars:  # implements seqgan.train.Callbacks
    """tqdm bars, one per phase, on stderr."""

    NAMES = {"mle": "MLE pretraining (epochs)", "d_pretrain": "D pretraining (steps)", "adversarial": "adversarial (rounds)"}

    def __init__(self) -> None:
        self.bar: Any = None

    def phase_start(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        self.close()
        if total:
            self.bar = tqdm(total=total, initial=done, desc=self.NAMES.get(phase, phase), file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def unit_end(self, phase: str, done: int, total: int, scalars: dict[str, float]) -> None:
        if self.bar:
            self.bar.update(1)

    def evaluation(self, record: dict[str, Any]) -> None:
        if self.bar:
            self.bar.set_postfix(nll_oracle=f"{record['nll_oracle']:.3f}")

    def checkpoint(self, path: Path, progress: Any) -> None: ...

    def close(self) -> None:
        if self.bar:
            self.bar.close()
            self.bar = None


if __name__ == "__main__":
    sys.exit(main())
