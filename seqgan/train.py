"""Algorithm 1 of the paper on the synthetic oracle: MLE pretraining, D pretraining, adversarial rounds.

`SeqGANTrainer.fit` is the algorithm; the work lives in the small step methods it calls. Training is
cut into units (an MLE epoch, a D-pretraining step, an adversarial round); a checkpoint holds
everything needed to continue after any completed unit exactly as an uninterrupted run would.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqgan.config import Config
from seqgan.data import BOS_ID, PAD_ID, Corpus, drop_padding_columns, load_corpus, trim
from seqgan.discriminator import Discriminator, DiscriminatorReward
from seqgan.distributed import RANK_SEED_STRIDE, Distributed, from_env, local_rank, loss_runner
from seqgan.errors import CheckpointError, ConfigError, TrainingDiverged
from seqgan.generator import Generator, LSTMPolicy
from seqgan.metrics import BleuScorer
from seqgan.oracle import Oracle, oracle_data
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import RewardFn, Rollout
from seqgan.scheduled_sampling import scheduled_sampling_nll, teacher_forcing_prob

log = logging.getLogger(__name__)

PHASES = ("mle", "d_pretrain", "adversarial", "done")
CHECKPOINT_FORMAT = 1


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


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over all parameters instead of ~10 (D's optimizer step
    on 2 cores: 6.2 s → 1.6 s per 10,000 sequences)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def heldout_seed(cfg: Config) -> int:
    """Seed of the held-out oracle samples behind NLL_test."""
    return cfg.oracle.seed + 1


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


class Callbacks:
    """Hooks the trainer calls; the library never prints, the CLI implements these."""

    def phase_start(self, phase: str, done: int, total: int) -> None: ...
    def unit_end(self, phase: str, done: int, total: int, scalars: dict[str, float]) -> None: ...
    def evaluation(self, record: dict[str, Any]) -> None: ...
    def checkpoint(self, path: Path, progress: Progress) -> None: ...


@dataclass
class Progress:
    """Where a run stands: the current phase and how many of its units are complete."""

    phase: str = "mle"
    done: int = 0


class SeqGANTrainer:
    """G_θ, D_φ, G_β, the oracle and the three optimisers of one run."""

    def __init__(self, cfg: Config, run_dir: str | Path | None = None, callbacks: Callbacks | None = None):
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = callbacks or Callbacks()
        self.device = resolve_device(cfg.runtime.device)
        self.dist: Distributed = from_env()
        if cfg.runtime.threads:
            torch.set_num_threads(cfg.runtime.threads)
        if self.device.type == "cpu":
            torch.set_flush_denormal(cfg.runtime.flush_denormal)
        else:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg.runtime.tf32
        g, d, t = cfg.generator, cfg.discriminator, cfg.train
        # Random is the untrained G; only SeqGAN needs D; baselines train as long as the adversarial phase.
        self.totals = {"mle": 0 if t.method == "random" else t.pretrain_epochs,
                       "d_pretrain": t.d_pretrain_steps if t.method == "seqgan" else 0,
                       "adversarial": 0 if t.method == "random" else t.adversarial_rounds}
        seed_everything(cfg.seed)
        self.oracle: Oracle | None = None
        self.corpus: Corpus | None = None
        if cfg.data.source == "oracle":
            self.oracle = build_oracle(cfg).to(self.device)
            # The real data S, the same for every run seed (as the reference code's fixed real_data file),
            # and held-out data for NLL_test: another draw of the oracle, never trained on.
            self.real_data = oracle_data(self.oracle, cfg.oracle.num_train, cfg.oracle.seed)
            self.test_data = oracle_data(self.oracle, cfg.oracle.num_test, heldout_seed(cfg)) if cfg.oracle.num_test else None
            vocab_size, self.seq_len, start, self.eos = self.oracle.vocab_size, cfg.oracle.seq_len, 0, None
        else:
            self.corpus = build_corpus(cfg)
            self.real_data, self.test_data = self.corpus.train.to(self.device), self.corpus.test.to(self.device)
            vocab_size, self.seq_len, start, self.eos = len(self.corpus.vocab), self.corpus.seq_len, BOS_ID, self.corpus.eos
        self.vocab_size = vocab_size
        self.generator = Generator(vocab_size, g.emb_dim, g.hidden_dim, self.seq_len, g.init_std, start, self.eos,
                                   PAD_ID).to(self.device)
        self.discriminator = Discriminator(vocab_size, self.seq_len, d.emb_dim, d.filter_sizes, d.num_filters, d.dropout,
                                           d.l2_reg, self.eos).to(self.device)
        if self.dist.enabled:
            # Same models and data on every rank; different samples from here on (rank 0 keeps the
            # single-process stream). Each rank's share of the batches must be whole.
            self.dist.share(g.batch_size, "generator.batch_size")
            self.dist.share(d.batch_size, "discriminator.batch_size")
            self.dist.share(t.num_negatives, "train.num_negatives")
            if not self.dist.main:
                torch.manual_seed(cfg.seed + RANK_SEED_STRIDE * self.dist.rank)
        # Losses of G_θ and D_φ run through these, so several processes average their gradients (DDP).
        self._g = loss_runner(self.generator, self.dist)
        self._d = loss_runner(self.discriminator, self.dist)
        self.rollout: Rollout | None = None  # G_β exists from the start of the adversarial phase
        self._bleu: BleuScorer | None = None  # PG-BLEU's reference n-gram counts, built on first use
        self._test_bleu: BleuScorer | None = None  # the test set's, for evaluating on real data
        self.mle_opt = adam(self.generator.parameters(), g.lr)
        # A fresh Adam for policy gradient: the MLE moments would swamp the tiny early rewards.
        self.pg_opt = adam(self.generator.parameters(), g.pg_lr)
        self.d_opt = adam(self.discriminator.parameters(), d.lr)
        self.progress = Progress()
        self.records: list[dict[str, Any]] = []
        self.elapsed = 0.0  # seconds of training before this process (restored on resume)
        self._started = time.perf_counter()

    def global_step(self) -> int:
        """Units completed over all phases (TensorBoard's step)."""
        earlier = PHASES[:PHASES.index(self.progress.phase)]
        return self.progress.done + sum(self.totals.get(p, 0) for p in earlier)

    def wall_time(self) -> float:
        return self.elapsed + time.perf_counter() - self._started

    # ---- Algorithm 1 -----------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Run (or continue) Algorithm 1 to the end; returns the evaluation records."""
        t, totals = self.cfg.train, self.totals
        # Pretrain G_θ using MLE on the real data S.
        self._run_phase("mle", totals["mle"], self.pretrain_epoch)
        # Pretrain D_φ by minimising the cross entropy of real vs sequences generated by G_θ.
        self._run_phase("d_pretrain", totals["d_pretrain"], lambda: self.d_step(t.d_pretrain_epochs))
        # Adversarial rounds: g-steps of policy gradient with Monte Carlo Q from G_β, then d-steps
        # (or, for a baseline, its own training for as many epochs).
        self._run_phase("adversarial", totals["adversarial"], self._method_unit())
        if t.method == "random" and not self.records:
            self._evaluate_if_due(0, 1, {})
        return self.records

    def _method_unit(self) -> Callable[[], dict[str, float]]:
        method = self.cfg.train.method
        if method in ("seqgan", "pg_bleu"):
            return self.adversarial_round
        epoch = {"mle": self.mle_epoch, "ss": self.ss_epoch}.get(method)

        def baseline_epoch() -> dict[str, float]:
            assert epoch is not None, f"method {method!r} has no training phase"
            scalars = epoch()
            self._evaluate_if_due(self.progress.done, self.totals["adversarial"], scalars)
            return scalars

        return baseline_epoch

    def pretrain_epoch(self) -> dict[str, float]:
        """One MLE epoch, then NLL_oracle when due (as the reference code: after the epoch)."""
        scalars = self.mle_epoch()
        self._evaluate_if_due(self.progress.done, self.cfg.train.pretrain_epochs, scalars)
        return scalars

    def adversarial_round(self) -> dict[str, float]:
        """One round of Algorithm 1's loop (lines 5-13): g_steps, G_β ← G_θ (delayed), d_steps."""
        t = self.cfg.train
        if self.rollout is None:
            self.rollout = Rollout(self.generator, t.update_rate)
        scalars: dict[str, float] = {}
        for _ in range(t.g_steps):
            scalars.update(self.g_step())
        self.rollout.update(self.generator)  # β ← r·β + (1 − r)·θ
        for _ in range(t.d_steps if t.method == "seqgan" else 0):  # PG-BLEU's reward needs no training
            scalars.update(self.d_step(t.d_epochs))
        # The reference code evaluates right after the g-steps; G_θ is the same here, as neither the
        # G_β sync nor the d-steps change it, and the record can carry the round's D loss too.
        self._evaluate_if_due(self.progress.done, t.adversarial_rounds, scalars)
        return scalars

    # ---- steps -----------------------------------------------------------------------------
    def mle_epoch(self) -> dict[str, float]:
        """One pass of teacher-forced maximum likelihood over the real data (full batches only)."""
        g = self.cfg.generator
        self.generator.train()
        order = self._shared_order(len(self.real_data))
        total = torch.zeros((), device=self.device)
        batches = len(order) // g.batch_size
        for i in range(batches):
            batch = drop_padding_columns(self.real_data[self._my_part(order, i, g.batch_size)], self.eos)
            loss = self._g(LSTMPolicy.nll, batch)
            self._update(self.mle_opt, self.generator, loss, g.grad_clip)
            total += loss.detach()
        return {"losses/g_mle": self._finite(total.item() / max(1, batches), "MLE loss")}

    def ss_epoch(self) -> dict[str, float]:
        """One epoch of Scheduled Sampling (the SS baseline): own samples fed with a rising probability."""
        g, t = self.cfg.generator, self.cfg.train
        self.generator.train()
        order = self._shared_order(len(self.real_data))
        batches = len(order) // g.batch_size
        total, first_step = torch.zeros((), device=self.device), self.progress.done * batches
        for i in range(batches):
            teacher = teacher_forcing_prob(first_step + i, self.totals["adversarial"] * batches, t.ss_schedule, t.ss_k,
                                           t.ss_floor)
            loss = self._g(scheduled_sampling_nll, self.real_data[self._my_part(order, i, g.batch_size)], teacher)
            self._update(self.mle_opt, self.generator, loss, g.grad_clip)
            total += loss.detach()
        return {"losses/g_ss": self._finite(total.item() / max(1, batches), "scheduled-sampling loss"),
                "ss/teacher_prob": teacher}

    def g_step(self) -> dict[str, float]:
        """Policy gradient (Eq. 8) with rewards Q from Monte Carlo rollouts of G_β scored by D_φ (Eq. 4)."""
        g, t = self.cfg.generator, self.cfg.train
        assert self.rollout is not None
        sequences = self.generator.sample(g.batch_size // self.dist.world)  # this rank's share
        rewards = self.rollout.rewards(sequences, self.reward_fn(), t.rollout_num,
                                       memory_budget_mb=self.cfg.runtime.memory_budget_mb)
        # DDP averages gradients over ranks; the loss is a sum over the global batch, so scale back up.
        loss = self._g(pg_loss, sequences, rewards, t.pg_baseline) * self.dist.world
        self._update(self.pg_opt, self.generator, loss, g.grad_clip)
        return {"losses/g_pg": self._finite(loss.item(), "policy-gradient loss"), "rewards/mean_q": rewards.mean().item()}

    def reward_fn(self) -> RewardFn:
        """The reward of complete sequences: D_φ's probability of real, or for PG-BLEU their BLEU against S."""
        if self.cfg.train.method != "pg_bleu":
            return DiscriminatorReward(self.discriminator)
        eos = self.eos
        if self._bleu is None:
            self._bleu = BleuScorer([trim(s, eos) for s in self.real_data.tolist()], max_n=self.cfg.train.pg_bleu_n)
        bleu, n = self._bleu, self.cfg.train.pg_bleu_n
        return lambda seqs: torch.tensor([bleu.sentence_bleu(trim(s, eos), n) for s in seqs.tolist()], dtype=torch.float64,
                                        device=seqs.device)

    def d_step(self, epochs: int) -> dict[str, float]:
        """Train D_φ for `epochs` passes over real sequences and as many fresh samples of G_θ."""
        d, t = self.cfg.discriminator, self.cfg.train
        num_negatives, batch_size = t.num_negatives // self.dist.world, d.batch_size // self.dist.world  # this rank's
        negatives = self.generator.sample(num_negatives)
        real = self.real_data
        if num_negatives < len(real):  # keep the classes balanced, as the reference code's equal files
            real = real[torch.randperm(len(real), device=self.device)[:num_negatives]]
        data = torch.cat([real, negatives])
        labels = torch.cat([torch.ones(len(real)), torch.zeros(len(negatives))]).long().to(self.device)
        self.discriminator.train()
        total, correct, seen = torch.zeros((), device=self.device), torch.zeros((), device=self.device), 0
        for _ in range(epochs):
            order = torch.randperm(len(data), device=self.device)
            for lo in range(0, len(order), batch_size):
                idx = order[lo:lo + batch_size]
                loss, logits = self._d(_d_loss, data[idx], labels[idx])
                self._update(self.d_opt, self.discriminator, loss, None)
                total += loss.detach() * len(idx)
                correct += (logits.argmax(-1) == labels[idx]).sum()
                seen += len(idx)
        return {"losses/d": self._finite(total.item() / seen, "discriminator loss"), "d/train_accuracy": correct.item() / seen}

    def evaluate(self) -> dict[str, float]:
        """Quality of fresh samples of G_θ — NLL_oracle on the oracle, BLEU-2..4 against the test set on
        real data — and NLL_test, G_θ's NLL of held-out real data (coverage): collapsing onto a few good
        sequences improves the first and worsens the second."""
        self.generator.eval()
        metrics: dict[str, float] = {}
        if self.oracle is not None:
            samples = self.generator.sample(self.cfg.oracle.num_eval)
            metrics["nll_oracle"] = self._finite(self.oracle.nll_of(samples), "NLL_oracle")
        if self.test_data is not None:
            metrics["nll_test"] = self._finite(self.generator.nll_of(self.test_data), "NLL_test")
        if self.corpus is not None:
            if self._test_bleu is None:
                self._test_bleu = BleuScorer(self.corpus.test_lines, max_n=4)
            hyps = [self.corpus.decode(s) for s in self.generator.sample(self.cfg.data.num_eval).tolist()]
            for n in (2, 3, 4):
                metrics[f"bleu{n}"] = self._test_bleu.mean_bleu(hyps, n)
        return metrics

    # ---- plumbing --------------------------------------------------------------------------
    def _run_phase(self, phase: str, total: int, unit: Callable[[], dict[str, float]]) -> None:
        """Run the remaining units of a phase, checkpointing every checkpoint_every units and at its end."""
        if self.progress.phase != phase:
            return  # finished before a resume
        self.callbacks.phase_start(phase, self.progress.done, total)
        while self.progress.done < total:
            scalars = unit()
            self.progress.done += 1
            self.callbacks.unit_end(phase, self.progress.done, total, scalars)
            if self.progress.done == total:
                break
            if self.progress.done % self.cfg.train.checkpoint_every == 0:
                self.save_checkpoint()
        self.progress.phase, self.progress.done = PHASES[PHASES.index(phase) + 1], 0
        self.save_checkpoint()

    def _shared_order(self, n: int) -> torch.Tensor:
        """A random order of the real data, the same on every rank (rank 0's draw)."""
        return self.dist.broadcast_(torch.randperm(n, device=self.device))

    def _my_part(self, order: torch.Tensor, i: int, batch_size: int) -> torch.Tensor:
        """This rank's slice of global batch i."""
        share = batch_size // self.dist.world
        lo = i * batch_size + self.dist.rank * share
        return order[lo:lo + share]

    def _evaluate_if_due(self, index: int, total: int, scalars: dict[str, float]) -> None:
        every = self.cfg.train.eval_every
        if (index % every and index != total - 1) or not self.dist.main:  # rank 0 evaluates
            return
        phase, method = self.progress.phase, self.cfg.train.method
        offset = self.totals["mle"] if phase == "adversarial" else 0
        label = "baseline" if (phase == "adversarial" and method != "seqgan") or method == "random" else phase
        record: dict[str, Any] = {"phase": label, "method": method, "epoch": index, "global_epoch": offset + index,
                                  **self.evaluate(), **scalars, "time_s": round(self.wall_time(), 3)}
        self.records.append(record)
        metric = primary_metric(self.cfg)
        log.info("%s (%s) epoch %d: %s %.4f", label, method, index, metric, record[metric])
        self.callbacks.evaluation(record)

    @staticmethod
    def _update(opt: torch.optim.Optimizer, model: torch.nn.Module, loss: torch.Tensor, clip: float | None) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()

    def _finite(self, value: float, what: str) -> float:
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
            "seq_len": self.seq_len,
            "vocab": self.corpus.vocab.tokens if self.corpus else None,
            "tokenizer": self.corpus.tokenizer if self.corpus else None,
            "progress": {"phase": self.progress.phase, "done": self.progress.done},
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "rollout": self.rollout.policy.state_dict() if self.rollout else None,
            "optimizers": {"mle": self.mle_opt.state_dict(), "pg": self.pg_opt.state_dict(), "d": self.d_opt.state_dict()},
            "rng": rng,
            "records": self.records,
            "elapsed": self.wall_time(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint format {state.get('format')!r} is not supported (expected {CHECKPOINT_FORMAT})")
        self.check_vocabulary(state)
        saved = _complete(state["config"])
        if saved != self.cfg.to_dict():
            diff = _diff_keys(saved, self.cfg.to_dict())
            raise CheckpointError("the checkpoint was written with a different configuration (differs in: "
                                  f"{', '.join(diff)}); resume with the same command, or start a new run with another --out")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if state["rollout"] is not None:
            self.rollout = Rollout(self.generator, self.cfg.train.update_rate)
            self.rollout.policy.load_state_dict(state["rollout"])
        self.mle_opt.load_state_dict(state["optimizers"]["mle"])
        self.pg_opt.load_state_dict(state["optimizers"]["pg"])
        self.d_opt.load_state_dict(state["optimizers"]["d"])
        ranks = state.get("rng_ranks")
        if self.dist.enabled and (ranks is None or len(ranks) != self.dist.world):
            raise CheckpointError(f"the checkpoint was written by {len(ranks) if ranks else 1} process(es); resume it with "
                                  f"as many (now {self.dist.world})")
        self._restore_rng(ranks[self.dist.rank] if self.dist.enabled else state["rng"])
        self.progress.phase, self.progress.done = state["progress"]["phase"], state["progress"]["done"]
        self.records = list(state["records"])
        self.elapsed, self._started = float(state["elapsed"]), time.perf_counter()

    def start_from_pretrained(self, state: dict[str, Any]) -> None:
        """Continue after another run's MLE pretraining, so every method of a seed shares one pretrained G_θ.

        The result equals this config's own run from scratch: same weights, MLE optimiser and RNG state.
        """
        if state["progress"]["phase"] == "mle":
            raise CheckpointError("the pretraining checkpoint has not finished MLE pretraining; resume that run first")
        self.check_vocabulary(state)
        mine, theirs = self.cfg.to_dict(), _complete(state["config"])
        shared = [*(f"{s}.{k}" for s in ("data", "oracle", "generator") for k in mine[s]), "seed", "train.pretrain_epochs"]
        differ = [key for key in shared if _get(mine, key) != _get(theirs, key)]
        if differ:
            raise CheckpointError(f"the pretraining checkpoint was made with other settings ({', '.join(differ)}); "
                                  "pretrain with this configuration")
        self.generator.load_state_dict(state["generator"])
        self.mle_opt.load_state_dict(state["optimizers"]["mle"])
        self._restore_rng(state["rng"])
        if not self.dist.main:
            torch.manual_seed(self.cfg.seed + RANK_SEED_STRIDE * self.dist.rank)
        method = self.cfg.train.method
        self.records = [{**r, "method": method} for r in state["records"] if r["phase"] == "mle"]
        self.progress = Progress("d_pretrain", 0)
        self.elapsed, self._started = float(state["elapsed"]), time.perf_counter()

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

    def resume(self) -> bool:
        """Load the run folder's latest checkpoint if there is one; returns whether it did."""
        path = self.checkpoint_path
        if path is None or not path.exists():
            return False
        self.load_state_dict(load_checkpoint(path, self.device))
        log.info("resumed from %s at %s unit %d", path, self.progress.phase, self.progress.done)
        return True


def save_atomic(obj: Any, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a crash leaves the old file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint without pickle (weights_only=True); any failure becomes a clear CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted or not a seqgan checkpoint "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                              "delete it to restart that run, or point to another checkpoint") from None
    if not isinstance(state, dict) or "generator" not in state or "config" not in state:
        raise CheckpointError(f"{str(path)!r} is not a seqgan checkpoint (missing generator or config)")
    return state


def _d_loss(d: Discriminator, tokens_NxT: torch.Tensor, labels_N: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D_φ's training loss and its logits (for the accuracy)."""
    logits_Nx2 = d(tokens_NxT)
    return d.loss_from_logits(logits_Nx2, labels_N), logits_Nx2


def _complete(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved config with the defaults of settings added since it was written (older checkpoints stay usable)."""
    try:
        return Config.from_dict(saved, where="checkpoint config").to_dict()
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
