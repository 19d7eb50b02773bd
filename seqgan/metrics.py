"""BLEU as the text-GAN benchmarks define it, fast.

`BleuScorer(references).sentence_bleu(hyp, n)` equals NLTK's
`sentence_bleu(references, hyp, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)`
(nltk 3.10) on every input: the same clipped counts, closest reference length, brevity penalty,
smoothing (ε = 0.1 added to zero numerators) and `math.fsum` of the logs. The difference is that the
per-n-gram maximum count over all references is computed once, so a hypothesis costs a few dictionary
lookups instead of a pass over every reference.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Hashable, Sequence

EPSILON = 0.1  # SmoothingFunction().method1


def ngrams(tokens: Sequence[Hashable], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


class BleuScorer:
    """Sentence BLEU-n of hypotheses against one fixed reference set (the paper uses the whole test set)."""

    def __init__(self, references: Sequence[Sequence[Hashable]], max_n: int = 5):
        if not references:
            raise ValueError("BLEU needs at least one reference")
        self.max_n = max_n
        self.max_counts: list[dict[tuple, int]] = [{} for _ in range(max_n + 1)]
        for ref in references:
            for n in range(1, max_n + 1):
                best = self.max_counts[n]
                for gram, count in Counter(ngrams(ref, n)).items():
                    if count > best.get(gram, 0):
                        best[gram] = count
        self.ref_lengths = sorted({len(ref) for ref in references})

    def closest_ref_length(self, hyp_len: int) -> int:
        """The reference length nearest to hyp_len, the shorter on a tie (as NLTK)."""
        i = bisect.bisect_left(self.ref_lengths, hyp_len)
        candidates = self.ref_lengths[max(0, i - 1):i + 1]
        return min(candidates, key=lambda r: (abs(r - hyp_len), r))

    def sentence_bleu(self, hypothesis: Sequence[Hashable], n: int = 4) -> float:
        if not 1 <= n <= self.max_n:
            raise ValueError(f"n must be in 1..{self.max_n}, got {n}")
        numerators, denominators = [], []
        for k in range(1, n + 1):
            counts = Counter(ngrams(hypothesis, k))
            best = self.max_counts[k]
            numerators.append(sum(min(c, best.get(g, 0)) for g, c in counts.items()))
            denominators.append(max(1, sum(counts.values())))
        if numerators[0] == 0:
            return 0.0
        hyp_len = len(hypothesis)
        ref_len = self.closest_ref_length(hyp_len)
        bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
        logs = (1.0 / n * math.log((num if num else EPSILON) / den) for num, den in zip(numerators, denominators))
        return bp * math.exp(math.fsum(logs))

    def mean_bleu(self, hypotheses: Sequence[Sequence[Hashable]], n: int = 4) -> float:
        """BLEU-n as the benchmark platforms report it: the mean of sentence BLEU over hypotheses."""
        return sum(self.sentence_bleu(h, n) for h in hypotheses) / len(hypotheses)


def self_bleu(hypotheses: Sequence[Sequence[Hashable]], n: int = 4) -> float:
    """Self-BLEU-n (diversity; lower is more diverse): the mean BLEU-n of each hypothesis against all the
    others, the hypothesis itself left out of its references. Equal to NLTK's sentence_bleu per hypothesis.

    For each n-gram it keeps the largest count, which hypothesis holds it, and the largest count among
    the rest, so "max over the other hypotheses" is one lookup instead of a pass over all of them.
    """
    if len(hypotheses) < 2:
        raise ValueError("Self-BLEU needs at least two hypotheses")
    counts = [[Counter(ngrams(h, k)) for k in range(1, n + 1)] for h in hypotheses]
    top: list[dict[tuple, tuple[int, int, int]]] = [{} for _ in range(n)]  # gram -> (best, holder, second)
    for i, per_k in enumerate(counts):
        for k in range(n):
            table = top[k]
            for gram, c in per_k[k].items():
                best, holder, second = table.get(gram, (0, -1, 0))
                table[gram] = (c, i, best) if c > best else (best, holder, max(second, c))
    lengths = Counter(len(h) for h in hypotheses)
    total = 0.0
    for i, hyp in enumerate(hypotheses):
        numerators, denominators = [], []
        for k in range(n):
            table = top[k]
            clipped = 0
            for gram, c in counts[i][k].items():
                best, holder, second = table[gram]
                clipped += min(c, second if holder == i else best)
            numerators.append(clipped)
            denominators.append(max(1, sum(counts[i][k].values())))
        if numerators[0] == 0:
            continue  # BLEU 0
        hyp_len = len(hyp)
        others = [r for r, m in lengths.items() if m > (1 if r == hyp_len else 0)]
        ref_len = min(others, key=lambda r: (abs(r - hyp_len), r))
        bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
        logs = (1.0 / n * math.log((num if num else EPSILON) / den) for num, den in zip(numerators, denominators))
        total += bp * math.exp(math.fsum(logs))
    return total / len(hypotheses)


def distinct_n(hypotheses: Sequence[Sequence[Hashable]], n: int) -> float:
    """Distinct-n: unique n-grams over all n-grams in the hypotheses (0 when there are none)."""
    grams = [g for h in hypotheses for g in ngrams(h, n)]
    return len(set(grams)) / len(grams) if grams else 0.0
