import pytest
import torch

import seqgan.kernels.sampling as sampling_kernels
from seqgan.generator import Generator
from seqgan.kernels.fused import reference_token_nll, token_nll
from seqgan.kernels.sampling import (
    cdf_chunk,
    inverse_cdf,
    reference_inverse_cdf,
    reference_sample_from_logits,
    sample_from_hidden,
    sample_from_logits,
)


def test_log_prob_at_t_does_not_depend_on_later_tokens():
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=7).double()
    y = g.sample(4)
    changed = y.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 30
    lp, lp_changed = g.log_probs(y), g.log_probs(changed)
    assert torch.allclose(lp[:, :4], lp_changed[:, :4], atol=0, rtol=0)
    assert not torch.allclose(lp[:, 4:], lp_changed[:, 4:])  # the change is visible where it should be


def test_stepwise_states_equal_the_fused_lstm():
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=7).double()
    y = g.sample(5)
    h, _ = g.states(y)
    logp = torch.log_softmax(g.output(h), -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(logp, g.log_probs(y), atol=1e-10)


def test_inverse_cdf_sampler_follows_the_softmax():
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0]], dtype=torch.float64)
    n = 200_000
    tokens = sample_from_logits(logits.expand(n, 4), torch.rand(n, dtype=torch.float64))
    freq = torch.bincount(tokens, minlength=4).double() / n
    assert torch.allclose(freq, torch.softmax(logits[0], -1), atol=0.005)


def test_inverse_cdf_boundaries():
    logits = torch.log(torch.tensor([[0.25, 0.25, 0.5]]))
    u = torch.tensor([0.0, 0.2499, 0.2501, 0.4999, 0.5001, 0.999999])
    assert sample_from_logits(logits.expand(6, 3), u).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("vocab", [1000, 997])  # chunks of 125; a prime V with a ragged last chunk of 128
def test_two_level_inverse_cdf_equals_one_cumsum_over_the_vocabulary(vocab):
    assert vocab > 2 * cdf_chunk(vocab), "the test must reach the two-level path"
    torch.manual_seed(0)
    weights = torch.exp(3 * torch.randn(4000, vocab, dtype=torch.float64))
    weights[:, ::7] = 0.0  # tokens of zero probability
    u = torch.rand(4000, dtype=torch.float64)
    u[:3] = torch.tensor([0.0, 0.5, 1.0 - 2.0 ** -53])
    assert torch.equal(inverse_cdf(weights, u), reference_inverse_cdf(weights, u))


@pytest.mark.parametrize("vocab", [40, 1000, 997])
def test_sampler_never_draws_a_token_of_zero_weight(vocab):
    torch.manual_seed(1)
    logits = torch.randn(3000, vocab)
    logits[:, 1::2] = float("-inf")  # every odd token impossible, the last one included when V is even
    logits[:, -1] = float("-inf")
    u = torch.rand(3000)
    u[:1000] = 1.0 - 2.0 ** -24  # the largest float32 uniform, where u·total rounds up to the total
    u[1000:1100] = 0.0
    tokens = sample_from_logits(logits, u)
    assert torch.isfinite(logits.gather(1, tokens[:, None])).all()


def test_samples_from_large_logits_need_and_get_the_max_shift():
    torch.manual_seed(2)
    h = 40 * torch.randn(500, 8, dtype=torch.float64)  # logits far beyond exp's range
    w, b = torch.randn(8, 600, dtype=torch.float64), torch.randn(600, dtype=torch.float64)
    u = torch.rand(500, dtype=torch.float64)
    logits = h @ w + b
    reference = reference_sample_from_logits(logits, u)
    assert torch.equal(sample_from_logits(logits, u), reference)
    assert torch.equal(sample_from_hidden(h, torch.cat([w, b[None]]), u), reference)


@pytest.mark.parametrize("block", [None, 256])  # the block in use; 256: two full blocks and a ragged one
@pytest.mark.parametrize("vocab", [50, 1000, 997])  # one-level, two-level, two-level with a ragged chunk
def test_blocked_sampler_equals_direct_sampler_across_blocks(vocab, block, monkeypatch):
    if block:
        monkeypatch.setattr(sampling_kernels, "SAMPLE_BLOCK_ROWS", block)
    torch.manual_seed(0)
    h = torch.randn(700, 8, dtype=torch.float64)
    w, b = torch.randn(8, vocab, dtype=torch.float64), torch.randn(vocab, dtype=torch.float64)
    u = torch.rand(700, dtype=torch.float64)
    w_aug = torch.cat([w, b[None]])
    assert torch.equal(sample_from_hidden(h, w_aug, u), sample_from_logits(h @ w + b, u))
    assert torch.equal(sample_from_hidden(h, w_aug, u, temperature=0.5), sample_from_logits((h @ w + b) / 0.5, u))


def test_a_generator_s_samples_do_not_depend_on_the_sampler_s_block_size(monkeypatch):
    # the block size is a speed setting (benchmarks/bench_blocks.py measures it): the same seed, the same sequences
    g = Generator(300, emb_dim=8, hidden_dim=16, seq_len=7, init_std=1.0)
    draws = []
    for block in (sampling_kernels.SAMPLE_BLOCK_ROWS, 100, 64):
        monkeypatch.setattr(sampling_kernels, "SAMPLE_BLOCK_ROWS", block)
        torch.manual_seed(5)
        draws.append(g.sample(1500))
    assert all(torch.equal(draws[0], d) for d in draws[1:])


def test_sampling_is_reproducible_and_temperature_sharpens():
    g = Generator(50, emb_dim=8, hidden_dim=8, seq_len=6, init_std=1.0)
    u = torch.rand(3000, 6)
    assert torch.equal(g.sample(3000, uniforms_NxT=u), g.sample(3000, uniforms_NxT=u))
    cold, hot = g.sample(3000, temperature=0.3), g.sample(3000, temperature=3.0)
    assert g.log_probs(cold).mean() > g.log_probs(hot).mean()
    with pytest.raises(ValueError, match="temperature"):
        g.sample(2, temperature=0.0)


def test_reference_initialisation():
    g = Generator(5000)
    assert g.embedding.weight.std().item() == pytest.approx(0.1, rel=0.05)
    assert g.output.weight.std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.count_nonzero(g.lstm.bias_hh_l0) == 0


def test_fused_nll_and_its_gradients_equal_the_plain_cross_entropy():
    torch.manual_seed(0)
    h = torch.randn(600, 8, dtype=torch.float64, requires_grad=True)  # > one block of rows
    w = torch.randn(40, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(40, dtype=torch.float64, requires_grad=True)
    t, weights = torch.randint(0, 40, (600,)), torch.rand(600, dtype=torch.float64)
    fused = token_nll(h, w, b, t)
    plain = reference_token_nll(h, w, b, t)
    assert torch.allclose(fused, plain, atol=1e-12)
    for a, c in zip(torch.autograd.grad((fused * weights).sum(), (h, w, b)),
                    torch.autograd.grad((plain * weights).sum(), (h, w, b))):
        assert torch.allclose(a, c, atol=1e-12)


def test_mle_step_lowers_the_loss():
    torch.manual_seed(0)
    g = Generator(30, emb_dim=8, hidden_dim=8, seq_len=6)
    data = g.sample(64) % 5  # a narrow distribution to learn
    opt = torch.optim.Adam(g.parameters(), lr=0.01)
    first = g.nll(data).item()
    for _ in range(20):
        opt.zero_grad()
        g.nll(data).backward()
        opt.step()
    assert g.nll(data).item() < first - 0.5


def test_sampling_stops_at_the_end_token_and_pads_after_it():
    torch.manual_seed(0)
    g = Generator(10, emb_dim=8, hidden_dim=8, seq_len=12, init_std=0.5, start_token=1, eos_token=2, pad_token=0)
    with torch.no_grad():
        g.output.bias[2] += 2.0
    y = g.sample(200)
    from seqgan.data import valid_mask

    mask = valid_mask(y, 2)
    assert (y[~mask] == 0).all(), "positions after <eos> must be <pad>"
    assert (y == 2).any(1).float().mean() > 0.5
    # The NLL counts each sequence up to and including its end token, never the padding.
    per_token = g.token_nll(y)
    assert (per_token[~mask] == 0).all()
    assert torch.allclose(g.nll(y), per_token.sum() / mask.sum())
    # Rows that end leave the batch, but the draws of the others are those of one full pass.
    u = torch.rand(50, 12)
    full = g.sample(50, uniforms_NxT=u)
    for i in range(0, 50, 7):
        assert torch.equal(g.sample(1, uniforms_NxT=u[i:i + 1])[0], full[i])
