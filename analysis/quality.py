"""Data-quality checks on metric values (seed 001 "异常率"): four rules, each a finding.

- ``identity`` — a metric with a formula that is also observed (``values/`` or its ``sql``):
  ``|observed − derived| / |derived| > 0.5 %`` in a period (total or member);
- ``missing_period`` — a month missing between a series' first and last month;
- ``benchmark`` — a total value outside every benchmark range of the metric;
- ``anomaly`` — a robust z-score of the period-over-period change: with ``d_t`` the change (for a
  series of positive values the relative change ``ln(v_t / v_s)``, see :func:`anomalies`)
  against 12 months before when that month has a value (so seasons are compared with
  themselves), otherwise against the month before, ``z_t = 0.6745·(d_t − median d) / MAD``
  (``MAD = median |d − median d|``, Iglewicz & Hoaglin); ``|z| > 3.5`` is a finding. A series
  with at least 12 year-over-year changes is scored on those only (seasons compared with
  themselves); a shorter one on month-over-month changes.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from analysis.evaluate import benchmark_status
from analysis.explain_types import ValueSource, shift_month
from core.i18n import N_, _, percent
from graph_schema.errors import InvalidQueryError, KpigraphError
from graph_schema.formula import parse_formula

IDENTITY_TOLERANCE = 0.005
Z_THRESHOLD = 3.5
#: the least spread (MAD) of relative changes a series is scored with: ~1 % a month
MIN_RELATIVE_SPREAD = 0.01
#: what an anomalous change is measured against, and where a value lies (message ids)
AGAINST = {"yoy": N_("year-on-year"), "mom": N_("month-on-month")}
POSITION = {"below": N_("below every benchmark range"), "above": N_("above every benchmark range")}


class QualitySource(ValueSource, Protocol):
    def source(self, metric_id: str) -> str | None: ...

    def observed_dims(self, metric_id: str) -> list[str] | None: ...


def robust_z(changes: Mapping[str, float], min_mad: float = 0.0) -> dict[str, float]:
    """``0.6745·(d − median) / MAD`` for each period; empty when ``MAD`` is 0 or too few.

    Examples
    --------
    >>> z = robust_z({"a": 1.0, "b": 2.0, "c": 1.5, "d": 1.2, "e": 30.0})
    >>> round(z["e"], 1), round(z["a"], 2)  # median 1.5, MAD 0.5: 0.6745 · 28.5 / 0.5
    (38.4, -0.67)
    """
    if len(changes) < 5:
        return {}
    values = list(changes.values())
    med = statistics.median(values)
    mad = max(statistics.median(abs(v - med) for v in values), min_mad)
    if mad == 0:
        return {}
    return {p: 0.6745 * (v - med) / mad for p, v in changes.items()}


def anomalies(series: Mapping[str, float]) -> list[tuple[str, float, str]]:
    """``(period, z, against)`` for each anomalous change of a monthly series.

    A series of positive values is scored on *relative* changes (``ln(v_t / v_{t−12})``): a
    business that grows 10 % a year moves more in its busy months than in its quiet ones in
    yuan, but by the same share, so a peak month is not an anomaly for being a peak. The
    spread is the series' own (its MAD), never less than :data:`MIN_RELATIVE_SPREAD` (a
    series that barely moves does not turn a 2 % step into z = 40).

    Examples
    --------
    >>> months = [f"{y}-{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)]
    >>> season = [0.6, 0.5, 1.0, 1.0, 1.1, 1.2, 1.0, 1.0, 0.9, 1.3, 1.4, 1.8]
    >>> grow = {p: 100 * 1.1 ** (i // 12) * season[i % 12] * (1 + 0.01 * (i % 5 - 2))
    ...         for i, p in enumerate(months)}
    >>> anomalies(grow)
    []
    >>> [(p, round(z, 1), a) for p, z, a in anomalies({**grow, "2026-06": grow["2026-06"] * 0.75})]
    [('2026-06', -19.4, 'yoy')]
    """
    positive = all(v > 0 for v in series.values())

    def change(p: str, q: str) -> float:
        return math.log(series[p] / series[q]) if positive else series[p] - series[q]

    yoy = {p: change(p, q) for p in series if (q := shift_month(p, -12)) in series}
    mom = {p: change(p, q) for p in series if p not in yoy and (q := shift_month(p, -1)) in series}
    if len(yoy) >= 12:  # a seasonal series: months are compared with the same month only
        mom = {}
    out = []
    floor = MIN_RELATIVE_SPREAD if positive else 0.0
    for against, changes in (("yoy", yoy), ("mom", mom)):
        for p, z in robust_z(changes, min_mad=floor).items():
            if abs(z) > Z_THRESHOLD:
                out.append((p, z, against))
    return sorted(out)


def missing_periods(periods: Iterable[str]) -> list[str]:
    """Months absent between the first and the last.

    Examples
    --------
    >>> missing_periods(["2026-01", "2026-02", "2026-05"])
    ['2026-03', '2026-04']
    """
    have = sorted(set(periods))
    if not have:
        return []
    out, p = [], have[0]
    while p < have[-1]:
        if p not in have:
            out.append(p)
        p = shift_month(p, 1)
    return out


def _finding(
    check: str, metric: Any, period: str | None, member: str | None, **kw: Any
) -> dict[str, Any]:
    return {
        "check": check,
        "metric": metric.id,
        "name": metric.name,
        "period": period,
        "member": member,
        **kw,
    }


def check_values(source: QualitySource, metric_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every finding for the given metrics (those without values are skipped)."""
    findings: list[dict[str, Any]] = []
    for mid in metric_ids:
        how = source.source(mid)
        if how is None:
            continue
        metric = source.metric(mid)
        dims = [d for d in metric.dimensions if d != "time"]
        slices: list[tuple[str | None, dict[str, float]]] = []
        try:
            total = source.frame(mid).get((), {})
        except InvalidQueryError:
            total = {}
        slices.append((None, total))
        for dim in dims:
            try:
                frame = source.frame(mid, (dim,))
            except InvalidQueryError:
                continue
            slices += [(f"{dim}={k[0]}", v) for k, v in sorted(frame.items())]
        for member, series in slices:
            for p in missing_periods(series):
                findings.append(
                    _finding(
                        "missing_period", metric, p, member, detail=_("no value for this month")
                    )
                )
            for p, z, against in anomalies(series):
                findings.append(
                    _finding(
                        "anomaly",
                        metric,
                        p,
                        member,
                        value=series[p],
                        z=z,
                        detail=_(
                            "robust z-score {z} of the {against} change",
                            z=f"{z:+.1f}",
                            against=_(AGAINST[against]),
                        ),
                    )
                )
        for p, v in sorted(total.items()):
            status = benchmark_status(v, metric.benchmarks)
            if status is not None and status["position"] in ("below", "above"):
                findings.append(
                    _finding(
                        "benchmark",
                        metric,
                        p,
                        None,
                        value=v,
                        detail=_(POSITION[status["position"]]),
                    )
                )
        if how == "derived" and metric.formula:
            findings += _identity(source, metric, dims)
    return findings


def _formula_in_names(source: QualitySource, formula: str) -> str:
    """``营收 / 进厂台次`` for ``revenue / visits`` (an input the source does not know keeps
    its id)."""
    parsed = parse_formula(formula)
    names: dict[str, str] = {}
    for ref in parsed.references():
        with contextlib.suppress(KpigraphError):
            names[ref.name] = source.metric(ref.name).name
    return parsed.with_names(names)


def _identity(source: QualitySource, metric: Any, dims: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    observed_dims = source.observed_dims(metric.id)
    if observed_dims is None:
        return out
    grains: list[tuple[str, ...]] = [(), *((d,) for d in dims if d in observed_dims)]
    formula = _formula_in_names(source, metric.formula)
    for grain in grains:
        try:
            observed = source.frame(metric.id, grain, kind="observed")
            derived = source.frame(metric.id, grain)
        except InvalidQueryError:
            continue
        for key, cell in sorted(observed.items()):
            for p, v in sorted(cell.items()):
                d = derived.get(key, {}).get(p)
                if d is None or d == 0:
                    continue
                gap = (v - d) / abs(d)
                if abs(gap) > IDENTITY_TOLERANCE:
                    member = f"{grain[0]}={key[0]}" if grain else None
                    out.append(
                        _finding(
                            "identity",
                            metric,
                            p,
                            member,
                            value=v,
                            expected=d,
                            detail=_(
                                "observed differs from {formula} by {gap}",
                                formula=formula,
                                gap=percent(gap, digits=2, signed=True),
                            ),
                        )
                    )
    return out
