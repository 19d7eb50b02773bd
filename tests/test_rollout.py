import pytest
import torch

from seqgan.discriminator import Discriminator
from seqgan.generator import Generator
from seqgan.memory import PeakMemory
from seqgan.rollout import Rollout, batched_rewards, naive_rewards, reward_pass_bytes, rollout_uniforms


def _models(vocab=30, seq_len=7):
    g = Generator(vocab, emb_dim=8, hidden_dim=8, seq_len=seq_len, init_std=0.5).double()
    d = Discriminator(vocab, seq_len=seq_len, emb_dim=8, filter_sizes=[2, 3], num_filters=[4, 4]).double()
    return g, d


def _recorder(d):
    """D's reward that also keeps every batch it scores."""
    seen = []

    def recording_reward(seqs):
        seen.append(seqs.clone())
        return d.prob_real(seqs)

    return seen, recording_reward


@pytest.mark.parametrize("budget_mb", [1024, 0.0001])  # one chunk, and one seed per chunk
def test_batched_rewards_equal_the_naive_loop_given_the_same_draws(budget_mb):
    g, d = _models()
    y = g.sample(5)
    u = rollout_uniforms(5, 7, 3, ).double()
    fast = batched_rewards(g, y, d.prob_real, 3, u, memory_budget_mb=budget_mb)
    slow = naive_rewards(g, y, d.prob_real, 3, u)
    assert fast.shape == (5, 7)
    assert torch.allclose(fast, slow, atol=1e-12)


def test_rollouts_keep_each_prefix_and_q_at_T_is_D_of_Y():
    g, d = _models()
    y = g.sample(4)
    seen, recording_reward = _recorder(d)
    q = batched_rewards(g, y, recording_reward, rollout_num=3)
    rollouts = seen[0].view(6, 3 * 4, 7)  # (prefix length t−1, seed m = n·B + b, T)
    b_of_seed = torch.arange(12) % 4
    for t in range(1, 7):
        assert torch.equal(rollouts[t - 1, :, :t], y[b_of_seed, :t]), f"prefix of length {t} not kept"
    # continuations are sampled, so some differ from the original sequence
    assert not torch.equal(rollouts[0], y[b_of_seed])
    assert torch.equal(seen[-1], y)
    assert torch.allclose(q[:, -1], d.prob_real(y))


def test_q_is_the_mean_over_rollouts():
    g, _ = _models()
    y = g.sample(3)
    # A reward that counts a token: Q at t must be the mean count over rollouts, within [0, 1] scaled.
    reward = lambda s: (s == 0).double().mean(dim=1)  # noqa: E731
    u = rollout_uniforms(3, 7, 4).double()
    q = batched_rewards(g, y, reward, 4, u)
    manual = torch.zeros(3, 7, dtype=torch.float64)
    for n in range(4):
        manual += naive_rewards(g, y, reward, 1, u[n:n + 1])
    assert torch.allclose(q, manual / 4, atol=1e-12)


def test_rollout_policy_moves_exactly_by_the_update_rule():
    g, _ = _models()
    rollout = Rollout(g, update_rate=0.8)
    beta0 = {k: v.clone() for k, v in rollout.policy.state_dict().items()}
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p))
    # Between syncs G_β does not follow G_θ.
    for k, v in rollout.policy.state_dict().items():
        assert torch.equal(v, beta0[k])
    rollout.update(g)
    theta = g.state_dict()
    for k, v in rollout.policy.state_dict().items():
        assert torch.allclose(v, 0.8 * beta0[k] + 0.2 * theta[k], atol=1e-12), k


def test_update_rate_zero_makes_beta_equal_theta():
    g, _ = _models()
    rollout = Rollout(g, update_rate=0.0)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(2.0)
    rollout.update(g)
    for a, b in zip(rollout.policy.parameters(), g.parameters()):
        assert torch.equal(a, b)


def test_rollout_policy_is_not_trained():
    g, _ = _models()
    rollout = Rollout(g)
    assert not any(p.requires_grad for p in rollout.policy.parameters())
    assert all(p.requires_grad for p in g.parameters())


def test_reward_pass_is_chunked_to_the_memory_budget():
    g, d = _models(vocab=30, seq_len=7)
    y = g.sample(8)
    calls = []

    def counting_reward(seqs):
        calls.append(len(seqs))
        return d.prob_real(seqs)

    fixed, per_seed = reward_pass_bytes(g, 8, 7)
    budget_mb = (fixed + 5.5 * per_seed) / 2**20  # room for 5 seeds of the 8 × 4 = 32
    batched_rewards(g, y, counting_reward, rollout_num=4, memory_budget_mb=budget_mb)
    rollout_calls, final_call = calls[:-1], calls[-1]
    assert final_call == 8  # D(Y) once
    assert len(rollout_calls) == 7 and max(rollout_calls) == 6 * 5  # ceil(32 / 5) chunks of ≤ 5 seeds
    assert sum(rollout_calls) == 6 * 32


def test_a_large_rollout_num_stays_within_the_memory_budget():
    torch.manual_seed(0)
    g = Generator(500, emb_dim=16, hidden_dim=16, seq_len=12)
    y = g.sample(16)
    reward = lambda s: s.float().mean(dim=1)  # noqa: E731  (cheap: the pass's own memory is what is measured)
    budget_mb = 8.0
    fixed, per_seed = reward_pass_bytes(g, 16, 12)
    assert 512 * 16 * per_seed > 10 * budget_mb * 2**20, "the test must need many chunks"
    with PeakMemory() as bounded:
        bounded_q = batched_rewards(g, y, reward, 512, memory_budget_mb=budget_mb)
    with PeakMemory() as unbounded:
        unbounded_q = batched_rewards(g, y, reward, 512, memory_budget_mb=4096)
    assert bounded.bytes <= budget_mb * 2**20, f"peak {bounded.bytes / 2**20:.1f} MiB over the {budget_mb} MiB budget"
    assert unbounded.bytes > 10 * bounded.bytes, "the measure must see what the budget saves"
    assert torch.isclose(bounded_q.mean(), unbounded_q.mean(), rtol=0.01)  # the same estimate, other draws


def _ending_models(vocab=12, seq_len=8, eos=2):
    """A generator that often samples the end token, so sequences of many lengths occur."""
    torch.manual_seed(3)
    g = Generator(vocab, emb_dim=8, hidden_dim=8, seq_len=seq_len, init_std=0.5, start_token=1, eos_token=eos,
                  pad_token=0).double()
    with torch.no_grad():
        g.output.bias[eos] += 1.5
    d = Discriminator(vocab, seq_len=seq_len, emb_dim=8, filter_sizes=[2, 3], num_filters=[4, 4], dropout=0.0,
                      eos_token=eos).double()
    return g, d


@pytest.mark.parametrize("budget_mb", [1024, 0.0001])
def test_batched_rewards_with_end_tokens_equal_the_naive_loop(budget_mb):
    g, d = _ending_models()
    y = g.sample(16)
    ends = (y == 2).any(1)
    assert ends.any() and not ends.all(), "want both ended and unfinished sequences"
    u = rollout_uniforms(16, 8, 3).double()
    fast = batched_rewards(g, y, d.prob_real, 3, u, memory_budget_mb=budget_mb)
    slow = naive_rewards(g, y, d.prob_real, 3, u)
    from seqgan.data import valid_mask

    mask = valid_mask(y, 2)
    assert torch.allclose(fast[mask], slow[mask], atol=1e-12)


def test_rollouts_stop_at_the_end_token_and_skip_finished_prefixes():
    g, d = _ending_models()
    y = g.sample(16)
    scored, recording_reward = _recorder(d)
    q = batched_rewards(g, y, recording_reward, rollout_num=2)
    from seqgan.data import lengths, valid_mask

    rollouts = scored[0]
    for row in rollouts:  # every rollout is padded after its first end token
        mask = valid_mask(row[None], 2)[0]
        assert (row[~mask] == 0).all()
    expected_rows = 2 * int((lengths(y, 2)[:, None] > torch.arange(1, 8)).sum())
    assert len(rollouts) == expected_rows, "a prefix that already ended must not be rolled out"
    # From the end token on, Q is D(Y) itself.
    d_y = d.prob_real(y)
    for b, n in enumerate(lengths(y, 2).tolist()):
        assert torch.allclose(q[b, n - 1:], d_y[b].expand(8 - n + 1))


def test_what_follows_the_end_token_changes_neither_loss_nor_reward():
    from seqgan.policy_gradient import pg_loss

    g, d = _ending_models()
    y = g.sample(32)
    ended = (y == 2).any(1)
    noisy = y.clone()
    from seqgan.data import valid_mask

    after_end = ~valid_mask(y, 2)
    noisy[after_end] = torch.randint(3, 12, (int(after_end.sum()),))
    assert ended.any() and not torch.equal(noisy, y)
    u = rollout_uniforms(32, 8, 2).double()
    assert torch.equal(batched_rewards(g, y, d.prob_real, 2, u), batched_rewards(g, noisy, d.prob_real, 2, u))
    rewards = torch.rand(32, 8, dtype=torch.float64)
    assert torch.equal(pg_loss(g, y, rewards), pg_loss(g, noisy, rewards))
    assert torch.equal(g.nll(y), g.nll(noisy))
    assert torch.equal(d.prob_real(y), d.prob_real(noisy))


@pytest.mark.parametrize("ending", [False, True])
def test_prefix_sharing_discriminator_reward_equals_plain_scoring(ending):
    from seqgan.discriminator import DiscriminatorReward

    g, d = _ending_models() if ending else _models()
    y = g.sample(6)
    u = rollout_uniforms(6, y.shape[1], 3).double()
    plain = batched_rewards(g, y, d.prob_real, 3, u)
    shared = batched_rewards(g, y, DiscriminatorReward(d), 3, u)
    assert torch.allclose(shared, plain, atol=1e-12)
