"""MLE's frontier (seqgan/frontier.py), the checkpoints it is drawn from, and early stopping on a validation draw."""

import json
import math

import pytest
import torch

from seqgan.cli import main
from seqgan.config import preset
from seqgan.frontier import curve_gaps, envelope, envelope_at, format_frontier, gap, one_sample_p, summarize
from seqgan.reproduce import table1
from seqgan.run import train
from seqgan.stats import student_t_two_sided_p
from seqgan.train import load_checkpoint
from tests.runs import run_metrics, train_through_crashes

# ---- the envelope ---------------------------------------------------------------------------------------------


def test_the_envelope_keeps_the_points_nothing_beats_on_both():
    points = [(8.0, 9.0), (8.5, 8.0), (9.0, 7.5), (8.6, 8.2), (9.5, 7.5), (7.9, 9.6), (8.0, 9.3), (8.5, 8.0)]
    # (8.6, 8.2) is beaten by (8.5, 8.0); (9.5, 7.5) by (9.0, 7.5); (8.0, 9.3) by (8.0, 9.0); duplicates count once
    assert envelope(points) == [(7.9, 9.6), (8.0, 9.0), (8.5, 8.0), (9.0, 7.5)]
    assert envelope([]) == []


def test_the_envelope_is_linear_between_its_points_and_undefined_outside():
    front = [(7.9, 9.6), (8.0, 9.0), (8.5, 8.0), (9.0, 7.5)]
    assert envelope_at(front, 8.25) == pytest.approx(8.5)
    assert envelope_at(front, 8.0) == pytest.approx(9.0)
    assert envelope_at(front, 9.0) == pytest.approx(7.5)
    assert envelope_at(front, 7.8) is None and envelope_at(front, 9.1) is None
    assert gap((8.25, 8.3), front) == pytest.approx(-0.2)  # below MLE's frontier
    assert gap((8.25, 8.7), front) == pytest.approx(0.2)
    assert gap((10.0, 1.0), front) is None
    assert envelope_at([(8.0, 9.0)], 8.0) == 9.0


def test_a_curves_gaps_at_tau_1_and_at_its_best_temperature():
    front = [(8.0, 9.0), (9.0, 8.0)]
    curve = [{"temperature": 0.5, "nll_oracle": 7.0, "nll_test": 12.0},  # outside the range
             {"temperature": 1.0, "nll_oracle": 8.5, "nll_test": 8.6},  # +0.1
             {"temperature": 1.5, "nll_oracle": 8.8, "nll_test": 8.0}]  # 8.0 − 8.2 = −0.2
    gaps = curve_gaps(curve, front)
    assert gaps["gap_at_1"] == pytest.approx(0.1) and gaps["best_gap"] == pytest.approx(-0.2)
    assert gaps["points_in_range"] == 2


def test_the_summary_over_seeds_is_mean_std_and_a_one_sample_t_test():
    per_seed = [{"gaps": {"seqgan": {"gap_at_1": g, "best_gap": g - 0.1}}} for g in (-0.3, -0.1, -0.2)]
    row = summarize(per_seed)["seqgan"]["gap_at_1"]
    assert row["mean"] == pytest.approx(-0.2) and row["std"] == pytest.approx(0.1)
    t = -0.2 / (0.1 / math.sqrt(3))
    assert row["p"] == pytest.approx(student_t_two_sided_p(t, 2)) and row["below"] == 3 and row["seeds"] == 3
    assert one_sample_p([1.0]) is None and one_sample_p([1.0, 1.0]) is None
    one = summarize(per_seed[:1])["seqgan"]["gap_at_1"]
    assert one["std"] is None and "nan" not in format_frontier(summarize(per_seed[:1]), {})


# ---- the kept checkpoints, and early stopping ----------------------------------------------------------------


def test_keep_best_hands_the_adversarial_phase_the_lowest_validation_nll(tmp_path):
    cfg = preset("tiny").override(["train.method='mle'", "train.pretrain_epochs=6", "train.eval_every=1",
                                   "train.adversarial_rounds=0", "train.keep_best=true", "train.keep_generators=true",
                                   "generator.lr=0.05"])
    train(cfg, tmp_path / "run")
    records = [r for r in run_metrics(tmp_path / "run") if r["phase"] == "mle"]
    valid = [r["nll_valid"] for r in records]
    assert len(valid) == 6 and all(math.isfinite(v) for v in valid)
    assert [r["nll_valid"] for r in records] != [r["nll_test"] for r in records], "another draw than the test set"
    best = min(range(6), key=valid.__getitem__)
    kept = torch.load(tmp_path / "run" / "checkpoints" / "generators" / f"mle-{best:04d}.pt", weights_only=True)
    final = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["generator"]
    assert all(torch.equal(v, final[k]) for k, v in kept.items())
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints" / "generators").iterdir()) == \
        [f"mle-{i:04d}.pt" for i in range(6)]


def test_keep_best_resumes_exactly(tmp_path):
    cfg = preset("tiny").override(["train.pretrain_epochs=6", "train.eval_every=1", "train.keep_best=true",
                                   "generator.lr=0.05"])
    train(cfg, tmp_path / "whole")
    train_through_crashes(cfg, tmp_path / "cut", [("mle", 3), ("adversarial", 2)])
    assert run_metrics(tmp_path / "cut") == run_metrics(tmp_path / "whole")
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "latest.pt")["generator"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")["generator"]
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_keep_best_on_a_corpus_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"a b c {i % 7}" for i in range(60)) + "\n")
    code = main(["train", "--preset", "tiny", "--data", str(corpus), "--set", "train.keep_best=true",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "validation draw of the oracle" in err[0]


# ---- in reproduce table1 -----------------------------------------------------------------------------------------


def test_table1_puts_every_method_against_mles_frontier(tiny_cfg, tmp_path):
    table1(tiny_cfg, seeds=1, out_dir=tmp_path / "t1", methods=("mle", "seqgan"))
    out = tmp_path / "t1"
    for name in ("frontier.md", "frontier.json", "frontier.png", "temperature_sweep.json"):
        assert (out / name).is_file()
    saved = json.loads((out / "frontier.json").read_text())
    points = saved["seeds"][0]["mle_points"]
    evaluations = [r for r in run_metrics(out / "seed0" / "mle-frontier") if r["phase"] != "d_pretrain"]
    assert len({p["checkpoint"] for p in points}) == len(evaluations)
    # The MLE row's final G_θ is the frontier run's last kept one: its curve is part of the cloud, never below it.
    curve = json.loads((out / "temperature_sweep.json").read_text())["mle"]
    front = [tuple(p) for p in saved["seeds"][0]["envelope"]]
    gaps = [gap((p["nll_oracle"], p["nll_test"]), front) for p in curve]
    assert any(g is not None for g in gaps) and all(g >= -1e-12 for g in gaps if g is not None)
    assert set(saved["summary"]) == {"mle", "seqgan"}
    assert "| SeqGAN |" in (out / "frontier.md").read_text()
