"""LM score and reverse LM score: plain references, the quality-coverage split, seeding, settings."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqgan.data import EOS_ID, Vocabulary, encode_lines
from seqgan.lm_score import LMScoreConfig, lm_score, lm_scores, reverse_lm_score, train_lm

# Big enough to learn the templates of the `text_corpus` fixture in ~0.1 s.
SMALL = LMScoreConfig(emb_dim=16, hidden_dim=16, epochs=10, batch_size=32, lr=0.02, full_epochs_from=0)


def _settings(config):
    return {"emb_dim": config.emb_dim, "hidden_dim": config.hidden_dim, "epochs": config.epochs,
            "batch_size": config.batch_size, "lr": config.lr, "grad_clip": config.grad_clip, "seed": config.seed}


@pytest.fixture
def splits(text_corpus):
    """Real training lines, real held-out lines (samples of the real distribution), real test lines: id tensors."""
    lines = [line.split() for line in text_corpus.read_text().splitlines()]
    vocab = Vocabulary.build(lines[:200])
    seq_len = 1 + max(len(t) for t in lines)
    train, held_out, test = (encode_lines(part, vocab, seq_len)[0] for part in (lines[:200], lines[200:250], lines[250:]))
    return train, held_out, test, len(vocab)


def _plain_nll(lm, tokens_NxT, eos):
    """Per-token NLL by hand: log-softmax of the LM's logits, each row counted up to and including its first <eos>."""
    with torch.no_grad():
        logp_NxTxV = F.log_softmax(lm(tokens_NxT).double(), dim=-1)
    total, count = 0.0, 0
    for row in range(tokens_NxT.shape[0]):
        for t in range(tokens_NxT.shape[1]):
            token = int(tokens_NxT[row, t])
            total -= logp_NxTxV[row, t, token].item()
            count += 1
            if token == eos:
                break
    return total / count


def test_the_scores_are_the_per_token_nll_of_the_right_set_under_the_right_lm(splits):
    train, held_out, test, vocab_size = splits
    samples = torch.cat([held_out[:20], torch.full((5, train.shape[1]), 7)])  # some rows never end: all T count
    real_lm = train_lm(train, vocab_size, **_settings(SMALL))
    sample_lm = train_lm(samples, vocab_size, **_settings(SMALL))
    quality = lm_score(samples, train, vocab_size, config=SMALL)
    coverage = reverse_lm_score(samples, test, vocab_size, config=SMALL)
    assert quality == pytest.approx(_plain_nll(real_lm, samples, EOS_ID), rel=1e-5), \
        "the LM score must be the samples' per-token NLL under the LM trained on the real training data"
    assert coverage == pytest.approx(_plain_nll(sample_lm, test, EOS_ID), rel=1e-5), \
        "the reverse LM score must be the test set's per-token NLL under the LM trained on the samples"
    assert lm_scores(samples, train, test, vocab_size, config=SMALL) == {"lm_score": quality, "reverse_lm_score": coverage}


def test_train_lm_is_teacher_forced_mle_on_every_sequence_given(splits):
    train, _, _, vocab_size = splits
    config = LMScoreConfig(emb_dim=8, hidden_dim=8, epochs=2, batch_size=48, lr=0.01, seed=3)  # 200 = 4·48 + a batch of 8
    lm = train_lm(train, vocab_size, **_settings(config))
    # The plain loop: the same draws (initialisation, then one permutation per epoch), a loss from log-softmax.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        ref = type(lm)(vocab_size, emb_dim=8, hidden_dim=8, seq_len=train.shape[1], start_token=lm.start_token,
                       eos_token=EOS_ID, pad_token=lm.pad_token)
        opt = torch.optim.Adam(ref.parameters(), lr=config.lr)
        for _ in range(config.epochs):
            order = torch.randperm(len(train))
            for lo in range(0, len(order), config.batch_size):
                batch_BxT = train[order[lo:lo + config.batch_size]]
                is_eos = batch_BxT == EOS_ID
                mask_BxT = (is_eos.cumsum(1) - is_eos.long()) == 0  # up to and including the first <eos>
                nll_BxT = -F.log_softmax(ref(batch_BxT), dim=-1).gather(-1, batch_BxT[..., None])[..., 0]
                loss = (nll_BxT * mask_BxT).sum() / mask_BxT.sum()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(ref.parameters(), config.grad_clip)
                opt.step()
    for (name, got), want in zip(lm.state_dict().items(), ref.state_dict().values()):
        assert torch.allclose(got, want, atol=1e-5), f"{name} differs from the plain MLE loop over all sequences"


def test_a_generator_repeating_one_real_sentence_scores_well_on_quality_and_badly_on_coverage(splits):
    train, held_out, test, vocab_size = splits
    real_lm = train_lm(train, vocab_size, **_settings(SMALL))
    per_line = torch.tensor([real_lm.nll_of(train[i:i + 1]) for i in range(len(train))])
    collapsed = train[per_line.argmin()].repeat(len(held_out), 1)  # mode collapse onto the real LM's favourite line
    collapsed_scores = lm_scores(collapsed, train, test, vocab_size, config=SMALL)
    real_scores = lm_scores(held_out, train, test, vocab_size, config=SMALL)  # samples of the real distribution
    assert collapsed_scores["lm_score"] < real_scores["lm_score"] - 0.1, (collapsed_scores, real_scores)
    assert collapsed_scores["reverse_lm_score"] > real_scores["reverse_lm_score"] + 1.0, (collapsed_scores, real_scores)


def test_the_same_seed_gives_the_same_lm_and_the_callers_random_stream_is_untouched(splits):
    train, _, _, vocab_size = splits
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    first = train_lm(train, vocab_size, **_settings(SMALL))
    assert torch.equal(torch.rand(4), expected), "train_lm consumed the caller's random numbers"
    again = train_lm(train, vocab_size, **_settings(SMALL))
    other = train_lm(train, vocab_size, **{**_settings(SMALL), "seed": SMALL.seed + 1})
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(first.output.weight, other.output.weight)


def test_epochs_shrink_only_below_full_epochs_from():
    config = LMScoreConfig(epochs=10, full_epochs_from=2000)
    assert [config.epochs_for(n) for n in (50, 270, 1000, 2000, 10_000)] == [1, 1, 5, 10, 10]
    assert LMScoreConfig(epochs=10, full_epochs_from=0).epochs_for(5) == 10


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs must be a positive integer"),
    ("hidden_dim", 2.5, "hidden_dim must be a positive integer"),
    ("lr", math.nan, "lr must be a finite number > 0"),
    ("grad_clip", -1.0, "grad_clip must be a finite number >= 0"),
    ("full_epochs_from", -1, "full_epochs_from must be an integer >= 0"),
])
def test_bad_settings_are_refused_with_the_fix(field, value, message):
    with pytest.raises(ValueError, match=message):
        LMScoreConfig(**{field: value})


def test_sequences_outside_the_vocabulary_or_empty_are_refused(splits):
    train, held_out, test, vocab_size = splits
    with pytest.raises(ValueError, match="outside the vocabulary"):
        lm_score(held_out, train, vocab_size - 1, config=SMALL)
    with pytest.raises(ValueError, match="is empty"):
        reverse_lm_score(held_out[:0], test, vocab_size, config=SMALL)


def test_a_diverging_lm_stops_loudly_instead_of_scoring_with_nan_weights(splits, monkeypatch):
    from seqgan.errors import TrainingDiverged
    from seqgan.generator import Generator

    train, _, _, vocab_size = splits
    real_nll = Generator.nll
    monkeypatch.setattr(Generator, "nll", lambda self, tokens_BxT: real_nll(self, tokens_BxT) * float("nan"))
    with pytest.raises(TrainingDiverged, match="lower the LM's lr"):
        train_lm(train, vocab_size, **{**_settings(SMALL), "epochs": 1})
