"""Training health: collapse, memorisation and a discriminator too strong to learn from are reported."""

import json

import pytest
import torch

from seqgan.errors import ConfigError
from seqgan.health import FIT_ROWS, diagnose, sample_health, sequence_keys, summarize_warnings
from seqgan.run import train
from seqgan.train import SeqGANTrainer


def test_sample_health_counts_distinct_repeated_and_copied_sequences():
    train_set = torch.tensor([[1, 2, 3], [4, 5, 6]])
    samples = torch.tensor([[1, 2, 3]] * 6 + [[7, 8, 9], [7, 8, 9], [1, 1, 1], [2, 2, 2]])
    stats = sample_health(samples, set(sequence_keys(train_set)))
    assert stats == {"health/distinct": 0.4, "health/top_repeat": 0.6, "health/copy_rate": 0.6}
    warnings = diagnose(stats)
    assert any("collapsing" in w for w in warnings) and any("copied verbatim" in w for w in warnings)
    assert diagnose({"health/distinct": 1.0, "health/top_repeat": 0.001, "health/copy_rate": 0.0}) == []


def test_a_discriminator_too_strong_to_learn_from_is_named_with_what_to_try():
    warnings = diagnose({"d/train_accuracy": 0.995, "rewards/mean_q": 0.004})
    assert len(warnings) == 1 and "too strong" in warnings[0] and "train.advantage='rescale'" in warnings[0]
    assert diagnose({"d/train_accuracy": 0.995, "rewards/mean_q": 0.3}) == []


def test_a_discriminator_that_memorised_its_real_sequences_is_named_with_what_to_try():
    warnings = diagnose({"d/p_real_training": 0.99, "d/p_real_heldout": 0.133, "d/p_real_generated": 0.03})
    assert len(warnings) == 1 and "memorised its real sequences" in warnings[0] and "0.99" in warnings[0]
    assert "0.13" in warnings[0] and "fewer train.d_steps" in warnings[0]
    assert diagnose({"d/p_real_training": 0.7, "d/p_real_heldout": 0.6, "d/p_real_generated": 0.1}) == []


def test_evaluations_after_pretraining_record_how_d_scores_training_heldout_and_generated_sequences(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg)
    trainer._evaluate_if_due(0, 1, {})  # in MLE pretraining D_φ is untrained: nothing of it recorded
    assert not any(k.startswith("d/p_real") for k in trainer.records[-1])
    trainer.progress.phase = "adversarial"
    trainer._evaluate_if_due(0, 1, {})
    record, d = trainer.records[-1], trainer.discriminator
    assert record["d/p_real_training"] == d.prob_real(trainer.real_data[:FIT_ROWS]).mean().item()
    assert record["d/p_real_heldout"] == d.prob_real(trainer.test_data[:FIT_ROWS]).mean().item()
    assert 0.0 < record["d/p_real_generated"] < 1.0
    # a D_φ that knows its training positives by heart and calls every other sequence fake
    known = set(sequence_keys(trainer.real_data))
    d.prob_real = lambda tokens: torch.tensor([float(k in known) for k in sequence_keys(tokens)])
    trainer._evaluate_if_due(0, 1, {})
    record = trainer.records[-1]
    assert (record["d/p_real_training"], record["d/p_real_heldout"]) == (1.0, 0.0)
    assert any("memorised its real sequences" in w for w in record["health/warnings"])


def test_fresh_positives_give_d_new_oracle_samples_each_step_and_resume_exactly(tiny_cfg, tmp_path):
    from seqgan import steps
    from tests.runs import Crash, run_metrics

    cfg = tiny_cfg.override(["oracle.fresh_positives=true"])
    trainer = SeqGANTrainer(cfg)
    known = set(sequence_keys(trainer.real_data))
    first = steps.negatives_and_positives(trainer)[1]
    second = steps.negatives_and_positives(trainer)[1]
    assert len(first) == cfg.train.num_negatives and not torch.equal(first, second)
    assert sum(k in known for k in sequence_keys(first)) < len(first) / 2  # not S, which the default uses
    default = steps.negatives_and_positives(SeqGANTrainer(tiny_cfg))[1]
    assert all(k in known for k in sequence_keys(default))
    train(cfg, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", callbacks=Crash("adversarial", 3))
    train(cfg, tmp_path / "cut", resume=True)
    assert run_metrics(tmp_path / "cut") == run_metrics(tmp_path / "whole")


def test_fresh_positives_need_the_oracle(tiny_cfg, text_corpus):
    cfg = tiny_cfg.override(["data.source='file'", f"data.path={str(text_corpus)!r}", "oracle.fresh_positives=true"])
    with pytest.raises(ConfigError, match="oracle.fresh_positives"):
        SeqGANTrainer(cfg)


def test_methods_whose_reward_is_not_d_record_no_fit_of_it(tiny_cfg):
    trainer = SeqGANTrainer(tiny_cfg.override(["train.method='pg_bleu'"]))
    trainer.progress.phase = "adversarial"
    trainer._evaluate_if_due(0, 1, {})
    assert not any(k.startswith("d/p_real") for k in trainer.records[-1])


def test_a_collapsed_generator_is_warned_about_and_its_copy_rate_recorded(tiny_cfg, caplog):
    trainer = SeqGANTrainer(tiny_cfg)
    line = trainer.real_data[0]
    trainer.generator.sample = lambda n, **kw: line.expand(n, -1).clone()  # repeats one training sequence
    with caplog.at_level("WARNING", logger="seqgan"):
        trainer._evaluate_if_due(0, 1, {})
    record = trainer.records[-1]
    assert record["health/copy_rate"] == 1.0 and record["health/top_repeat"] == 1.0
    assert any("collapsing" in w for w in record["health/warnings"])
    assert "collapsing" in caplog.text and "copied verbatim" in caplog.text


def test_the_console_says_each_kind_of_warning_once_a_phase_and_the_summary_counts_it(tiny_cfg, caplog):
    trainer = SeqGANTrainer(tiny_cfg)
    line = trainer.real_data[0]
    trainer.generator.sample = lambda n, **kw: line.expand(n, -1).clone()  # collapsed: every evaluation warns
    with caplog.at_level("INFO", logger="seqgan"):
        for _ in range(3):
            trainer._evaluate_if_due(0, 1, {})
        trainer.progress.phase = "adversarial"
        trainer._evaluate_if_due(0, 1, {})
    said = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records if "collapsing" in r.getMessage()]
    assert said == [("WARNING", "mle 0"), ("INFO", "mle 0"), ("INFO", "mle 0"), ("WARNING", "adversarial 0")]
    assert all(len(r["health/warnings"]) == 2 for r in trainer.records)  # every record keeps its own (and copying)
    summary = summarize_warnings(trainer.records + [{"health/distinct": 1.0, "health/top_repeat": 0.0}])
    assert list(summary) == ["collapse", "copying"]
    assert summary["collapse"].startswith("the samples are collapsing: 0% of them distinct")
    assert summary["collapse"].endswith("(at 4 of 5 evaluations; figures of the last)")


def test_a_healthy_tiny_run_raises_no_warning(tiny_cfg, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="seqgan"):
        summary = train(tiny_cfg, tmp_path / "r")
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert all("health/warnings" not in r and r["health/distinct"] > 0.9 for r in records)
    assert summary["health"]["warnings"] == [] and summary["health"]["final_samples"]["copy_rate"] < 0.1
    assert "collapsing" not in caplog.text
