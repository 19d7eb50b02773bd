"""RelGAN: the relational memory (causal, sampling and likelihood agree), the Gumbel-softmax output, the β schedules,
the multi-representation critic against its per-representation reference, the losses and the gradient penalty
against their formulas, which steps train what, and whole tiny runs (both generators, every loss, exact resume)."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from seqgan.cli import main
from seqgan.config import preset
from seqgan.data import valid_mask
from seqgan.errors import ConfigError
from seqgan.generator import Generator
from seqgan.kernels.sampling import reference_sample_from_logits
from seqgan.likelihood import LogitsLikelihood
from seqgan.methods.relgan import (
    SCHEDULES,
    RelGANCritic,
    critic_loss,
    critic_objective,
    generator_loss,
    generator_objective,
    gradient_penalty,
    gumbel,
    gumbel_rollout,
    inverse_temperature,
    reference_critic_logits,
    relaxed_one_hot,
)
from seqgan.relational_memory import RelationalMemoryGenerator
from seqgan.run import load_generator, train
from seqgan.train import SeqGANTrainer, load_checkpoint
from tests.runs import changed, cli_sample_ids, run_metrics, snapshot, train_through_crashes

V = 11
T = 6


def _rmc(eos=None, seq_len=T):
    torch.manual_seed(0)
    return RelationalMemoryGenerator(V, emb_dim=5, mem_slots=2, num_heads=2, head_size=3, seq_len=seq_len,
                                     start_token=1, eos_token=eos, pad_token=0).double()


def _lstm(eos=None):
    torch.manual_seed(0)
    return Generator(V, emb_dim=5, hidden_dim=6, seq_len=T, init_std=0.5, start_token=1, eos_token=eos,
                     pad_token=0).double()


def _critic(filter_sizes=(2, 3)):
    torch.manual_seed(1)
    return RelGANCritic(V, emb_dim=6, num_rep=3, filter_sizes=list(filter_sizes), num_filters=[4, 5], dropout=0.25).double()


def _cfg(*extra):
    return preset("tiny").override(["train.method='relgan'", *extra])  # the tiny preset's narrow RelGAN


# ---- the relational memory ------------------------------------------------------------------------------------


def test_the_memory_at_step_t_does_not_depend_on_later_tokens():
    g = _rmc()
    tokens = torch.randint(0, V, (4, T))
    logits = g(tokens)
    for t in range(1, T):
        changed_tokens = tokens.clone()
        changed_tokens[:, t:] = (tokens[:, t:] + 1 + torch.randint(0, V - 1, (4, T - t))) % V  # every later token differs
        other = g(changed_tokens)
        assert torch.equal(other[:, :t + 1], logits[:, :t + 1]), t  # the logits of y_{t+1} read y_1..y_t only
        if t + 1 < T:
            assert not torch.allclose(other[:, t + 1], logits[:, t + 1])  # …and do read y_{t+1} after it


@pytest.mark.parametrize("make", [_rmc, _lstm])
def test_teacher_forced_log_probabilities_of_sampled_tokens_equal_the_step_by_step_ones(make):
    g = make()
    u = torch.rand(8, T, dtype=torch.float64)
    if isinstance(g, RelationalMemoryGenerator):  # the sampler draws each token from the logits it steps through
        tokens = g.sample(8, uniforms_NxT=u)
        logits = g(tokens)
        for t in range(T):
            assert torch.equal(tokens[:, t], reference_sample_from_logits(logits[:, t], u[:, t]))
    # The Gumbel rollout keeps its step-by-step logits: the teacher-forced pass over its tokens gives the same.
    rollout = gumbel_rollout(g, 8, beta=3.0)
    step_log_p = torch.log_softmax(rollout.logits_NxTxV, -1).gather(-1, rollout.tokens_NxT.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(-g.token_nll(rollout.tokens_NxT), step_log_p, rtol=1e-10, atol=1e-12)
    # (the LSTM's fused MLE loss weighs in float32)
    torch.testing.assert_close(g.nll(rollout.tokens_NxT), -step_log_p.mean(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("eos", [None, 4])
def test_the_fused_likelihood_equals_the_plain_one_on_full_logits_with_gradients(eos):
    g = _rmc(eos=eos)
    tokens = torch.randint(2, V, (7, T))
    if eos is not None:
        tokens[:3, 2] = eos  # some sequences end early
    for tau in (1.0, 0.7):
        assert torch.allclose(g.token_nll(tokens, tau), LogitsLikelihood.token_nll(g, tokens, tau), atol=1e-12)
    count = tokens.numel() if eos is None else int(valid_mask(tokens, eos).sum())
    plain_nll = LogitsLikelihood.token_nll(g, tokens).sum() / count
    assert g.nll_of(tokens, batch_size=3) == pytest.approx(plain_nll.item(), abs=1e-12)
    fused = torch.autograd.grad(g.nll(tokens), list(g.parameters()))
    plain = torch.autograd.grad(plain_nll, list(g.parameters()))
    for a, b in zip(fused, plain):
        assert torch.allclose(a, b, atol=1e-12)


def test_sequences_end_at_the_end_token():
    g = _rmc(eos=3)
    with torch.no_grad():
        g.output.bias[3] = 2.0  # end often
    tokens = g.sample(64)
    ended = (tokens == 3).cumsum(1) - (tokens == 3).long() > 0  # strictly after the first end token
    assert ended.any() and (tokens[ended] == 0).all()
    nll = g.token_nll(tokens)
    assert (nll[ended] == 0).all() and (nll[~ended] > 0).all()
    rollout = gumbel_rollout(g, 64, beta=2.0)
    after = (rollout.tokens_NxT == 3).cumsum(1) - (rollout.tokens_NxT == 3).long() > 0
    assert after.any() and (rollout.tokens_NxT[after] == 0).all()
    assert torch.equal(rollout.relaxed_NxTxV[after], F.one_hot(torch.zeros_like(rollout.tokens_NxT[after]), V).double())
    # NLL_test counts the positions up to each end token
    assert g.nll_of(tokens) == pytest.approx((nll.sum() / (~ended).sum()).item(), rel=1e-12)


# ---- Gumbel-softmax -----------------------------------------------------------------------------------------


def test_the_relaxed_output_is_the_softmax_of_beta_times_the_perturbed_logits_and_tends_to_its_argmax():
    torch.manual_seed(3)
    o = torch.randn(20, V, dtype=torch.float64) * 2
    g = gumbel(torch.rand(20, V, dtype=torch.float64))
    perturbed = o + g
    top2 = perturbed.topk(2, dim=-1).values
    assert (top2[:, 0] - top2[:, 1]).min() > 1e-3  # no near-tie: at β = 1e4 the gap is worth exp(−10) or less
    for beta in (0.5, 1.0, 7.0):
        weights = torch.exp(beta * perturbed - (beta * perturbed).max(-1, keepdim=True).values)
        torch.testing.assert_close(relaxed_one_hot(o, g, beta), weights / weights.sum(-1, keepdim=True),
                                   rtol=1e-12, atol=1e-15)
    hard = F.one_hot(perturbed.argmax(-1), V).double()
    assert (relaxed_one_hot(o, g, 1e4) - hard).abs().max() < 1e-4
    gap = (top2[:, 0] - top2[:, 1]).min().item()
    beta = 40 / gap  # every other weight below exp(−40)
    assert (relaxed_one_hot(o, g, beta) - hard).abs().max() < 1e-6
    assert (relaxed_one_hot(o, g, 1.0) - hard).abs().max() > 0.1  # and far from it at β = 1


@pytest.mark.parametrize("make", [_rmc, _lstm])
def test_the_rollout_feeds_the_hard_gumbel_argmax_and_outputs_the_relaxed_one_hot(make):
    g = make()
    u = torch.rand(5, T, V, dtype=torch.float64)
    out = gumbel_rollout(g, 5, beta=2.5, uniforms_NxTxV=u)
    perturbed = out.logits_NxTxV + gumbel(u)
    assert torch.equal(out.tokens_NxT, perturbed.argmax(-1))
    torch.testing.assert_close(out.relaxed_NxTxV, torch.softmax(2.5 * perturbed, -1), rtol=1e-12, atol=1e-15)
    # the logits of step t are the teacher-forced ones given the hard tokens before t
    torch.testing.assert_close(out.logits_NxTxV, g(out.tokens_NxT), rtol=1e-10, atol=1e-12)
    sharp = gumbel_rollout(g, 5, beta=1e6, uniforms_NxTxV=u)
    assert torch.equal(sharp.tokens_NxT, out.tokens_NxT)
    assert (sharp.relaxed_NxTxV - F.one_hot(out.tokens_NxT, V).double()).abs().max() < 1e-6


@pytest.mark.parametrize("make", [_rmc, _lstm])
def test_the_critics_gradient_reaches_every_part_of_g(make):
    g = make()
    critic = _critic().eval()
    real = F.one_hot(torch.randint(0, V, (4, T)), V).double()
    loss = generator_objective(g, critic, real, 5.0, "rsgan")
    grads = dict(zip([n for n, _ in g.named_parameters()], torch.autograd.grad(loss, list(g.parameters()),
                                                                              allow_unused=True)))
    names = (["embedding.weight", "qkv.weight", "gate_memory.weight", "mlp.0.weight", "output.weight"]
             if isinstance(g, RelationalMemoryGenerator) else ["embedding.weight", "lstm.weight_hh_l0", "output.weight"])
    for name in names:
        assert grads[name] is not None and grads[name].abs().sum() > 0, name


# ---- the β schedule -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s != "constant"])
@pytest.mark.parametrize("beta_max, total", [(1000.0, 40), (2.7, 7), (100.0, 5000)])
def test_every_schedule_starts_at_1_and_reaches_beta_max_exactly_at_step_n(schedule, beta_max, total):
    betas = [inverse_temperature(n, total, beta_max, schedule) for n in range(total + 3)]
    assert betas[0] == 1.0
    assert betas[total] == beta_max and betas[total + 2] == beta_max
    assert betas[total - 1] < beta_max
    assert all(a <= b for a, b in zip(betas, betas[1:])) and betas[1] > 1
    r = 3 / total
    expected = {"exp": beta_max ** r, "lin": 1 + (beta_max - 1) * r, "quad": 1 + (beta_max - 1) * r * r,
                "sqrt": 1 + (beta_max - 1) * math.sqrt(r), "log": 1 + (beta_max - 1) * math.log(4) / math.log(total + 1),
                "sigmoid": 1 + (beta_max - 1) * (1 / (1 + math.exp(-20 * (r - 0.5))) - 1 / (1 + math.exp(10)))
                / (1 / (1 + math.exp(-10)) - 1 / (1 + math.exp(10)))}[schedule]
    assert betas[3] == pytest.approx(expected, rel=1e-12)
    assert inverse_temperature(3, total, beta_max, "constant") == beta_max


def test_the_run_reaches_beta_max_at_its_last_g_step_unless_n_is_set():
    trainer = SeqGANTrainer(_cfg("train.adversarial_rounds=4", "train.g_steps=2"))
    assert trainer.method.anneal_steps() == 8
    assert trainer.method.beta(8) == 1000.0 and trainer.method.beta(7) < 1000.0
    trainer = SeqGANTrainer(_cfg("relgan.anneal_steps=5000"))  # the official code's N
    assert trainer.method.beta(2000) == pytest.approx(1000 ** 0.4)


# ---- the critic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_len", [T, 2])  # a sequence shorter than the widest filter is zero-padded
def test_the_critic_equals_its_per_representation_reference_with_gradients(seq_len):
    critic = _critic().eval()
    x = torch.softmax(torch.randn(4, seq_len, V, dtype=torch.float64) * 3, -1).requires_grad_(True)
    fast = critic(x)
    plain = reference_critic_logits(critic, x)
    assert fast.shape == (4, 3)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    params = [x, *critic.parameters()]
    for a, b in zip(torch.autograd.grad(fast.square().sum(), params), torch.autograd.grad(plain.square().sum(), params)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # a one-hot input embeds as the rows of the embedding: representation r sees columns r·d..(r+1)·d of the row
    tokens = torch.randint(0, V, (2, seq_len))
    emb = F.one_hot(tokens, V).double() @ critic.embedding
    assert torch.equal(emb, critic.embedding[tokens])


# ---- the losses ------------------------------------------------------------------------------------------------


def test_the_losses_equal_their_formulas_on_a_hand_made_batch():
    real = torch.tensor([[1.0, -0.5], [2.0, 0.3]], dtype=torch.float64)
    fake = torch.tensor([[0.2, 0.4], [-1.0, 0.1]], dtype=torch.float64)
    r, f = real.flatten().tolist(), fake.flatten().tolist()

    def log_sigmoid(x):
        return -math.log1p(math.exp(-x))

    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert critic_loss(real, fake, "rsgan").item() == pytest.approx(mean([-log_sigmoid(a - b) for a, b in zip(r, f)]))
    assert generator_loss(real, fake, "rsgan").item() == pytest.approx(mean([-log_sigmoid(b - a) for a, b in zip(r, f)]))
    assert critic_loss(real, fake, "standard").item() == pytest.approx(
        mean([-log_sigmoid(a) for a in r]) + mean([-math.log(1 - 1 / (1 + math.exp(-b))) for b in f]))
    assert generator_loss(None, fake, "standard").item() == pytest.approx(mean([-log_sigmoid(b) for b in f]))
    assert critic_loss(real, fake, "wgan-gp").item() == pytest.approx(mean(f) - mean(r))
    assert generator_loss(None, fake, "wgan-gp").item() == pytest.approx(-mean(f))
    # RSGAN pairs sample b of the real batch with sample b of the fake one: reordering the fakes changes it
    assert critic_loss(real, fake.flip(0), "rsgan").item() != pytest.approx(critic_loss(real, fake, "rsgan").item())


def test_the_gradient_penalty_equals_a_plain_autograd_reference_with_gradients():
    critic = _critic().eval()
    real = F.one_hot(torch.randint(0, V, (3, T)), V).double()
    fake = torch.softmax(torch.randn(3, T, V, dtype=torch.float64), -1)
    alpha = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, alpha)
    # one sample at a time: x̂_b, the gradient of Σ_r D_r(x̂_b), its norm
    terms = []
    for b in range(3):
        x_hat = (alpha[b] * real[b:b + 1] + (1 - alpha[b]) * fake[b:b + 1]).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        terms.append((grad.square().sum().sqrt() - 1) ** 2)
    reference = torch.stack(terms).mean()
    torch.testing.assert_close(gp, reference, rtol=1e-12, atol=1e-14)
    params = list(critic.parameters())  # the output biases add a constant to D: no gradient reaches them
    grads = torch.autograd.grad(gp, params, allow_unused=True)
    reference_grads = torch.autograd.grad(reference, params, allow_unused=True)
    assert sum(g is not None for g in grads) >= len(params) - 2
    for a, b in zip(grads, reference_grads):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # the critic's WGAN-GP loss is E[D(fake)] − E[D(real)] + λ·GP with α ~ U(0, 1) per sample
    torch.manual_seed(5)
    total, _ = critic_objective(critic, real, fake, "wgan-gp", 10.0)
    torch.manual_seed(5)
    alpha = torch.rand(3, dtype=torch.float64)
    expected = critic(fake).mean() - critic(real).mean() + 10.0 * gradient_penalty(critic, real, fake, alpha)
    torch.testing.assert_close(total, expected, rtol=1e-12, atol=1e-14)


# ---- the method: what each step trains --------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["rsgan", "wgan-gp"])
def test_a_g_step_trains_only_g_and_a_critic_step_only_the_critic(loss):
    trainer = SeqGANTrainer(_cfg(f"relgan.loss={loss!r}"))
    method = trainer.method
    critic, d_phi = snapshot(method.critic), snapshot(trainer.discriminator)
    g0 = snapshot(trainer.generator)
    metrics = method.g_step()
    assert changed(trainer.generator, g0) and not changed(method.critic, critic)
    assert all(p.grad is None for p in method.critic.parameters()), "G's step computed the critic's weight gradients"
    assert all(p.requires_grad for p in method.critic.parameters())
    assert metrics["relgan/beta"] == method.beta(1)
    g1 = snapshot(trainer.generator)
    method.discriminator_step(1)
    assert changed(method.critic, critic) and not changed(trainer.generator, g1)
    assert not changed(trainer.discriminator, d_phi), "SeqGAN's D_φ is not RelGAN's critic"


def test_relgan_with_the_lstm_pretrains_exactly_as_every_lstm_method():
    """The critic is drawn aside (own_rng): with relgan.generator='lstm' MLE pretraining is SeqGAN's, draw for draw."""
    runs = []
    for cfg in (preset("tiny"), _cfg("relgan.generator='lstm'")):
        trainer = SeqGANTrainer(cfg.override(["train.pretrain_epochs=2", "train.d_pretrain_steps=0",
                                              "train.adversarial_rounds=0"]))
        runs.append([{k: v for k, v in r.items() if k not in ("method", "time_s")} for r in trainer.fit()])
    assert runs[0] == runs[1]
    assert type(SeqGANTrainer(_cfg("relgan.generator='lstm'")).generator) is Generator
    assert type(SeqGANTrainer(_cfg()).generator) is RelationalMemoryGenerator


def test_relgan_settings_are_checked():
    with pytest.raises(ConfigError, match="relgan.loss must be one of rsgan, standard, wgan-gp"):
        _cfg("relgan.loss='hinge'")
    with pytest.raises(ConfigError, match="multiple of relgan.num_rep"):
        _cfg("relgan.d_emb_dim=10", "relgan.num_rep=4")
    with pytest.raises(ConfigError, match="beta_max must be a finite number >= 1"):
        _cfg("relgan.beta_max=0.5")
    with pytest.raises(ConfigError, match="no policy gradient"):
        _cfg("train.advantage='mean'")


def test_help_config_documents_the_relgan_section(capsys):
    assert main(["train", "--help-config"]) == 0
    out = capsys.readouterr().out
    assert "[relgan]" in out
    for key in ("generator", "mem_slots", "num_heads", "head_size", "loss", "gp_weight", "beta_max", "schedule",
                "anneal_steps", "num_rep"):
        assert f"relgan.{key} =" in out, key


# ---- whole tiny runs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("generator, loss", [("lstm", "rsgan"), ("rmc", "standard"), ("rmc", "wgan-gp")])
def test_tiny_runs_with_each_generator_and_loss(tmp_path, generator, loss):
    cfg = _cfg(f"relgan.generator={generator!r}", f"relgan.loss={loss!r}", "train.pretrain_epochs=1",
               "train.adversarial_rounds=2", "relgan.critic_steps=2")
    summary = train(cfg, tmp_path / "run")
    assert math.isfinite(summary["final"]["nll_oracle"])
    adversarial = [r for r in run_metrics(tmp_path / "run") if r["phase"] == "adversarial"]
    assert [r["relgan/beta"] for r in adversarial] == [1000 ** 0.5, 1000.0]
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")
    assert state["method"]["g_optimizer"]["state"] and state["method"]["critic_optimizer"]["state"]


def test_a_tiny_run_samples_and_resumes_exactly(tmp_path, capsys):
    cfg = _cfg()
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    train(cfg, whole)
    train_through_crashes(cfg, cut, [("mle", 3), ("adversarial", 3)])
    assert run_metrics(cut) == run_metrics(whole)
    a, b = load_checkpoint(whole / "checkpoints" / "latest.pt"), load_checkpoint(cut / "checkpoints" / "latest.pt")
    assert all(torch.equal(v, b["generator"][k]) for k, v in a["generator"].items())
    assert all(torch.equal(v, b["method"]["critic"][k]) for k, v in a["method"]["critic"].items())
    for opt in ("g_optimizer", "critic_optimizer"):
        sa, sb = a["method"][opt]["state"], b["method"][opt]["state"]
        assert sa and sa.keys() == sb.keys()
        assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i]), opt
    # seqgan sample writes the final relational memory's sequences
    assert isinstance(load_generator(whole / "checkpoints" / "latest.pt"), RelationalMemoryGenerator)
    rows, expected = cli_sample_ids(whole, capsys, 4)
    assert rows == expected and len(rows) == 4 and all(len(r) == 8 for r in rows)


def test_relgan_trains_under_two_gloo_processes(tmp_path):
    """G's loss through trainer.run_g, the critic's (with the gradient penalty's double backward) through its own DDP
    runner: DDP refuses a second step if any parameter missed the first one's reduction."""
    args = ["-q", "train", "--preset", "tiny", "--set", "runtime.device='cpu'", "--set", "train.method='relgan'",
            "--set", "relgan.loss='wgan-gp'", "--set", "train.pretrain_epochs=1", "--set", "train.adversarial_rounds=2",
            "--set", "relgan.critic_steps=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQGAN_BACKEND": "gloo"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "seqgan", *args, "--out", str(tmp_path / "ddp")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in records].count("adversarial") == 2
    assert all(math.isfinite(r["losses/d"]) for r in records if r["phase"] == "adversarial")


# ---- the schedule of a round, and the pretraining rows of RelGAN share ----------------------------------------


def test_a_round_is_iterations_of_g_steps_then_critic_steps_at_the_last_g_steps_beta(monkeypatch):
    trainer = SeqGANTrainer(_cfg("relgan.iterations=3", "relgan.critic_steps=2", "train.g_steps=2",
                                 "train.adversarial_rounds=5"))
    method = trainer.method
    assert method.anneal_steps() == 5 * 3 * 2
    calls = []
    monkeypatch.setattr(method, "g_step", lambda step: calls.append(("g", step)) or {})
    monkeypatch.setattr(method, "critic_step", lambda beta: calls.append(("d", beta)) or {})
    trainer.progress.done = 1  # the second round: G steps 7..12
    method.round()
    b = method.beta
    assert calls == [("g", 7), ("g", 8), ("d", b(8)), ("d", b(8)), ("g", 9), ("g", 10), ("d", b(10)), ("d", b(10)),
                     ("g", 11), ("g", 12), ("d", b(12)), ("d", b(12))]


def test_presets_carry_relgans_sizes_and_a_run_reads_its_own_back(tmp_path):
    small = preset("small").override(["train.method='relgan'"])
    assert (small.method.head_size, small.method.num_rep, small.method.iterations) == (64, 16, 5)
    assert preset("paper").override(["train.method='relgan'"]).method.head_size == 256
    # Another method's section does not change a run: configs that differ only there are equal and a finished run
    # of another method is recognised as finished.
    assert preset("tiny") == preset("tiny").override(["train.method='relgan'"]).override(["train.method='seqgan'"])
    assert preset("tiny") != preset("tiny").override(["train.method='relgan'"])
    from seqgan.config import load_config
    from seqgan.reproduce import run_once

    cfg = _cfg("train.pretrain_epochs=1", "train.adversarial_rounds=1")
    run_once(cfg, tmp_path / "run")
    assert load_config(tmp_path / "run" / "config.toml") == cfg
    stamp = (tmp_path / "run" / "metrics.jsonl").stat().st_mtime_ns
    run_once(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "metrics.jsonl").stat().st_mtime_ns == stamp


def test_relgan_rows_start_from_one_relgan_pretraining_and_match_their_own_runs(tmp_path):
    from seqgan.reproduce import table1

    cfg = preset("tiny").override(["train.pretrain_epochs=2", "train.adversarial_rounds=2"])
    table1(cfg, seeds=1, out_dir=tmp_path / "t1", methods=("relgan_100", "relgan_1000"))
    seed = tmp_path / "t1" / "seed0"
    assert {p.name for p in seed.iterdir()} == {"pretrain-relgan", "relgan_100", "relgan_1000"}
    assert not (seed / "pretrain").exists(), "no LSTM pretraining is needed for RelGAN rows"
    direct = cfg.override(["train.method='relgan'", "relgan.beta_max=100.0"])
    train(direct, tmp_path / "direct")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_s"} for r in rows]  # noqa: E731
    assert strip(run_metrics(seed / "relgan_100")) == strip(run_metrics(tmp_path / "direct"))
    betas = [r["relgan/beta"] for r in run_metrics(seed / "relgan_1000") if r["phase"] == "adversarial"]
    assert betas[-1] == 1000.0


def test_relgan_refuses_a_pretraining_of_another_generator(tmp_path):
    from seqgan.errors import CheckpointError

    lstm = preset("tiny").override(["train.pretrain_epochs=1", "train.adversarial_rounds=0"])
    train(lstm, tmp_path / "lstm")
    with pytest.raises(CheckpointError, match="'seqgan' run's; RelGAN starts only from its own pretraining"):
        train(_cfg("train.pretrain_epochs=1"), tmp_path / "a", init_from=tmp_path / "lstm" / "checkpoints" / "latest.pt")
    train(_cfg("train.pretrain_epochs=1", "train.adversarial_rounds=0"), tmp_path / "rmc")
    with pytest.raises(CheckpointError, match="relgan.head_size"):
        train(_cfg("train.pretrain_epochs=1", "relgan.head_size=4"), tmp_path / "b",
              init_from=tmp_path / "rmc" / "checkpoints" / "latest.pt")
