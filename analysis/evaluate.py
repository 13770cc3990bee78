"""Evaluation standards (评价标准): a metric's value for a period judged against the month
before (环比 MoM), the year before (同比 YoY), its target (达成率) and its benchmarks (行业基准),
and each dimension member's rank.

- ``mom = v_P − v_{P−1}``, ``mom_pct = mom / |v_{P−1}|``; ``yoy`` likewise against ``P − 12``;
- ``attainment = v_P / target_P`` (达成率);
- ``rank``: members ordered by value, largest first, ``1`` is the largest (ties share a rank);
- ``status``: the labels of the benchmark ranges ``min ≤ v ≤ max`` that contain the value;
  ``"below"`` / ``"above"`` when the value is under every range's minimum / over every range's
  maximum; ``None`` without benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from analysis.explain_types import (
    ValueSource,
    calendar_of,
    partial_period_notes,
    partial_target_notes,
)
from core.i18n import _
from graph_schema.errors import InvalidQueryError, NoTotalError
from graph_schema.models import Benchmark


def benchmark_status(value: float | None, benchmarks: Sequence[Benchmark]) -> dict[str, Any] | None:
    """Which benchmark ranges contain ``value``.

    Examples
    --------
    >>> bands = [Benchmark(label="合资品牌 行业平均", min=1200, max=1800),
    ...          Benchmark(label="合资品牌 优秀", min=2000)]
    >>> benchmark_status(1500, bands)
    {'within': ['合资品牌 行业平均'], 'position': 'within'}
    >>> benchmark_status(1900, bands)["position"], benchmark_status(900, bands)["position"]
    ('between', 'below')
    """
    if not benchmarks or value is None:
        return None
    within = [
        b.label
        for b in benchmarks
        if (b.min is None or value >= b.min) and (b.max is None or value <= b.max)
    ]
    if within:
        return {"within": within, "position": "within"}
    if all(b.min is not None and value < b.min for b in benchmarks):
        return {"within": [], "position": "below"}
    if all(b.max is not None and value > b.max for b in benchmarks):
        return {"within": [], "position": "above"}
    return {"within": [], "position": "between"}


def _change(now: float | None, old: float | None) -> tuple[float | None, float | None]:
    if now is None or old is None:
        return None, None
    return now - old, (now - old) / abs(old) if old else None


def _judge(
    now: float | None,
    prev: float | None,
    last_year: float | None,
    target: float | None,
    benchmarks: Sequence[Benchmark],
) -> dict[str, Any]:
    mom, mom_pct = _change(now, prev)
    yoy, yoy_pct = _change(now, last_year)
    return {
        "value": now,
        "previous": prev,
        "mom": mom,
        "mom_pct": mom_pct,
        "last_year": last_year,
        "yoy": yoy,
        "yoy_pct": yoy_pct,
        "target": target,
        "attainment": now / target if now is not None and target else None,
        "status": benchmark_status(now, benchmarks),
    }


def evaluate(
    source: ValueSource, metric_id: str, period: str, *, by: str | None = None
) -> dict[str, Any]:
    """The evaluation of ``metric_id`` in ``period`` (totals, and by ``by``'s members)."""
    metric = source.metric(metric_id)
    calendar = calendar_of(source)
    asked = calendar.parse(period)  # validates the period: any grain, on its own calendar
    prev = calendar.previous(asked).text
    year_before = calendar.year_before(asked)
    last_year = year_before.text if year_before is not None else prev
    grain = (by,) if by else ()
    frame = source.frame(metric_id, grain, periods=list(dict.fromkeys([period, prev, last_year])))
    try:
        targets = source.frame(metric_id, grain, periods=[period], kind="target")
    except InvalidQueryError:
        targets = {}
    rows = []
    for key in sorted(frame):
        cell = frame[key]
        target = targets.get(key, {}).get(period)
        row = _judge(
            cell.get(period),
            cell.get(prev),
            cell.get(last_year) if year_before is not None else None,
            target,
            metric.benchmarks,
        )
        rows.append({"member": key[0] if key else None, **row})
    if not any(r["value"] is not None for r in rows):
        raise InvalidQueryError(
            _("metric {metric} has no value for {period}", metric=repr(metric_id), period=period)
        )
    ranked = sorted((r for r in rows if r["value"] is not None), key=lambda r: -r["value"])
    for r in rows:
        r["rank"] = (
            1 + sum(1 for o in ranked if o["value"] > r["value"])
            if r["value"] is not None
            else None
        )
    out: dict[str, Any] = {
        "metric": metric_id,
        "name": metric.name,
        "unit": metric.unit,
        "period": period,
        "grain": asked.grain,
        # "mom"/"yoy" below compare with these (the previous period of the same grain, the
        # same period a year before on the same calendar; None: it has none)
        "previous_period": prev,
        "year_before_period": year_before.text if year_before is not None else None,
        "benchmarks": [b.model_dump() for b in metric.benchmarks],
    }
    # a fiscal year (quarter, week …) compared with one its stored months/days do not fill
    compared = [period, prev, *([last_year] if year_before is not None else [])]
    notes = partial_period_notes(source, metric_id, compared)
    if any(r["target"] is not None for r in rows):
        notes += partial_target_notes(source, metric_id, period)
    if notes:
        out["notes"] = notes
    if by:
        try:
            total = evaluate(source, metric_id, period)
        except NoTotalError as exc:  # a rate whose values are by members only: theirs alone
            total = {k: None for k in rows[0] if k != "member"}
            dims = str(exc.details.get("by") or by)
            out["notes"] = [
                *out.get("notes", []),
                _(
                    "no total: the values of {metric} are given by {by} only, and a rate is not "
                    "summed; for its total, have its SQL give it too: GROUP BY GROUPING SETS "
                    "((period, {by}), (period))",
                    metric=repr(metric_id),
                    by=dims,
                ),
            ]
        out.update({k: v for k, v in total.items() if k not in out})
        out["by"] = by
        out["members"] = sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0))
    else:
        out.update({k: v for k, v in rows[0].items() if k != "member"})
    return out


def trend(source: ValueSource, metric_id: str, months: int = 13) -> list[tuple[str, float]]:
    """The last ``months`` monthly totals, oldest first (for the metric page's chart)."""
    series = source.frame(metric_id).get((), {})
    return sorted(series.items())[-months:]
