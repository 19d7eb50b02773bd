"""RankGAN: the rank score against its plain loop, the bugs of other implementations, what its steps train, and
whole runs (sampling from the run folder, exact resume after a crash, --help-config)."""

import math

import pytest
import torch

from seqgan.cli import main
from seqgan.config import preset
from seqgan.errors import ConfigError
from seqgan.methods.rankgan import (
    RankGANConfig,
    RankReward,
    log_rank_scores,
    rank_scores,
    ranker_features,
    ranker_loss,
    reference_rank_scores,
)
from seqgan.run import train
from seqgan.train import SeqGANTrainer, load_checkpoint
from tests.runs import Crash, changed, cli_sample_ids, run_metrics, snapshot


def _cfg(*settings):
    return preset("tiny").override(["train.method='rankgan'", *settings])


def _trainer(*settings):
    """A tiny RankGAN trainer after one MLE epoch and one ranker pretraining step, ready for its rounds."""
    trainer = SeqGANTrainer(_cfg("train.pretrain_epochs=1", "train.d_pretrain_steps=1", "train.adversarial_rounds=0",
                                 *settings))
    trainer.fit()
    trainer.progress.phase = "adversarial"
    return trainer


# ---- 1. the rank score (Sec. 2) --------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False])
def test_rank_scores_equal_the_plain_loop_with_gradients(shared):
    torch.manual_seed(0)
    gamma = 1.7
    cand = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    comparison = torch.randn(*(() if shared else (5,)), 3, 4, dtype=torch.float64, requires_grad=True)
    refs = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    fast = log_rank_scores(cand, comparison, refs, gamma)
    plain = reference_rank_scores(cand, comparison, refs, gamma)
    torch.testing.assert_close(fast.exp(), plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(rank_scores(cand, comparison, refs, gamma), plain, rtol=1e-12, atol=1e-14)
    weights = torch.arange(1.0, 6.0, dtype=torch.float64)  # a loss that tells the candidates apart
    for a, b in zip(torch.autograd.grad((weights * fast).sum(), [cand, comparison, refs]),
                    torch.autograd.grad((weights * plain.log()).sum(), [cand, comparison, refs])):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_the_candidate_is_in_its_own_softmax():
    # three comparison sentences along the candidate's own direction: all four tie in every softmax, R = 1/4
    cand = torch.tensor([[1.0, 2.0, 0.5]], dtype=torch.float64)
    comparison = torch.cat([cand * 2, cand * 3, cand * 0.5])
    refs = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(rank_scores(cand, comparison, refs, gamma=3.0), torch.tensor([0.25], dtype=torch.float64))


def test_rank_score_averages_the_per_reference_softmax_not_the_references():
    """Texygen (and TextBox) put Σ_u cos(y_s, y_u) in one softmax; the brief's summary of it, cos(y_s, mean_u y_u);
    the paper (and here) averages P(s | u, C′) over the references."""
    gamma = 2.0
    cand = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    other = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    refs = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # u1: α(s) = 1, α(other) = 0.6; u2: α(s) = 0, α(other) = 0.8
    paper = (1 / (1 + math.exp(-gamma * 0.4)) + 1 / (1 + math.exp(gamma * 0.8))) / 2
    mean_feature = 1 / (1 + math.exp(gamma * (0.7 * math.sqrt(2) - 0.5 * math.sqrt(2))))  # cos with (½, ½)
    summed_cosines = 1 / (1 + math.exp(gamma * (1.4 - 1.0)))
    got = rank_scores(cand, other, refs, gamma).item()
    assert got == pytest.approx(paper, abs=1e-12)
    assert abs(got - mean_feature) > 0.05 and abs(got - summed_cosines) > 0.05


# ---- 2. G's reward ranks each sentence among real sentences (the co-authors' code: among the generated batch) ----


def _table_features(table):
    """Hand-made features: a sentence's feature is its first token's row of `table`."""
    return lambda tokens_NxT: table[tokens_NxT[:, 0]]


def _softmax_over_the_batch(y_BxF, ref_UxF, gamma):
    """The co-authors' reward for G (rollout.py, ranker.py): softmax over G's batch of γ Σ_u cos(y_s, y_u)."""
    cos_BxU = torch.nn.functional.normalize(y_BxF, dim=-1) @ torch.nn.functional.normalize(ref_UxF, dim=-1).T
    return torch.softmax(gamma * cos_BxU.sum(1), dim=0)


def test_generator_reward_ranks_each_sentence_among_real_sentences():
    torch.manual_seed(0)
    table = torch.randn(20, 3, dtype=torch.float64)
    features = _table_features(table)
    refs = torch.tensor([[1, 0], [2, 0], [3, 0]])
    real = torch.tensor([[4, 0], [5, 0], [6, 0], [7, 0]])  # C⁺: real sentences
    batch = torch.tensor([[10, 0], [11, 0], [12, 0]])  # G's sentences
    reward = RankReward(features, refs, real, gamma=1.5, log=True)
    got = reward(batch)
    expected = reference_rank_scores(table[batch[:, 0]], table[real[:, 0]], table[refs[:, 0]], 1.5).log()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    # the other generated sentences of the batch do not enter a sentence's reward ...
    other_batch = torch.tensor([[10, 0], [15, 0], [16, 0]])
    assert reward(other_batch)[0] == got[0]
    # ... the real comparison sentences do
    assert abs(RankReward(features, refs, torch.tensor([[8, 0], [9, 0], [13, 0], [14, 0]]), 1.5, log=True)(batch)[0]
               - got[0]) > 1e-3
    # by default the reward is R itself (the co-authors' code), log R with rankgan.log_reward
    torch.testing.assert_close(RankReward(features, refs, real, gamma=1.5)(batch), expected.exp())
    # whereas the co-authors' reward, a softmax over the generated batch, moves with the other generated sentences
    coauthors = [_softmax_over_the_batch(table[b[:, 0]], table[refs[:, 0]], 1.5) for b in (batch, other_batch)]
    assert abs(coauthors[1][0] - coauthors[0][0]) > 1e-3


def test_the_methods_reward_draws_real_sentences_and_holds_them_for_the_g_step():
    trainer = _trainer()
    s = trainer.cfg.method
    reward = trainer.method.reward()
    real = {tuple(r) for r in trainer.real_data.tolist()}
    assert reward.comparison.shape[0] == s.comparison_size - 1 and reward.references.shape[0] == s.reference_size
    assert all(tuple(r) in real for r in [*reward.comparison.tolist(), *reward.references.tolist()])
    # the sets are fixed in the reward (every rollout of the g-step is ranked against the same ones) ...
    samples = trainer.generator.sample(8)
    assert torch.equal(reward(samples), reward(samples))
    # ... and scored with the ranker's features, with no dropout although the ranker is in training mode
    trainer.discriminator.train()
    y = [ranker_features(trainer.discriminator, x) for x in (samples, reward.comparison, reward.references)]
    torch.testing.assert_close(reward(samples), log_rank_scores(*y, s.gamma).exp())
    # ... drawn afresh for the next g-step
    assert not torch.equal(trainer.method.reward().comparison, reward.comparison)


# ---- 3. what the steps train -------------------------------------------------------------------------------------


def _ranking_gap(trainer, real, fake, refs):
    """Mean log R of real candidates among the generated (C⁻) minus that of generated among real (C⁺)."""
    y = ranker_features(trainer.discriminator, torch.cat([real, fake, refs]))
    real_y, fake_y, ref_y = torch.split(y, [len(real), len(fake), len(refs)])
    gamma = trainer.cfg.method.gamma
    return -ranker_loss(log_rank_scores(real_y[:16], fake_y[16:], ref_y, gamma),
                        log_rank_scores(fake_y[:16], real_y[16:], ref_y, gamma)).item()


def test_ranker_steps_rank_real_sentences_above_generated_ones():
    trainer = _trainer("discriminator.lr=0.03")  # a visible change in 4 steps (seeds 0-5: +0.21 to +0.49)
    # a fixed batch the steps never see: held-out real sentences, fresh samples of G_θ
    real = trainer.test_data[:80]
    fake = trainer.generator.sample(64)
    before = _ranking_gap(trainer, real[:64], fake, real[64:])
    losses = [trainer.method.discriminator_step(1)["losses/d"] for _ in range(4)]
    after = _ranking_gap(trainer, real[:64], fake, real[64:])
    assert after > before + 0.1, (before, after)
    assert losses[-1] < losses[0], losses


def test_a_g_step_trains_g_only_and_a_d_step_trains_the_ranker_only():
    trainer = _trainer()
    ranker = trainer.method.models()["discriminator"]
    assert ranker is trainer.discriminator
    d0 = snapshot(ranker)
    g0 = snapshot(trainer.generator)
    metrics = trainer.method.g_step()
    assert changed(trainer.generator, g0) and not changed(ranker, d0)
    assert 0 < metrics["rewards/rank"] < 1
    g1 = snapshot(trainer.generator)
    out = {k: v.clone() for k, v in ranker.out.state_dict().items()}
    trainer.method.discriminator_step(1)
    assert changed(ranker, d0) and not changed(trainer.generator, g1)
    assert all(torch.equal(v, ranker.out.state_dict()[k]) for k, v in out.items()), "the unused output layer moved"


# ---- 4. settings -------------------------------------------------------------------------------------------------


def test_settings_are_validated_with_the_fix_in_the_message():
    assert RankGANConfig() == RankGANConfig(reference_size=16, comparison_size=64, gamma=1.0)
    with pytest.raises(ConfigError, match="comparison_size must be >= 2"):
        _cfg("rankgan.comparison_size=1")
    with pytest.raises(ConfigError, match="rankgan.gamma must be a finite number > 0"):
        _cfg("rankgan.gamma=0")
    with pytest.raises(ConfigError, match="rankgan.reference_size"):
        _cfg("rankgan.reference_size=0")
    # the tiny preset's 128 real sentences per d-step cannot hold 16 candidates, 199 others and 16 references
    with pytest.raises(ConfigError, match="raise train.num_negatives to at least 231"):
        SeqGANTrainer(_cfg("rankgan.comparison_size=200"))


def test_help_config_documents_the_rankgan_settings(capsys):
    assert main(["train", "--help-config", "--set", "train.method='rankgan'"]) == 0
    out = capsys.readouterr().out
    assert "[rankgan]  method 'rankgan': RankGAN (Lin et al. 2017)" in out
    for key, doc in [("reference_size = 16", "|U|"), ("comparison_size = 64", "|C′|"), ("gamma = 1.0", "γ")]:
        assert f"rankgan.{key}\n      {doc}" in out, key
    assert "\n  rankgan " in out


# ---- 5. whole runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    """The run folder of an uninterrupted tiny RankGAN run (checkpoint_every=2, 4 adversarial rounds)."""
    out = tmp_path_factory.mktemp("whole-rankgan") / "run"
    train(_cfg(), out)
    return out


def test_sample_ids_from_a_finished_run_folder(whole_run, capsys):
    rows, expected = cli_sample_ids(whole_run, capsys, 5)
    assert len(rows) == 5 and all(len(row) == 8 and all(0 <= t < 50 for t in row) for row in rows)
    assert rows == expected


def test_resume_after_a_crash_in_the_adversarial_phase_equals_the_uninterrupted_run(whole_run, tmp_path):
    cfg = _cfg()
    cut_dir = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut_dir, callbacks=Crash("adversarial", 3))
    assert load_checkpoint(cut_dir / "checkpoints" / "latest.pt")["progress"] == {"phase": "adversarial", "done": 2}
    train(cfg, cut_dir, resume=True)
    assert run_metrics(cut_dir) == run_metrics(whole_run)
    whole = load_checkpoint(whole_run / "checkpoints" / "latest.pt")
    cut = load_checkpoint(cut_dir / "checkpoints" / "latest.pt")
    assert cut["progress"] == {"phase": "done", "done": 0}
    adversarial = [r for r in run_metrics(whole_run) if r["phase"] == "adversarial"]
    assert adversarial and all("rewards/rank" in r and "d/log_rank_real" in r for r in adversarial)
    for part in ("generator", "discriminator"):
        assert set(whole[part]) == set(cut[part])
        for key, value in whole[part].items():
            assert torch.equal(value, cut[part][key]), f"{part}: {key}"
    assert whole["method"]["rollout"] is not None  # G_β, restored on resume
    for key, value in whole["method"]["rollout"].items():
        assert torch.equal(value, cut["method"]["rollout"][key]), f"G_β: {key}"
