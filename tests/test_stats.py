import math

import pytest

from seqgan.stats import mean_std, student_t_two_sided_p, welch_t_test


def test_mean_and_sample_std_by_hand():
    m, s = mean_std([8.7, 8.8, 9.0])
    assert m == pytest.approx(8.8333333333)
    assert s == pytest.approx(math.sqrt(((8.7 - m) ** 2 + (8.8 - m) ** 2 + (9.0 - m) ** 2) / 2))
    assert math.isnan(mean_std([1.0])[1])


@pytest.mark.parametrize("t", [0.0, 0.5, 1.3, 4.0, 12.0])
def test_t_distribution_closed_forms(t):
    # df = 1 is the Cauchy distribution; df = 2 has F(t) = 1/2 + t / (2·sqrt(2 + t²)).
    assert student_t_two_sided_p(t, 1.0) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)
    assert student_t_two_sided_p(t, 2.0) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)


@pytest.mark.parametrize("t, df, p", [(2.228, 10, 0.05), (2.571, 5, 0.05), (3.169, 10, 0.01), (1.96, 1e6, 0.05)])
def test_t_distribution_matches_printed_tables(t, df, p):
    assert student_t_two_sided_p(t, df) == pytest.approx(p, abs=2e-4)


def test_welch_by_hand():
    a, b = [8.70, 8.75, 8.80], [9.00, 9.10, 9.02]
    t, df, p = welch_t_test(a, b)
    va, vb = mean_std(a)[1] ** 2 / 3, mean_std(b)[1] ** 2 / 3
    assert t == pytest.approx((sum(a) / 3 - sum(b) / 3) / math.sqrt(va + vb))
    assert df == pytest.approx((va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2))
    assert p == pytest.approx(student_t_two_sided_p(t, df)) and p < 0.01
    assert all(math.isnan(x) for x in welch_t_test([1.0], [2.0, 3.0]))
