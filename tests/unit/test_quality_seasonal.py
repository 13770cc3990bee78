"""check-values anomalies that account for seasonality (#24): year-over-year changes of the same
month, measured as a share of that month a year before, against the series' own spread."""

from __future__ import annotations

from analysis.explain_types import shift_month
from analysis.quality import MIN_RELATIVE_SPREAD, Z_THRESHOLD, anomalies, robust_z

MONTHS = [f"{y}-{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)]
#: a business with a year-end push: December sells three times a normal month
SEASON = [1.0] * 11 + [3.0]


def growing(rate: float = 0.2) -> dict[str, float]:
    """Three years of a series that grows ``rate`` a year, with its season and a little noise."""
    return {
        p: 1000 * (1 + rate) ** (i // 12) * SEASON[i % 12] * (1 + 0.005 * (i % 5 - 2))
        for i, p in enumerate(MONTHS)
    }


def test_a_busy_month_of_a_growing_business_is_not_an_anomaly() -> None:
    series = growing()
    # scored on yuan, December's growth (3× a normal month's) stood out as an anomaly
    absolute = {p: v - series[q] for p, v in series.items() if (q := shift_month(p, -12)) in series}
    flagged_before = {p for p, z in robust_z(absolute).items() if abs(z) > Z_THRESHOLD}
    assert flagged_before == {"2025-12", "2026-12"}
    # as a share of the same month a year before, every month grew the same 20 %
    assert anomalies(series) == []


def test_a_planted_slip_is_found_against_the_same_month() -> None:
    series = growing()
    series["2026-06"] *= 0.8  # June 2026 lost a fifth: a data slip
    found = anomalies(series)
    assert [(p, against) for p, _z, against in found] == [("2026-06", "yoy")]
    assert found[0][1] < -Z_THRESHOLD


def test_a_series_that_barely_moves_is_scored_with_a_floor_on_its_spread() -> None:
    steady = {p: 1000.0 * (1 + 0.0001 * (i % 3)) for i, p in enumerate(MONTHS)}
    small_step = {**steady, "2026-06": steady["2026-06"] * 1.02}  # +2 %: not an anomaly
    assert anomalies(small_step) == []
    big_step = {**steady, "2026-06": steady["2026-06"] * 1.10}  # +10 %: one
    assert [p for p, _z, _a in anomalies(big_step)] == ["2026-06"]
    assert MIN_RELATIVE_SPREAD == 0.01


def test_series_with_zero_or_negative_values_keep_absolute_changes() -> None:
    profit = {p: 100.0 + (i * i) % 7 for i, p in enumerate(MONTHS)}
    profit["2024-02"] = -30.0  # a month at a loss: no ratio of changes, changes in yuan
    profit["2026-06"] = 400.0
    assert "2026-06" in [p for p, _z, _a in anomalies(profit)]
