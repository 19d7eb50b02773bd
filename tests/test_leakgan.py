"""LeakGAN: the leaked feature, the manager's goals, the worker's logits, the batched block rewards against the
official loop, rescaled ranks that follow each sequence, the interleaved pretraining, and whole tiny runs."""

import pytest
import torch

from seqgan.cli import main
from seqgan.config import preset
from seqgan.discriminator import Discriminator
from seqgan.leakgan_generator import (
    LeakGANGenerator,
    complete,
    leak_from,
    reference_worker_logits,
    worker_logits,
)
from seqgan.methods.leakgan import (
    adversarial_loss,
    block_rewards,
    cosine,
    intrinsic_rewards,
    manager_loss,
    naive_block_rewards,
)
from seqgan.rewards import rescale
from seqgan.run import train
from seqgan.train import SeqGANTrainer, load_checkpoint
from tests.runs import cli_sample_ids, run_metrics, train_through_crashes


def _models(vocab=30, seq_len=10, step_size=4, eos=None):
    d = Discriminator(vocab, seq_len=seq_len, emb_dim=8, filter_sizes=[2, 3], num_filters=[4, 5], eos_token=eos).double()
    g = LeakGANGenerator(vocab, emb_dim=8, hidden_dim=8, seq_len=seq_len, feature_dim=9, goal_dim=3,
                         step_size=step_size, init_std=0.5, eos_token=eos, pad_token=0).double()
    g.attach(leak_from(d))
    return g, d


# ---- the model --------------------------------------------------------------------------------------------------


def test_worker_logits_equal_the_plain_formula_with_gradients():
    torch.manual_seed(0)
    h = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(30 * 3, 8, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(30 * 3, dtype=torch.float64, requires_grad=True)
    fast = worker_logits(h, w, weight, bias)
    plain = reference_worker_logits(h, w, weight, bias)
    assert fast.shape == (5, 30)
    assert torch.allclose(fast, plain, atol=1e-12)
    # O_t · w written out for one row and token: Σ_j (W[v·k + j] · h + b[v·k + j]) · w_j
    v = 7
    by_hand = sum((weight[v * 3 + j] @ h[2] + bias[v * 3 + j]) * w[2, j] for j in range(3))
    assert torch.allclose(fast[2, v], by_hand)
    grads = torch.autograd.grad(fast.square().sum(), (h, w, weight, bias))
    plain_grads = torch.autograd.grad(plain.square().sum(), (h, w, weight, bias))
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(grads, plain_grads))


def test_the_leaked_feature_of_a_prefix_does_not_depend_on_later_tokens():
    g, _ = _models()
    y = torch.randint(1, 30, (4, 10))
    f = g.prefix_features(y)
    assert f.shape == (4, 11, 9)
    for t in range(11):
        changed = y.clone()
        changed[:, t:] = torch.randint(1, 30, (4, 10 - t))
        assert torch.equal(g.prefix_features(changed)[:, t], f[:, t]), t
    # and it does depend on the tokens it holds: f_T of two different sequences differ
    assert not torch.allclose(f[0, 10], f[1, 10])


def test_the_goal_changes_every_c_steps_to_the_sum_of_the_last_c_sub_goals():
    g, _ = _models(seq_len=10, step_size=4)
    y = g.sample(3)
    # step by step, as sampling runs
    state = g.start_state(3)
    f = g.prefix_features(y)
    goals, subs = [], []
    for t in range(1, 11):
        before = state.pending.clone()
        g.step(state, t, f[:, t - 1])
        if t > 1:
            subs.append(state.pending - before if (t - 1) % 4 else state.goal - before)
        goals.append(state.goal.clone())
        state.tokens = y[:, t - 1]
    for t in range(2, 11):
        if (t - 1) % 4:
            assert torch.equal(goals[t - 1], goals[t - 2]), f"the goal changed inside a block at t={t}"
        else:
            assert not torch.allclose(goals[t - 1], goals[t - 2]), f"the goal did not change at t={t}"
    assert torch.equal(goals[0], g.goal_init.expand(3, -1))
    # G_1 (tokens 5..8) = g_1 + .. + g_4, each a unit vector
    assert torch.allclose(goals[4], sum(subs[0:4]), atol=1e-12)
    assert all(torch.allclose(s.norm(dim=-1), torch.ones(3, dtype=torch.float64)) for s in subs)
    # the teacher-forced pass has the same goals and the same logits as the step-by-step one
    u = g.unroll(y)
    assert u.goals_BxKxF.shape == (3, 3, 9)
    for t in range(1, 11):
        assert torch.allclose(u.goals_BxKxF[:, (t - 1) // 4], goals[t - 1], atol=1e-12)


def test_sampling_draws_from_the_likelihood_that_nll_test_scores():
    g, _ = _models(eos=5)
    u = torch.rand(6, 10, dtype=torch.float64)
    y = g.sample(6, uniforms_NxT=u)
    # the step-by-step logits of the sampled tokens equal the teacher-forced ones
    state = g.start_state(6)
    f = g.prefix_features(y)
    logp = []
    for t in range(1, 11):
        logits = g.step(state, t, f[:, t - 1])
        logp.append(torch.log_softmax(logits, -1).gather(1, y[:, t - 1:t]).squeeze(1))
        state.tokens = y[:, t - 1]
    step_nll = -torch.stack(logp, 1)
    mask = g.token_nll(y) != 0
    assert torch.allclose(step_nll[mask], g.token_nll(y)[mask], atol=1e-10)
    assert (y[:, 1:][(y[:, :-1] == 5).cumsum(1) > 0] == 0).all(), "pad after the end token"


# ---- rewards --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eos", [None, 5])
def test_batched_block_rewards_equal_the_official_loop_with_the_same_draws(eos):
    g, d = _models(eos=eos)
    y = g.sample(5)
    u = torch.rand(3, 2, 5, 10, dtype=torch.float64)  # rollout_num 3, block ends 4 and 8
    fast = block_rewards(g, y, d.prob_real, 3, u)
    slow = naive_block_rewards(g, y, d.prob_real, 3, u)
    assert fast.shape == (5, 3)
    assert torch.allclose(fast, slow, atol=1e-12)
    assert torch.equal(fast[:, -1], d.prob_real(y)), "the last block's Q is D(Y)"


def test_rollouts_keep_their_prefix_and_their_own_sequence():
    g, _ = _models()
    y = g.sample(4)
    prefix = torch.tensor([4, 8, 4, 8])
    out = complete(g, y, prefix, torch.rand(4, 10, dtype=torch.float64))
    for i in range(4):
        assert torch.equal(out[i, :prefix[i]], y[i, :prefix[i]])
    assert not torch.equal(out, y)


def test_shuffling_the_batch_leaves_each_sequences_rescaled_reward_unchanged():
    """TextGAN-PyTorch's rollout reshape (issue #62) hands one sample's rewards to another: here each reward follows
    its sequence, and the official code's ranks in dict (batch) order would make it follow the position instead."""
    g, d = _models()
    y = g.sample(6)
    u = torch.rand(2, 2, 6, 10, dtype=torch.float64)
    r = rescale(block_rewards(g, y, d.prob_real, 2, u))
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    r_shuffled = rescale(block_rewards(g, y[perm], d.prob_real, 2, u[:, :, perm]))
    assert torch.allclose(r_shuffled, r[perm], atol=1e-12)
    # ranks in sorted order: the higher Q, the higher the rescaled reward, wherever it sits in the batch
    q = block_rewards(g, y, d.prob_real, 2, u)
    for k in range(3):
        order = torch.argsort(q[:, k])
        assert (r[order, k].diff() >= 0).all()


def test_manager_loss_and_intrinsic_reward_equal_their_formulas():
    g, _ = _models(seq_len=10, step_size=4)
    y = g.sample(2)
    u = g.unroll(y)
    f, goals = u.features_BxT1xF, u.goals_BxKxF
    q = torch.tensor([[0.2, 0.5, 0.9], [0.7, 0.1, 0.3]], dtype=torch.float64)
    expected = 0.0
    for b in range(2):
        for k, (lo, hi) in enumerate([(0, 4), (4, 8), (8, 10)]):
            expected -= q[b, k] * torch.nn.functional.cosine_similarity(f[b, hi] - f[b, lo], goals[b, k], dim=0)
    assert torch.allclose(manager_loss(u, q, 4), expected / 6)
    r = intrinsic_rewards(u, 4)
    t = 7  # block 1 starts after token 4: r^I_7 = cos(f_7 − f_4, G_1)
    assert torch.allclose(r[:, t - 1], cosine(f[:, 7] - f[:, 4], goals[:, 1]))
    assert torch.allclose(r[:, 3], cosine(f[:, 4] - f[:, 0], goals[:, 0]))


def test_the_worker_loss_does_not_train_the_manager_and_the_manager_loss_not_the_worker():
    g, _ = _models()
    y = g.sample(4)
    q = torch.rand(4, 3, dtype=torch.float64)
    _, worker, manager, _ = adversarial_loss(g, y, q, 1.0, 1.0)
    manager_params = {n for n, _ in g.named_parameters() if n.startswith(("manager", "goal_init"))}
    for loss, trained in ((worker, lambda n: n not in manager_params), (manager, lambda n: n in manager_params)):
        g.zero_grad()
        loss.backward(retain_graph=True)
        for name, p in g.named_parameters():
            got = p.grad is not None and bool(p.grad.abs().sum() > 0)
            assert got == trained(name), name


# ---- the method in the trainer ----------------------------------------------------------------------------------


def _cfg(*extra):
    return preset("tiny").override(["train.method='leakgan'", "leakgan.mle_every=2", *extra])


def test_the_leaked_feature_is_the_configured_d_phis_whole_feature():
    """Texygen leaks a shallow D's feature; here the manager reads D_φ's full feature, at the paper's sizes 1720."""
    cfg = preset("paper").override(["train.method='leakgan'"])
    from seqgan.methods.leakgan import LeakGAN

    g = LeakGAN.build_generator(cfg, 5000, 20, 0, None, 0)
    assert g.feature_dim == sum(cfg.discriminator.num_filters) == 1720 and g.goal_dim == 16 and g.step_size == 4


def test_d_pretraining_is_interleaved_with_g_pretraining():
    cfg = _cfg("train.pretrain_epochs=4", "train.d_pretrain_steps=6", "train.adversarial_rounds=0")
    trainer = SeqGANTrainer(cfg)
    assert trainer.totals["d_pretrain"] == 0  # D's steps run inside G's epochs
    calls = []
    original = trainer.method.discriminator_step
    trainer.method.discriminator_step = lambda epochs: calls.append(trainer.progress.done) or original(epochs)
    d0 = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    trainer.fit()
    assert calls == [0, 0, 1, 2, 2, 3]  # ⌈6·(e+1)/4⌉ − ⌈6·e/4⌉ before epoch e, D before G's first epoch
    assert any(not torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in d0.items())


def test_mle_epochs_are_interleaved_into_the_adversarial_rounds():
    trainer = SeqGANTrainer(_cfg("train.pretrain_epochs=1", "train.adversarial_rounds=4"))
    records = trainer.fit()
    adversarial = [r for r in records if r["phase"] == "adversarial"]
    # evaluated after rounds 0, 2 and 3 (eval_every=2 and the last); MLE ran after rounds 1 and 3
    assert ["losses/g_mle" in r for r in adversarial] == [False, False, True]


def test_a_tiny_run_samples_and_resumes_exactly(tmp_path, capsys):
    cfg = _cfg()
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    train(cfg, whole)
    train_through_crashes(cfg, cut, [("mle", 3), ("adversarial", 3)])
    assert run_metrics(cut) == run_metrics(whole)
    a, b = load_checkpoint(whole / "checkpoints" / "latest.pt"), load_checkpoint(cut / "checkpoints" / "latest.pt")
    for part in ("generator", "discriminator"):
        assert all(torch.equal(v, b[part][k]) for k, v in a[part].items()), part
    assert a["method"]["optimizer"]["state"], "the adversarial optimiser never stepped"
    # seqgan sample writes the final G_θ's sequences (with D_φ's leaked features, saved beside it)
    rows, expected = cli_sample_ids(whole, capsys, 4)
    assert rows == expected
    assert "discriminator" in load_checkpoint(whole / "checkpoints" / "generator.pt")


def test_help_config_documents_the_leakgan_section(capsys):
    assert main(["train", "--help-config"]) == 0
    out = capsys.readouterr().out
    for key in ("leakgan.step_size", "leakgan.goal_dim", "leakgan.rescale", "leakgan.intrinsic_weight", "leakgan.mle_every"):
        assert key in out, key


def test_leakgan_writes_text_that_ends_and_scores_the_test_set(tmp_path, text_corpus, capsys):
    cfg = _cfg("data.source='file'", f"data.path={str(text_corpus)!r}", "data.num_eval=64")
    summary = train(cfg, tmp_path / "run")
    assert summary["final"]["nll_test"] > 0 and 0 <= summary["final"]["bleu2"] <= 1
    words = set(text_corpus.read_text().split())
    lines = (tmp_path / "run" / "samples" / "final.txt").read_text().splitlines()
    assert len(lines) == 1000 and all(tok in words or tok == "<unk>" for line in lines for tok in line.split())
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(tmp_path / "run"), "--num", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_reproduce_pretrains_leakgan_on_its_own_and_rankgan_from_the_shared_pretraining(tmp_path):
    from seqgan.reproduce import table1

    cfg = preset("tiny").override(["train.adversarial_rounds=2"])
    table1(cfg, seeds=1, out_dir=tmp_path / "t1", methods=("mle", "rankgan", "leakgan"))
    pre = [r["nll_oracle"] for r in run_metrics(tmp_path / "t1" / "seed0" / "pretrain") if r["phase"] == "mle"]
    rank = [r["nll_oracle"] for r in run_metrics(tmp_path / "t1" / "seed0" / "rankgan") if r["phase"] == "mle"]
    assert rank == pre
    # LeakGAN's run equals its own run from scratch
    train(cfg.override(["train.method='leakgan'"]), tmp_path / "direct")
    strip = [{k: v for k, v in r.items() if k != "time_s"} for r in run_metrics(tmp_path / "direct")]
    assert [{k: v for k, v in r.items() if k != "time_s"} for r in run_metrics(tmp_path / "t1" / "seed0" / "leakgan")] == strip
    table = (tmp_path / "t1" / "table1.md").read_text()
    assert "| RankGAN |" in table and "| LeakGAN |" in table
