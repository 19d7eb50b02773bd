"""Time BLEU-2..5 and Self-BLEU-2..5 on the COCO captions: `seqgan.metrics` against NLTK called directly.

Data (shipped with the package; both files have 10,000 captions):

* hypotheses: the first `--hyps` (2,000) lines of `seqgan/assets/corpora/coco/image_coco.txt`, a stand-in for
  generated samples;
* references: the first `--refs` (all 10,000) lines of `seqgan/assets/corpora/coco/test_coco.txt`.

Tokenization: `line.split()`, i.e. split on runs of whitespace, nothing else (no lower-casing; punctuation stays
attached, so "wheel." is one token). Texygen tokenizes with `nltk.word_tokenize`, which splits off the final
period, so the absolute BLEU values here are not comparable with published Texygen figures; the timings are.

Definitions, one value per hypothesis, then the mean over hypotheses:

* BLEU-n: `sentence_bleu(references, hyp, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)`;
* Self-BLEU-n: the same with the hypothesis' references = all the other hypotheses (itself left out).

Ours: `BleuScorer(references, 5).mean_bleu_all(hyps, (2, 3, 4, 5))`, timed including the reference counts, and
`self_bleu_all(hyps, (2, 3, 4, 5))`; median of `--repeats` runs. NLTK over all hypotheses would take about an hour
here, so it is timed on `--nltk-hyps` hypotheses drawn at random (fixed `--seed`), our per-hypothesis values are
compared with NLTK's on them (max |diff|), and NLTK's time is extrapolated linearly to all hypotheses (each
hypothesis costs NLTK the same pass over its references, so the mean time per hypothesis scales). Two NLTK call
styles are timed: one `sentence_bleu` call per hypothesis with the four weight tuples (NLTK >= 3.8 shares the
n-gram counting across them; the fastest way to call it) and one call per n (as Texygen's Bleu/SelfBleu do).

    .venv/bin/python benchmarks/bench_bleu.py            # full: ~5-10 min; writes benchmarks/results/bleu.json
    .venv/bin/python benchmarks/bench_bleu.py --quick    # a few seconds: checks the script runs; writes no JSON
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nltk
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics import BleuScorer, self_bleu_all, self_bleu_scores

# Running as a script already puts benchmarks/ on sys.path; this also covers importing the module from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adversarial_step import emit, environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "seqgan" / "assets" / "corpora" / "coco"
HYPOTHESES_FILE = CORPUS / "image_coco.txt"
REFERENCES_FILE = CORPUS / "test_coco.txt"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "bleu.json"
ORDERS = (2, 3, 4, 5)
WEIGHTS = [(1.0 / n,) * n for n in ORDERS]
SMOOTHING = SmoothingFunction().method1

Tokens = list[str]


def read_tokenized(path: Path, limit: int) -> list[Tokens]:
    """The first `limit` lines of a file, each split on whitespace."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if limit > len(lines):
        raise SystemExit(f"{path} has {len(lines)} lines, asked for {limit}")
    return [line.split() for line in lines[:limit]]


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """fn(*args), its wall time and its process CPU time (the CPU time is what background load inflates least)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w0, time.process_time() - c0


def nltk_scores(references_for: Callable[[int], Sequence[Tokens]], hyps: Sequence[Tokens], subset: Sequence[int],
                per_n: bool) -> tuple[dict[int, list[float]], list[float], float]:
    """NLTK's BLEU-2..5 of each hypothesis in subset, the wall time of each, and the total CPU time."""
    scores: dict[int, list[float]] = {n: [] for n in ORDERS}
    seconds = []
    c0 = time.process_time()
    for i in subset:
        t0 = time.perf_counter()
        refs = references_for(i)
        if per_n:
            values = [sentence_bleu(refs, hyps[i], w, smoothing_function=SMOOTHING) for w in WEIGHTS]
        else:
            values = sentence_bleu(refs, hyps[i], WEIGHTS, smoothing_function=SMOOTHING)
        seconds.append(time.perf_counter() - t0)
        for n, v in zip(ORDERS, values):
            scores[n].append(v)
    return scores, seconds, time.process_time() - c0


def max_abs_diff(ours: dict[int, list[float]], theirs: dict[int, list[float]]) -> float:
    return max(abs(a - b) for n in ORDERS for a, b in zip(ours[n], theirs[n]))


def nltk_entry(name: str, scores: dict[int, list[float]], seconds: list[float], cpu_s: float, full: int,
               ours: tuple[float, float], ours_subset: dict[int, list[float]]) -> dict[str, Any]:
    """Measured and extrapolated NLTK time for one call style; the error bar is the standard error of the mean."""
    k = len(seconds)
    per_hyp = statistics.fmean(seconds)
    sem = statistics.stdev(seconds) / k**0.5 if k > 1 else float("nan")
    return {
        "call_style": name,
        "hyps_measured": k,
        "measured_s": sum(seconds),
        "measured_cpu_s": cpu_s,
        "per_hyp_s": per_hyp,
        "per_hyp_s_min": min(seconds),
        "per_hyp_s_max": max(seconds),
        "extrapolated_full_s": per_hyp * full,
        "extrapolated_full_s_stderr": sem * full,
        "speedup_vs_ours": per_hyp * full / ours[0],
        # Process CPU time is inflated less than wall time by the other jobs on a busy machine.
        "extrapolated_full_cpu_s": cpu_s / k * full,
        "speedup_vs_ours_cpu": cpu_s / k * full / ours[1],
        "max_abs_diff": max_abs_diff(ours_subset, scores),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200 hyps, 1,000 refs, NLTK on 4 hyps, 1 repeat: checks the script runs")
    p.add_argument("--hyps", type=int, default=None, help="first lines of image_coco.txt used as hypotheses (default 2000)")
    p.add_argument("--refs", type=int, default=None, help="first lines of test_coco.txt used as references (default 10000)")
    p.add_argument("--nltk-hyps", type=int, default=None, help="random hypotheses NLTK is timed on (default 50; 4 with --quick)")
    p.add_argument("--no-per-n", action="store_true", help="skip timing NLTK called once per n (Texygen's style)")
    p.add_argument("--repeats", type=int, default=None, help="runs of ours; the median is reported (default 3; 1 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="picks the NLTK subset")
    p.add_argument("--json", type=Path, default=None,
                   help=f"write the numbers here (default {DEFAULT_JSON.relative_to(REPO)}; none with --quick)")
    args = p.parse_args(argv)
    args.hyps = args.hyps or (200 if args.quick else 2000)
    args.refs = args.refs or (1000 if args.quick else 10000)
    args.nltk_hyps = args.nltk_hyps or (4 if args.quick else 50)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.json is None and not args.quick:
        args.json = DEFAULT_JSON
    if not 2 <= args.nltk_hyps <= args.hyps:
        p.error("--nltk-hyps must be between 2 and --hyps")
    return args


def fmt_s(x: float, like: float | None = None) -> str:
    """Seconds: 2 decimals below 100 s, none above (or as many as `like` gets, for an error bar)."""
    return f"{x:,.2f}" if (x if like is None else like) < 100 else f"{x:,.0f}"


def markdown(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Any]) -> str:
    h, r, k = f"{args.hyps:,}", f"{args.refs:,}", args.nltk_hyps
    lines = [
        f"## BLEU and Self-BLEU (COCO, {h} hypotheses vs {r} references)",
        "",
        *(f"- {key}: `{value}`" for key, value in env.items()),
        "",
        f"| workload | ours (s) | NLTK (s), measured on {k} hyps | NLTK extrapolated to {h} hyps (s) | speed-up "
        "| speed-up by CPU time | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for w in results["workloads"]:
        for style in w["nltk"]:
            extrapolated = style["extrapolated_full_s"]
            lines.append(
                f"| {w['label']}; NLTK {style['call_style']} | {fmt_s(w['ours_s'])} | {fmt_s(style['measured_s'])} "
                f"| {fmt_s(extrapolated)} ± {fmt_s(style['extrapolated_full_s_stderr'], extrapolated)} "
                f"(extrapolated) | {style['speedup_vs_ours']:,.0f}× | {style['speedup_vs_ours_cpu']:,.0f}× "
                f"| {style['max_abs_diff']:.1e} |")
    bleu, sb = results["workloads"][0], results["workloads"][1]
    lines += [
        "",
        f"Ours is the median wall time of {args.repeats} run(s); BLEU includes building the reference counts "
        f"({fmt_s(bleu['ours_build_s'])} s of {fmt_s(bleu['ours_s'])} s). NLTK is timed once on {k} hypotheses drawn at "
        f"random (seed {args.seed}); the extrapolation is its mean time per hypothesis × {h}, ± the standard error. "
        f"On those {k} hypotheses alone, ours (reference counts included) took {fmt_s(bleu['ours_subset_s'])} s for BLEU. "
        f"Process CPU time, less affected by other load: ours BLEU {fmt_s(bleu['ours_cpu_s'])} s, Self-BLEU "
        f"{fmt_s(sb['ours_cpu_s'])} s. Load average at start / end: {results['loadavg_start']} / {results['loadavg_end']}.",
        "",
        "Values (ours, all hypotheses): " + ", ".join(f"{key} {v:.4f}" for key, v in results["values"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    env = environment()
    env.update({
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "nltk_version": nltk.__version__,
    })
    for key in ("torch_threads", "torch_version"):  # nothing here runs torch
        env.pop(key, None)
    load_start = [round(x, 2) for x in os.getloadavg()]

    hyps = read_tokenized(HYPOTHESES_FILE, args.hyps)
    refs = read_tokenized(REFERENCES_FILE, args.refs)
    subset = sorted(random.Random(args.seed).sample(range(len(hyps)), args.nltk_hyps))

    # Ours, repeated; BLEU is timed from the raw token lists, so building the reference counts is included.
    bleu_runs, self_runs = [], []
    for _ in range(args.repeats):
        scorer, build_s, build_cpu = timed(BleuScorer, refs, max(ORDERS))
        bleu_means, score_s, score_cpu = timed(scorer.mean_bleu_all, hyps, ORDERS)
        bleu_runs.append((build_s + score_s, build_cpu + score_cpu, build_s))
        self_means, s_wall, s_cpu = timed(self_bleu_all, hyps, ORDERS)
        self_runs.append((s_wall, s_cpu))
    bleu_med = sorted(bleu_runs)[(len(bleu_runs) - 1) // 2]
    self_med = sorted(self_runs)[(len(self_runs) - 1) // 2]
    _, ours_subset_s, _ = timed(lambda: BleuScorer(refs, max(ORDERS)).mean_bleu_all([hyps[i] for i in subset], ORDERS))

    # Our per-hypothesis values on the subset, for the comparison (not timed).
    ours_bleu_subset = {n: [] for n in ORDERS}
    for i in subset:
        for n, v in scorer.sentence_bleu_all(hyps[i], ORDERS).items():
            ours_bleu_subset[n].append(v)
    all_self = self_bleu_scores(hyps, ORDERS)
    ours_self_subset = {n: [all_self[n][i] for i in subset] for n in ORDERS}

    styles = [False] if args.no_per_n else [False, True]
    style_name = {False: "one call, 4 weight tuples", True: "one call per n (Texygen)"}
    bleu_nltk, self_nltk = [], []
    for per_n in styles:
        scores, seconds, cpu = nltk_scores(lambda i: refs, hyps, subset, per_n)
        bleu_nltk.append(nltk_entry(style_name[per_n], scores, seconds, cpu, len(hyps), bleu_med[:2], ours_bleu_subset))
        scores, seconds, cpu = nltk_scores(lambda i: hyps[:i] + hyps[i + 1:], hyps, subset, per_n)
        self_nltk.append(nltk_entry(style_name[per_n], scores, seconds, cpu, len(hyps), self_med, ours_self_subset))

    results: dict[str, Any] = {
        "env": env,
        "config": {key: (str(v) if isinstance(v, Path) else v) for key, v in vars(args).items()},
        "data": {
            "hypotheses": f"{HYPOTHESES_FILE.relative_to(REPO)}, first {len(hyps)} lines",
            "references": f"{REFERENCES_FILE.relative_to(REPO)}, first {len(refs)} lines",
            "tokenization": "str.split() on each line (whitespace only; punctuation stays attached; no lower-casing)",
            "hyp_mean_tokens": statistics.fmean(map(len, hyps)),
            "ref_mean_tokens": statistics.fmean(map(len, refs)),
            "nltk_subset": subset,
        },
        "loadavg_start": load_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "values": {**{f"bleu{n}": v for n, v in bleu_means.items()}, **{f"self_bleu{n}": v for n, v in self_means.items()}},
        "workloads": [
            {
                "label": f"BLEU-2..5, {len(hyps):,} hyps vs {len(refs):,} refs",
                "ours_s": bleu_med[0], "ours_cpu_s": bleu_med[1], "ours_build_s": bleu_med[2],
                "ours_repeats_s": [run[0] for run in bleu_runs], "ours_subset_s": ours_subset_s,
                "nltk": bleu_nltk,
            },
            {
                "label": f"Self-BLEU-2..5, {len(hyps):,} hyps (leave-one-out)",
                "ours_s": self_med[0], "ours_cpu_s": self_med[1], "ours_repeats_s": [run[0] for run in self_runs],
                "nltk": self_nltk,
            },
        ],
    }
    return emit(markdown(env, args, results), results, args.json)


if __name__ == "__main__":
    main()
