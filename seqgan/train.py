"""The shared loop of every method: MLE pretraining, discriminator pretraining, the method's rounds.

`SeqGANTrainer.fit` runs the phases; what a round does is the method's (seqgan/methods/), built from
the plain steps in seqgan/steps.py. Training is cut into units (an MLE epoch, a D-pretraining step, a
round); a checkpoint holds everything needed to continue after any completed unit exactly as an
uninterrupted run would. Evaluation, checkpoints, exact resume, DDP and the NaN guard live here.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqgan import steps
from seqgan.config import Config, RuntimeConfig, complete_saved, migrate_legacy
from seqgan.cpu import (
    BF16_MIN_FLOPS,
    GENERATOR_BF16_MIN_FLOPS,
    SMALL_WORK_FLOPS,
    TORCH_DEFAULT_THREADS,
    SlowdownWatch,
    choose_threads,
    discriminator_batch_flops,
    generator_batch_flops,
    has_bf16_matmul,
    idle_cpus,
    keep_freed_memory,
)
from seqgan.data import BOS_ID, PAD_ID, Corpus, load_corpus
from seqgan.discriminator import Discriminator
from seqgan.distributed import RANK_SEED_STRIDE, Distributed, from_env, local_rank, loss_runner
from seqgan.errors import CheckpointError, ConfigError, StorageError, TrainingDiverged
from seqgan.health import discriminator_fit, findings, sample_health, sequence_keys
from seqgan.methods import method_class
from seqgan.metrics import BleuScorer
from seqgan.oracle import Oracle, oracle_data
from seqgan.provenance import software

log = logging.getLogger(__name__)

# The name of the MLE-pretraining phase (and of its optimiser) in records and checkpoints: a phase, not a method.
PRETRAIN = "mle"
PHASES = (PRETRAIN, "d_pretrain", "adversarial", "done")
CHECKPOINT_FORMAT = 2  # 2: per-method sections and state (seqgan.methods); 1 is upgraded on load


def configure_runtime(runtime: RuntimeConfig, device: torch.device, small_work: bool = False) -> int:
    """The process-wide settings of `runtime`: threads, malloc keeping freed memory (seqgan.cpu.keep_freed_memory),
    denormal flushing (CPU), TF32 (CUDA). Entry points
    (the CLI, `seqgan.train`) call this once; building a trainer does not. Returns the number of CPU threads.

    `runtime.threads = 0` chooses (seqgan.cpu.choose_threads): one thread for `small_work`, else torch's default
    capped at the CPUs idle now, so that a core another process keeps busy does not stall every parallel
    operation. An OMP_NUM_THREADS in the environment is the user's choice and is kept."""
    if runtime.threads:
        torch.set_num_threads(runtime.threads)
    elif device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(choose_threads(TORCH_DEFAULT_THREADS, small_work, None if small_work else idle_cpus()))
    if runtime.malloc_tuning:
        keep_freed_memory()
    if device.type == "cpu":
        torch.set_flush_denormal(runtime.flush_denormal)
    else:
        torch.backends.cuda.matmul.allow_tf32 = runtime.tf32
        torch.backends.cudnn.allow_tf32 = runtime.tf32
    return torch.get_num_threads()


def discriminator_flops(cfg: Config) -> float:
    """FLOPs of D_φ's forward pass over one batch, the run's largest recurring operation."""
    d = cfg.discriminator
    seq_len = cfg.oracle.seq_len if cfg.data.source == "oracle" else cfg.data.max_len or 32  # 0: the corpus decides
    return discriminator_batch_flops(d.filter_sizes, d.num_filters, d.emb_dim, seq_len, d.batch_size)


def is_small_work(cfg: Config) -> bool:
    """Whether D_φ's forward pass over a batch is too small for a second thread to pay (seqgan.cpu.SMALL_WORK_FLOPS)."""
    return discriminator_flops(cfg) < SMALL_WORK_FLOPS


def compute_dtype(cfg: Config, device: torch.device) -> torch.dtype:
    """The dtype of D_φ's GEMMs under `runtime.precision` on this device: 'auto' is bfloat16 where the device multiplies
    it natively and D is large enough to gain (seqgan.cpu.BF16_MIN_FLOPS)."""
    return _precision_dtype(cfg.runtime.precision, device, discriminator_flops(cfg), BF16_MIN_FLOPS)


def _precision_dtype(precision: str, device: torch.device, flops: float, min_flops: float) -> torch.dtype:
    """bfloat16 when forced, or under 'auto' on a device with bfloat16 matrix units for work of at least `min_flops`."""
    if precision == "bf16" or (precision == "auto" and has_bf16_matmul(device) and flops >= min_flops):
        return torch.bfloat16
    return torch.float32


def generator_compute_dtype(cfg: Config, device: torch.device, generator: torch.nn.Module, seq_len: int) -> torch.dtype:
    """The dtype of G_θ's gradient GEMMs under `runtime.precision`: 'auto' is bfloat16 where the device multiplies it
    natively and G's output projection over a batch is large enough to gain (seqgan.cpu.GENERATOR_BF16_MIN_FLOPS)."""
    vocab_size, hidden = generator.output.weight.shape
    flops = generator_batch_flops(cfg.generator.batch_size, seq_len, hidden, vocab_size)
    return _precision_dtype(cfg.runtime.precision, device, flops, GENERATOR_BF16_MIN_FLOPS)


def seed_everything(seed: int) -> None:
    """One seed for every random draw of a run (all of them come from torch's generators)."""
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", local_rank()) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else torch.device("cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"runtime.device is {name!r} but CUDA is not available here; use --set runtime.device=cpu")
    return torch.device(name)


def heldout_seed(cfg: Config) -> int:
    """Seed of the held-out oracle samples behind NLL_test."""
    return cfg.oracle.seed + 1


def validation_seed(cfg: Config) -> int:
    """Seed of the validation oracle samples behind NLL_valid (train.keep_best): neither the training nor test draw."""
    return cfg.oracle.seed + 2


def build_corpus(cfg: Config) -> Corpus:
    """The tokenized corpus a run trains on (data.source other than 'oracle')."""
    d = cfg.data
    return load_corpus(d.source, d.path, d.test_path, d.tokenizer, d.max_len, d.min_freq, d.max_vocab, d.long_lines,
                       d.test_fraction)


def primary_metric(cfg: Config) -> str:
    """The number a run is judged by: NLL_oracle on the oracle, NLL_test on real data."""
    return "nll_oracle" if cfg.data.source == "oracle" else "nll_test"


def build_oracle(cfg: Config) -> Oracle:
    o = cfg.oracle
    if o.source == "paper":
        return Oracle.paper(seq_len=o.seq_len)
    return Oracle.random(o.vocab_size, o.emb_dim, o.hidden_dim, o.seq_len, seed=o.seed)


def build_discriminator(cfg: Config, vocab_size: int, seq_len: int, eos: int | None) -> Discriminator:
    """D_φ of `[discriminator]`."""
    d = cfg.discriminator
    return Discriminator(vocab_size, seq_len=seq_len, emb_dim=d.emb_dim, filter_sizes=d.filter_sizes,
                         num_filters=d.num_filters, dropout=d.dropout, l2_reg=d.l2_reg, eos_token=eos)


class Callbacks:
    """Hooks the trainer calls; the library never prints, the CLI implements these."""

    def phase_start(self, phase: str, done: int, total: int) -> None: ...
    def unit_end(self, phase: str, done: int, total: int, scalars: dict[str, float]) -> None: ...
    def evaluation(self, record: dict[str, Any]) -> None: ...
    def checkpoint(self, path: Path, progress: Progress) -> None: ...


@dataclass
class Progress:
    """Where a run stands: the current phase and how many of its units are complete."""

    phase: str = PRETRAIN
    done: int = 0


class SeqGANTrainer:
    """G_θ, D_φ, the oracle or corpus, the shared optimisers and the method of one run.

    Building one changes no global torch state (threads, denormal flushing, TF32): that is the entry
    point's business (`configure_runtime`, called by `seqgan.train` and the CLI).
    """

    def __init__(self, cfg: Config, run_dir: str | Path | None = None, callbacks: Callbacks | None = None):
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = callbacks or Callbacks()
        self.device = resolve_device(cfg.runtime.device)
        self.dist: Distributed = from_env()
        g, d, t = cfg.generator, cfg.discriminator, cfg.train
        method_cls = method_class(t.method)
        seed_everything(cfg.seed)
        self.oracle: Oracle | None = None
        self.corpus: Corpus | None = None
        if cfg.data.source == "oracle":
            self.oracle = build_oracle(cfg).to(self.device)
            # The real data S, the same for every run seed (as the reference code's fixed real_data file),
            # and held-out data for NLL_test: another draw of the oracle, never trained on.
            self.real_data = oracle_data(self.oracle, cfg.oracle.num_train, cfg.oracle.seed)
            self.test_data = oracle_data(self.oracle, cfg.oracle.num_test, heldout_seed(cfg)) if cfg.oracle.num_test else None
            # A third draw to choose checkpoints on (train.keep_best): the test draw only ever reports.
            self.valid_data = (oracle_data(self.oracle, cfg.oracle.num_test or cfg.oracle.num_eval, validation_seed(cfg))
                               if t.keep_best else None)
            vocab_size = self.oracle.vocab_size
            self.seq_len = cfg.oracle.seq_len
            start = 0
            self.eos = None
        else:
            if cfg.oracle.fresh_positives:
                raise ConfigError("oracle.fresh_positives draws D_φ's real sequences from the synthetic oracle, and a "
                                  "corpus has none; drop oracle.fresh_positives for real data")
            if t.keep_best:
                raise ConfigError("train.keep_best chooses MLE checkpoints on a validation draw of the oracle, and a "
                                  "corpus has none; drop train.keep_best for real data")
            self.valid_data = None
            self.corpus = build_corpus(cfg)
            self.real_data = self.corpus.train.to(self.device)
            self.test_data = self.corpus.test.to(self.device)
            vocab_size = len(self.corpus.vocab)
            self.seq_len = self.corpus.seq_len
            start = BOS_ID
            self.eos = self.corpus.eos
        self.vocab_size = vocab_size
        self.data_sha256 = data_fingerprint(self.real_data, self.test_data)
        self.generator = method_cls.build_generator(cfg, vocab_size, self.seq_len, start, self.eos, PAD_ID).to(self.device)
        # D_φ is drawn in every run, right after G_θ, whether or not the method trains it: every method then
        # makes the same draws up to the end of pretraining and can share one pretrained G_θ (reproduce.py).
        self.discriminator = build_discriminator(cfg, vocab_size, self.seq_len, self.eos).to(self.device)
        self.discriminator.set_compute_dtype(compute_dtype(cfg, self.device))
        if hasattr(self.generator, "set_compute_dtype"):  # the fused likelihood's generators (not LeakGAN's)
            self.generator.set_compute_dtype(generator_compute_dtype(cfg, self.device, self.generator, self.seq_len))
        # D's full training batches as a replayed CUDA graph (seqgan.cuda_graphs): one process on CUDA only.
        self.graph_d_steps = cfg.runtime.cuda_graphs and self.device.type == "cuda" and not self.dist.enabled
        if cfg.runtime.cuda_graphs and not self.graph_d_steps:
            log.warning("runtime.cuda_graphs is ignored here: it needs a CUDA device and one process (this run: %s, "
                        "%d process(es))", self.device.type.upper(), self.dist.world)
        if cfg.runtime.precision == "bf16" and not has_bf16_matmul(self.device):
            log.warning("runtime.precision = 'bf16' on a %s without native bfloat16 matrix units: its bfloat16 GEMMs are "
                        "emulated and slower than float32; 'auto' would choose float32 here", self.device.type.upper())
        if self.dist.enabled:
            # Same models and data on every rank; different samples from here on (rank 0 keeps the
            # single-process stream). Each rank's share of the batches must be whole.
            self.dist.share(g.batch_size, "generator.batch_size")
            self.dist.share(d.batch_size, "discriminator.batch_size")
            self.dist.share(t.num_negatives, "train.num_negatives")
            if not self.dist.main:
                torch.manual_seed(cfg.seed + RANK_SEED_STRIDE * self.dist.rank)
        # Losses of G_θ and D_φ run through these, so several processes average their gradients (DDP).
        self.run_g = loss_runner(self.generator, self.dist)
        self.run_d = loss_runner(self.discriminator, self.dist)
        self._test_bleu: BleuScorer | None = None  # the test set's, for evaluating on real data
        self._training_keys: set[bytes] | None = None  # the training sequences, to spot verbatim copies
        self.mle_opt = steps.adam(self.generator.parameters(), g.lr)
        self.d_opt = steps.adam(self.discriminator.parameters(), d.lr)
        self.method = method_cls(self)
        self.totals = {PRETRAIN: t.pretrain_epochs if method_cls.pretrains_generator else 0,
                       "d_pretrain": self.method.d_pretrain_steps(),
                       "adversarial": self.method.rounds()}
        self.method.preflight()
        self.progress = Progress()
        self.records: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None  # the lowest NLL_valid of MLE pretraining and its G_θ (keep_best)
        self.elapsed = 0.0  # seconds of training before this process (restored on resume)
        self._started = self._last_saved = time.perf_counter()  # _last_saved: for train.checkpoint_minutes
        self._warned: set[tuple[str, str]] = set()  # (phase, kind) of the health warnings said on the console

    def global_step(self) -> int:
        """Units completed over all phases (TensorBoard's step)."""
        earlier = PHASES[:PHASES.index(self.progress.phase)]
        return self.progress.done + sum(self.totals.get(p, 0) for p in earlier)

    _pace = ""  # where the running phase stands, for the log (`pace`)
    written_by: dict[str, str] | None = None  # the code that wrote the checkpoint resumed from (seqgan.provenance)

    def wall_time(self) -> float:
        return self.elapsed + time.perf_counter() - self._started

    # ---- the phases every method shares -----------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Run (or continue) the run to the end; returns the evaluation records."""
        t = self.cfg.train
        totals = self.totals
        # Algorithm 1, line 2: pretrain G_θ using MLE on the real data S (evaluated after each epoch).
        self._run_phase(PRETRAIN, totals[PRETRAIN], self.method.pretrain_epoch, evaluate=True)
        # Lines 3-4: pretrain the method's discriminator on real data against fresh samples of G_θ.
        self._run_phase("d_pretrain", totals["d_pretrain"], lambda: self.method.discriminator_step(t.d_pretrain_epochs))
        # Lines 5-17, or a baseline's own training: the method's rounds.
        self._run_phase("adversarial", totals["adversarial"], self.method.round, evaluate=True)
        if not self.records:  # a run that trained nothing (Random) is evaluated once
            self._evaluate_if_due(0, 1, {})
        return self.records

    def evaluate(self) -> dict[str, float]:
        """Quality of fresh samples of G_θ — NLL_oracle on the oracle, BLEU-2..4 against the test set on
        real data — and NLL_test, G_θ's NLL of held-out real data (coverage): collapsing onto a few good
        sequences improves the first and worsens the second."""
        self.generator.eval()
        metrics: dict[str, float] = {}
        if self.oracle is not None:
            samples = self.generator.sample(self.cfg.oracle.num_eval)
            metrics["nll_oracle"] = self.finite(self.oracle.nll_of(samples), "NLL_oracle")
        if self.test_data is not None:
            metrics["nll_test"] = self.finite(self.generator.nll_of(self.test_data), "NLL_test")
        if self.corpus is not None:
            if self._test_bleu is None:
                self._test_bleu = BleuScorer(self.corpus.test_lines, max_n=4)
            samples = self.generator.sample(self.cfg.data.num_eval)
            hyps = [self.corpus.decode(s) for s in samples.tolist()]
            for n in (2, 3, 4):
                metrics[f"bleu{n}"] = self._test_bleu.mean_bleu(hyps, n)
        metrics.update(sample_health(samples, self.training_keys()))
        if self.progress.phase == "adversarial" and self.method.rewards_from_discriminator:
            metrics.update(discriminator_fit(self.discriminator.prob_real, self.real_data, self.test_data, samples))
        return metrics

    def training_keys(self) -> set[bytes]:
        """The training sequences as keys, built once, to spot verbatim copies among samples."""
        if self._training_keys is None:
            self._training_keys = set(sequence_keys(self.real_data))
        return self._training_keys

    # ---- plumbing --------------------------------------------------------------------------
    def _run_phase(self, phase: str, total: int, unit: Callable[[], dict[str, float]], evaluate: bool = False) -> None:
        """Run the remaining units of a phase, checkpointing every checkpoint_every units and at its end."""
        if self.progress.phase != phase:
            return  # finished before a resume
        self.callbacks.phase_start(phase, self.progress.done, total)
        clock, first = time.perf_counter(), self.progress.done
        watch = SlowdownWatch(torch.get_num_threads()) if self.device.type == "cpu" else None
        while self.progress.done < total:
            if watch:
                watch.begin()
            scalars = unit()
            if watch and (warning := watch.end()):
                log.warning("%s unit %d: %s", phase, self.progress.done + 1, warning)
            self._pace = pace(time.perf_counter() - clock, self.progress.done + 1 - first, self.progress.done + 1, total)
            if evaluate:
                self._evaluate_if_due(self.progress.done, total, scalars)
            self.progress.done += 1
            self.callbacks.unit_end(phase, self.progress.done, total, scalars)
            if not evaluate and (self.progress.done % self.cfg.train.checkpoint_every == 0 or self.progress.done == total):
                # phases without evaluations (D pretraining: half an hour at the paper's sizes) still report progress
                log.info("%s unit %d/%d: %s %s", phase, self.progress.done, total,
                         ", ".join(f"{k} {v:.4f}" for k, v in scalars.items()), self._pace)
            if self.progress.done == total:
                break
            if self.progress.done % self.cfg.train.checkpoint_every == 0 or self._checkpoint_overdue():
                self.save_checkpoint()
        if phase == PRETRAIN and self.cfg.train.keep_best:
            self._keep_best()
        self.progress.phase, self.progress.done = PHASES[PHASES.index(phase) + 1], 0
        self.save_checkpoint()

    def _checkpoint_overdue(self) -> bool:
        """Whether train.checkpoint_minutes of wall time have passed since the last checkpoint (rank 0's clock decides
        for every rank, as saving is a collective)."""
        minutes = self.cfg.train.checkpoint_minutes
        if not minutes or self.checkpoint_path is None:
            return False
        overdue = time.perf_counter() - self._last_saved >= 60.0 * minutes
        if not self.dist.enabled:
            return overdue
        return bool(self.dist.broadcast_(torch.tensor(float(overdue), device=self.device)).item())

    def _keep_best(self) -> None:
        """G_θ of the lowest NLL_valid (rank 0 evaluates; every rank then holds its weights)."""
        if self.best is not None:
            self.generator.load_state_dict(self.best["generator"])
            log.info("MLE pretraining keeps epoch %d's G_θ (NLL_valid %.4f, the lowest)", self.best["epoch"],
                     self.best["nll_valid"])
        if self.dist.enabled:
            for tensor in self.generator.state_dict().values():
                self.dist.broadcast_(tensor)

    def shared_order(self, n: int) -> torch.Tensor:
        """A random order of the real data, the same on every rank (rank 0's draw)."""
        return self.dist.broadcast_(torch.randperm(n, device=self.device))

    def my_part(self, order: torch.Tensor, i: int, batch_size: int) -> torch.Tensor:
        """This rank's slice of global batch i."""
        share = batch_size // self.dist.world
        lo = i * batch_size + self.dist.rank * share
        return order[lo:lo + share]

    def _evaluate_if_due(self, index: int, total: int, scalars: dict[str, float]) -> None:
        every = self.cfg.train.eval_every
        if (index % every and index != total - 1) or not self.dist.main:  # rank 0 evaluates
            return
        phase = self.progress.phase
        method = self.cfg.train.method
        offset = self.totals[PRETRAIN] if phase == "adversarial" else 0
        label = phase if phase == PRETRAIN else self.method.record_phase
        record: dict[str, Any] = {"phase": label, "method": method, "epoch": index, "global_epoch": offset + index,
                                  **self.evaluate(), **scalars, "time_s": round(self.wall_time(), 3)}
        if phase == PRETRAIN and self.valid_data is not None:
            record["nll_valid"] = valid = self.finite(self.generator.nll_of(self.valid_data), "NLL_valid")
            if self.best is None or valid < self.best["nll_valid"]:
                self.best = {"nll_valid": valid, "epoch": index,
                             "generator": {k: v.detach().clone() for k, v in self.generator.state_dict().items()}}
        if self.cfg.train.keep_generators and self.run_dir is not None:
            save_atomic(self.generator.state_dict(), self.run_dir / "checkpoints" / "generators"
                        / f"{label}-{offset + index:04d}.pt")
        found = findings(record)
        if found:
            record["health/warnings"] = list(found.values())
        self.records.append(record)
        metric = primary_metric(self.cfg)
        log.info("%s (%s) epoch %d: %s %.4f %s", label, method, index, metric, record[metric], self._pace)
        for kind, warning in found.items():
            # the console says each kind once a phase; train.log keeps every evaluation's
            seen = (phase, kind) in self._warned
            self._warned.add((phase, kind))
            log.log(logging.INFO if seen else logging.WARNING, "%s %d: %s", label, index, warning)
        self.callbacks.evaluation(record)

    @staticmethod
    def update(opt: torch.optim.Optimizer, model: torch.nn.Module, loss: torch.Tensor, clip: float | None) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()

    def finite(self, value: float, what: str) -> float:
        if not math.isfinite(value):
            raise TrainingDiverged(f"{what} became {value} in phase {self.progress.phase!r} at unit {self.progress.done}; "
                                   "training stopped. Lower the learning rate (generator.lr / generator.pg_lr / "
                                   "discriminator.lr) or resume from the last checkpoint with --resume")
        return value

    # ---- checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoints" / "latest.pt" if self.run_dir else None

    def _rng_state(self) -> dict[str, torch.Tensor]:
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return rng

    def state_dict(self) -> dict[str, Any]:
        rng = self._rng_state()
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.cfg.to_dict(),
            "vocab_size": self.vocab_size,
            "data_sha256": self.data_sha256,
            "seq_len": self.seq_len,
            "vocab": self.corpus.vocab.tokens if self.corpus else None,
            "tokenizer": self.corpus.tokenizer if self.corpus else None,
            "progress": {"phase": self.progress.phase, "done": self.progress.done},
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizers": {PRETRAIN: self.mle_opt.state_dict(), "d": self.d_opt.state_dict()},
            "method": self.method.state_dict(),
            "rng": rng,
            "records": self.records,
            "best": self.best,
            "elapsed": self.wall_time(),
            "software": software(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = upgrade_checkpoint(state)
        self.check_vocabulary(state)
        self.check_data(state)
        saved = _complete(state["config"])
        if saved != self.cfg.to_dict():
            diff = _diff_keys(saved, self.cfg.to_dict())
            raise CheckpointError("the checkpoint was written with a different configuration (differs in: "
                                  f"{', '.join(diff)}); resume with the same command, or start a new run in another "
                                  "folder (--out)")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.mle_opt.load_state_dict(state["optimizers"][PRETRAIN])
        self.d_opt.load_state_dict(state["optimizers"]["d"])
        self.method.load_state_dict(state["method"])
        ranks = state.get("rng_ranks")
        if self.dist.enabled and (ranks is None or len(ranks) != self.dist.world):
            raise CheckpointError(f"the checkpoint was written by {len(ranks) if ranks else 1} process(es); resume it with "
                                  f"as many (now {self.dist.world})")
        self._restore_rng(ranks[self.dist.rank] if self.dist.enabled else state["rng"])
        self.progress.phase, self.progress.done = state["progress"]["phase"], state["progress"]["done"]
        self.records = list(state["records"])
        self.best = state.get("best")
        self.elapsed, self._started = float(state["elapsed"]), time.perf_counter()
        self.written_by = state.get("software")  # None for checkpoints from before it was recorded

    def start_from_pretrained(self, state: dict[str, Any]) -> None:
        """Continue after another run's MLE pretraining, so every method of a seed shares one pretrained G_θ.

        The result equals this config's own run from scratch: same weights, MLE optimiser and RNG state.
        """
        state = upgrade_checkpoint(state)
        if state["progress"]["phase"] == PRETRAIN:
            raise CheckpointError("the pretraining checkpoint has not finished MLE pretraining; resume that run first")
        self.check_vocabulary(state)
        self.check_data(state)
        mine, theirs = self.cfg.to_dict(), _complete(state["config"])
        shared = [*(f"{s}.{k}" for s in ("data", "oracle", "generator") for k in mine[s]), "seed", "train.pretrain_epochs",
                  "train.keep_best"]
        method = type(self.method)
        if not method.shares_pretraining:  # its own G_θ: pretrained by a run of the same method and G settings
            if theirs["train"]["method"] != self.cfg.train.method:
                raise CheckpointError(f"the pretraining checkpoint is a {theirs['train']['method']!r} run's; "
                                      f"{method.label} starts only from its own pretraining (train.method="
                                      f"{self.cfg.train.method!r}, train.adversarial_rounds=0)")
            shared += [f"{method.name}.{k}" for k in method.own_pretraining_keys or ()]
        differ = [key for key in shared if _get(mine, key) != _get(theirs, key)]
        if differ:
            raise CheckpointError(f"the pretraining checkpoint was made with other settings ({', '.join(differ)}); "
                                  "pretrain with this configuration")
        self.generator.load_state_dict(state["generator"])
        self.mle_opt.load_state_dict(state["optimizers"][PRETRAIN])
        self._restore_rng(state["rng"])
        if not self.dist.main:
            torch.manual_seed(self.cfg.seed + RANK_SEED_STRIDE * self.dist.rank)
        # The pretraining run's records, relabelled with this run's method.
        self.records = [{**r, "method": self.cfg.train.method} for r in state["records"] if r["phase"] == PRETRAIN]
        self.progress = Progress("d_pretrain", 0)
        self.elapsed, self._started = float(state["elapsed"]), time.perf_counter()

    def check_data(self, state: dict[str, Any]) -> None:
        """A checkpoint continues only on the data it was trained on (checkpoints before format 2 carry no hash)."""
        theirs = state.get("data_sha256")
        if theirs is not None and theirs != self.data_sha256:
            raise CheckpointError("the training or test data changed since this checkpoint was written (their hash "
                                  "differs); resume with the data the run started with, or start a new run with "
                                  "another --out")

    def check_vocabulary(self, state: dict[str, Any]) -> None:
        """A checkpoint fits only the vocabulary it was trained with: token ids would mean other tokens."""
        mine = self.corpus.vocab.tokens if self.corpus else None
        theirs = state.get("vocab")
        if theirs != mine or state.get("vocab_size") != self.vocab_size:
            raise CheckpointError(f"the checkpoint's vocabulary ({state.get('vocab_size')} tokens) does not match this data's "
                                  f"({self.vocab_size} tokens); use the data (and data.* settings) it was trained on, or "
                                  "start a new run with another --out")

    def _restore_rng(self, rng: dict[str, torch.Tensor]) -> None:
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    def save_checkpoint(self) -> None:
        path = self.checkpoint_path
        if path is None:
            return
        rng_ranks = self.dist.gather(self._rng_state())  # a collective: every rank takes part
        if self.dist.main:
            state = self.state_dict()
            if self.dist.enabled:
                state["rng_ranks"] = rng_ranks
            save_atomic(state, path)
            self.callbacks.checkpoint(path, self.progress)
        self.dist.barrier()
        self._last_saved = time.perf_counter()

    def resume(self) -> bool:
        """Load the run folder's latest checkpoint if there is one; returns whether it did."""
        path = self.checkpoint_path
        if path is None or not path.exists():
            return False
        self.load_state_dict(load_checkpoint(path, self.device))
        log.info("resumed from %s at %s unit %d", path, self.progress.phase, self.progress.done)
        return True


def save_atomic(obj: Any, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a crash leaves the old file whole. A failed write
    (a full disk) removes its partial temporary file and says which file, and that the previous one is intact."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write as RuntimeError with the OS error inside
        tmp.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0][:160]
        kept = (f"the previous {path.name} is intact" if path.exists() else f"no earlier {path.name} existed")
        raise StorageError(f"could not write {str(path)!r} ({reason}); {kept} and no partial file is left; free "
                           "space (or fix the folder) and continue the run (--resume; resume=True in Python)") from None


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint without pickle (weights_only=True); any failure becomes a clear CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):  # not an object the safe loader refused: damaged or foreign bytes
            raise CheckpointError(f"checkpoint {str(path)!r} is corrupted or not a seqgan checkpoint (not a torch "
                                  "file); delete it to restart that run, or point to another checkpoint") from None
        # objects that a weights-only load refuses: never unpickle them, never advise to
        raise CheckpointError(f"{str(path)!r} holds Python objects, which seqgan never unpickles (it is not a seqgan "
                              "checkpoint, or not a safe one); point to a checkpoint written by seqgan") from None
    except Exception as exc:  # torch raises many types for truncated or foreign files
        detail = re.sub(r"\x1b\[[0-9;]*m", "", str(exc).splitlines()[0])[:200] if str(exc) else ""
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted or not a seqgan checkpoint "
                              f"({type(exc).__name__}: {detail}); "
                              "delete it to restart that run, or point to another checkpoint") from None
    if not isinstance(state, dict) or "generator" not in state or not isinstance(state.get("config"), dict) \
            or "generator" not in state["config"]:
        raise CheckpointError(f"{str(path)!r} is not a seqgan checkpoint (missing generator or config)")
    return state


def data_fingerprint(*tensors: torch.Tensor | None) -> str:
    """SHA-256 of the token ids a run trains and evaluates on."""
    digest = hashlib.sha256()
    for t in tensors:
        if t is not None:
            digest.update(str(tuple(t.shape)).encode())
            digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def pace(seconds: float, units_timed: int, done: int, total: int) -> str:
    """Where a phase stands, for the log: "[31/200, 2.4 min a unit, about 6.8 h to go]", from the units this process
    has run (a resumed run times only its own)."""
    each = seconds / max(units_timed, 1)
    return f"[{done}/{total}, {_duration(each)} a unit, about {_duration(each * (total - done))} to go]"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def upgrade_checkpoint(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint in today's format: format 1 (seqgan 0.1, before methods were plug-ins) is converted —
    its config to the per-method sections, its policy-gradient optimiser and G_β to the method's state."""
    fmt = state.get("format")
    if fmt == CHECKPOINT_FORMAT:
        return state
    if fmt != 1:
        raise CheckpointError(f"checkpoint format {fmt!r} was written by another version of seqgan (this one reads "
                              f"formats 1 and {CHECKPOINT_FORMAT}); resume it with the version that wrote it, or start "
                              "a new run with another --out")
    optimizers = dict(state["optimizers"])
    pg = optimizers.pop("pg")
    return {**state, "format": CHECKPOINT_FORMAT, "config": migrate_legacy(state["config"]), "optimizers": optimizers,
            "method": {"optimizer": pg, "rollout": state.get("rollout")}}


def _complete(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved config with the defaults of settings added since it was written (older checkpoints stay usable)."""
    try:
        return Config.from_dict(complete_saved(saved), where="checkpoint config").to_dict()
    except ConfigError:
        return saved


def _get(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _diff_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff_keys(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out
