"""The constant-reward control: Eq. 8 with the same Q everywhere sharpens G_θ and learns nothing of the data."""

import pytest
import torch

from seqgan.config import preset
from seqgan.errors import ConfigError
from seqgan.policy_gradient import reference_pg_loss
from seqgan.reproduce import TABLE1_ROWS
from seqgan.train import SeqGANTrainer


def _trainer(*extra):
    return SeqGANTrainer(preset("tiny").override(["train.method='pg_constant'", *extra]))


def test_its_step_is_eq8_with_the_constant_as_q_and_no_rollouts(monkeypatch):
    trainer = _trainer("pg_constant.reward=0.3", "generator.grad_clip=1000.0")
    method = trainer.method
    assert not method.uses_rollouts()
    seen = {}
    sample = method.sample

    def keep(*a):
        seen["y"] = sample(*a)
        return seen["y"]

    monkeypatch.setattr(method, "sample", keep)
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    torch.manual_seed(0)
    metrics = method.g_step()
    assert method.rollout is None and metrics["rewards/mean_q"] == pytest.approx(0.3)
    # the same update by hand: Adam's first step on −Σ 0.3 · log G_θ(y_t) from the same weights
    g = SeqGANTrainer(preset("tiny").override(["train.method='pg_constant'"])).generator
    g.load_state_dict(before)
    loss = reference_pg_loss(g, seen["y"], torch.full(seen["y"].shape, 0.3, dtype=torch.float64))
    torch.testing.assert_close(metrics["losses/g_pg"], loss.item(), rtol=1e-5, atol=1e-5)


def test_a_positive_constant_reward_sharpens_the_generator():
    trainer = _trainer("train.pretrain_epochs=0", "generator.pg_lr=0.05")
    g = trainer.generator
    torch.manual_seed(1)
    entropy_before = g.nll_of(g.sample(2048))
    for _ in range(30):
        trainer.method.g_step()
    entropy_after = g.nll_of(g.sample(2048))
    assert entropy_after < entropy_before - 0.05, (entropy_before, entropy_after)


def test_its_setting_is_checked_and_it_is_a_row_of_table1():
    with pytest.raises(ConfigError, match="pg_constant.reward must be a positive finite number"):
        _trainer("pg_constant.reward=0.0")
    assert TABLE1_ROWS["pg_constant"] == ("pg_constant", [])
