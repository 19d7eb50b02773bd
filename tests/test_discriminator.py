import pytest
import torch

import seqgan.kernels.conv as conv_kernels
from seqgan.discriminator import Discriminator
from seqgan.kernels.conv import reference_forward


def test_paper_discriminator_shape():
    d = Discriminator(5000, seq_len=20)
    assert sum(c.out_channels for c in d.convs) == 1720
    assert [c.kernel_size[0] for c in d.convs] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
    assert d(torch.randint(0, 5000, (3, 20))).shape == (3, 2)


def test_rewards_are_computed_with_dropout_off():
    d = Discriminator(50, seq_len=10, emb_dim=8, filter_sizes=[2, 3], num_filters=[16, 16], dropout=0.5)
    d.train()
    x = torch.randint(0, 50, (8, 10))
    p1, p2 = d.prob_real(x), d.prob_real(x, batch_size=3)
    assert torch.allclose(p1, p2)
    assert d.training  # the mode is restored
    assert ((p1 > 0) & (p1 < 1)).all()


def test_l2_penalty_applies_to_the_output_layer_only():
    d = Discriminator(50, seq_len=10, emb_dim=8, filter_sizes=[2], num_filters=[4], l2_reg=0.0).eval()
    x, y = torch.randint(0, 50, (4, 10)), torch.tensor([0, 1, 0, 1])
    base = d.loss(x, y)
    d.l2_reg = 0.2
    expected = 0.2 * 0.5 * (d.out.weight.square().sum() + d.out.bias.square().sum())
    assert torch.allclose(d.loss(x, y) - base, expected)


def test_training_separates_two_distributions():
    torch.manual_seed(0)
    d = Discriminator(20, seq_len=8, emb_dim=8, filter_sizes=[2, 3], num_filters=[16, 16], dropout=0.0)
    real = torch.randint(0, 10, (256, 8))
    fake = torch.randint(10, 20, (256, 8))
    x, y = torch.cat([real, fake]), torch.cat([torch.ones(256), torch.zeros(256)]).long()
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        d.loss(x, y).backward()
        opt.step()
    assert d.prob_real(real).mean() > 0.9 and d.prob_real(fake).mean() < 0.1


def _plain_padded_logits(d, tokens_NxT):
    """D's logits by hand from its parameters: the sequence zero-padded on the right to the widest filter
    (every filter reads the padded sequence, as D's docstring says), conv + bias, ReLU, max over time, highway
    g·relu(W_h x + b_h) + (1 − g)·x with g = sigmoid(W_t x + b_t), output layer. No dropout, no end token."""
    x_NxTxE = d.embedding.weight[tokens_NxT]
    widest = max(conv.kernel_size[0] for conv in d.convs)
    if x_NxTxE.shape[1] < widest:
        pad = x_NxTxE.new_zeros(x_NxTxE.shape[0], widest - x_NxTxE.shape[1], x_NxTxE.shape[2])
        x_NxTxE = torch.cat([x_NxTxE, pad], dim=1)
    feats = []
    for conv in d.convs:
        width = conv.kernel_size[0]
        win_NxPxWxE = x_NxTxE.unfold(1, width, 1).transpose(2, 3)  # win[n, t, k, e] = x[n, t + k, e]
        y_NxPxF = torch.einsum("ntke,fek->ntf", win_NxPxWxE, conv.weight) + conv.bias
        feats.append(torch.relu(y_NxPxF).amax(dim=1))
    x_NxF = torch.cat(feats, dim=1)
    gate = torch.sigmoid(x_NxF @ d.highway_t.weight.T + d.highway_t.bias)
    transform = torch.relu(x_NxF @ d.highway_h.weight.T + d.highway_h.bias)
    highway = gate * transform + (1 - gate) * x_NxF
    return highway @ d.out.weight.T + d.out.bias


def test_sequences_shorter_than_the_widest_filter_are_zero_padded():
    torch.manual_seed(0)
    d = Discriminator(50, seq_len=5, emb_dim=8, filter_sizes=[2, 6], num_filters=[4, 4], dropout=0.0).double().eval()
    tokens = torch.randint(0, 50, (16, 5))  # 5 tokens, the widest filter 6: one zero column on the right

    def check_against_reference():
        expected = _plain_padded_logits(d, tokens)
        with torch.no_grad():
            torch.testing.assert_close(d(tokens), expected, rtol=1e-12, atol=1e-12)  # the scoring path
        torch.testing.assert_close(d(tokens), expected, rtol=1e-12, atol=1e-12)  # the autograd path
        return expected

    before = check_against_reference()
    wide = d.convs[1]
    assert wide.kernel_size[0] == 6
    with torch.no_grad():
        wide.weight.mul_(-1.5).add_(0.05)
    after = check_against_reference()
    assert (after - before).abs().max() > 1e-3  # the padded width's filters reach the logits


def test_what_follows_the_end_token_does_not_change_d():
    torch.manual_seed(0)
    d = Discriminator(30, seq_len=10, emb_dim=8, filter_sizes=[2, 3, 5], num_filters=[6, 6, 6], dropout=0.0, eos_token=2).eval()
    tokens = torch.randint(4, 30, (16, 10))
    tokens[:, 4] = 2  # every sequence ends at position 5
    other = tokens.clone()
    other[:, 5:] = torch.randint(0, 30, (16, 5))
    assert torch.equal(d(tokens), d(other))
    changed_before_end = tokens.clone()
    changed_before_end[:, 3] = (tokens[:, 3] + 1 - 4) % 26 + 4
    assert not torch.allclose(d(tokens), d(changed_before_end))


# ---- the GEMM-over-windows convolutions against the plain Conv1d formulation ---------------------------

def _logits_and_grads(d, tokens, fn, seed=1):
    """Logits of `fn(tokens)` and every parameter's gradient of a fixed random projection of them."""
    d.zero_grad(set_to_none=True)
    logits = fn(tokens)
    weights = torch.randn(logits.shape, generator=torch.Generator().manual_seed(seed), dtype=logits.dtype)
    (logits * weights).sum().backward()
    return logits.detach(), {name: p.grad.clone() for name, p in d.named_parameters() if p.requires_grad}


def _assert_matches_reference(d, tokens, atol=1e-10):
    fast, fast_grads = _logits_and_grads(d, tokens, d)
    ref, ref_grads = _logits_and_grads(d, tokens, lambda t: reference_forward(d, t))
    assert torch.allclose(fast, ref, rtol=0, atol=atol)
    assert fast_grads.keys() == ref_grads.keys()
    for name, grad in fast_grads.items():
        assert torch.allclose(grad, ref_grads[name], rtol=0, atol=atol), name
    with torch.no_grad():  # the scoring path (no autograd, chunked) too
        assert torch.allclose(d(tokens), ref, rtol=0, atol=atol)


@pytest.mark.parametrize("eos", [None, 2])
@pytest.mark.parametrize("seq_len", [12, 5, 3])  # longer than, shorter than and far shorter than the widest filter (6)
def test_forward_and_gradients_equal_the_conv1d_reference(eos, seq_len):
    d = Discriminator(40, seq_len=seq_len, emb_dim=8, filter_sizes=[1, 2, 3, 6, 2], num_filters=[5, 4, 6, 3, 2], dropout=0.0,
                      eos_token=eos).double()
    tokens = torch.randint(3, 40, (9, seq_len))
    if eos is not None:
        tokens[:4, seq_len // 2] = eos  # some sequences end early, with varied tokens after the end
        tokens[4, 0] = eos
    _assert_matches_reference(d, tokens)


def test_ties_in_the_max_share_the_gradient_as_the_reference():
    d = Discriminator(20, seq_len=10, emb_dim=6, filter_sizes=[1, 3, 4], num_filters=[3, 3, 3], dropout=0.0, eos_token=2).double()
    tokens = torch.randint(3, 20, (6, 10))
    tokens[0] = 7                               # every window of a width is identical: exact ties at every t
    tokens[1] = torch.tensor([5, 6] * 5)        # a repeating pattern: ties between some starts
    tokens[2, 1] = 2                            # ends at once: the zero windows after the end tie
    _assert_matches_reference(d, tokens)


def test_paper_discriminator_matches_the_reference_with_dropout_on():
    torch.manual_seed(0)
    d = Discriminator(100, seq_len=20, eos_token=1).double().train()
    tokens = torch.randint(0, 100, (16, 20))
    tokens[:3, 12] = 1
    d.zero_grad()
    torch.manual_seed(5)
    fast, fast_grads = _logits_and_grads(d, tokens, d)
    torch.manual_seed(5)  # the same dropout mask: it is drawn after the features in both
    ref, ref_grads = _logits_and_grads(d, tokens, lambda t: reference_forward(d, t))
    assert torch.allclose(fast, ref, rtol=0, atol=1e-10)
    for name, grad in fast_grads.items():
        assert torch.allclose(grad, ref_grads[name], rtol=0, atol=1e-10), name


def test_float32_matches_the_reference_and_scoring_chunks_agree(monkeypatch):
    d = Discriminator(50, seq_len=20, emb_dim=16, filter_sizes=[1, 2, 5, 20], num_filters=[8, 8, 8, 8], eos_token=3).eval()
    tokens = torch.randint(0, 50, (300, 20))
    with torch.no_grad():
        ref = reference_forward(d, tokens)
        monkeypatch.setattr(conv_kernels, "SCORE_CHUNK_CPU", 7)  # several chunks and a ragged last one
        chunked = d(tokens)
    assert torch.allclose(chunked, ref, rtol=1e-5, atol=1e-5)
    assert torch.allclose(d.prob_real(tokens, batch_size=64), torch.softmax(ref, -1)[:, 1], rtol=1e-5, atol=1e-6)


def test_parameters_keep_the_conv1d_names_and_layout():
    d = Discriminator(50, seq_len=10, emb_dim=8, filter_sizes=[2, 3], num_filters=[4, 5])
    shapes = {name: tuple(p.shape) for name, p in d.state_dict().items()}
    assert shapes["convs.0.weight"] == (4, 8, 2) and shapes["convs.1.weight"] == (5, 8, 3)
    assert shapes["convs.1.bias"] == (5,) and shapes["embedding.weight"] == (50, 8)
    reference = torch.nn.Conv1d(8, 5, 3)
    reference.load_state_dict({"weight": d.convs[1].weight, "bias": d.convs[1].bias})  # a plain Conv1d's checkpoint


def test_a_second_backward_through_the_same_graph_fails_loudly():
    d = Discriminator(20, seq_len=6, emb_dim=4, filter_sizes=[2], num_filters=[3], dropout=0.0).double()
    loss = d(torch.randint(0, 20, (4, 6))).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):  # the saved conv outputs became the max-pool mask
        loss.backward()


def test_a_frozen_embedding_still_gets_the_reference_conv_gradients():
    d = Discriminator(30, seq_len=8, emb_dim=6, filter_sizes=[2, 5], num_filters=[4, 3], dropout=0.0).double()
    d.embedding.weight.requires_grad_(False)  # the windows then need no gradient: that part of the backward is skipped
    tokens = torch.randint(0, 30, (5, 8))
    _assert_matches_reference(d, tokens)


@pytest.mark.parametrize("eos, seq_len, widths", [(None, 9, [1, 2, 3, 5]), (2, 9, [1, 2, 4, 9]), (None, 4, [2, 3, 6])])
def test_rollout_scoring_shares_the_prefix_windows_and_equals_plain_scoring(eos, seq_len, widths, monkeypatch):
    # Widest filter narrower than, equal to, and wider than the sequences (zero-padded); with an end token.
    monkeypatch.setattr(conv_kernels, "SCORE_CHUNK_CPU", 5)  # several chunks per prefix length
    torch.manual_seed(0)
    d = Discriminator(12, seq_len=seq_len, emb_dim=6, filter_sizes=widths, num_filters=[4] * len(widths), dropout=0.5,
                      eos_token=eos).double()
    y = torch.randint(0, 12, (6, seq_len))
    seq_R = torch.randint(0, 6, (60,))
    prefix_R = torch.randint(1, seq_len, (60,))
    rollouts = torch.randint(0, 12, (60, seq_len))
    keep = torch.arange(seq_len) < prefix_R[:, None]
    rollouts[keep] = y[seq_R][keep]  # each rollout keeps its prefix of Y
    d.train()
    shared = d.prob_real_of_rollouts(y, rollouts, seq_R, prefix_R)
    assert d.training  # the mode is restored
    assert torch.allclose(shared, d.prob_real(rollouts), atol=1e-12)
    assert torch.allclose(d.prob_real_of_rollouts(y, rollouts, seq_R, prefix_R, batch_size=7), shared, atol=1e-12)


@pytest.mark.parametrize("p", [0.25, 0.6])
def test_cpu_dropout_keeps_each_value_with_probability_one_minus_p_and_rescales(p):
    x = torch.rand(400, 500, dtype=torch.float64).add_(0.5).requires_grad_()
    torch.manual_seed(3)
    y = conv_kernels.dropout(x, p, training=True)
    kept = y != 0
    # 200,000 Bernoulli(1 − p) draws: the kept fraction is within 5 standard deviations of 1 − p.
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * ((p * (1 - p)) / kept.numel()) ** 0.5
    assert torch.allclose(y[kept], x[kept] / (1 - p), rtol=1e-12, atol=0)
    y.sum().backward()
    assert torch.equal(x.grad, kept.double() / (1 - p))
    torch.manual_seed(3)
    assert torch.equal(conv_kernels.dropout(x, p, training=True), y)  # seeded: the same mask again
    assert conv_kernels.dropout(x, p, training=False) is x
