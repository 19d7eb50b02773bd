"""Method plug-ins: the registry, what each method's steps train, MaliGAN and DPGAN against their formulas."""

import re
from pathlib import Path

import pytest
import torch

from seqgan.generator import Generator
from seqgan.methods import METHODS
from seqgan.methods.dpgan import dpgan_returns, lm_loss
from seqgan.methods.maligan import continue_sequences, mali_weights, mixed_prefix
from seqgan.policy_gradient import pg_loss, reference_pg_loss
from seqgan.train import SeqGANTrainer
from tests.runs import changed, snapshot

PACKAGE = Path(__file__).resolve().parents[1] / "seqgan"


def test_one_file_per_method_and_no_method_name_in_the_trainer():
    files = {p.stem for p in (PACKAGE / "methods").glob("*.py")} - {"__init__", "base"}
    assert files == set(METHODS)
    for name, cls in METHODS.items():
        assert cls.__module__ == f"seqgan.methods.{name}"
        assert cls.title and cls.label
    trainer = (PACKAGE / "train.py").read_text().splitlines()
    for name in METHODS:
        for line in trainer:
            if re.search(rf"[\"']{name}[\"']", line):
                # "mle" is also the name of the MLE-pretraining phase, defined once as PRETRAIN
                assert line.startswith('PRETRAIN = "mle"'), f"the trainer names method {name!r}: {line.strip()}"


def _trainer(tiny_cfg, method, *settings):
    cfg = tiny_cfg.override([f"train.method={method!r}", "train.pretrain_epochs=1", "train.d_pretrain_steps=1",
                             "train.adversarial_rounds=1", *settings])
    trainer = SeqGANTrainer(cfg)
    trainer.fit()
    trainer.progress.phase = "adversarial"
    return trainer


@pytest.mark.parametrize("method", [m for m in METHODS if m != "random"])
def test_a_round_trains_g_and_only_the_discriminator_the_method_trains(tiny_cfg, method):
    trainer = _trainer(tiny_cfg, method)
    models = trainer.method.models()
    cnn = snapshot(trainer.discriminator)
    before = {role: snapshot(m) for role, m in models.items()}
    trainer.method.round()
    assert changed(models["generator"], before["generator"])
    assert ("discriminator" in models) == trainer.method.trains_discriminator
    if "discriminator" in models:
        assert changed(models["discriminator"], before["discriminator"])
    if models.get("discriminator") is not trainer.discriminator:
        assert not changed(trainer.discriminator, cnn), "D_φ changed though the method does not train it"


@pytest.mark.parametrize("method", [m for m, cls in METHODS.items() if cls.trains_discriminator])
def test_a_g_step_leaves_d_alone_and_a_d_step_leaves_g_alone(tiny_cfg, method):
    trainer = _trainer(tiny_cfg, method)
    d = trainer.method.models()["discriminator"]
    d0 = snapshot(d)
    g0 = snapshot(trainer.generator)
    trainer.method.g_step()
    assert changed(trainer.generator, g0) and not changed(d, d0)
    g1 = snapshot(trainer.generator)
    trainer.method.discriminator_step(1)
    assert changed(d, d0) and not changed(trainer.generator, g1)


def test_every_method_shares_the_pretraining_draws(tiny_cfg):
    """Methods that bring their own models draw them aside: MLE pretraining is the same for all of them."""
    pretrained = None
    for method in [m for m, cls in METHODS.items() if cls.pretrains_generator and cls.shares_pretraining]:
        trainer = SeqGANTrainer(tiny_cfg.override([f"train.method={method!r}", "train.d_pretrain_steps=0",
                                                   "train.adversarial_rounds=0"]))
        records = [{k: v for k, v in r.items() if k not in ("method", "time_s")} for r in trainer.fit()]
        pretrained = pretrained or records
        assert records == pretrained, method


# ---- MaliGAN ------------------------------------------------------------------------------------


def test_maligan_weights_equal_the_formula_on_a_hand_made_batch():
    d = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)
    r = (d / (1 - d))[:, None].expand(3, 4).clone()  # sequence-level rewards for 4 tokens
    w = mali_weights(r, prefix=0, baseline=True, batch_size=3)
    expected = torch.tensor([0.25, 1.0, 4.0], dtype=torch.float64) / 5.25 - 1 / 3
    torch.testing.assert_close(w, expected[:, None].expand(3, 4))
    mixed = mali_weights(r, prefix=2, baseline=True, batch_size=3)
    assert (mixed[:, :2] == 1 / 3).all()  # teacher-forced tokens: their MLE term
    torch.testing.assert_close(mixed[:, 2:], expected[:, None].expand(3, 2))


def test_maligan_gradient_is_the_plain_importance_weighted_log_likelihood_gradient():
    torch.manual_seed(0)
    g = Generator(15, emb_dim=6, hidden_dim=6, seq_len=5, init_std=0.4).double()
    y = g.sample(4)
    d = torch.tensor([0.1, 0.6, 0.3, 0.9], dtype=torch.float64)
    w = mali_weights((d / (1 - d))[:, None].expand(4, 5).clone(), prefix=0, baseline=True, batch_size=4)
    params = list(g.parameters())
    fused = torch.autograd.grad(pg_loss(g, y, w), params)
    # −Σ_i (r_i / Σ r − 1/B) log p(Y_i), written out
    log_p = torch.log_softmax(g(y), -1).gather(-1, y.unsqueeze(-1)).squeeze(-1).sum(1)
    weights = d / (1 - d) / (d / (1 - d)).sum() - 1 / 4
    plain = torch.autograd.grad(-(weights * log_p).sum(), params)
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_maligan_mixed_training_teacher_forces_a_shrinking_real_prefix(tiny_cfg):
    assert [mixed_prefix(r, start=3, every=2, seq_len=8) for r in range(8)] == [3, 3, 2, 2, 1, 1, 0, 0]
    assert mixed_prefix(0, start=50, every=1, seq_len=8) == 7  # capped: G_θ writes at least one token
    torch.manual_seed(0)
    g = Generator(20, emb_dim=6, hidden_dim=6, seq_len=8)
    prefix = torch.randint(0, 20, (5, 3))
    out = continue_sequences(g, prefix, 8)
    assert torch.equal(out[:, :3], prefix) and out.shape == (5, 8)
    # The method's batch: real prefixes from the data (TextGAN-PyTorch has no mixed stage at all)
    trainer = _trainer(tiny_cfg, "maligan", "maligan.mixed_start=3", "maligan.mixed_every=1")
    trainer.progress.done = 1
    assert trainer.method.prefix() == 2
    batch = trainer.method.batch(2)
    real_prefixes = {tuple(s) for s in trainer.real_data[:, :2].tolist()}
    assert all(tuple(s) in real_prefixes for s in batch[:, :2].tolist())
    metrics = trainer.method.g_step()
    assert metrics["maligan/prefix"] == 2.0


def test_maligan_refuses_another_advantage(tiny_cfg):
    from seqgan.errors import ConfigError

    with pytest.raises(ConfigError, match="importance weights are its advantage"):
        tiny_cfg.override(["train.method='maligan'", "train.advantage='rescale'"])


# ---- DPGAN --------------------------------------------------------------------------------------


def test_dpgan_returns_combine_sentence_and_discounted_word_rewards():
    word = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    sentence = torch.tensor([2.0, 0.5], dtype=torch.float64)
    q = dpgan_returns(word, sentence, discount=0.5)
    expected = torch.tensor([[2.0 * (1 + 0.5 * 2 + 0.25 * 3), 2.0 * (2 + 0.5 * 3), 2.0 * 3],
                             [0.5 * 0.5, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(q, expected)


def test_dpgan_lm_learns_generated_text_and_is_pushed_from_real_text():
    torch.manual_seed(0)
    lm = Generator(10, emb_dim=6, hidden_dim=6, seq_len=4).double()
    fake = torch.randint(0, 10, (8, 4))
    real = torch.randint(0, 10, (8, 4))
    loss = lm_loss(lm, fake, real, real_weight=1e-4)
    torch.testing.assert_close(loss, lm.nll(fake) - 1e-4 * lm.nll(real))


def test_dpgan_update_raises_the_likelihood_of_its_rewarded_text(tiny_cfg):
    # TextGAN-PyTorch minimises Σ log G · q, lowering the probability of high-reward text; ours raises it.
    trainer = _trainer(tiny_cfg, "dpgan")
    method = trainer.method
    torch.manual_seed(5)
    y = method.sample()
    reward = method.reward()
    word = reward.tokens(y)
    q = dpgan_returns(word, reward.sentence(word, y), 1.0)
    assert (q > 0).all()
    g = trainer.generator
    torch.testing.assert_close(pg_loss(g, y, q), reference_pg_loss(g, y, q), rtol=1e-5, atol=1e-3)
    before = -g.token_nll(y).detach()
    opt = torch.optim.SGD(g.parameters(), lr=1e-5)
    opt.zero_grad()
    pg_loss(g, y, q).backward()
    opt.step()
    after = -g.token_nll(y).detach()
    assert (after * q).sum() > (before * q).sum()
