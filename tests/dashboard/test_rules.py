"""The dashboard's pure figures: percentiles, rates with a minimum volume, suppression, peers, quarters."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from portal.dashboard import rules

values = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=200)
ps = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(values, ps, ps)
def test_percentiles_are_monotone_in_p_and_one_of_the_values(data, p, q):
    low, high = sorted((p, q))
    assert rules.percentile(data, low) <= rules.percentile(data, high)
    assert rules.percentile(data, p) in data
    assert min(data) <= rules.percentile(data, p) <= max(data)


def test_percentile_examples():
    assert rules.percentile([], 50) is None
    assert rules.percentile([10, 20, 30, 40], 50) == 20
    assert rules.percentile(list(range(1, 11)), 90) == 9
    assert rules.percentile([7], 0) == 7


@given(st.integers(min_value=0, max_value=10_000))
def test_suppression_never_shows_a_count_below_5(count):
    shown = rules.shown_count(count)
    if count < 5:
        assert shown == "< 5" and rules.suppress(count) is None
    else:
        assert shown == str(count) and int(shown) >= 5


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=1000),
       st.integers(min_value=1, max_value=100))
def test_rates_are_hidden_below_the_minimum_volume(numerator, denominator, min_volume):
    value = rules.rate(min(numerator, denominator), denominator, min_volume)
    if denominator < min_volume:
        assert value is None
    else:
        assert 0 <= value <= 100


def test_rate_at_the_minimum_volume():
    assert rules.rate(3, 19) is None
    assert rules.rate(5, 20) == 25.0


@given(st.dictionaries(st.integers(min_value=1, max_value=50),
                       st.tuples(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100)),
                       max_size=12), st.integers(min_value=1, max_value=50))
def test_the_peer_average_uses_only_peers_with_volume_and_needs_enough_of_them(figures, own):
    figures = {sub: (min(num, den), den) for sub, (num, den) in figures.items()}
    qualifying = [100 * n / d for sub, (n, d) in figures.items() if sub != own and d >= rules.MIN_VOLUME]
    average = rules.peer_average(figures, own)
    if len(qualifying) < rules.MIN_PEERS:
        assert average is None
    else:
        assert abs(average - sum(qualifying) / len(qualifying)) < 1e-9


def test_outliers_are_marked_through_the_signal_rule():
    figures = {1: (2, 40), 2: (3, 40), 3: (2, 40), 4: (3, 40), 5: (30, 40), 6: (30, 10)}
    assert rules.outlier_marks(figures) == {5: "hoger"}


@given(st.integers(min_value=0, max_value=400))
def test_age_buckets(days):
    bucket = rules.age_bucket(days)
    assert bucket == ("0-5" if days <= 5 else "6-20" if days <= 20 else ">20")


def test_the_last_eight_quarters_end_with_today():
    quarters = rules.last_quarters(date(2026, 2, 10))
    assert quarters[0] == (2024, 2) and quarters[-1] == (2026, 1) and len(quarters) == 8
    assert rules.quarter_start(2024, 2) == date(2024, 4, 1)
