"""`seqgan reproduce table1`: the paper's synthetic Table 1 and Figure 2, over seeds, with p-values.

Per seed, MLE pretraining runs once and every method starts from it (Random excepted: it is the
untrained generator). Each piece is an ordinary run folder; a finished one (summary.json written for
the same config) is reused, so an interrupted reproduction continues where it stopped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqgan.config import Config, load_config
from seqgan.run import train
from seqgan.stats import mean_std, welch_t_test
from seqgan.train import Callbacks

TABLE1_METHODS = ("random", "mle", "ss", "seqgan")
PAPER_TABLE1 = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}
NAMES = {"random": "Random", "mle": "MLE", "ss": "Scheduled Sampling", "pg_bleu": "PG-BLEU", "seqgan": "SeqGAN"}


def run_once(cfg: Config, run_dir: Path, callbacks: Callbacks | None = None, init_from: Path | None = None
             ) -> dict[str, Any]:
    """Train into run_dir unless it already finished with this config; returns summary + records."""
    summary_path = run_dir / "summary.json"
    if summary_path.is_file() and load_config(run_dir / "config.toml") == cfg:
        summary = json.loads(summary_path.read_text())
    else:
        summary = train(cfg, run_dir, resume=True, callbacks=callbacks, init_from=init_from)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {**summary, "records": records}


def table1(cfg: Config, seeds: int, out_dir: str | Path, methods: tuple[str, ...] = TABLE1_METHODS,
           callbacks: Callbacks | None = None) -> dict[str, Any]:
    """Train every method for seeds 0..seeds-1 and write table1.md, table1.json and figure2.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for seed in range(seeds):
        base = cfg.override([f"seed={seed}"])
        pretrain_dir = out / f"seed{seed}" / "pretrain"
        if any(m != "random" for m in methods):
            run_once(base.override(["train.method='mle'", "train.adversarial_rounds=0"]), pretrain_dir, callbacks)
        for method in methods:
            init = None if method == "random" else pretrain_dir / "checkpoints" / "latest.pt"
            runs[method].append(run_once(base.override([f"train.method={method!r}"]), out / f"seed{seed}" / method,
                                         callbacks, init))
    result = summarize_table1(runs)
    (out / "table1.md").write_text(format_table1(result, seeds), encoding="utf-8")
    (out / "table1.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot_figure2({m: r[0]["records"] for m, r in runs.items()}, cfg.train.pretrain_epochs, out / "figure2.png")
    return result


def summarize_table1(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per method: final NLL_oracle and NLL_test per seed, mean ± std, and SeqGAN's Welch p-value against it."""
    rows: dict[str, Any] = {}
    for method, seed_runs in runs.items():
        nll = [r["nll_oracle_final"] for r in seed_runs]
        test = [r["records"][-1].get("nll_test", math.nan) for r in seed_runs]
        rows[method] = {"nll_oracle": nll, "nll_test": test, "paper": PAPER_TABLE1.get(method),
                        "wall_time_s": [r.get("wall_time_s") for r in seed_runs]}
    if "seqgan" in rows:
        for method, row in rows.items():
            if method != "seqgan":
                row["p_seqgan_vs"] = welch_t_test(rows["seqgan"]["nll_oracle"], row["nll_oracle"])[2]
    return rows


def format_table1(rows: dict[str, Any], seeds: int) -> str:
    """The Markdown table: mean ± sample std over seeds, the paper's figure, NLL_test, Welch's p."""
    def ms(values: list[float]) -> str:
        m, s = mean_std(values)
        return f"{m:.3f}" if math.isnan(s) else f"{m:.3f} ± {s:.3f}"

    lines = [f"| method | NLL_oracle ({seeds} seed{'s' if seeds > 1 else ''}) | paper | NLL_test | p (SeqGAN vs method) |",
             "|---|---|---|---|---|"]
    for method, row in rows.items():
        p = row.get("p_seqgan_vs")
        p_text = "—" if p is None else ("n/a (needs ≥ 2 seeds)" if math.isnan(p) else f"{p:.2g}")
        paper = "—" if row["paper"] is None else f"{row['paper']:.3f}"
        lines.append(f"| {NAMES.get(method, method)} | {ms(row['nll_oracle'])} | {paper} | {ms(row['nll_test'])} | {p_text} |")
    lines.append("")
    lines.append("NLL_oracle: per-token NLL under the oracle of the generator's samples (lower = higher quality). "
                 "NLL_test: the generator's per-token NLL of held-out oracle samples (lower = better coverage). "
                 "± is the sample standard deviation over seeds; p is Welch's two-sided t-test over seeds.")
    return "\n".join(lines) + "\n"


def plot_figure2(records: dict[str, list[dict[str, Any]]], pretrain_epochs: int, path: Path) -> None:
    """NLL_oracle learning curves of every method on one plot (the paper's Figure 2), first seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    shown_pretraining = False
    for method, recs in records.items():
        if method == "random":
            ax.axhline(recs[-1]["nll_oracle"], color="grey", linestyle=":", label="Random")
            continue
        pre = [(r["global_epoch"], r["nll_oracle"]) for r in recs if r["phase"] == "mle"]
        after = [(r["global_epoch"], r["nll_oracle"]) for r in recs if r["phase"] != "mle"]
        if pre and not shown_pretraining:
            ax.plot(*zip(*pre), color="black", marker=".", label="MLE pretraining")
            shown_pretraining = True
        if after:
            start = [pre[-1]] if pre else []
            ax.plot(*zip(*(start + after)), marker=".", label=NAMES.get(method, method))
    ax.axvline(pretrain_epochs, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("epoch (MLE pretraining, then each method)")
    ax.set_ylabel("NLL_oracle")
    ax.set_title("Learning curves on the synthetic oracle (Figure 2)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
