"""`seqgan reproduce table1`: the paper's synthetic Table 1 and Figure 2, over seeds, with p-values.

Per seed, MLE pretraining runs once and every method starts from it (Random excepted: it is the
untrained generator). Each piece is an ordinary run folder; a finished one (summary.json written for
the same config) is reused, so an interrupted reproduction continues where it stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqgan import frontier
from seqgan.config import Config, load_config
from seqgan.methods import METHODS
from seqgan.run import train
from seqgan.stats import mean_std, welch_t_test
from seqgan.train import Callbacks

# A row of Table 1: the method it trains and the settings that make the row (beyond the preset's).
TABLE1_ROWS: dict[str, tuple[str, list[str]]] = {
    "random": ("random", []),
    "mle": ("mle", []),
    "ss": ("ss", []),
    # The authors' PG-BLEU (reports/baselines-small): BLEU-3 against a fixed 40% of the real data, NLTK 3.2's rule.
    "pg_bleu": ("pg_bleu", ["pg_bleu.n=3", "pg_bleu.smoothing='nltk3.2'", "pg_bleu.reference_fraction=0.4"]),
    "pg_constant": ("pg_constant", []),
    "seqgan": ("seqgan", []),
    "seqgan_rescale": ("seqgan", ["train.advantage='rescale'"]),
    "maligan": ("maligan", []),
    "dpgan": ("dpgan", []),
    "rankgan": ("rankgan", []),
    "leakgan": ("leakgan", []),
    "relgan_100": ("relgan", ["relgan.beta_max=100.0"]),
    "relgan_1000": ("relgan", ["relgan.beta_max=1000.0"]),
}
TABLE1_METHODS = tuple(TABLE1_ROWS)
# The SeqGAN paper's Table 1. The MaliGAN and DPGAN papers report no figure on this oracle, and LeakGAN's paper
# reports LeakGAN, not SeqGAN with its rescaled reward: those rows have no published figure.
# RankGAN's and LeakGAN's figures on the same oracle (length 20) are those the RelGAN paper (Nie et al. 2019,
# Table 1) reports; their own papers' oracle tables use other settings.
PAPER_TABLE1 = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736, "rankgan": 8.247,
                "leakgan": 7.038, "relgan_100": 6.680}
NAMES = {**{name: cls.label for name, cls in METHODS.items()}, "seqgan_rescale": "SeqGAN + rescaled reward",
         "relgan_100": "RelGAN (β_max 100)", "relgan_1000": "RelGAN (β_max 1000)"}


def starts_from_shared_pretraining(method: str) -> bool:
    """Whether a method continues from the seed's shared MLE pretraining: not Random (untrained), not LeakGAN or
    RelGAN (their own generators, pretrained in their own runs)."""
    cls = METHODS[method]
    return cls.pretrains_generator and cls.shares_pretraining


def pretraining_for(method: str, settings: list[str], base: Config, seed_dir: Path, callbacks: Callbacks | None = None
                    ) -> Path | None:
    """The checkpoint a row starts from, trained first if it is not there: the seed's shared MLE pretraining
    (`pretrain`), its method's own that rows differing elsewhere share (`pretrain-relgan`), or none."""
    if starts_from_shared_pretraining(method):
        shared = seed_dir / "pretrain"
        run_once(base.override(["train.method='mle'", "train.adversarial_rounds=0"]), shared, callbacks)
        return shared / "checkpoints" / "latest.pt"
    keys = METHODS[method].own_pretraining_keys
    if keys is None:  # pretrained inside its own run
        return None
    shaping = [s for s in settings if s.split("=")[0].strip() in {f"{method}.{k}" for k in keys}]
    own = seed_dir / "-".join(["pretrain", method, *shaping]).replace("'", "")
    run_once(base.override([f"train.method={method!r}", *shaping, "train.adversarial_rounds=0"]), own, callbacks)
    return own / "checkpoints" / "latest.pt"


def run_once(cfg: Config, run_dir: Path, callbacks: Callbacks | None = None, init_from: Path | None = None
             ) -> dict[str, Any]:
    """Train into run_dir unless it already finished with this config; returns summary + records."""
    summary_path = run_dir / "summary.json"
    if summary_path.is_file() and load_config(run_dir / "config.toml", saved=True) == cfg:
        summary = json.loads(summary_path.read_text())
    else:
        summary = train(cfg, run_dir, resume=True, callbacks=callbacks, init_from=init_from)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {**summary, "records": records}


def table1(cfg: Config, seeds: int, out_dir: str | Path, methods: tuple[str, ...] = TABLE1_METHODS,
           callbacks: Callbacks | None = None, with_frontier: bool = True) -> dict[str, Any]:
    """Train every method for seeds 0..seeds-1 and write table1.md, table1.json and figure2.png, the temperature
    sweep, and (with the MLE row and `with_frontier`) every method against MLE's frontier (seqgan/frontier.py)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for seed in range(seeds):
        base = cfg.override([f"seed={seed}"])
        for row in methods:
            method, settings = TABLE1_ROWS[row]
            init = pretraining_for(method, settings, base, out / f"seed{seed}", callbacks)
            runs[row].append(run_once(base.override([f"train.method={method!r}", *settings]), out / f"seed{seed}" / row,
                                      callbacks, init))
    # The paper's figures are for its own oracle (vocabulary 5000, length 20); beside another oracle they mislead.
    result = summarize_table1(runs, paper=cfg.oracle.source == "paper" and cfg.oracle.seq_len == 20)
    (out / "table1.md").write_text(format_table1(result, seeds), encoding="utf-8")
    (out / "table1.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot_figure2({m: r[0]["records"] for m, r in runs.items()}, cfg.train.pretrain_epochs, out / "figure2.png")
    # Every trained generator's quality-diversity curve, every seed (the random one is not trained; SS and PG-BLEU
    # are the paper's baselines, swept when asked for like the rest), and where each lies against MLE's frontier.
    swept = [m for m in methods if m != "random"]
    if swept:
        curves = [temperature_sweep(cfg.override([f"seed={s}"]), {m: out / f"seed{s}" / m for m in swept})
                  for s in range(seeds)]
        (out / "temperature_sweep.json").write_text(json.dumps(curves[0], indent=2) + "\n", encoding="utf-8")
        plot_temperature_sweep(curves[0], out / "temperature_sweep.png")
        if with_frontier and "mle" in methods:
            mle_frontier(cfg, out, curves, callbacks)
    return result


SWEEP_TEMPERATURES = (0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)


def sweep_points(generator: Any, oracle: Any, held_out: Any, num_samples: int, seed: int,
                 temperatures: tuple[float, ...] = SWEEP_TEMPERATURES) -> list[dict[str, float]]:
    """NLL_oracle of `num_samples` sequences drawn at each τ, and NLL_test of held-out data under the same tempered
    distribution."""
    import torch

    torch.manual_seed(seed)
    return [{"temperature": t, "nll_oracle": oracle.nll_of(generator.sample(num_samples, temperature=t)),
             "nll_test": generator.nll_of(held_out, temperature=t)} for t in temperatures]


def _oracle_and_held_out(cfg: Config) -> tuple[Any, Any]:
    """The oracle and its held-out draw behind NLL_test, as every run of `cfg` scores them."""
    from seqgan.oracle import oracle_data
    from seqgan.train import build_oracle, heldout_seed

    oracle = build_oracle(cfg)
    return oracle, oracle_data(oracle, cfg.oracle.num_test or cfg.oracle.num_eval, heldout_seed(cfg))


def _cached(path: Path, key: dict[str, Any], compute: Callable[..., Any], *args: Any) -> Any:
    """compute(*args), kept in `path` beside the key it was computed for (a retrained run changes the key)."""
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not there yet, or cut short by a killed process
        saved = {}
    if saved.get("key") == key:
        return saved["value"]
    value = compute(*args)
    path.write_text(json.dumps({"key": key, "value": value}, indent=1) + "\n", encoding="utf-8")
    return value


def _file_key(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def temperature_sweep(cfg: Config, run_dirs: dict[str, Path], temperatures: tuple[float, ...] = SWEEP_TEMPERATURES
                      ) -> dict[str, list[dict[str, float]]]:
    """Quality against diversity (Caccia et al. 2018): for each trained generator and temperature τ,
    NLL_oracle of samples drawn at τ and NLL_test of held-out data under the same tempered distribution."""
    oracle, held_out = _oracle_and_held_out(cfg)
    sweep: dict[str, list[dict[str, float]]] = {}
    for method, run_dir in run_dirs.items():
        latest = run_dir / "checkpoints" / "latest.pt"
        key = {"checkpoint": _file_key(latest), "temperatures": list(temperatures), "samples": cfg.oracle.num_eval,
               "seed": cfg.seed}
        sweep[method] = _cached(run_dir / "temperature_sweep.json", key, _sweep_run, latest, oracle, held_out,
                                cfg.oracle.num_eval, cfg.seed, temperatures)
    return sweep


def _sweep_run(latest: Path, oracle: Any, held_out: Any, num_samples: int, seed: int,
               temperatures: tuple[float, ...]) -> list[dict[str, float]]:
    from seqgan.run import load_generator

    return sweep_points(load_generator(latest), oracle, held_out, num_samples, seed, temperatures)


def _sweep_checkpoints(kept: list[Path], generator: Any, oracle: Any, held_out: Any, num_samples: int, seed: int
                       ) -> list[dict[str, Any]]:
    """Every kept G_θ of an MLE run at every temperature."""
    import torch

    points = []
    for path in kept:
        generator.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        points += [{"checkpoint": path.stem, **p} for p in sweep_points(generator, oracle, held_out, num_samples, seed)]
    return points


def mle_frontier(cfg: Config, out: Path, curves: list[dict[str, list[dict[str, float]]]],
                 callbacks: Callbacks | None = None) -> dict[str, Any]:
    """MLE's frontier per seed — a run of the MLE row's schedule that keeps G_θ at every evaluation, each kept G_θ at
    every temperature — and every method's curve against it; writes frontier.md, frontier.json and frontier.png."""
    from seqgan.run import load_generator

    oracle, held_out = _oracle_and_held_out(cfg)
    per_seed = []
    for seed, seed_curves in enumerate(curves):
        base = cfg.override([f"seed={seed}"])
        run_dir = out / f"seed{seed}" / "mle-frontier"
        run_once(base.override(["train.method='mle'", "train.keep_generators=true"]), run_dir, callbacks)
        kept = sorted((run_dir / "checkpoints" / "generators").glob("*.pt"))
        generator = load_generator(run_dir / "checkpoints" / "latest.pt")
        key = {"checkpoints": {p.name: _file_key(p) for p in kept}, "temperatures": list(SWEEP_TEMPERATURES),
               "samples": base.oracle.num_eval}
        points = _cached(run_dir / "frontier_points.json", key, _sweep_checkpoints, kept, generator, oracle, held_out,
                         base.oracle.num_eval, seed)
        front = frontier.envelope((p["nll_oracle"], p["nll_test"]) for p in points)
        per_seed.append({"seed": seed, "mle_points": points, "envelope": front,
                         "gaps": {m: frontier.curve_gaps(c, front) for m, c in seed_curves.items()}})
    summary = frontier.summarize(per_seed)
    (out / "frontier.md").write_text(frontier.format_frontier(summary, NAMES), encoding="utf-8")
    (out / "frontier.json").write_text(json.dumps({"summary": summary, "seeds": per_seed}, indent=1) + "\n",
                                       encoding="utf-8")
    first = per_seed[0]
    frontier.plot_frontier([(p["nll_oracle"], p["nll_test"]) for p in first["mle_points"]], first["envelope"],
                           curves[0], NAMES, out / "frontier.png")
    return summary


def plot_temperature_sweep(sweep: dict[str, list[dict[str, float]]], path: Path) -> None:
    """NLL_oracle (quality) against NLL_test (coverage), one curve per method, points labelled by τ."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for method, points in sweep.items():
        xs, ys = [p["nll_test"] for p in points], [p["nll_oracle"] for p in points]
        ax.plot(xs, ys, marker="o", label=NAMES.get(method, method))
        for p in points:
            ax.annotate(f"{p['temperature']:g}", (p["nll_test"], p["nll_oracle"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    ax.set_xlabel("NLL_test (coverage of held-out data; lower is better)")
    ax.set_ylabel("NLL_oracle (sample quality; lower is better)")
    ax.set_title("Temperature sweep: quality against diversity")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


ABLATION_STRATEGIES = {"g100_d1_k10": (100, 1, 10), "g30_d1_k30": (30, 1, 30), "g1_d1_k10": (1, 1, 10),
                       "g1_d5_k3": (1, 5, 3)}


def ablation(cfg: Config, out_dir: str | Path, callbacks: Callbacks | None = None) -> dict[str, Any]:
    """The paper's Figure 3: SeqGAN under four (g-steps, d-steps, k) strategies from one shared pretraining."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pretrain_dir = out / "pretrain"
    run_once(cfg.override(["train.method='mle'", "train.adversarial_rounds=0"]), pretrain_dir, callbacks)
    runs = {}
    for name, (g, d, k) in ABLATION_STRATEGIES.items():
        strategy = cfg.override(["train.method='seqgan'", f"train.g_steps={g}", f"train.d_steps={d}", f"train.d_epochs={k}"])
        runs[name] = run_once(strategy, out / name, callbacks, pretrain_dir / "checkpoints" / "latest.pt")
    result = {name: {"g_steps": g, "d_steps": d, "d_epochs": k, "nll_oracle_final": runs[name]["nll_oracle_final"],
                     "nll_oracle_best": runs[name]["nll_oracle_best"], "wall_time_s": runs[name].get("wall_time_s")}
              for name, (g, d, k) in ABLATION_STRATEGIES.items()}
    (out / "ablation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot_figure2({f"g-steps {g}, d-steps {d}, k {k}": runs[name]["records"]
                  for name, (g, d, k) in ABLATION_STRATEGIES.items()}, cfg.train.pretrain_epochs, out / "figure3.png",
                 title="SeqGAN training strategies (Figure 3)")
    return result


def summarize_table1(runs: dict[str, list[dict[str, Any]]], paper: bool = True) -> dict[str, Any]:
    """Per method: final NLL_oracle and NLL_test per seed, mean ± std, and SeqGAN's Welch p-value against it;
    with `paper`, the paper's figure of each row (only meaningful on the paper's oracle)."""
    rows: dict[str, Any] = {}
    for method, seed_runs in runs.items():
        nll = [r["nll_oracle_final"] for r in seed_runs]
        test = [r["records"][-1].get("nll_test", math.nan) for r in seed_runs]
        rows[method] = {"nll_oracle": nll, "nll_test": test, "paper": PAPER_TABLE1.get(method) if paper else None,
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
    if all(row["paper"] is None for row in rows.values()):
        lines.append("paper: not shown — the paper's figures are for its own oracle (vocabulary 5000, length 20), "
                     "not this one.")
    else:
        lines.append("paper: the SeqGAN paper's Table 1; RankGAN's and LeakGAN's as the RelGAN paper (Table 1) reports "
                     "them on this oracle; — where no paper reports the row here (MaliGAN, DPGAN, SeqGAN with "
                     "LeakGAN's rescaled reward).")
    lines.append("NLL_oracle: per-token NLL under the oracle of the generator's samples (lower = higher quality). "
                 "NLL_test: the generator's per-token NLL of held-out oracle samples (lower = better coverage). "
                 "± is the sample standard deviation over seeds; p is Welch's two-sided t-test over seeds.")
    return "\n".join(lines) + "\n"


def plot_figure2(records: dict[str, list[dict[str, Any]]], pretrain_epochs: int, path: Path,
                 title: str = "Learning curves on the synthetic oracle (Figure 2)") -> None:
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
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- real data: MLE against SeqGAN on a bundled corpus ---------------------------------------------
PUBLISHED = {
    "poems": {"source": "SeqGAN paper, Table 3 (BLEU-2)", "mle": {"bleu2": 0.6670}, "seqgan": {"bleu2": 0.7389}},
    "nottingham": {"source": "SeqGAN paper, Table 5 (BLEU-4, MSE)", "mle": {"bleu4": 0.9210, "pitch_mse": 22.38},
                   "seqgan": {"bleu4": 0.9406, "pitch_mse": 20.62}},
    "coco": {"source": "Texygen (Zhu et al. 2018), COCO table; RelGAN (β_max 100): the RelGAN paper, Table 2",
             "mle": {"bleu2": 0.731, "bleu3": 0.497, "bleu4": 0.305, "bleu5": 0.189},
             "seqgan": {"bleu2": 0.745, "bleu3": 0.498, "bleu4": 0.294, "bleu5": 0.180, "self_bleu2": 0.950,
                        "self_bleu3": 0.840, "self_bleu4": 0.670, "self_bleu5": 0.489},
             "rankgan": {"bleu2": 0.743, "bleu3": 0.467, "bleu4": 0.264, "bleu5": 0.156},
             "leakgan": {"bleu2": 0.746, "bleu3": 0.528, "bleu4": 0.355, "bleu5": 0.230},
             # the RelGAN paper's COCO table (Nie et al. 2019, Table 2), its RelGAN(100)
             "relgan_100": {"bleu2": 0.849, "bleu3": 0.687, "bleu4": 0.502, "bleu5": 0.331}},
    "emnlp": {"source": "none compared (our EMNLP files are two 10k sets, not the benchmark's 270k training file)"},
    "speeches": {"source": "SeqGAN paper, Table 4 (Obama speeches; BLEU-3, BLEU-4), on its own corpus of 11,092 paragraphs; "
                           "ours is far smaller (7 addresses: 644 paragraphs, 47,649 words), so compare the direction, "
                           "not the level",
                 "mle": {"bleu3": 0.519, "bleu4": 0.416}, "seqgan": {"bleu3": 0.556, "bleu4": 0.427}},
}
REAL_COLUMNS = {"poems": ("bleu2", "bleu3", "self_bleu2", "nll_test", "lm_score", "reverse_lm_score"),
                "nottingham": ("bleu4", "pitch_mse", "self_bleu4", "nll_test"),
                "coco": ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5", "nll_test",
                         "lm_score", "reverse_lm_score"),
                "emnlp": ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu4", "nll_test", "lm_score",
                          "reverse_lm_score"),
                "speeches": ("bleu3", "bleu4", "self_bleu3", "self_bleu4", "nll_test", "lm_score", "reverse_lm_score")}
REAL_METHODS = ("mle", "seqgan")


def real_experiment(name: str, cfg: Config, seeds: int, out_dir: str | Path, callbacks: Callbacks | None = None,
                    methods: tuple[str, ...] = REAL_METHODS) -> dict[str, Any]:
    """MLE against SeqGAN (and any other `methods`) on a bundled corpus, from one shared MLE pretraining per seed and
    the same budget (as many continued-MLE epochs as adversarial rounds; LeakGAN pretrains its own G). Writes
    NAME.md, NAME.json and the samples."""
    import shutil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = cfg.override([f"data.source={name!r}"])
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for seed in range(seeds):
        base = cfg.override([f"seed={seed}"])
        for row in methods:  # a method's name, or a row of Table 1 (relgan_100: RelGAN at β_max 100)
            method, settings = TABLE1_ROWS.get(row, (row, []))
            run_dir = out / f"seed{seed}" / row
            init = pretraining_for(method, settings, base, out / f"seed{seed}", callbacks)
            runs[row].append(run_once(base.override([f"train.method={method!r}", *settings]), run_dir, callbacks,
                                      init))
            if seed == 0:
                for sample in (run_dir / "samples").glob("*"):
                    if sample.suffix in (".txt", ".mid") and not sample.name.endswith(".ids.txt"):
                        shutil.copy(sample, out / f"{row}_{sample.name}")
    columns = REAL_COLUMNS[name]
    result: dict[str, Any] = {"dataset": name, "seeds": seeds, "published": PUBLISHED[name], "methods": {}}
    for method, method_runs in runs.items():
        values = {c: [_real_value(r, c) for r in method_runs] for c in columns}
        # std is None (JSON null) for one seed: the sample std is undefined there.
        result["methods"][method] = {c: {"mean": mean_std(v)[0], "std": mean_std(v)[1] if len(v) > 1 else None, "per_seed": v}
                                     for c, v in values.items() if None not in v}
        result["methods"][method]["wall_time_s"] = [r["wall_time_s"] for r in method_runs]
    (out / f"{name}.md").write_text(format_real(result, columns), encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _column_name(column: str) -> str:
    """bleu4 → BLEU-4, self_bleu2 → Self-BLEU-2, nll_test → NLL_test, pitch_mse → MSE, lm_score → LM score,
    reverse_lm_score → reverse LM."""
    if column.startswith("self_bleu"):
        return f"Self-BLEU-{column[9:]}"
    if column.startswith("bleu"):
        return f"BLEU-{column[4:]}"
    return {"nll_test": "NLL_test", "pitch_mse": "MSE", "lm_score": "LM score", "reverse_lm_score": "reverse LM"
            }.get(column, column)


def _real_value(run: dict[str, Any], column: str) -> float | None:
    if column == "nll_test":
        return run.get("final", {}).get("nll_test")
    return run.get("final_samples", {}).get(column)


def format_real(result: dict[str, Any], columns: tuple[str, ...]) -> str:
    """Markdown: ours (mean ± std over seeds) with the published figure beside each where there is one."""
    published, seeds = result["published"], result["seeds"]
    head = " | ".join(_column_name(c) for c in columns)
    lines = [f"| method | {head} |", "|---" * (len(columns) + 1) + "|"]
    for method in result["methods"]:
        cells = []
        for c in columns:
            ours = result["methods"][method].get(c)
            text = "-" if ours is None else (f"{ours['mean']:.4f}" + (f" ± {ours['std']:.4f}" if seeds > 1 else ""))
            paper = published.get(method, {}).get(c)
            cells.append(text + (f" ({paper:g})" if paper is not None else ""))
        lines.append(f"| {NAMES[method]} | " + " | ".join(cells) + " |")
    lines += ["", f"Ours over {seeds} seed(s); published figures in parentheses ({published['source']}). "
              "BLEU: mean sentence BLEU of 1,000 samples against the whole test set (NLTK method1 smoothing); "
              "Self-BLEU over the same samples; NLL_test: per-token NLL of the test set (end token included)."]
    return "\n".join(lines) + "\n"
