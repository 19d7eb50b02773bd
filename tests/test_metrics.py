import random

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics import BleuScorer


def _nltk(refs, hyp, n):
    return sentence_bleu(refs, hyp, weights=(1.0 / n,) * n, smoothing_function=SmoothingFunction().method1)


@pytest.mark.parametrize("seed", range(6))
def test_bleu_equals_nltk_on_random_inputs(seed):
    rng = random.Random(seed)
    vocab = rng.choice([3, 6, 20])
    refs = [[rng.randrange(vocab) for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 30))]
    scorer = BleuScorer(refs)
    for _ in range(40):
        hyp = [rng.randrange(vocab) for _ in range(rng.randint(0, 14))]
        for n in range(1, 6):
            assert scorer.sentence_bleu(hyp, n) == pytest.approx(_nltk(refs, hyp, n), abs=1e-12, rel=0)


def test_bleu_edge_cases_equal_nltk():
    refs = [["a", "b", "c", "d"], ["a", "b"]]
    scorer = BleuScorer(refs)
    for hyp in ([], ["z"], ["a"], ["a", "b", "c"], ["a", "b", "c", "d", "e", "f"], ["b", "a", "b", "a"]):
        for n in (1, 2, 4):
            assert scorer.sentence_bleu(hyp, n) == pytest.approx(_nltk(refs, hyp, n), abs=1e-12, rel=0)
    assert scorer.sentence_bleu(["a", "b", "c", "d"], 4) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        BleuScorer([])


@pytest.mark.parametrize("seed", range(5))
def test_self_bleu_equals_nltk_with_each_hypothesis_left_out(seed):
    from seqgan.metrics import self_bleu

    rng = random.Random(100 + seed)
    vocab = rng.choice([3, 5, 12])
    hyps = [[rng.randrange(vocab) for _ in range(rng.randint(1, 10))] for _ in range(rng.randint(2, 15))]
    if seed == 0:
        hyps += [list(hyps[0]), list(hyps[0])]  # duplicates: ties for the largest count
    for n in range(1, 6):
        expected = sum(_nltk(hyps[:i] + hyps[i + 1:], h, n) for i, h in enumerate(hyps)) / len(hyps)
        assert self_bleu(hyps, n) == pytest.approx(expected, abs=1e-12, rel=0)


def test_distinct_n():
    from seqgan.metrics import distinct_n

    hyps = [["a", "b", "a"], ["a", "b"]]
    assert distinct_n(hyps, 1) == pytest.approx(2 / 5)
    assert distinct_n(hyps, 2) == pytest.approx(2 / 3)  # (a,b), (b,a), (a,b)
    assert distinct_n([["a"]], 2) == 0.0


def _random_corpus(rng: random.Random, vocab: int, count: int, max_len: int) -> list[list[str]]:
    """Token lists with the awkward cases mixed in: empty, 1-token, long, and exact duplicates."""
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.1:
            length = 0
        elif kind < 0.2:
            length = 1
        else:
            length = rng.randint(2, max_len)
        out.append([f"w{rng.randrange(vocab)}" for _ in range(length)])
    for _ in range(rng.randint(1, 3)):  # duplicates tie for the largest count in Self-BLEU
        out.append(list(rng.choice(out)))
    rng.shuffle(out)
    return out


def _nltk_mean(refs_for, hyps, n):
    """NLTK's sentence_bleu per hypothesis, then the mean, as the benchmark platforms compute it."""
    return sum(_nltk(refs_for(i), h, n) for i, h in enumerate(hyps)) / len(hyps)


@pytest.mark.parametrize("seed", range(8))
def test_text_metrics_bleu_and_self_bleu_equal_nltk(seed):
    from seqgan.metrics import text_metrics

    rng = random.Random(1000 + seed)
    vocab = rng.choice([2, 4, 10, 50])
    max_len = rng.choice([3, 8, 16])
    samples = _random_corpus(rng, vocab, rng.randint(2, 20), max_len)
    references = _random_corpus(rng, vocab, rng.randint(1, 25), max_len)
    self_bleu_max = None if seed % 2 else rng.randint(2, len(samples))
    out = text_metrics(samples, references, max_n=5, self_bleu_max=self_bleu_max)

    self_samples = samples if self_bleu_max is None else samples[:self_bleu_max]
    for n in range(2, 6):
        assert out[f"bleu{n}"] == pytest.approx(_nltk_mean(lambda i: references, samples, n), abs=1e-9, rel=0)
        leave_one_out = _nltk_mean(lambda i: self_samples[:i] + self_samples[i + 1:], self_samples, n)
        assert out[f"self_bleu{n}"] == pytest.approx(leave_one_out, abs=1e-9, rel=0)
    for n in range(1, 5):
        grams = [tuple(s[i:i + n]) for s in samples for i in range(len(s) - n + 1)]
        assert out[f"distinct{n}"] == pytest.approx(len(set(grams)) / len(grams) if grams else 0.0)
    assert out["num_samples"] == len(samples)
    assert out["num_references"] == len(references)
    assert out["num_self_bleu_samples"] == len(self_samples)
    assert out["mean_length"] == pytest.approx(sum(map(len, samples)) / len(samples))
    assert set(out) == {f"bleu{n}" for n in range(2, 6)} | {f"self_bleu{n}" for n in range(2, 6)} | {
        f"distinct{n}" for n in range(1, 5)} | {"num_samples", "num_references", "num_self_bleu_samples", "mean_length"}


def test_text_metrics_max_n_sets_the_keys():
    from seqgan.metrics import text_metrics

    out = text_metrics([["a", "b"], ["b", "c"]], [["a", "b", "c"]], max_n=3)
    assert sorted(k for k in out if k.startswith(("bleu", "self_bleu"))) == ["bleu2", "bleu3", "self_bleu2", "self_bleu3"]


def test_all_orders_at_once_equal_one_order_at_a_time():
    from seqgan.metrics import self_bleu, self_bleu_all, self_bleu_scores

    rng = random.Random(7)
    refs = _random_corpus(rng, 6, 30, 10)
    hyps = _random_corpus(rng, 6, 25, 10)
    scorer = BleuScorer(refs, max_n=5)
    ns = (1, 2, 3, 4, 5)
    for hyp in hyps:
        assert scorer.sentence_bleu_all(hyp, ns) == {n: scorer.sentence_bleu(hyp, n) for n in ns}
    assert scorer.mean_bleu_all(hyps, ns) == {n: scorer.mean_bleu(hyps, n) for n in ns}
    assert self_bleu_all(hyps, ns) == {n: self_bleu(hyps, n) for n in ns}
    per_hyp = self_bleu_scores(hyps, ns)
    for i, h in enumerate(hyps):
        assert per_hyp[3][i] == pytest.approx(_nltk(hyps[:i] + hyps[i + 1:], h, 3), abs=1e-12, rel=0)


def test_text_metrics_with_one_sample_omits_self_bleu():
    from seqgan.metrics import text_metrics

    out = text_metrics([["a", "b", "c"]], [["a", "b", "c"], ["a", "c"]])
    assert not any(k.startswith("self_bleu") for k in out)
    assert out["num_self_bleu_samples"] == 0
    assert out["bleu3"] == pytest.approx(1.0)  # exact match; BLEU-4 of 3 tokens is smoothed below 1
    # self_bleu_max keeps only the first samples for Self-BLEU; BLEU and distinct-n still use all of them.
    out = text_metrics([["a"], ["a"], ["b", "c"]], [["a"]], self_bleu_max=2)
    assert out["num_self_bleu_samples"] == 2 and out["num_samples"] == 3
    assert out["self_bleu2"] == pytest.approx(_nltk([["a"]], ["a"], 2))


@pytest.mark.parametrize(
    ("samples", "references", "kwargs", "match"),
    [
        ([], [["a"]], {}, "samples is empty"),
        ([["a"]], [], {}, "references is empty"),
        (["a b"], [["a"]], {}, r"samples\[0\] is a string"),
        ([["a"]], [["a"], "a b"], {}, r"references\[1\] is a string"),
        ("a b", [["a"]], {}, "samples is a single string"),
        ([["a"]], [["a"]], {"max_n": 1}, "max_n must be >= 2"),
        ([["a"], ["b"]], [["a"]], {"self_bleu_max": 1}, "self_bleu_max must be None"),
    ],
)
def test_text_metrics_rejects_bad_input_with_a_fix(samples, references, kwargs, match):
    from seqgan.metrics import text_metrics

    with pytest.raises(ValueError, match=match):
        text_metrics(samples, references, **kwargs)


def test_scorer_rejects_orders_it_was_not_built_for():
    from seqgan.metrics import self_bleu

    scorer = BleuScorer([["a", "b"]], max_n=3)
    with pytest.raises(ValueError, match="larger max_n"):
        scorer.sentence_bleu_all(["a"], (2, 4))
    with pytest.raises(ValueError, match="at least one hypothesis"):
        scorer.mean_bleu_all([], (2,))
    with pytest.raises(ValueError, match="two hypotheses"):
        self_bleu([["a"]], 2)
