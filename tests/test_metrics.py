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
