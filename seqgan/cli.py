"""The `seqgan` command: train, sample, evaluate. Kept thin: the work is in the library."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from seqgan.errors import SeqGANError

PRESET_NAMES = ("paper", "small", "tiny")
DATASET_NAMES = ("poems", "coco", "emnlp", "nottingham", "speeches")
REAL_EXPERIMENTS = ("poems", "coco", "emnlp", "nottingham", "speeches")


def main(argv: list[str] | None = None) -> int:
    _terminate_like_ctrl_c()
    parser = build_parser()
    args = parser.parse_args(argv)
    _flush_denormals_in_every_thread(_wanted_flush(args))
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
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRNOS:
            raise
        where = f" writing {exc.filename!r}" if exc.filename else ""
        print(f"error: {exc.strerror}{where}. Checkpoints are replaced whole, so the last one is intact; free space "
              "(or fix the folder) and run the same command with --resume to continue.", file=sys.stderr)
        return 2


# A write that failed for lack of space or permission: the user can act on it, so a message, not a traceback.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (a scheduler's stop, `kill`) ends a run as Ctrl-C does: the last checkpoint kept, and the line that
    says how to resume."""
    import signal
    import threading

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _wanted_flush(args: argparse.Namespace) -> bool:
    """runtime.flush_denormal of the command's configuration (True where it has none, or it is invalid: the
    command then reports the error itself)."""
    if args.command not in ("train", "reproduce") or getattr(args, "help_config", False):
        return True
    try:
        return bool(resolve_config(args).runtime.flush_denormal)
    except SeqGANError:
        return True


def _flush_denormals_in_every_thread(flush: bool = True) -> None:
    """Flush-to-zero is a per-thread CPU flag that new threads inherit, so set it before torch starts its thread pool;
    set later (as the trainer does for `runtime.flush_denormal`), it reaches only the calling thread."""
    import torch

    torch.set_flush_denormal(flush)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqgan", description="SeqGAN: sequence GANs trained with policy gradient.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr, no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every evaluation on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train SeqGAN (the synthetic oracle by default, or your text) into a run folder",
                       description="Train G_θ by MLE, pretrain D_φ, then run adversarial rounds (Algorithm 1). Without "
                       "--data or --dataset it trains on the paper's synthetic oracle.")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data", type=Path, metavar="FILE", help="your training text: UTF-8, one sequence per line")
    data.add_argument("--dataset", choices=DATASET_NAMES, help="a bundled corpus: poems (Chinese quatrains), coco (image "
                      "captions), emnlp (news), nottingham (folk melodies, length 32), speeches (Obama's State of the Union "
                      "addresses 2010-2016, sentences)")
    p.add_argument("--test", type=Path, metavar="FILE", help="held-out text for NLL_test and BLEU (default: 10%% of --data)")
    p.add_argument("--tokenizer", choices=["word", "char", "space"],
                   help="how lines become tokens: word (words and punctuation), char, space (split on whitespace); "
                   "default word for --data, the corpus's own for --dataset")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=PRESET_NAMES, help="paper (reference hyperparameters), small (CPU, ~10 min), "
                     "tiny (seconds); default small")
    src.add_argument("--config", type=Path, help="TOML config file (may name a base with preset = \"NAME\")")
    p.add_argument("--out", type=Path, help="run folder (created; refused if it exists without --resume); required "
                   "except with --help-config")
    p.add_argument("--seed", type=int, help="run seed (overrides the config's)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.rollout_num=8 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--help-config", action="store_true", help="list every setting with its default and meaning, and exit")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="regenerate the paper's synthetic results (table1, ablation)",
                       description="table1: every method from one shared MLE-pretrained generator per seed; writes "
                       "table1.md (NLL_oracle mean ± std, NLL_test, the paper's figures, Welch p-values), figure2.png, "
                       "every row's temperature sweep and where it lies against MLE's frontier (frontier.md: MLE's "
                       "checkpoints × temperatures). ablation: the four g-steps/d-steps/k strategies of Figure 3 "
                       "(first seed).")
    p.add_argument("experiment", choices=["table1", "ablation", *REAL_EXPERIMENTS],
                   help="table1 / ablation (synthetic oracle), or MLE vs SeqGAN on a bundled corpus: "
                   + ", ".join(REAL_EXPERIMENTS))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=PRESET_NAMES, help="tiny (tests), small (CPU), paper (GPU); default small")
    src.add_argument("--config", type=Path, help="TOML config file")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--methods", metavar="ROWS", help="comma-separated rows to train; table1: default all ("
                   "random, mle, ss, pg_bleu, seqgan, seqgan_rescale, maligan, dpgan, rankgan, leakgan, relgan_100, "
                   "relgan_1000, pg_constant); a corpus: methods or those rows, default mle,seqgan")
    p.add_argument("--out", type=Path, required=True, help="output folder (reused: finished runs are not redone)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce, seed=None)

    p = sub.add_parser("sample", help="draw sequences from a trained generator (text for runs on text)")
    p.add_argument("--checkpoint", type=Path, required=True, help="run folder or checkpoint file")
    p.add_argument("--ids", action="store_true", help="print token ids instead of decoded text")
    p.add_argument("--midi", type=Path, metavar="DIR", help="also write each melody as DIR/sample_NNN.mid (music runs)")
    p.add_argument("--num", type=int, default=10, help="number of sequences (default 10)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="score generated sequences: NLL_oracle, or BLEU / Self-BLEU against references",
                       description="With --references: BLEU-2..5 against the whole reference file, Self-BLEU-2..5 and "
                       "distinct-n of the samples (text, one sequence per line); with --lm-train too, the LM score and "
                       "reverse LM score. Without: NLL_oracle of token-id sequences.")
    p.add_argument("--samples", type=Path, required=True, help="text file, one sequence per line (token ids for NLL_oracle)")
    p.add_argument("--references", type=Path, help="reference text, one sequence per line (e.g. the test set)")
    p.add_argument("--tokenizer", choices=["word", "char", "space"], default="space",
                   help="tokenizer of samples and references for BLEU (default space)")
    p.add_argument("--music", action="store_true", help="also the pitch MSE of melodies (tokens are MIDI pitches)")
    p.add_argument("--lm-train", type=Path, metavar="FILE",
                   help="the real training text: also the LM score (an LSTM LM trained on FILE scores the samples; "
                   "quality) and the reverse LM score (one trained on the samples scores the references; coverage), "
                   "per-token NLL, lower is better, over FILE's vocabulary (see seqgan.lm_score for the LM settings)")
    p.add_argument("--self-bleu-max", type=int, default=None, metavar="N",
                   help="Self-BLEU over the first N samples only (default all)")
    p.add_argument("--oracle", default="paper",
                   help="'paper' (default), a run folder (its configured oracle, random ones included) or an oracle .npz")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)
    return parser


def resolve_config(args: argparse.Namespace) -> Any:
    from seqgan.config import load_config, preset
    from seqgan.errors import ConfigError

    if getattr(args, "resolved_config", None) is not None:  # main read it already (runtime.flush_denormal)
        return args.resolved_config
    cfg = load_config(args.config) if args.config else preset(args.preset or "small")
    data: list[str] = []
    if getattr(args, "test", None) and not getattr(args, "data", None):
        raise ConfigError("--test goes with --data FILE (a bundled --dataset has its own test split)")
    if getattr(args, "dataset", None):
        data.append(f"data.source={args.dataset}")
    if getattr(args, "data", None):
        data += ["data.source=file", f"data.path={_toml_string(args.data.resolve())}"]
    if getattr(args, "test", None):
        data.append(f"data.test_path={_toml_string(args.test.resolve())}")
    if getattr(args, "tokenizer", None):
        data.append(f"data.tokenizer={args.tokenizer}")
    if args.seed is not None:
        data.append(f"seed={args.seed}")
    args.set = [*data, *args.set]
    args.resolved_config = cfg.override(args.set) if args.set else cfg
    return args.resolved_config


def _toml_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmd_train(args: argparse.Namespace) -> int:
    if args.help_config:
        from seqgan.config import describe

        cfg = resolve_config(args)
        print(f"# settings of {'--config ' + str(args.config) if args.config else 'the ' + (args.preset or 'small') + ' preset'}"
              f"{' with --set' if args.set else ''}; set any with --set section.key=value\n")
        print(describe(cfg))
        return 0
    from seqgan.errors import ConfigError
    from seqgan.run import train

    if args.out is None:
        raise ConfigError("seqgan train needs --out DIR, the run folder to create (or to continue with --resume)")

    cfg = resolve_config(args)
    rank = int(os.environ.get("RANK", "0"))  # under torchrun only rank 0 shows progress
    bars = None if args.no_progress or args.quiet or rank else ProgressBars()
    try:
        summary = train(cfg, args.out, resume=args.resume, callbacks=bars)
    finally:
        if bars:
            bars.close()
        _leave_process_group()
    if summary:  # under torchrun only rank 0 has one
        print(format_summary(summary, args.out))
    return 0


def _leave_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def cmd_reproduce(args: argparse.Namespace) -> int:
    from seqgan.errors import ConfigError
    from seqgan.reproduce import ablation, real_experiment, table1

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {str(args.out)!r} is a file; give a folder path")
    cfg = resolve_config(args)
    bars = None if args.no_progress or args.quiet else ProgressBars()
    try:
        if args.experiment == "table1":
            table1(cfg, args.seeds, args.out, methods=_table1_rows(args.methods), callbacks=bars)
        elif args.experiment == "ablation":
            result = ablation(cfg, args.out, callbacks=bars)
        else:
            real_experiment(args.experiment, cfg, args.seeds, args.out, callbacks=bars,
                            methods=_real_methods(args.methods))
    finally:
        if bars:
            bars.close()
    if args.experiment in REAL_EXPERIMENTS:
        print((args.out / f"{args.experiment}.md").read_text(encoding="utf-8"))
        print(f"written in {args.out}: {args.experiment}.md, {args.experiment}.json, samples of each method")
        return 0
    if args.experiment == "table1":
        print((args.out / "table1.md").read_text(encoding="utf-8"))
        written = ["table1.md", "table1.json", "figure2.png", "temperature_sweep.png"]
        if (args.out / "frontier.md").is_file() and "mle" in (args.methods or "mle").split(","):
            print((args.out / "frontier.md").read_text(encoding="utf-8"))
            written += ["frontier.md", "frontier.json", "frontier.png"]
        print(f"written in {args.out}: {', '.join(written)}")
    else:
        print("| strategy (g-steps/d-steps/k) | final NLL_oracle | best NLL_oracle |\n|---|---|---|")
        for row in result.values():
            print(f"| {row['g_steps']}/{row['d_steps']}/{row['d_epochs']} | {row['nll_oracle_final']:.3f} | "
                  f"{row['nll_oracle_best']:.3f} |")
        print(f"written in {args.out}: ablation.json, figure3.png")
    return 0


def _table1_rows(spec: str | None) -> tuple[str, ...]:
    from seqgan.errors import ConfigError
    from seqgan.reproduce import TABLE1_ROWS

    if not spec:
        return tuple(TABLE1_ROWS)
    rows = tuple(r.strip() for r in spec.split(",") if r.strip())
    unknown = [r for r in rows if r not in TABLE1_ROWS]
    if unknown or not rows:
        raise ConfigError(f"--methods: unknown row(s) {', '.join(unknown) or '(none given)'}; "
                          f"rows: {', '.join(TABLE1_ROWS)}")
    return rows


def _real_methods(spec: str | None) -> tuple[str, ...]:
    from seqgan.errors import ConfigError
    from seqgan.methods import METHODS
    from seqgan.reproduce import REAL_METHODS, TABLE1_ROWS

    if not spec:
        return REAL_METHODS
    names = tuple(r.strip() for r in spec.split(",") if r.strip())
    allowed = [m for m in dict.fromkeys((*METHODS, *TABLE1_ROWS)) if m != "random"]
    unknown = [m for m in names if m not in allowed]
    if unknown or not names:
        raise ConfigError(f"--methods: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                          f"methods: {', '.join(allowed)}")
    return names


def format_summary(summary: dict[str, Any], run_dir: Path) -> str:
    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    from seqgan.methods import METHODS

    method = METHODS.get(summary["method"])
    name = method.label if method is not None else summary["method"]
    metric = summary.get("metric", "nll_oracle")
    label = {"nll_oracle": "NLL_oracle", "nll_test": "NLL_test"}.get(metric, metric)
    rows = [("after MLE pretraining", summary[f"{metric}_pretrained"]), (f"after {name} (final)", summary[f"{metric}_final"]),
            (f"after {name} (best eval)", summary[f"{metric}_best"])]
    lines = ["", f"| stage | {label} |", "|---|---|"] + [f"| {stage} | {fmt(v)} |" for stage, v in rows]
    final = summary.get("final_samples")
    if final:
        keys = [k for k in ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu4", "pitch_mse", "lm_score",
                            "reverse_lm_score") if k in final]
        lines += ["", f"final samples ({final['num_samples']} vs {final['num_references']} test references): "
                  + ", ".join(f"{k} {final[k]:.3f}" for k in keys)]
    health = summary.get("health")
    if health:
        h = health["final_samples"]
        lines += ["", f"final samples: {h['distinct']:.1%} distinct, the most frequent {h['top_repeat']:.1%}"
                  + (f", {h['copy_rate']:.1%} copied from the training data" if "copy_rate" in h else "")]
        lines += [f"warning: {w}" for w in health["warnings"]]
    lines += ["", f"wall time {summary['wall_time_s']:.0f} s; run folder {run_dir} "
              "(metrics.jsonl, learning_curve.png, tb/, checkpoints/, samples/)"]
    return "\n".join(lines)


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from seqgan.data import detokenize
    from seqgan.errors import ConfigError
    from seqgan.oracle import write_token_file
    from seqgan.run import load_generator, load_vocabulary

    if args.num <= 0:
        raise ConfigError(f"--num must be > 0, got {args.num}")
    if not args.temperature > 0 or args.temperature == float("inf"):
        raise ConfigError(f"--temperature must be a finite number > 0, got {args.temperature}")
    if args.out is not None and (args.out.is_dir() or not args.out.parent.is_dir()):
        where = "is a folder" if args.out.is_dir() else f"is in a folder that does not exist ({str(args.out.parent)!r})"
        raise ConfigError(f"--out {str(args.out)!r} {where}; give a file path in an existing folder")
    generator = load_generator(args.checkpoint)
    vocab, tokenizer = load_vocabulary(args.checkpoint)
    torch.manual_seed(args.seed)
    samples = generator.sample(args.num, temperature=args.temperature)
    if vocab is None or args.ids:
        if args.midi:
            raise ConfigError("--midi needs a generator trained on melodies (e.g. --dataset nottingham), not token ids")
        if args.out:
            write_token_file(args.out, samples)
        else:
            sys.stdout.write("".join(" ".join(map(str, row)) + "\n" for row in samples.tolist()))
        return 0
    from seqgan.data import decode_ids

    texts = [decode_ids(vocab, row, generator.eos_token) for row in samples.tolist()]
    lines = "".join(detokenize(t, tokenizer or "space") + "\n" for t in texts)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    if args.midi:
        from seqgan.music import REST, write_midi

        if not all(tok == REST or tok.isdigit() for tok in vocab.tokens[4:]):
            raise ConfigError("--midi needs a generator trained on melodies (e.g. --dataset nottingham); this one "
                              "writes text")

        args.midi.mkdir(parents=True, exist_ok=True)
        for i, tokens in enumerate(texts):
            write_midi(tokens, args.midi / f"sample_{i:03d}.mid")
        print(f"wrote {len(texts)} MIDI files to {args.midi}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.references is not None:
        return evaluate_text(args)
    if args.lm_train is not None:
        from seqgan.errors import ConfigError

        raise ConfigError("--lm-train goes with --references TEST_FILE: the reverse LM score is the NLL of the "
                          "references under an LM trained on the samples")
    from seqgan.oracle import PAPER_SEQ_LEN, read_token_file

    _refuse_runs_without_an_oracle(args.oracle)
    sequences = read_token_file(args.samples)
    oracle = resolve_oracle(args.oracle, seq_len=sequences.shape[1])
    result = {"nll_oracle": oracle.nll_of(sequences), "num_sequences": int(sequences.shape[0]),
              "seq_len": int(sequences.shape[1]), "oracle": args.oracle}
    if args.oracle == "paper" and sequences.shape[1] != PAPER_SEQ_LEN:
        result["note"] = (f"the paper's oracle writes sequences of length {PAPER_SEQ_LEN}; these have length "
                          f"{sequences.shape[1]}, scored by the same LSTM over their {sequences.shape[1]} positions")
        print(f"note: {result['note']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"NLL_oracle {result['nll_oracle']:.4f} over {result['num_sequences']} sequences of length {result['seq_len']}")
    return 0


def _refuse_runs_without_an_oracle(spec: str) -> None:
    """A run trained on real data has no oracle: refuse to score against one it never had."""
    from seqgan.config import load_config
    from seqgan.errors import DataError

    path = Path(spec)
    if spec != "paper" and path.is_dir() and (path / "config.toml").is_file():
        source = load_config(path / "config.toml", saved=True).data.source
        if source != "oracle":
            raise DataError(f"run {spec!r} was trained on {source!r} data, not on an oracle, so it has no NLL_oracle; "
                            "score its samples with --references TEST_FILE (BLEU, Self-BLEU)")


def evaluate_text(args: argparse.Namespace) -> int:
    """BLEU-2..5 against the references, Self-BLEU-2..5 and distinct-n (and the pitch MSE for melodies)."""
    from seqgan.data import read_lines, tokenize
    from seqgan.errors import DataError
    from seqgan.metrics import text_metrics

    if args.self_bleu_max is not None and args.self_bleu_max < 2:
        raise DataError(f"--self-bleu-max must be at least 2 (Self-BLEU scores each sample against the others), got "
                        f"{args.self_bleu_max}; leave it out to use every sample")
    samples = [tokenize(line, args.tokenizer) for line in read_lines(args.samples, "samples")]
    references = [tokenize(line, args.tokenizer) for line in read_lines(args.references, "references")]
    try:
        result: dict[str, Any] = text_metrics(samples, references, self_bleu_max=args.self_bleu_max)
        if args.music:
            from seqgan.music import pitch_mse

            result["pitch_mse"] = pitch_mse(samples, references)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if args.lm_train is not None:
        result.update(text_lm_scores(samples, references, args.lm_train, args.tokenizer))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22} {value:.4f}" if isinstance(value, float) else f"{key:>22} {value}")
    return 0


def text_lm_scores(samples: list[list[str]], references: list[list[str]], train_file: Path, tokenizer: str
                   ) -> dict[str, float]:
    """LM score and reverse LM score of tokenized samples, over the vocabulary of the real training text (other
    words become <unk>)."""
    from seqgan.data import Vocabulary, encode_lines, read_lines, tokenize
    from seqgan.lm_score import lm_scores

    train = [tokenize(line, tokenizer) for line in read_lines(train_file, "training sequences")]
    vocab = Vocabulary.build(train)
    seq_len = 1 + max(len(t) for t in (*train, *samples, *references))  # room for every line and its <eos>
    train_NxT = encode_lines(train, vocab, seq_len, where=str(train_file))[0]
    samples_NxT = encode_lines(samples, vocab, seq_len, where="samples")[0]
    references_NxT = encode_lines(references, vocab, seq_len, where="references")[0]
    return lm_scores(samples_NxT, train_NxT, references_NxT, len(vocab))


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
        cfg = load_config(path / "config.toml", saved=True)
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
            shown = {k: f"{record[k]:.3f}" for k in ("nll_oracle", "nll_test", "bleu2") if k in record}
            self.bar.set_postfix(shown)

    def checkpoint(self, path: Path, progress: Any) -> None: ...

    def close(self) -> None:
        if self.bar:
            self.bar.close()
            self.bar = None


if __name__ == "__main__":
    sys.exit(main())
