import torch

from seqgan.discriminator import Discriminator


def test_paper_discriminator_shape():
    d = Discriminator(5000, 20)
    assert sum(c.out_channels for c in d.convs) == 1720
    assert [c.kernel_size[0] for c in d.convs] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
    assert d(torch.randint(0, 5000, (3, 20))).shape == (3, 2)


def test_rewards_are_computed_with_dropout_off():
    d = Discriminator(50, 10, 8, [2, 3], [16, 16], dropout=0.5)
    d.train()
    x = torch.randint(0, 50, (8, 10))
    p1, p2 = d.prob_real(x), d.prob_real(x, batch_size=3)
    assert torch.allclose(p1, p2)
    assert d.training  # the mode is restored
    assert ((p1 > 0) & (p1 < 1)).all()


def test_l2_penalty_applies_to_the_output_layer_only():
    d = Discriminator(50, 10, 8, [2], [4], l2_reg=0.0).eval()
    x, y = torch.randint(0, 50, (4, 10)), torch.tensor([0, 1, 0, 1])
    base = d.loss(x, y)
    d.l2_reg = 0.2
    expected = 0.2 * 0.5 * (d.out.weight.square().sum() + d.out.bias.square().sum())
    assert torch.allclose(d.loss(x, y) - base, expected)


def test_training_separates_two_distributions():
    torch.manual_seed(0)
    d = Discriminator(20, 8, 8, [2, 3], [16, 16], dropout=0.0)
    real = torch.randint(0, 10, (256, 8))
    fake = torch.randint(10, 20, (256, 8))
    x, y = torch.cat([real, fake]), torch.cat([torch.ones(256), torch.zeros(256)]).long()
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        d.loss(x, y).backward()
        opt.step()
    assert d.prob_real(real).mean() > 0.9 and d.prob_real(fake).mean() < 0.1


def test_sequences_shorter_than_the_widest_filter_are_zero_padded():
    d = Discriminator(50, 5, 8, [2, 6], [4, 4]).eval()
    tokens = torch.randint(0, 50, (3, 5))
    x = d.embedding(tokens).transpose(1, 2)
    x = torch.nn.functional.pad(x, (0, 1))  # to width 6 by hand
    wide = torch.relu(d.convs[1](x)).amax(-1)
    assert wide.shape == (3, 4)
    assert d(tokens).shape == (3, 2)


def test_what_follows_the_end_token_does_not_change_d():
    torch.manual_seed(0)
    d = Discriminator(30, 10, 8, [2, 3, 5], [6, 6, 6], dropout=0.0, eos_token=2).eval()
    tokens = torch.randint(4, 30, (16, 10))
    tokens[:, 4] = 2  # every sequence ends at position 5
    other = tokens.clone()
    other[:, 5:] = torch.randint(0, 30, (16, 5))
    assert torch.equal(d(tokens), d(other))
    changed_before_end = tokens.clone()
    changed_before_end[:, 3] = (tokens[:, 3] + 1 - 4) % 26 + 4
    assert not torch.allclose(d(tokens), d(changed_before_end))
