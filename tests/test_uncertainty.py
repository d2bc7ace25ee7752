"""Paired t intervals and the bootstrap of the gap's share, against values computed by hand."""

import math

import pytest

from ssl_teach.uncertainty import gap_share, paired_difference


def test_the_paired_t_interval_is_the_textbook_one():
    # gains 5, 6, 4: mean 5, sd 1, se 1/sqrt(3); t = 5 sqrt(3); t_{0.975, 2} = 4.302653
    d = paired_difference([95.0, 97.0, 93.0], [90.0, 91.0, 89.0])
    assert (d.mean, d.sd, d.n) == (pytest.approx(5.0), pytest.approx(1.0), 3)
    assert d.t == pytest.approx(5 * math.sqrt(3))
    assert (d.low, d.high) == (pytest.approx(5 - 4.302653 / math.sqrt(3), abs=1e-5),
                               pytest.approx(5 + 4.302653 / math.sqrt(3), abs=1e-5))
    # with 2 degrees of freedom the t distribution's tail is 1/2 (1 - t / sqrt(t^2 + 2))
    assert d.p == pytest.approx(1 - d.t / math.sqrt(d.t ** 2 + 2))
    assert d.excludes_zero and "p = 0.013" in str(d)


def test_the_books_two_sd_rule_is_a_paired_t_of_3_46_and_p_of_0_07():
    d = paired_difference([2.0, 3.0, 1.0], [0.0, 0.0, 0.0])  # mean 2 = 2 sd
    assert d.t == pytest.approx(2 * math.sqrt(3)) and d.p == pytest.approx(0.0742, abs=1e-4)
    assert not d.excludes_zero  # the 95 % interval is wider than the 2-sd rule


def test_degenerate_pairs_say_so_instead_of_inventing_an_interval():
    one = paired_difference([91.0], [90.0])
    assert one.mean == 1.0 and math.isnan(one.low) and math.isnan(one.p)
    same = paired_difference([91.0, 92.0], [90.0, 91.0])  # no spread: the mean, no p
    assert same.low == same.high == 1.0 and math.isnan(same.p)
    with pytest.raises(ValueError, match="a and b must pair one to one, got 2 and 1"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence must be in"):
        paired_difference([1.0, 2.0], [1.0, 0.0], confidence=95)
    with pytest.raises(ValueError, match="a must be a non-empty sequence of finite numbers"):
        paired_difference([], [])


def test_the_share_of_the_gap_and_its_bootstrap_over_seeds():
    # FixMatch on MNIST (the store's records): floor 90.0/93.1/91.3, FixMatch 97.6/97.8/97.7, ceiling 98.8/99.1/98.0
    method, floor, ceiling = [97.6, 97.8, 97.7], [90.0, 93.1, 91.3], [98.8, 99.1, 98.0]
    share = gap_share(method, floor, ceiling)
    assert share.estimate == pytest.approx(100 * (97.7 - 91.4667) / (98.6333 - 91.4667), abs=0.01)
    assert share.low < share.estimate < share.high
    # every resample is one of the 10 multisets of the 3 seeds: the interval stays within their shares
    import itertools
    picks = itertools.combinations_with_replacement(range(3), 3)
    shares = [100 * sum(method[i] - floor[i] for i in pick)
              / (sum(ceiling[i] for i in pick) - sum(floor[i] for i in pick)) for pick in picks]
    assert min(shares) - 1e-9 <= share.low and share.high <= max(shares) + 1e-9
    assert gap_share(method, floor, ceiling) == share  # seeded: the same interval every time
    with pytest.raises(ValueError, match="the ceiling .* must be above the floor"):
        gap_share([1.0], [2.0], [1.5])


def test_a_headline_quotes_its_share_with_the_bootstrap_interval_and_nan_where_it_has_none():
    import math

    from ssl_teach.headline import Headline

    h = Headline([97.0, 98.0, 97.5], [90.0, 91.0, 92.0], 99.0, ceiling_accs=[98.5, 99.5, 99.0])
    interval = h.share_interval()
    assert h.share_low <= h.share <= h.share_high and (h.share_low, h.share_high) == (interval.low, interval.high)
    one_seed = Headline([97.0], [90.0], 99.0, ceiling_accs=[99.0])
    below = Headline([50.0, 51.0], [60.0, 61.0], 55.0, ceiling_accs=[55.0, 55.0])  # a smoke run's ceiling
    assert all(math.isnan(v) for v in (*one_seed.share_bounds(), *below.share_bounds()))
