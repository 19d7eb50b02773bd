import math

import pytest
import torch

from seqgan.generator import Generator
from seqgan.kernels.sampling import sample_from_logits
from seqgan.scheduled_sampling import scheduled_sampling_nll, teacher_forcing_prob


@pytest.mark.parametrize("schedule, step, total, k, floor, expected", [
    ("linear", 0, 100, 0.0, 0.0, 1.0),
    ("linear", 25, 100, 0.0, 0.0, 0.75),
    ("linear", 100, 100, 0.0, 0.1, 0.1),
    ("exponential", 0, 100, 0.99, 0.0, 1.0),
    ("exponential", 10, 100, 0.99, 0.0, 0.99 ** 10),
    ("inverse_sigmoid", 0, 100, 10.0, 0.0, 10 / 11),
    ("inverse_sigmoid", 50, 100, 10.0, 0.0, 10 / (10 + math.exp(5))),
])
def test_schedule_values(schedule, step, total, k, floor, expected):
    assert teacher_forcing_prob(step, total, schedule, k, floor) == pytest.approx(expected)


def test_schedules_fall_monotonically():
    for schedule, k in [("linear", 0), ("exponential", 0.98), ("inverse_sigmoid", 20)]:
        values = [teacher_forcing_prob(i, 200, schedule, k) for i in range(0, 201, 10)]
        assert all(a >= b for a, b in zip(values, values[1:])) and values[-1] < values[0]


def test_full_teacher_forcing_is_plain_mle():
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=6).double()
    y = g.sample(5)
    assert torch.allclose(scheduled_sampling_nll(g, y, 1.0), g.nll(y), atol=1e-10)


def test_no_teacher_forcing_feeds_own_samples():
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=6, init_std=0.5).double()
    y = g.sample(4)
    draws = torch.rand(4, 6, 2, dtype=torch.float64)
    got = scheduled_sampling_nll(g, y, 0.0, draws)
    # Manual loop: the input at t+1 is the model's own sample at t, the target the true token.
    table = g.input_table()
    h, c = g.zero_state(4)
    inputs = torch.zeros(4, dtype=torch.long)
    nll = []
    for t in range(6):
        h, c = g.step(table, inputs, h, c)
        logits = g.output(h)
        nll.append(torch.nn.functional.cross_entropy(logits, y[:, t], reduction="none"))
        inputs = sample_from_logits(logits, draws[:, t, 1])
    assert torch.allclose(got, torch.stack(nll, 1).mean(), atol=1e-10)
    assert not torch.allclose(got, g.nll(y))


def test_mixed_teacher_forcing_flips_one_coin_per_token():
    # Bengio et al. 2015: for every token, the true previous token with probability ε, else the model's own sample
    # from its distribution at that step (not the argmax); the loss is the NLL of the true token at every position.
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=6, init_std=0.5).double()
    y = g.sample(16)
    draws = torch.rand(16, 6, 2, dtype=torch.float64)
    eps = 0.5
    got = scheduled_sampling_nll(g, y, eps, draws)
    table = g.input_table()
    h, c = g.zero_state(16)
    inputs = torch.zeros(16, dtype=torch.long)
    nll, mixed = [], []
    for t in range(6):
        h, c = g.step(table, inputs, h, c)
        logits = g.output(h)
        nll.append(torch.nn.functional.cross_entropy(logits, y[:, t], reduction="none"))
        own = sample_from_logits(logits, draws[:, t, 1])
        use_true = draws[:, t, 0] < eps
        mixed.append(use_true)
        inputs = torch.where(use_true, y[:, t], own)
    assert torch.allclose(got, torch.stack(nll, 1).mean(), atol=1e-10)
    coins = torch.stack(mixed[:-1], 1)
    assert coins.any() and not coins.all()
    assert (coins.any(1) & ~coins.all(1)).any()  # some sequence mixes true and own tokens: a coin per token
