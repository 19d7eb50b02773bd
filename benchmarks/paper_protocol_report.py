"""The `paper` protocol's run as a report: where it stands, its learning curves, its figures beside the paper's.

Reads a run folder of `seqgan train --preset paper` (finished or not) and writes into --out: `metrics.jsonl` (a copy
of the run's records), once the run has finished its `summary.json`, `figure2.png` (NLL_oracle over MLE epochs, then
adversarial rounds: the paper's Figure 2), `nll_test.png`, and `README.md` with the run's progress (phase, units done
of the schedule's, where the wall time went), the last and best figures beside the paper's Table 1 (SeqGAN 8.736, MLE
9.038) and the authors' log (8.68 after 150 epochs), and the command that continues it.

    .venv/bin/python benchmarks/paper_protocol_report.py --run runs/paper --out reports/paper-protocol
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from seqgan.config import load_config
from seqgan.health import FIT_ROWS, diagnose, discriminator_fit, summarize_warnings
from seqgan.run import plot_learning_curve
from seqgan.train import PHASES, PRETRAIN, SeqGANTrainer, load_checkpoint

PAPER = {"mle": 9.038, "seqgan": 8.736, "authors_log": 8.68}
AUTHORS_LOG_ROUND = 150  # the authors' log reports 8.68 after 150 adversarial epochs


def progress(run: Path) -> dict[str, Any]:
    """The checkpoint's phase and units done in it (weights_only: tensors and plain containers, no pickled objects)."""
    state = torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    return {"phase": state["progress"]["phase"], "done": state["progress"]["done"], "elapsed_s": state.get("elapsed")}


def report(run: Path, out: Path) -> str:
    cfg = load_config(run / "config.toml", saved=True)
    t = cfg.train
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]
    mle = [r for r in records if r["phase"] == "mle"]
    adv = [r for r in records if r["phase"] == "adversarial"]
    where = progress(run)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "metrics.jsonl", out / "metrics.jsonl")
    if (run / "summary.json").is_file():  # written when the run finishes
        shutil.copyfile(run / "summary.json", out / "summary.json")
    plot_learning_curve(records, t.pretrain_epochs, out / "figure2.png")
    plot_learning_curve(records, t.pretrain_epochs, out / "nll_test.png", metric="nll_test")

    schedule = {PRETRAIN: t.pretrain_epochs, "d_pretrain": t.d_pretrain_steps, "adversarial": t.adversarial_rounds}
    now = PHASES.index(where["phase"])  # phases before it are complete, those after it not begun
    done = {phase: total if PHASES.index(phase) < now else where["done"] if PHASES.index(phase) == now else 0
            for phase, total in schedule.items()}
    hours = (where["elapsed_s"] or 0.0) / 3600
    rows = ["| phase | units done | of | unit |", "|---|---:|---:|---|",
            f"| MLE pretraining | {done[PRETRAIN]} | {schedule[PRETRAIN]} | epoch over {cfg.oracle.num_train:,} sequences |",
            f"| D pretraining | {done['d_pretrain']} | {schedule['d_pretrain']} | d-step: {t.num_negatives:,} negatives, "
            f"{t.d_pretrain_epochs} epochs |",
            f"| adversarial | {done['adversarial']} | {schedule['adversarial']} | round: {t.g_steps} g-step, {t.d_steps} "
            f"d-steps × {t.d_epochs} epochs |"]
    figures = ["| measure | value | where | paper |", "|---|---:|---|---:|"]
    if mle:
        last = mle[-1]
        figures.append(f"| NLL_oracle, MLE pretraining's last evaluation | {last['nll_oracle']:.3f} | epoch {last['epoch']} "
                       f"| {PAPER['mle']} (MLE, Table 1) |")
        figures.append(f"| NLL_test, MLE pretraining's last evaluation | {last['nll_test']:.3f} | epoch {last['epoch']} | — |")
    if adv:
        best = min(adv, key=lambda r: r["nll_oracle"])
        figures += [f"| NLL_oracle, last evaluation | {adv[-1]['nll_oracle']:.3f} | round {adv[-1]['epoch']} "
                    f"| {PAPER['seqgan']} (SeqGAN, Table 1); {PAPER['authors_log']} (authors' log, 150 epochs) |",
                    f"| NLL_test, last evaluation | {adv[-1]['nll_test']:.3f} | round {adv[-1]['epoch']} | — |",
                    f"| NLL_oracle, best evaluation | {best['nll_oracle']:.3f} | round {best['epoch']} | |"]
        at_log = [r for r in adv if r["epoch"] == AUTHORS_LOG_ROUND]
        if at_log:
            figures.append(f"| NLL_oracle at the authors' log's point | {at_log[0]['nll_oracle']:.3f} | round "
                           f"{AUTHORS_LOG_ROUND} | {PAPER['authors_log']} (authors' log) |")
    finished = where["phase"] == "done"
    log_lines = (run / "train.log").read_text(encoding="utf-8").splitlines() if (run / "train.log").is_file() else []
    messages = [line.split(" ", 2)[-1] for line in log_lines]  # without their timestamps
    history = [m for m in messages if m.startswith(("code: ", "device ", "resumed at ", "the checkpoint resumed from"))
               ] or ["(no train.log)"]
    warnings = summarize_warnings(records)  # the health checks' (seqgan.health), each kind once
    text = "\n".join([
        "# The `paper` protocol on this CPU" + ("" if finished else " (in progress)"), "",
        f"Run: `seqgan train --preset paper --out {run} --resume` (the paper's sizes and schedule; "
        f"runtime.precision = {cfg.runtime.precision!r}). Continued with the same command after every interruption "
        "(exact resume). Where it computed and each start, from its `train.log`:", "",
        *(f"    {m}" for m in history), "",
        f"Report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} by "
        f"`.venv/bin/python benchmarks/paper_protocol_report.py --run {run} --out {out}`.", "",
        (f"**Finished:** every phase of the schedule; {hours:.2f} h of training wall time." if finished else
         f"**Where it stands:** phase `{where['phase']}`, {where['done']} units done in it; {hours:.2f} h of training "
         "wall time at the last checkpoint."), "", *rows, "", *wall_lines(mle, adv),
        *pace_lines(adv, schedule["adversarial"], finished),
        "D pretraining has no evaluations (the schedule evaluates G_θ in MLE pretraining and the adversarial phase).", "",
        *figures, "",
        *(["The health checks' warnings, each kind once:", "", *(line for w in warnings.values() for line in (f"> {w}", ""))]
          if warnings else []),
        *signal_lines(adv),
        *fit_lines(discriminator_at_checkpoint(run, cfg),
                   "the run's end" if finished else f"{where['phase']}, {where['done']} units done"),
        "Curves: [figure2.png](figure2.png) (NLL_oracle, the paper's Figure 2), [nll_test.png](nll_test.png); the "
        "records: [metrics.jsonl](metrics.jsonl)" + (", the run's [summary.json](summary.json)." if finished else "."), ""])
    (out / "README.md").write_text(text, encoding="utf-8")
    return text


def discriminator_at_checkpoint(run: Path, cfg: Any, samples: int = 10_000) -> dict[str, float] | None:
    """How the checkpoint's D_φ scores the real sequences it trains on, a held-out draw of the oracle and fresh samples
    of G_θ (seqgan.health.discriminator_fit; the samples under a fixed seed, outside the run's random stream)."""
    trainer = SeqGANTrainer(cfg)
    trainer.load_state_dict(load_checkpoint(run / "checkpoints" / "latest.pt"))
    if trainer.progress.phase not in ("adversarial", "done") or not trainer.method.rewards_from_discriminator:
        return None
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generated = trainer.generator.sample(samples)
    return discriminator_fit(trainer.discriminator.prob_real, trainer.real_data, trainer.test_data, generated)


def fit_lines(fit: dict[str, float] | None, when: str) -> list[str]:
    """The table of `discriminator_at_checkpoint`, and the health check's verdict on it."""
    if fit is None:
        return []
    heldout = fit.get("d/p_real_heldout")
    return [f"D_φ at the last checkpoint ({when}): the mean P(real) it gives "
            f"each kind of sequence ({FIT_ROWS:,} of each; `seqgan.health.discriminator_fit`):", "",
            "| sequences | mean P(real) |", "|---|---:|",
            f"| real, the ones it trains on | {fit['d/p_real_training']:.4f} |",
            *([f"| real, a held-out draw of the oracle | {heldout:.4f} |"] if heldout is not None else []),
            f"| G_θ's samples | {fit['d/p_real_generated']:.4f} |", "",
            *(line for warning in diagnose(fit) for line in (f"> {warning}", "")), ]


SIGNAL_COLUMNS = [("NLL_oracle", "nll_oracle", ".3f"), ("NLL_test", "nll_test", ".3f"),
                  ("mean reward", "rewards/mean_q", ".2e"), ("D train accuracy", "d/train_accuracy", ".4f"),
                  ("D loss", "losses/d", ".2e")]
FIT_COLUMNS = [("P(real): D's real", "d/p_real_training", ".3f"), ("P(real): held-out real", "d/p_real_heldout", ".3f"),
               ("P(real): G's samples", "d/p_real_generated", ".2e")]


def signal_lines(adv: list[dict[str, Any]], every: int = 10) -> list[str]:
    """What G_θ learned from, every `every` rounds: D_φ's training accuracy and loss, and the mean reward Q of the
    g-step (a saturated D gives rewards near 0, and the policy gradient vanishes), beside the two NLLs; and, where
    the records have it (runs from 2026-12-01 on), how D_φ scores real sequences it trains on, held-out real ones and
    G_θ's samples."""
    rows = [r for r in adv if r["epoch"] % every == 0 or r is adv[-1]]
    if not rows or "rewards/mean_q" not in rows[0]:
        return []
    columns = SIGNAL_COLUMNS + (FIT_COLUMNS if any(FIT_COLUMNS[0][1] in r for r in rows) else [])

    def cell(r: dict[str, Any], key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "—"
    return [f"The learning signal, every {every} rounds: the mean reward is the mean of Q(s, a) — D_φ's P(real) of the "
            "rollouts (Eq. 4) — over the g-step's sequences and positions; D's figures are from its last d-step.", "",
            "| round | " + " | ".join(name for name, _, _ in columns) + " |", "|---:" * (len(columns) + 1) + "|",
            *("| " + " | ".join([str(r["epoch"]), *(cell(r, key, fmt) for _, key, fmt in columns)]) + " |" for r in rows),
            ""]


def wall_lines(mle: list[dict[str, Any]], adv: list[dict[str, Any]]) -> list[str]:
    """Where the wall time went, from the records' cumulative `time_s` (the run's own clock, carried over resumes, so
    time lost to an interruption since the last checkpoint is not counted, but pauses of a running process are)."""
    if not mle or not adv:
        return []
    spans = [("MLE pretraining (to its last evaluation)", mle[-1]["time_s"]),
             ("D pretraining and adversarial round 0", adv[0]["time_s"] - mle[-1]["time_s"]),
             (f"adversarial rounds 1–{adv[-1]['epoch']}", adv[-1]["time_s"] - adv[0]["time_s"])]
    per_round = spans[2][1] / max(1, adv[-1]["epoch"])
    return ["Where the wall time went, from the records' clock (`time_s`):", "", "| span | wall time |", "|---|---:|",
            *(f"| {name} | {seconds / 3600:.2f} h |" for name, seconds in spans),
            f"| total to round {adv[-1]['epoch']} | {adv[-1]['time_s'] / 3600:.2f} h |", "",
            f"An adversarial round took {per_round / 60:.1f} min on average.", ""]


def pace_lines(adv: list[dict[str, Any]], rounds: int, finished: bool) -> list[str]:
    """The adversarial phase's recent pace from its last evaluations' wall times, and what it means for the rest."""
    if finished or len(adv) < 2:
        return []
    recent = adv[-3:]
    per_round = (recent[-1]["time_s"] - recent[0]["time_s"]) / max(1, recent[-1]["epoch"] - recent[0]["epoch"])
    left = rounds - (adv[-1]["epoch"] + 1)
    return [f"Recent pace: {per_round / 60:.1f} min a round (rounds {recent[0]['epoch']}–{recent[-1]['epoch']}; wall "
            f"time, so stops for benchmarks count); the {left} rounds left take about {left * per_round / 3600:.1f} h "
            "at it.", ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="the run folder of `seqgan train --preset paper`")
    p.add_argument("--out", type=Path, required=True, help="the report's folder")
    args = p.parse_args(argv)
    print(report(args.run, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
