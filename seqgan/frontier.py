"""MLE's quality–coverage frontier, and where each method stands against it (Caccia et al. 2018).

An MLE generator trades coverage for quality as it trains (NLL_test rises after a few epochs while NLL_oracle keeps
falling), as a temperature below 1 does. Comparing a text GAN with the last MLE checkpoint at τ = 1 compares it with
one point of that trade-off. The honest comparison is with all of it: every evaluated MLE checkpoint (pretraining
epochs included, `train.keep_generators`) at every temperature gives a cloud of (NLL_oracle, NLL_test) points; its
lower envelope — the points no other point beats on both, joined by straight lines — is MLE's frontier. A method's
own temperature curve lies below it where, at equal NLL_oracle, it has a lower NLL_test than any mix of MLE's
checkpoint and temperature: `gap` < 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seqgan.stats import mean_std, student_t_two_sided_p

Point = tuple[float, float]  # (NLL_oracle, NLL_test), both lower is better


def envelope(points: Iterable[Point]) -> list[Point]:
    """The points that no other point beats on both NLL_oracle and NLL_test, by increasing NLL_oracle (so
    decreasing NLL_test)."""
    front: list[Point] = []
    for x, y in sorted(set(points)):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def envelope_at(front: list[Point], x: float) -> float | None:
    """The envelope's NLL_test at NLL_oracle x, linear between its points; None outside its range."""
    if not front or x < front[0][0] or x > front[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(front, front[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return front[0][1]  # a one-point envelope, at its own NLL_oracle


def gap(point: Point, front: list[Point]) -> float | None:
    """NLL_test of the point minus the envelope's at the same NLL_oracle: below 0, the point beats MLE's frontier."""
    at = envelope_at(front, point[0])
    return None if at is None else point[1] - at


def curve_gaps(curve: list[dict[str, float]], front: list[Point]) -> dict[str, Any]:
    """A temperature curve against the envelope: the gap at τ = 1, and the lowest over its temperatures (both None
    where the curve lies outside the envelope's NLL_oracle range)."""
    gaps = {p["temperature"]: gap((p["nll_oracle"], p["nll_test"]), front) for p in curve}
    inside = [g for g in gaps.values() if g is not None]
    return {"gap_at_1": gaps.get(1.0), "best_gap": min(inside) if inside else None,
            "points_in_range": len(inside)}


def one_sample_p(values: list[float]) -> float | None:
    """Two-sided p of Student's t-test that the values' mean is 0 (None for fewer than 2 values or no spread)."""
    if len(values) < 2:
        return None
    mean, std = mean_std(values)
    if std == 0:
        return None
    t = mean / (std / math.sqrt(len(values)))
    return student_t_two_sided_p(t, len(values) - 1)


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each method: its gaps per seed, mean ± std over seeds, how many seeds lie below, and the t-test p."""
    methods = list(per_seed[0]["gaps"]) if per_seed else []
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        row: dict[str, Any] = {}
        for key in ("gap_at_1", "best_gap"):
            values = [s["gaps"][method][key] for s in per_seed if s["gaps"][method][key] is not None]
            mean, std = mean_std(values) if values else (None, None)
            std = std if len(values) > 1 else None  # the sample std of one seed is undefined
            row[key] = {"per_seed": [s["gaps"][method][key] for s in per_seed], "mean": mean, "std": std,
                        "below": sum(v < 0 for v in values), "seeds": len(values), "p": one_sample_p(values)}
        out[method] = row
    return out


def format_frontier(summary: dict[str, dict[str, Any]], names: dict[str, str]) -> str:
    """The frontier table in Markdown."""
    lines = ["| method | gap at τ = 1 | seeds below | p | best gap over τ | seeds below | p |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def cells(d: dict[str, Any]) -> list[str]:
        if d["mean"] is None:
            return ["outside MLE's range", "–", "–"]
        p = "–" if d["p"] is None else f"{d['p']:.3f}"
        spread = "" if d["std"] is None else f" ± {d['std']:.3f}"
        return [f"{d['mean']:+.3f}{spread}", f"{d['below']}/{d['seeds']}", p]

    for method, row in summary.items():
        lines.append("| " + " | ".join([names.get(method, method), *cells(row["gap_at_1"]), *cells(row["best_gap"])])
                     + " |")
    lines += ["", "gap: the method's NLL_test minus the NLL_test of MLE's frontier at the same NLL_oracle (the lower "
              "envelope of every evaluated MLE checkpoint, pretraining included, at every temperature; linear between "
              "its points). Below 0, the method covers held-out data better than any MLE checkpoint and temperature "
              "of equal quality. 'best gap over τ' is its lowest gap over its own temperature curve. Mean ± std over "
              "seeds; p of a one-sample t-test against 0. A point outside the envelope's NLL_oracle range has no gap."]
    return "\n".join(lines) + "\n"


def plot_frontier(mle_points: list[Point], front: list[Point], curves: dict[str, list[dict[str, float]]],
                  names: dict[str, str], path: Path) -> None:
    """One seed: MLE's checkpoint × temperature cloud, its envelope, and every method's temperature curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.scatter([p[1] for p in mle_points], [p[0] for p in mle_points], s=8, color="0.7",
               label="MLE checkpoints × temperatures")
    ax.plot([p[1] for p in front], [p[0] for p in front], color="black", linewidth=2, label="MLE's frontier")
    for method, curve in curves.items():
        ax.plot([p["nll_test"] for p in curve], [p["nll_oracle"] for p in curve], marker="o", markersize=3,
                label=names.get(method, method))
    ax.set_xlabel("NLL_test (coverage of held-out data; lower is better)")
    ax.set_ylabel("NLL_oracle (sample quality; lower is better)")
    ax.set_title("Against MLE's frontier (seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
