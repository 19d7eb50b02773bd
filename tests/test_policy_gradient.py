import torch

from seqgan.generator import Generator
from seqgan.policy_gradient import pg_loss, reference_pg_loss
from seqgan.rewards import mean_baseline


def test_pg_step_raises_log_prob_of_rewarded_tokens():
    torch.manual_seed(0)
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5, init_std=0.3)
    y = g.sample(2)
    rewards = torch.tensor([[1.0] * 5, [0.0] * 5])
    before = g.log_probs(y).detach()
    opt = torch.optim.SGD(g.parameters(), lr=0.05)
    opt.zero_grad()
    pg_loss(g, y, rewards).backward()
    opt.step()
    after = g.log_probs(y).detach()
    assert after[0].sum() > before[0].sum()


def test_pg_step_with_a_negative_reward_lowers_the_log_prob():
    torch.manual_seed(0)
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5, init_std=0.3)
    y = g.sample(1)
    before = g.log_probs(y).detach().sum()
    opt = torch.optim.SGD(g.parameters(), lr=0.05)
    opt.zero_grad()
    pg_loss(g, y, -torch.ones(1, 5)).backward()
    opt.step()
    assert g.log_probs(y).detach().sum() < before


def test_pg_loss_is_the_reward_weighted_sum_of_log_probs():
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5).double()
    y = g.sample(3)
    q = torch.rand(3, 5, dtype=torch.float64)
    expected = -(g.log_probs(y) * q).sum()
    assert torch.allclose(pg_loss(g, y, q), expected)


def test_mean_baseline_subtracts_the_batch_mean_per_step():
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5).double()
    y = g.sample(3)
    q = torch.rand(3, 5, dtype=torch.float64)
    expected = -(g.log_probs(y) * (q - q.mean(0))).sum()
    assert torch.allclose(pg_loss(g, y, mean_baseline(q)), expected)
    # A constant reward carries no signal once the baseline removes it.
    assert pg_loss(g, y, mean_baseline(torch.full((3, 5), 0.7, dtype=torch.float64))).abs() < 1e-12


def test_rewards_are_not_differentiated():
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5)
    y = g.sample(2)
    q = torch.rand(2, 5, requires_grad=True)
    pg_loss(g, y, q).backward()
    assert q.grad is None


def test_pg_loss_gradients_equal_those_of_the_plain_reward_weighted_log_probs():
    torch.manual_seed(0)
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=5, init_std=0.3, eos_token=2, start_token=1).double()
    y = g.sample(6)
    q = torch.rand(6, 5, dtype=torch.float64)
    params = list(g.parameters())
    fused = torch.autograd.grad(pg_loss(g, y, q), params)
    logits = g(y)  # plain: materialised logits, log_softmax, masked after the end token
    logp = torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    mask = (torch.cumsum(y == 2, 1) - (y == 2).long()) == 0
    plain = torch.autograd.grad(-(logp * mask * q).sum(), params)
    for a, b in zip(fused, plain):
        assert torch.allclose(a, b, atol=1e-10)


def test_fused_pg_loss_equals_eq_8_as_written_with_end_tokens():
    torch.manual_seed(3)
    g = Generator(20, emb_dim=8, hidden_dim=8, seq_len=6, init_std=0.4, eos_token=2, start_token=1).double()
    y = g.sample(5)
    y[0, 2] = 2  # one sequence ends early: what follows must not count
    q = torch.randn(5, 6, dtype=torch.float64)
    params = list(g.parameters())
    fused = pg_loss(g, y, q)
    plain = reference_pg_loss(g, y, q)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(fused, params), torch.autograd.grad(plain, params)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
