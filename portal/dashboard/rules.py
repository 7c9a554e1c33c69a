"""Pure figures for the dashboard: percentiles, rates with a minimum volume, small-number suppression,
outlier marks, age buckets and quarters. No I/O, no framework (hypothesis-tested)."""

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from portal.signals.rules import find_outliers

MIN_VOLUME = 20  # no rate is shown for fewer allocation requests / decisions than this
SUPPRESS_BELOW = 5  # counts of fewer than 5 residents are never shown in aggregates by neighbourhood
MIN_PEERS = 3  # a peer average needs at least this many peers, else one peer's figure could be read back
SUPPRESSED = "< 5"
AGE_BUCKETS = ("0-5", "6-20", ">20")  # working days since the status started
LEGAL_FLOW_DAYS = 8 * 7  # Wmo 2015: 6 weeks assessment (art. 2.3.2) + 2 weeks decision (art. 2.3.5)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; None for no values. Monotone in ``p``."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(numerator: int, denominator: int, min_volume: int = MIN_VOLUME) -> float | None:
    """``numerator / denominator`` as a percentage, or None (hidden) below the minimum volume."""
    if denominator < max(1, min_volume):
        return None
    return 100.0 * numerator / denominator


def suppress(count: int, threshold: int = SUPPRESS_BELOW) -> int | None:
    """The count, or None when it is below the threshold (shown as "< 5")."""
    return count if count >= threshold else None


def shown_count(count: int, threshold: int = SUPPRESS_BELOW) -> str:
    value = suppress(count, threshold)
    return SUPPRESSED if value is None else str(value)


def age_bucket(working_days: int) -> str:
    if working_days <= 5:
        return AGE_BUCKETS[0]
    if working_days <= 20:
        return AGE_BUCKETS[1]
    return AGE_BUCKETS[2]


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def last_quarters(today: date, n: int = 8) -> list[tuple[int, int]]:
    """The ``n`` quarters up to and including today's, oldest first."""
    year, quarter = quarter_of(today)
    index = year * 4 + quarter - 1
    return [(i // 4, i % 4 + 1) for i in range(index - n + 1, index + 1)]


def quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


def outlier_marks(figures: Mapping[int, tuple[int, int]], min_volume: int = MIN_VOLUME) -> dict[int, str]:
    """Per subcontractor whose rate is far from its peers' (``find_outliers``): "hoger" or "lager"."""
    return {finding.subcontractor_id: "hoger" if finding.difference > 0 else "lager"
            for finding in find_outliers(figures, min_volume=min_volume)}


def peer_average(figures: Mapping[int, tuple[int, int]], own_id: int, min_volume: int = MIN_VOLUME,
                 min_peers: int = MIN_PEERS) -> float | None:
    """The anonymous average rate (percentage) of the other subcontractors that reach the minimum volume;
    None when fewer than ``min_peers`` peers qualify (a small group would give a peer's figure away)."""
    rates = [100.0 * num / den for sub, (num, den) in figures.items() if sub != own_id and den >= max(1, min_volume)]
    if len(rates) < min_peers:
        return None
    return sum(rates) / len(rates)


def peer_mean(values: Mapping[int, tuple[float, int]], own_id: int, min_volume: int = MIN_VOLUME,
              min_peers: int = MIN_PEERS) -> float | None:
    """The anonymous average of a per-subcontractor figure ``(value, volume)`` of the qualifying peers."""
    kept = [value for sub, (value, volume) in values.items() if sub != own_id and volume >= max(1, min_volume)]
    if len(kept) < min_peers:
        return None
    return sum(kept) / len(kept)


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None
