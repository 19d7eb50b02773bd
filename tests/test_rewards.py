"""Rewards and advantages (seqgan.rewards) against their formulas on hand-made batches."""

import math

import pytest
import torch

from seqgan.generator import Generator
from seqgan.rewards import (
    ADVANTAGES,
    LanguageModelReward,
    OddsReward,
    advantage_fn,
    descending_ranks,
    importance_weights,
    mean_baseline,
    normalize,
    odds,
    rescale,
)


def test_odds_is_d_over_one_minus_d_and_stays_finite_and_positive():
    d = torch.tensor([0.2, 0.5, 0.8, 1.0, 0.0])
    r = odds(d)
    assert r[:3].tolist() == pytest.approx([0.25, 1.0, 4.0])
    assert math.isfinite(r[3].item()) and r[3] > 1e11  # a saturated D: large, not inf
    assert r[4] > 0  # a batch of D = 0 can still be normalised


def test_odds_reward_wraps_the_probability_not_the_probability_itself():
    # Texygen's MaliGAN uses D(Y) as r_D; the paper's r_D is D / (1 − D).
    class FixedD:
        def __call__(self, tokens):
            return torch.tensor([0.2, 0.5, 0.8])

    r = OddsReward(FixedD())(torch.zeros(3, 4, dtype=torch.long))
    assert r.tolist() == pytest.approx([0.25, 1.0, 4.0])


def test_importance_weights_normalise_over_the_batch_and_subtract_the_baseline():
    r = torch.tensor([[0.25, 1.0], [1.0, 1.0], [4.0, 1.0]], dtype=torch.float64)  # (B=3, T=2)
    w = importance_weights(r)
    assert w[:, 0].tolist() == pytest.approx([0.25 / 5.25 - 1 / 3, 1 / 5.25 - 1 / 3, 4 / 5.25 - 1 / 3])
    assert w[:, 1].tolist() == pytest.approx([0.0, 0.0, 0.0])  # equal rewards carry no signal
    # with the baseline the weights of each step sum to zero (TextBox comments the baseline out)
    assert w.sum(0).abs().max() < 1e-15
    raw = importance_weights(r, baseline=False)
    assert raw.sum(0).tolist() == pytest.approx([1.0, 1.0])


def test_rescaled_ranks_follow_the_sorted_order_whatever_the_batch_order():
    torch.manual_seed(0)
    q = torch.rand(16, 5, dtype=torch.float64)
    out = rescale(q, delta=16.0)
    for t in range(5):  # monotone in the reward at each step
        order = torch.argsort(q[:, t])
        assert (out[order, t].diff() > 0).all()
    top = torch.sigmoid(torch.tensor(16.0 * (0.5 - 1 / 16)))
    assert out.max(0).values.tolist() == pytest.approx([top.item()] * 5)
    perm = torch.randperm(16)  # shuffle the batch: each sequence keeps its reward
    torch.testing.assert_close(rescale(q[perm], 16.0), out[perm])


def test_ranking_in_batch_order_the_peers_bug_would_not_depend_on_the_reward():
    # The official LeakGAN code and Texygen give rank i to the i-th entry of the batch: shuffling the batch
    # would change a sequence's reward. Ours does not: the rank is the reward's place in sorted order.
    q = torch.tensor([[0.9], [0.1], [0.5]])
    assert descending_ranks(q).squeeze(1).tolist() == [1, 3, 2]
    batch_order_rank = torch.arange(1, 4)
    assert descending_ranks(q).squeeze(1).tolist() != batch_order_rank.tolist()


def test_normalize_and_mean_baseline():
    q = torch.tensor([[1.0, 2.0], [3.0, 2.0]], dtype=torch.float64)
    assert mean_baseline(q).tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert normalize(q).tolist() == [[-1.0, 0.0], [1.0, 0.0]]  # a constant step gives 0, not nan


@pytest.mark.parametrize("name", ADVANTAGES)
def test_every_advantage_is_available_by_name(name):
    q = torch.rand(4, 3, dtype=torch.float64) + 0.1
    assert advantage_fn(name)(q).shape == q.shape
    with pytest.raises(ValueError, match="unknown advantage"):
        advantage_fn("bogus")


def test_language_model_reward_is_the_tokens_nll_from_a_plain_loop():
    torch.manual_seed(1)
    lm = Generator(12, emb_dim=6, hidden_dim=6, seq_len=7, init_std=0.5, start_token=1, eos_token=2).double()
    y = torch.randint(3, 12, (4, 7))
    y[1, 3] = 2  # ends early: nothing after the end counts
    reward = LanguageModelReward(lm)
    word = reward.tokens(y)
    for b in range(4):
        h = c = torch.zeros(1, 1, 6, dtype=torch.float64)
        token = torch.tensor([[1]])
        for t in range(7):
            out, (h, c) = lm.lstm(lm.embedding(token), (h, c))
            log_p = torch.log_softmax(lm.output(out[0, 0]), -1)
            ended = (y[b, :t] == 2).any()
            expected = 0.0 if ended else -log_p[y[b, t]].item()
            assert word[b, t].item() == pytest.approx(expected, abs=1e-12), (b, t)
            token = y[b, t].view(1, 1)
    sentence = reward.sentence(word, y)
    assert sentence[1].item() == pytest.approx(word[1, :4].sum().item() / 4)
    assert sentence[0].item() == pytest.approx(word[0].mean().item())
