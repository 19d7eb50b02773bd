"""A run folder: resolved config, metrics.jsonl, TensorBoard events, checkpoints, samples, the learning curve.

`train(cfg, out_dir)` is the Python API behind `seqgan train`: it prepares the folder (or resumes it),
runs the trainer, and writes everything a user looks at afterwards.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from seqgan import distributed
from seqgan.config import Config, complete_saved, migrate_legacy, to_toml
from seqgan.data import BOS_ID, EOS_ID, PAD_ID, Vocabulary, detokenize
from seqgan.errors import ConfigError, SeqGANError, StorageError
from seqgan.health import findings, sample_health, summarize_warnings
from seqgan.lm_score import lm_scores
from seqgan.methods import Method, method_class
from seqgan.metrics import text_metrics
from seqgan.oracle import write_token_file
from seqgan.provenance import describe as describe_software
from seqgan.provenance import software
from seqgan.train import (
    Callbacks,
    SeqGANTrainer,
    build_discriminator,
    configure_runtime,
    is_small_work,
    load_checkpoint,
    primary_metric,
    resolve_device,
    save_atomic,
)

log = logging.getLogger(__name__)

NUM_SAMPLES_SAVED = 1000


class RunWriter(Callbacks):
    """Writes evaluations to metrics.jsonl and TensorBoard as they happen."""

    def __init__(self, run_dir: Path, records: list[dict[str, Any]], tb_purge_step: int | None = None):
        self.run_dir = run_dir
        # Rewrite metrics.jsonl from the checkpoint's records: evaluations made after the last
        # checkpoint of an interrupted run are dropped here and made again, identically.
        with open(run_dir / "metrics.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        self.tb = _summary_writer(run_dir / "tb", tb_purge_step)
        self.global_step = 0

    def unit_end(self, phase: str, done: int, total: int, scalars: dict[str, float]) -> None:
        self.global_step += 1
        if self.tb:
            for key, value in scalars.items():
                self.tb.add_scalar(f"{phase}/{key}", value, self.global_step)

    def evaluation(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb:
            for key in ("nll_oracle", "nll_test", "bleu2", "bleu3", "bleu4"):
                if key in record:
                    self.tb.add_scalar(f"eval/{key}", record[key], record["global_epoch"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb:
            self.tb.close()


class MultiCallbacks(Callbacks):
    """Fan one trainer's hooks out to several listeners."""

    def __init__(self, *listeners: Callbacks):
        self.listeners = listeners

    def phase_start(self, *args: Any) -> None:
        for c in self.listeners:
            c.phase_start(*args)

    def unit_end(self, *args: Any) -> None:
        for c in self.listeners:
            c.unit_end(*args)

    def evaluation(self, *args: Any) -> None:
        for c in self.listeners:
            c.evaluation(*args)

    def checkpoint(self, *args: Any) -> None:
        for c in self.listeners:
            c.checkpoint(*args)


def _summary_writer(path: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional at run time
        log.warning("tensorboard is not installed; skipping TensorBoard logs (pip install tensorboard)")
        return None
    return SummaryWriter(str(path), purge_step=purge_step)


LOCK_NAME = ".lock"


class RunFolderLock:
    """An OS lock on the run folder's `.lock` file, held while one process writes the folder: a second writer
    (two terminals, `make demo` twice) is refused. The OS drops the lock when its process ends, however it ends,
    so a stale `.lock` file of a killed run never blocks. (Linux and macOS; elsewhere no lock is taken.)"""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.fd: int | None = None

    def acquire(self) -> RunFolderLock:
        try:
            import fcntl
        except ImportError:  # no flock on this platform
            return self
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"--out {str(self.run_dir)!r} is a file; give a folder path")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot create the run folder {str(self.run_dir)!r}: {exc.strerror}; choose another "
                              "--out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"run folder {str(self.run_dir)!r} is in use by process {owner}; wait for it to finish, "
                              "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def prepare_run_dir(out_dir: str | Path, cfg: Config, resume: bool) -> Path:
    """Create the run folder, or check that resuming it is safe; never overwrites a finished run."""
    run_dir = Path(out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} is a file; give a folder path")
    # A folder holding only its config.toml is a start that failed before any work (bad data, a bad setting):
    # the corrected command may reuse it.
    started = run_dir.exists() and any(p.name not in (LOCK_NAME, "config.toml") for p in run_dir.iterdir())
    if started and not resume:
        raise ConfigError(f"run folder {str(run_dir)!r} already exists; continue it (--resume; resume=True in Python) "
                          "or choose another folder (--out)")
    make_folder(run_dir, "run folder")
    config_path = run_dir / "config.toml"
    if resume and started and config_path.exists():
        from seqgan.config import load_config

        if load_config(config_path, saved=True).to_dict() != cfg.to_dict():
            raise ConfigError(f"{str(config_path)!r} differs from this command's configuration; resume with the "
                              "same options (or the saved config: --config " + str(config_path) + ")")
    write_text(config_path, to_toml(cfg))
    return run_dir


def make_folder(path: Path, what: str) -> None:
    """mkdir -p, with a one-line error where the folder cannot be made (under a file, in /proc, read-only)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the {what} {str(path)!r} ({exc.strerror or exc}); choose a folder you can "
                           "write (--out)") from None


def write_text(path: Path, text: str) -> None:
    """Write a small text file whole (temporary file, then rename), with a one-line error on a full disk."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write {str(path)!r} ({exc.strerror or exc}); free space (or fix the folder) "
                           "and run the command again") from None


def train(cfg: Config, out_dir: str | Path, resume: bool = False, callbacks: Callbacks | None = None,
          init_from: str | Path | None = None) -> dict[str, Any]:
    """Train on the oracle into a run folder; returns the summary (also written to summary.json).

    `init_from`: a checkpoint whose finished MLE pretraining this run starts from (unless resuming).
    """
    ctx = distributed.from_env()
    cfg, kept = _keep_run_settings(cfg, Path(out_dir), resume)
    refused = None
    lock = RunFolderLock(out_dir)
    if ctx.main:
        try:
            lock.acquire()
            prepare_run_dir(out_dir, cfg, resume)
        except SeqGANError as exc:
            lock.release()
            refused = str(exc)
    refused = ctx.gather(refused)[0]  # every rank learns whether rank 0 could prepare the folder
    if refused:
        raise ConfigError(refused)
    try:
        return _train_in(cfg, Path(out_dir), resume, callbacks, init_from, ctx, kept)
    finally:
        lock.release()


def _keep_run_settings(cfg: Config, run_dir: Path, resume: bool) -> tuple[Config, list[str]]:
    """On resume, the settings whose default changed since the run started continue as they were, unless the command
    sets them (seqgan.config.keep_run_settings); every rank reads the same config.toml."""
    from seqgan.config import keep_run_settings, load_config

    config_path = run_dir / "config.toml"
    if not resume or not config_path.is_file():
        return cfg, []
    try:
        saved = load_config(config_path, saved=True)
    except ConfigError:  # a damaged config.toml: prepare_run_dir says so
        return cfg, []
    return keep_run_settings(cfg, saved)


def _train_in(cfg: Config, run_dir: Path, resume: bool, callbacks: Callbacks | None, init_from: str | Path | None,
              ctx: distributed.Distributed, kept: list[str]) -> dict[str, Any]:
    """The body of `train` once rank 0 holds the prepared run folder."""
    threads = configure_runtime(cfg.runtime, resolve_device(cfg.runtime.device), is_small_work(cfg))
    trainer = SeqGANTrainer(cfg, run_dir)
    resumed = trainer.resume() if resume else False
    if init_from is not None and not resumed:
        trainer.start_from_pretrained(load_checkpoint(init_from, trainer.device))
    if not ctx.main:  # rank 0 logs, writes and finishes the run folder
        trainer.callbacks = Callbacks()
        trainer.fit()
        ctx.barrier()
        return {}
    writer = RunWriter(run_dir, trainer.records, tb_purge_step=trainer.global_step() + 1 if resumed else None)
    writer.global_step = trainer.global_step()
    trainer.callbacks = MultiCallbacks(writer, callbacks) if callbacks else writer
    handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    package_log = logging.getLogger("seqgan")
    package_log.addHandler(handler)
    package_log.setLevel(logging.INFO)
    d_dtype = trainer.discriminator.compute_dtype or torch.float32
    g_dtype = getattr(trainer.generator, "compute_dtype", None) or torch.float32
    log.info("code: %s", describe_software(software()))
    log.info("device %s, %d CPU threads, D_φ's GEMMs in %s, G_θ's gradient GEMMs in %s (runtime.precision = %r)",
             trainer.device, threads, str(d_dtype).removeprefix("torch."), str(g_dtype).removeprefix("torch."),
             cfg.runtime.precision)
    if resumed:
        log.info("resumed at %s unit %d, %.0f s of wall time before", trainer.progress.phase, trainer.progress.done,
                 trainer.elapsed)
    if resumed and trainer.written_by and trainer.written_by != software():
        log.info("the checkpoint resumed from was written by other code: %s", describe_software(trainer.written_by))
    for line in kept:
        log.info("resumed with %s", line)
    try:
        trainer.fit()
        summary = finish_run(trainer, run_dir)
    finally:
        writer.close()
        package_log.removeHandler(handler)
        handler.close()
    ctx.barrier()
    return summary


def finish_run(trainer: SeqGANTrainer, run_dir: Path) -> dict[str, Any]:
    """Samples, the generator alone, the learning curve and summary.json of a finished run.

    On real data the samples are decoded to text (`samples/final.txt`, token ids in `final.ids.txt`) and
    the summary adds BLEU-2..5, Self-BLEU-2..5 and distinct-n of them against the whole test set, and on text their
    LM score and reverse LM score (seqgan.lm_score; melodies get the pitch MSE instead).
    """
    cfg = trainer.cfg
    samples_dir = run_dir / "samples"
    samples_dir.mkdir(exist_ok=True)
    samples = trainer.generator.sample(NUM_SAMPLES_SAVED).cpu()
    metric = primary_metric(cfg)
    summary = summarize(trainer.records, metric)
    if trainer.corpus is None:
        write_token_file(samples_dir / "final.txt", samples)
    else:
        corpus = trainer.corpus
        write_token_file(samples_dir / "final.ids.txt", samples)
        texts = [corpus.decode(s) for s in samples.tolist()]
        (samples_dir / "final.txt").write_text("".join(detokenize(t, corpus.tokenizer) + "\n" for t in texts), encoding="utf-8")
        corpus.vocab.save(run_dir / "vocab.json")
        summary["final_samples"] = text_metrics(texts, corpus.test_lines, self_bleu_max=NUM_SAMPLES_SAVED)
        if cfg.data.source == "nottingham":
            from seqgan.music import pitch_mse, write_midi

            summary["final_samples"]["pitch_mse"] = pitch_mse(texts, corpus.test_lines)
            write_midi(texts[0], samples_dir / "sample0.mid")
        else:
            # Text: the same samples judged by language models, one trained on the run's training data scoring them
            # (quality) and one trained on them scoring the test set (coverage); settings in seqgan.lm_score.
            device = trainer.device
            summary["final_samples"].update(lm_scores(samples.to(device), corpus.train.to(device), corpus.test.to(device),
                                                      len(corpus.vocab), start_token=BOS_ID,
                                                      eos_token=corpus.eos, pad_token=PAD_ID))
    health = sample_health(samples, trainer.training_keys())
    said = summarize_warnings(trainer.records)
    warnings = list(said.values())
    summary["health"] = {"final_samples": {k.split("/")[1]: v for k, v in health.items()}, "warnings": warnings}
    for kind, warning in findings(health).items():
        if kind not in said:
            warnings.append(f"final samples: {warning}")
            log.warning("final samples: %s", warning)
    save_atomic(generator_artifact(trainer), run_dir / "checkpoints" / "generator.pt")
    plot_learning_curve(trainer.records, cfg.train.pretrain_epochs, run_dir / "learning_curve.png", metric)
    summary["wall_time_s"] = round(trainer.wall_time(), 1)
    summary["software"] = software()
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def generator_artifact(trainer: SeqGANTrainer) -> dict[str, Any]:
    """What `seqgan sample` needs: G_θ's weights and its shape."""
    g, corpus = trainer.cfg.generator, trainer.corpus
    artifact = {"format": 1, "kind": "generator", "generator": trainer.generator.state_dict(),
                "vocab_size": trainer.vocab_size, "seq_len": trainer.seq_len,
                "emb_dim": g.emb_dim, "hidden_dim": g.hidden_dim, "config": trainer.cfg.to_dict(),
                "start_token": trainer.generator.start_token, "eos_token": trainer.eos,
                "vocab": corpus.vocab.tokens if corpus else None, "tokenizer": corpus.tokenizer if corpus else None}
    if trainer.method.samples_with_discriminator:  # G_θ writes with D_φ's features (LeakGAN)
        artifact["discriminator"] = trainer.discriminator.state_dict()
    return artifact


def summarize(records: list[dict[str, Any]], metric: str = "nll_oracle") -> dict[str, Any]:
    """The metric (NLL_oracle, or NLL_test on real data) at the end of MLE pretraining and of the method's
    training, and its best evaluation; the last record's other numbers as `final`."""
    pre = [r for r in records if r["phase"] == "mle"]
    after = [r for r in records if r["phase"] in ("adversarial", "baseline")]
    summary = {"method": records[-1]["method"] if records else None, "metric": metric,
               f"{metric}_pretrained": pre[-1][metric] if pre else None,
               f"{metric}_final": after[-1][metric] if after else None,
               f"{metric}_best": min(r[metric] for r in after) if after else None}
    if records:
        summary["final"] = {k: v for k, v in records[-1].items() if k.startswith(("nll_", "bleu"))}
    return summary


def plot_learning_curve(records: list[dict[str, Any]], pretrain_epochs: int, path: Path, metric: str = "nll_oracle") -> None:
    """The metric against epochs, the MLE → adversarial boundary marked (the paper's Figure 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqgan.methods import METHODS

    method = METHODS.get(records[-1]["method"]) if records else None
    name = method.label if method is not None else "method"
    fig, ax = plt.subplots(figsize=(6, 4))
    for phase, colour, label in [("mle", "tab:blue", "MLE pretraining"), ("adversarial", "tab:red", f"{name} (adversarial)"),
                                 ("baseline", "tab:green", f"{name} (baseline)")]:
        pts = [(r["global_epoch"], r[metric]) for r in records if r["phase"] == phase]
        if pts:
            ax.plot(*zip(*pts), color=colour, label=label, marker=".")
    ax.axvline(pretrain_epochs, color="grey", linestyle="--", linewidth=1)
    ax.text(pretrain_epochs, ax.get_ylim()[1], " adversarial →", va="top", fontsize=8, color="grey")
    ax.set_xlabel("epoch (MLE epochs, then adversarial rounds)")
    ax.set_ylabel({"nll_oracle": "NLL_oracle", "nll_test": "NLL_test (held-out real data)"}.get(metric, metric))
    ax.set_title("Learning curve on the synthetic oracle" if metric == "nll_oracle" else "Learning curve")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def checkpoint_file(path: str | Path) -> Path:
    """A checkpoint file, or the one a run folder holds (checkpoints/generator.pt, else checkpoints/latest.pt)."""
    from seqgan.errors import CheckpointError

    path = Path(path)
    if not path.is_dir():
        return path
    for candidate in (path / "checkpoints" / "generator.pt", path / "checkpoints" / "latest.pt",
                      path / "generator.pt", path / "latest.pt"):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"no checkpoint in {str(path)!r} (looked for checkpoints/generator.pt and "
                          "checkpoints/latest.pt); train first with seqgan train --out DIR")


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> torch.nn.Module:
    """G_θ from a run folder, its checkpoints/latest.pt or generator.pt, or either file directly."""
    from seqgan.errors import CheckpointError
    from seqgan.generator import Generator

    path = checkpoint_file(path)
    state = load_checkpoint(path, device)
    g = state["config"]["generator"]
    vocab = state["vocab_size"]
    seq_len = state["seq_len"]
    emb = state.get("emb_dim", g["emb_dim"])
    hidden = state.get("hidden_dim", g["hidden_dim"])
    if state.get("vocab") is not None:  # a run on real data: <bos> first, <eos> ends, <pad> after
        start = state.get("start_token", BOS_ID)
        eos = state.get("eos_token", EOS_ID)
    else:
        start = 0
        eos = None
    method_cls = method_class(state["config"].get("train", {}).get("method", "seqgan"))
    own_generator = method_cls.build_generator.__func__ is not Method.build_generator.__func__
    # The LSTM policy needs only its shape, which even an old checkpoint's config gives; a method's own generator (and
    # the D_φ it writes with) is rebuilt from the run's whole configuration.
    cfg = (Config.from_dict(complete_saved(migrate_legacy(state["config"])), where=f"{path} config")
           if own_generator or method_cls.samples_with_discriminator else None)
    if cfg is None:
        generator = Generator(vocab, emb_dim=emb, hidden_dim=hidden, seq_len=seq_len, start_token=start, eos_token=eos,
                              pad_token=PAD_ID)
    else:
        generator = method_cls.build_generator(cfg, vocab, seq_len, start, eos, PAD_ID)
    try:
        generator.load_state_dict(state["generator"])
        if method_cls.samples_with_discriminator:
            discriminator = build_discriminator(cfg, vocab, seq_len, eos)
            discriminator.load_state_dict(state["discriminator"])
            method_cls.attach_discriminator(generator, discriminator.to(device).eval())
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit a generator of vocabulary {vocab}: "
                              f"{str(exc).splitlines()[0]}") from None
    return generator.to(device).eval()


def load_vocabulary(path: str | Path) -> tuple[Vocabulary | None, str | None]:
    """The vocabulary and tokenizer a checkpoint was trained with (None, None for the oracle)."""
    state = load_checkpoint(checkpoint_file(path))
    if state.get("vocab") is None:
        return None, None
    tokenizer = state.get("tokenizer") or state["config"]["data"].get("tokenizer", "space")
    return Vocabulary(list(state["vocab"])), tokenizer


__all__ = ["train", "RunWriter", "load_generator", "load_vocabulary", "summarize", "plot_learning_curve"]
