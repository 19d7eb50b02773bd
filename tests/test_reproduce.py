import json
import math

import pytest

from seqgan.cli import main
from seqgan.reproduce import format_table1, summarize_table1, table1
from seqgan.run import train
from seqgan.stats import welch_t_test


def _metrics(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


def test_methods_start_from_one_shared_pretraining_and_match_their_own_runs(tiny_cfg, tmp_path):
    rows = table1(tiny_cfg, seeds=2, out_dir=tmp_path / "t1", methods=("random", "mle", "ss", "seqgan", "dpgan"))
    assert set(rows) == {"random", "mle", "ss", "seqgan", "dpgan"}
    assert all(len(r["nll_oracle"]) == 2 for r in rows.values())
    # SeqGAN started from the shared pretraining equals a SeqGAN run from scratch, record for record; so does
    # DPGAN, whose own discriminator (an LM) is drawn aside from the run's stream.
    train(tiny_cfg.override(["seed=1"]), tmp_path / "direct")
    assert _metrics(tmp_path / "t1" / "seed1" / "seqgan") == _metrics(tmp_path / "direct")
    train(tiny_cfg.override(["seed=1", "train.method='dpgan'"]), tmp_path / "direct_dpgan")
    assert _metrics(tmp_path / "t1" / "seed1" / "dpgan") == _metrics(tmp_path / "direct_dpgan")
    # Every non-random method begins from the same pretrained curve.
    pre = [r for r in _metrics(tmp_path / "t1" / "seed0" / "pretrain") if r["phase"] == "mle"]
    for method in ("mle", "ss", "seqgan"):
        mine = [r for r in _metrics(tmp_path / "t1" / "seed0" / method) if r["phase"] == "mle"]
        assert [r["nll_oracle"] for r in mine] == [r["nll_oracle"] for r in pre]
    for name in ("table1.md", "table1.json", "figure2.png"):
        assert (tmp_path / "t1" / name).is_file()


def test_finished_pieces_are_reused(tiny_cfg, tmp_path):
    table1(tiny_cfg, seeds=1, out_dir=tmp_path / "t1", methods=("mle",))
    stamp = (tmp_path / "t1" / "seed0" / "mle" / "metrics.jsonl").stat().st_mtime_ns
    table1(tiny_cfg, seeds=1, out_dir=tmp_path / "t1", methods=("mle", "seqgan"))
    assert (tmp_path / "t1" / "seed0" / "mle" / "metrics.jsonl").stat().st_mtime_ns == stamp
    assert (tmp_path / "t1" / "seed0" / "seqgan" / "summary.json").is_file()


def test_table_reports_hand_computed_mean_std_and_p():
    runs = {m: [{"nll_oracle_final": v, "records": [{"nll_test": v + 1}]} for v in vals]
            for m, vals in {"mle": [9.0, 9.1, 9.05], "seqgan": [8.7, 8.8, 8.75]}.items()}
    rows = summarize_table1(runs)
    text = format_table1(rows, 3)
    assert "| MLE | 9.050 ± 0.050 | — |" in format_table1(summarize_table1(runs, paper=False), 3)
    assert "| MLE | 9.050 ± 0.050 | 9.038 | 10.050 ± 0.050 |" in text
    assert "| SeqGAN | 8.750 ± 0.050 | 8.736 |" in text
    p = welch_t_test([8.7, 8.8, 8.75], [9.0, 9.1, 9.05])[2]
    assert rows["mle"]["p_seqgan_vs"] == pytest.approx(p)
    assert f"{p:.2g} |" in text  # t = −7.35, df = 4: p ≈ 0.0018
    assert p == pytest.approx(0.00183, rel=0.01)
    one = summarize_table1({m: r[:1] for m, r in runs.items()})
    assert math.isnan(one["mle"]["p_seqgan_vs"]) and "needs ≥ 2 seeds" in format_table1(one, 1)


def test_cli_reproduce_table1(tmp_path, capsys):
    assert main(["-q", "reproduce", "table1", "--preset", "tiny", "--seeds", "1", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    for label in ("SeqGAN", "Scheduled Sampling", "Random", "MaliGAN", "DPGAN", "SeqGAN + rescaled reward",
                  "RelGAN (β_max 100)", "RelGAN (β_max 1000)"):
        assert f"| {label} |" in out
    assert "| MaliGAN | " in out and "| — |" in out
    assert "10.310" not in out and "not this one" in out  # the tiny oracle is not the paper's: no paper column
    rows = (tmp_path / "r" / "seed0" / "seqgan_rescale" / "config.toml").read_text()
    assert 'advantage = "rescale"' in rows
    assert main(["reproduce", "table1", "--preset", "tiny", "--methods", "seqgan,gan", "--out", str(tmp_path / "x")]) == 2
    assert "unknown row(s) gan" in capsys.readouterr().err
    assert main(["reproduce", "table1", "--preset", "tiny", "--seeds", "0", "--out", str(tmp_path / "r")]) == 2
    capsys.readouterr()
    # a corpus takes methods and the rows that set one (RelGAN at β_max 100), not unknown names
    assert main(["reproduce", "coco", "--preset", "tiny", "--methods", "relgan_5", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "unknown method(s) relgan_5" in err and "relgan_100" in err
    assert (tmp_path / "r" / "frontier.md").is_file() and (tmp_path / "r" / "seed0" / "pretrain-relgan").is_dir()


def test_temperature_sweep_trades_quality_for_coverage(tiny_cfg, tmp_path):
    from seqgan.reproduce import temperature_sweep

    train(tiny_cfg.override(["train.method='mle'", "train.adversarial_rounds=0", "train.pretrain_epochs=8"]), tmp_path / "m")
    sweep = temperature_sweep(tiny_cfg, {"mle": tmp_path / "m"}, temperatures=(0.5, 1.0, 2.0))["mle"]
    cold, warm, hot = sweep
    assert cold["nll_oracle"] < warm["nll_oracle"] < hot["nll_oracle"]   # colder samples look better to the oracle
    assert warm["nll_test"] < cold["nll_test"] and warm["nll_test"] < hot["nll_test"]  # τ = 1 covers the data best
    metrics = _metrics(tmp_path / "m")
    assert warm["nll_test"] == pytest.approx(metrics[-1]["nll_test"], abs=1e-5)


def test_tempered_nll_is_the_nll_of_scaled_logits():
    import torch

    from seqgan.generator import Generator

    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=5).double()
    y = g.sample(6)
    expected = torch.nn.functional.cross_entropy(g(y).flatten(0, 1) / 0.7, y.flatten())
    assert g.nll_of(y, temperature=0.7) == pytest.approx(expected.item(), abs=1e-10)


def test_ablation_runs_the_four_strategies_from_one_pretraining(tiny_cfg, tmp_path):
    from seqgan.reproduce import ABLATION_STRATEGIES, ablation

    cfg = tiny_cfg.override(["train.adversarial_rounds=2", "train.num_negatives=32"])
    result = ablation(cfg, tmp_path / "ab")
    assert set(result) == set(ABLATION_STRATEGIES)
    from seqgan.config import load_config

    pre = [r["nll_oracle"] for r in _metrics(tmp_path / "ab" / "pretrain") if r["phase"] == "mle"]
    for name, (g, d, k) in ABLATION_STRATEGIES.items():
        t = load_config(tmp_path / "ab" / name / "config.toml").train
        assert (t.g_steps, t.d_steps, t.d_epochs) == (g, d, k)
        assert [r["nll_oracle"] for r in _metrics(tmp_path / "ab" / name) if r["phase"] == "mle"] == pre
    assert (tmp_path / "ab" / "figure3.png").is_file()


def test_real_data_reproduction_writes_a_table_beside_the_published_figures(tmp_path):
    import json

    from seqgan.config import preset
    from seqgan.reproduce import real_experiment

    cfg = preset("tiny").override(["train.pretrain_epochs=1", "train.adversarial_rounds=1", "data.num_eval=16"])
    result = real_experiment("nottingham", cfg, 1, tmp_path)
    table = (tmp_path / "nottingham.md").read_text()
    assert "| MLE |" in table and "| SeqGAN |" in table and "(0.9406)" in table and "(20.62)" in table
    strict = json.loads((tmp_path / "nottingham.json").read_text(),
                        parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # no NaN in the JSON
    assert strict["methods"]["seqgan"]["bleu4"]["per_seed"] == result["methods"]["seqgan"]["bleu4"]["per_seed"]
    assert 0 < result["methods"]["mle"]["bleu4"]["mean"] <= 1 and result["methods"]["mle"]["pitch_mse"]["mean"] >= 0
    assert (tmp_path / "seqgan_final.txt").is_file() and (tmp_path / "seqgan_sample0.mid").is_file()


@pytest.mark.parametrize("corpus", ["poems", "coco", "emnlp", "speeches"])
def test_text_corpus_tables_show_the_lm_scores_of_each_runs_final_samples(tmp_path, monkeypatch, corpus):
    import seqgan.reproduce
    from seqgan.config import preset

    scores = {"mle": (3.25, 4.5), "seqgan": (2.75, 5.25)}  # (LM score, reverse LM) of each run's final samples

    def finished(cfg, run_dir, callbacks=None, init_from=None):
        lm, reverse = scores.get(cfg.train.method, (9.0, 9.0))
        return {"final": {"nll_test": 4.0}, "wall_time_s": 1.0, "records": [],
                "final_samples": {"bleu2": 0.5, "bleu3": 0.5, "bleu4": 0.5, "bleu5": 0.5, "self_bleu2": 0.5,
                                  "self_bleu3": 0.5, "self_bleu4": 0.5, "self_bleu5": 0.5,
                                  "lm_score": lm, "reverse_lm_score": reverse}}

    monkeypatch.setattr(seqgan.reproduce, "run_once", finished)
    result = seqgan.reproduce.real_experiment(corpus, preset("tiny"), 1, tmp_path)
    for method, (lm, reverse) in scores.items():
        assert result["methods"][method]["lm_score"]["per_seed"] == [lm]
        assert result["methods"][method]["reverse_lm_score"]["per_seed"] == [reverse]
    header, _, mle_row, seqgan_row = (tmp_path / f"{corpus}.md").read_text().splitlines()[:4]
    assert header.endswith("| NLL_test | LM score | reverse LM |")
    assert mle_row.endswith("| 3.2500 | 4.5000 |") and seqgan_row.endswith("| 2.7500 | 5.2500 |")


def test_speeches_table_puts_the_papers_table4_beside_ours_and_says_the_corpus_is_smaller(tmp_path, monkeypatch):
    import seqgan.reproduce
    from seqgan.config import preset

    def finished(cfg, run_dir, callbacks=None, init_from=None):
        assert cfg.data.source == "speeches"
        return {"final": {"nll_test": 5.0}, "wall_time_s": 1.0, "records": [],
                "final_samples": {"bleu3": 0.25, "bleu4": 0.125, "self_bleu3": 0.5, "self_bleu4": 0.375,
                                  "lm_score": 6.0, "reverse_lm_score": 7.0}}

    monkeypatch.setattr(seqgan.reproduce, "run_once", finished)
    seqgan.reproduce.real_experiment("speeches", preset("tiny"), 1, tmp_path)
    header, _, mle_row, seqgan_row, _, footer = (tmp_path / "speeches.md").read_text().splitlines()[:6]
    assert header == ("| method | BLEU-3 | BLEU-4 | Self-BLEU-3 | Self-BLEU-4 | NLL_test | LM score | reverse LM |")
    assert mle_row.startswith("| MLE | 0.2500 (0.519) | 0.1250 (0.416) | 0.5000 | 0.3750 | 5.0000 |")
    assert seqgan_row.startswith("| SeqGAN | 0.2500 (0.556) | 0.1250 (0.427) |")
    assert "Table 4 (Obama speeches" in footer and "11,092 paragraphs" in footer and "far smaller" in footer


def test_every_corpus_experiment_has_its_columns_and_published_figures():
    from seqgan.cli import REAL_EXPERIMENTS
    from seqgan.reproduce import PUBLISHED, REAL_COLUMNS

    assert set(REAL_EXPERIMENTS) == set(PUBLISHED) == set(REAL_COLUMNS)
    for name in REAL_EXPERIMENTS:
        figures = {c for method, row in PUBLISHED[name].items() if method != "source" for c in row}
        assert figures <= set(REAL_COLUMNS[name]), f"{name}: a published figure has no column of ours to sit beside"
