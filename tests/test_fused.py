import pytest
import torch

from seqgan.kernels.fused import augment, needs_shift, reference_token_nll, reference_weighted_nll, token_nll, weighted_nll


def _problem(scale: float, rows: int = 600, vocab: int = 40, hidden: int = 8):
    torch.manual_seed(0)
    h = (scale * torch.randn(rows, hidden, dtype=torch.float64)).requires_grad_()  # > one block of rows
    w = torch.randn(vocab, hidden, dtype=torch.float64, requires_grad=True)
    b = torch.randn(vocab, dtype=torch.float64, requires_grad=True)
    return h, w, b, torch.randint(0, vocab, (rows,))


@pytest.mark.parametrize("scale", [1.0, 200.0])  # logits in exp's range (no max-shift), and far outside it
def test_weighted_nll_and_its_gradients_equal_the_plain_cross_entropy(scale):
    h, w, b, t = _problem(scale)
    assert needs_shift(*augment(h, w, b)) == (scale > 1.0)
    weights = torch.randn(600, dtype=torch.float64)  # signed, as rewards with a baseline are
    weights[::5] = 0.0  # masked positions
    fused = weighted_nll(h, w, b, t, weights)
    plain = reference_weighted_nll(h, w, b, t, weights)
    assert torch.allclose(fused, plain, rtol=1e-12)
    for a, c in zip(torch.autograd.grad(3.0 * fused, (h, w, b)), torch.autograd.grad(3.0 * plain, (h, w, b))):
        assert torch.allclose(a, c, atol=1e-10)
    with torch.no_grad():  # without gradients the forward-only path gives the same loss
        assert torch.allclose(weighted_nll(h, w, b, t, weights), plain, rtol=1e-12)


def test_weighted_nll_takes_no_gradient_into_its_weights():
    h, w, b, t = _problem(1.0)
    weights = torch.rand(600, dtype=torch.float64, requires_grad=True)
    weighted_nll(h, w, b, t, weights).backward()
    assert weights.grad is None and h.grad is not None


@pytest.mark.parametrize("scale", [1.0, 200.0])
def test_token_nll_is_exact_with_and_without_the_max_shift(scale):
    h, w, b, t = _problem(scale)
    plain = reference_token_nll(h, w, b, t)
    assert torch.isfinite(token_nll(h, w, b, t)).all()
    assert torch.allclose(token_nll(h, w, b, t), plain, rtol=1e-12, atol=1e-12)


def test_the_shift_is_skipped_only_when_the_bound_allows():
    h, w, b, _ = _problem(1.0, vocab=5000)
    h_aug, w_aug = augment(h.detach(), w.detach(), b.detach())
    bound = h_aug.norm(dim=1).amax() * w_aug.norm(dim=0).amax()
    assert not needs_shift(h_aug, w_aug) and bound < 700  # float64: exp stays finite for |logit| < ~700
    assert needs_shift(h_aug.float() * 20, w_aug.float())  # float32 overflows past ~88
