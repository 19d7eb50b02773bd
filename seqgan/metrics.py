"""BLEU as the text-GAN benchmarks define it, fast.

`BleuScorer(references).sentence_bleu(hyp, n)` equals NLTK's
`sentence_bleu(references, hyp, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)`
(nltk 3.10) on every input: the same clipped counts, closest reference length, brevity penalty,
smoothing (ε = 0.1 added to zero numerators) and `math.fsum` of the logs. The difference is that the
per-n-gram maximum count over all references is computed once, so a hypothesis costs a few dictionary
lookups instead of a pass over every reference. The `*_all` variants score several n from one count of
the hypothesis' n-grams: BLEU-n only reads the clipped counts of orders 1..n, which BLEU-5 computes anyway.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

EPSILON = 0.1  # SmoothingFunction().method1
DISTINCT_MAX_N = 4


def ngrams(tokens: Sequence[Hashable], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def ngram_counts(tokens: Sequence[Hashable], max_n: int) -> Counter[tuple]:
    """Counts of the n-grams of every order 1..max_n in one Counter (a gram's order is its length)."""
    t = tuple(tokens)  # slicing a tuple yields the tuple key directly
    length = len(t)
    return Counter(t[i:i + k] for k in range(1, max_n + 1) for i in range(length - k + 1))


def _orders(ns: Iterable[int], max_n: int) -> list[int]:
    """The requested orders, checked against the largest one the counts were built for."""
    orders = list(ns)
    if not orders:
        raise ValueError("ns is empty; pass the BLEU orders to compute, e.g. ns=(2, 3, 4, 5)")
    for n in orders:
        if not 1 <= n <= max_n:
            raise ValueError(f"n must be in 1..{max_n}, got {n}; build the scorer with a larger max_n")
    return orders


def _bleu(numerators: Sequence[int], hyp_len: int, ref_len: int, n: int) -> float:
    """Sentence BLEU-n from the clipped counts of orders 1..n, exactly as NLTK combines them."""
    if numerators[0] == 0:
        return 0.0  # also covers the empty hypothesis
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    # NLTK's denominator is max(1, number of k-grams in the hypothesis); smoothing turns 0/den into ε/den.
    logs = (1.0 / n * math.log((numerators[k] if numerators[k] else EPSILON) / max(1, hyp_len - k)) for k in range(n))
    return bp * math.exp(math.fsum(logs))


class BleuScorer:
    """Sentence BLEU-n of hypotheses against one fixed reference set (the paper uses the whole test set)."""

    def __init__(self, references: Sequence[Sequence[Hashable]], max_n: int = 5):
        if not references:
            raise ValueError("BLEU needs at least one reference")
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        self.max_n = max_n
        # One table for all orders, built in one pass over the references: gram -> its largest count in any one reference.
        best: dict[tuple, int] = {}
        get = best.get
        for ref in references:
            for gram, count in ngram_counts(ref, max_n).items():
                if count > get(gram, 0):
                    best[gram] = count
        self.max_counts = best
        self.ref_lengths = sorted({len(ref) for ref in references})

    def closest_ref_length(self, hyp_len: int) -> int:
        """The reference length nearest to hyp_len, the shorter on a tie (as NLTK)."""
        i = bisect.bisect_left(self.ref_lengths, hyp_len)
        candidates = self.ref_lengths[max(0, i - 1):i + 1]
        return min(candidates, key=lambda r: (abs(r - hyp_len), r))

    def clipped_counts(self, hypothesis: Sequence[Hashable], n: int) -> list[int]:
        """NLTK's modified-precision numerators for orders 1..n: each n-gram count clipped by its reference maximum."""
        numerators = [0] * n
        get = self.max_counts.get
        for gram, c in ngram_counts(hypothesis, n).items():
            best = get(gram, 0)
            numerators[len(gram) - 1] += c if c < best else best
        return numerators

    def sentence_bleu(self, hypothesis: Sequence[Hashable], n: int = 4) -> float:
        _orders((n,), self.max_n)
        return _bleu(self.clipped_counts(hypothesis, n), len(hypothesis), self.closest_ref_length(len(hypothesis)), n)

    def sentence_bleu_all(self, hypothesis: Sequence[Hashable], ns: Iterable[int] = (2, 3, 4, 5)) -> dict[int, float]:
        """Sentence BLEU-n for each n in ns, from one count of the hypothesis' n-grams."""
        orders = _orders(ns, self.max_n)
        numerators = self.clipped_counts(hypothesis, max(orders))
        hyp_len = len(hypothesis)
        ref_len = self.closest_ref_length(hyp_len)
        return {n: _bleu(numerators, hyp_len, ref_len, n) for n in orders}

    def mean_bleu(self, hypotheses: Sequence[Sequence[Hashable]], n: int = 4) -> float:
        """BLEU-n as the benchmark platforms report it: the mean of sentence BLEU over hypotheses."""
        return self.mean_bleu_all(hypotheses, (n,))[n]

    def mean_bleu_all(self, hypotheses: Sequence[Sequence[Hashable]], ns: Iterable[int] = (2, 3, 4, 5)) -> dict[int, float]:
        """mean_bleu for each n in ns, sharing the n-gram counting of each hypothesis across the orders."""
        if not hypotheses:
            raise ValueError("mean BLEU needs at least one hypothesis")
        orders = _orders(ns, self.max_n)
        scores: dict[int, list[float]] = {n: [] for n in orders}
        for hyp in hypotheses:
            for n, value in self.sentence_bleu_all(hyp, orders).items():
                scores[n].append(value)
        return {n: sum(values) / len(values) for n, values in scores.items()}


def self_bleu_scores(hypotheses: Sequence[Sequence[Hashable]], ns: Iterable[int] = (2, 3, 4, 5)) -> dict[int, list[float]]:
    """Per hypothesis, its BLEU-n against all the other hypotheses (itself left out), for each n in ns.

    For each n-gram it keeps the largest count, which hypothesis holds it, and the largest count among
    the rest, so "max over the other hypotheses" is one lookup instead of a pass over all of them.
    """
    if len(hypotheses) < 2:
        raise ValueError("Self-BLEU needs at least two hypotheses")
    orders = list(ns)
    if not orders or min(orders) < 1:
        raise ValueError(f"ns must be a non-empty list of orders >= 1, got {orders}")
    max_n = max(orders)
    counts = [ngram_counts(h, max_n) for h in hypotheses]
    top: dict[tuple, tuple[int, int, int]] = {}  # gram -> (best, holder, second), all orders in one table
    get = top.get
    for i, per_hyp in enumerate(counts):
        for gram, c in per_hyp.items():
            best, holder, second = get(gram, (0, -1, 0))
            top[gram] = (c, i, best) if c > best else (best, holder, max(second, c))
    lengths = Counter(len(h) for h in hypotheses)
    scores: dict[int, list[float]] = {n: [] for n in orders}
    for i, hyp in enumerate(hypotheses):
        numerators = [0] * max_n
        for gram, c in counts[i].items():
            best, holder, second = top[gram]
            numerators[len(gram) - 1] += min(c, second if holder == i else best)
        hyp_len = len(hyp)
        # The other hypotheses' lengths: hyp_len itself only if another hypothesis has it too.
        others = [r for r, m in lengths.items() if m > (1 if r == hyp_len else 0)]
        ref_len = min(others, key=lambda r: (abs(r - hyp_len), r))
        for n in orders:
            scores[n].append(_bleu(numerators, hyp_len, ref_len, n))
    return scores


def self_bleu_all(hypotheses: Sequence[Sequence[Hashable]], ns: Iterable[int] = (2, 3, 4, 5)) -> dict[int, float]:
    """Self-BLEU-n for each n in ns: the mean of self_bleu_scores, from one pass over the hypotheses."""
    return {n: sum(values) / len(values) for n, values in self_bleu_scores(hypotheses, ns).items()}


def self_bleu(hypotheses: Sequence[Sequence[Hashable]], n: int = 4) -> float:
    """Self-BLEU-n (diversity; lower is more diverse): the mean BLEU-n of each hypothesis against all the
    others, the hypothesis itself left out of its references. Equal to NLTK's sentence_bleu per hypothesis.
    """
    return self_bleu_all(hypotheses, (n,))[n]


def distinct_n(hypotheses: Sequence[Sequence[Hashable]], n: int) -> float:
    """Distinct-n: unique n-grams over all n-grams in the hypotheses (0 when there are none)."""
    grams = [g for h in hypotheses for g in ngrams(h, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _check_token_lists(name: str, sentences: Sequence[Sequence[Hashable]]) -> None:
    """Reject the usual mistakes with a message that says the fix."""
    if isinstance(sentences, str):
        raise ValueError(f"{name} is a single string; pass a list of token lists, e.g. [line.split() for line in lines]")
    if len(sentences) == 0:
        raise ValueError(f"{name} is empty; pass at least one tokenized sentence")
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            # A string is a sequence too, so it would silently be scored character by character.
            raise ValueError(f"{name}[{i}] is a string, not a token list; tokenize first, e.g. [line.split() for line in lines]")


def text_metrics(
    samples: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    max_n: int = 5,
    self_bleu_max: int | None = None,
) -> dict[str, float]:
    """BLEU, Self-BLEU and distinct-n of tokenized samples against tokenized references, as one flat dict.

    Keys: `bleu2`..`bleu{max_n}` (mean sentence BLEU-n of each sample against all references),
    `self_bleu2`..`self_bleu{max_n}` (each sample against the other samples; only the first `self_bleu_max`
    samples when given, as Texygen uses the first 500), `distinct1`..`distinct4` (over all samples),
    `num_samples`, `num_references`, `num_self_bleu_samples` and `mean_length` (tokens per sample).
    Self-BLEU needs two samples: with fewer, its keys are left out and `num_self_bleu_samples` is 0.
    """
    _check_token_lists("samples", samples)
    _check_token_lists("references", references)
    if max_n < 2:
        raise ValueError(f"max_n must be >= 2 (the dict starts at BLEU-2), got {max_n}")
    if self_bleu_max is not None and self_bleu_max < 2:
        raise ValueError(f"self_bleu_max must be None (all samples) or >= 2, got {self_bleu_max}")
    orders = range(2, max_n + 1)
    out: dict[str, float] = {}
    for n, value in BleuScorer(references, max_n).mean_bleu_all(samples, orders).items():
        out[f"bleu{n}"] = value
    self_samples = samples if self_bleu_max is None else samples[:self_bleu_max]
    if len(self_samples) >= 2:
        for n, value in self_bleu_all(self_samples, orders).items():
            out[f"self_bleu{n}"] = value
    for n in range(1, DISTINCT_MAX_N + 1):
        out[f"distinct{n}"] = distinct_n(samples, n)
    out["num_samples"] = len(samples)
    out["num_references"] = len(references)
    out["num_self_bleu_samples"] = len(self_samples) if len(self_samples) >= 2 else 0
    out["mean_length"] = sum(len(s) for s in samples) / len(samples)
    return out
