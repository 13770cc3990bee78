"""Quarters and years of a rate, from the warehouse at that grain, kept in the values cache.

A metric with ``aggregation: sum|avg|last`` gets its quarters and years from its cached months
(or days) by that rule (:meth:`values.engine.ValuesEngine.frame`, a range of stored periods per
quarter). A rate — ``aggregation: none``, e.g. 完工率 = Σ完工 / Σ工单 written as one SQL — has no
such rule: the quarter's rate is neither the sum nor the mean of its months' rates, it is the
ratio recomputed over the quarter's rows. So ``kpigraph values refresh`` also asks the engine for
the metric's SQL with its ``period`` written as the quarter (``2026-Q2``) and the year
(``2026``) of the same date column, and stores those rows beside the months; ``explain --period
2026-Q2 --base qoq`` and ``eval`` then read them from the cache.

The other calendars the same way (:data:`CASE_GRAINS`): ISO weeks, the fiscal quarter and year
(when ``kpigraph.yaml`` declares ``calendar: fiscal_year_start``) and the retail 4-5-4 year,
quarter, month and week. Their labels are not a date format every engine has, so the date
column is labelled by a ``CASE`` of day ranges — one ``WHEN`` per period of that grain over the
days the metric's data covers (:func:`span_of` of its stored periods) — which sqlglot writes
alike for DuckDB, PostgreSQL and Spark, and the engine groups by it. A fiscal grain is stored as
``fiscal_quarter@4`` (with its start month), so a catalog that changes its fiscal year does not
read the old year's labels.

Only SQL whose ``period`` is a date column written ``YYYY-MM``/``YYYY-MM-DD`` (and no window
function or set operation) can be asked so; for any other, coarser periods of a rate stay
refused, as before. (Metrics with a ``formula`` are recomputed from their inputs at any grain
already.)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from graph_schema.calendar import Calendar, InvalidPeriodError
from graph_schema.calendar_kinds import ONE_DAY, month_end
from graph_schema.models import Aggregation, Metric
from values.engines.base import (
    MetricSql,
    Rollup,
    SqlEngine,
    aggregate_sql,
    fetch,
)

#: grains of the calendar asked of the engine for rates → their label as SQL of a date column
COARSE_GRAINS = ("quarter", "year")
#: grains of the other calendars, labelled by a CASE of day ranges (fiscal ones only when the
#: catalog declares a fiscal year)
CASE_GRAINS = (
    "week",
    "fiscal_quarter",
    "fiscal_year",
    "retail_week",
    "retail_month",
    "retail_quarter",
    "retail_year",
)
#: at most this many periods in one CASE (ISO weeks of ~40 years); a longer span skips the grain
MAX_WHENS = 2000
_MONTH_OR_DAY = {"%Y-%m", "%Y-%m-%d"}

Label = Callable[[exp.Expression], exp.Expression]


def needs_coarse(metric: Metric) -> bool:
    """A rate: its quarters and years cannot be rolled up from its months."""
    agg = metric.aggregation or (Aggregation.NONE if metric.formula else Aggregation.SUM)
    return agg is Aggregation.NONE


def _label(column: exp.Expression, grain: str) -> exp.Expression:
    year = exp.TimeToStr(this=column.copy(), format=exp.Literal.string("%Y"))
    if grain == "year":
        return year
    quarter = exp.Cast(
        this=exp.Extract(this=exp.Var(this="QUARTER"), expression=column.copy()),
        to=exp.DataType.build("text"),
    )
    return exp.DPipe(
        this=year, expression=exp.DPipe(this=exp.Literal.string("-Q"), expression=quarter)
    )


def span_of(periods: Iterable[str]) -> tuple[dt.date, dt.date] | None:
    """The first and last day of stored periods (``YYYY-MM`` or ``YYYY-MM-DD``; others are
    left out); ``None`` when there are none.

    >>> span_of(["2026-02", "2025-11", "None"])
    (datetime.date(2025, 11, 1), datetime.date(2026, 2, 28))
    """
    days: list[dt.date] = []
    for p in periods:
        try:
            if len(p) == 7:
                first = dt.date.fromisoformat(p + "-01")
                days += [first, month_end(first.year, first.month)]
            else:
                days.append(dt.date.fromisoformat(p))
        except ValueError:
            continue
    return (min(days), max(days)) if days else None


def case_label(calendar: Calendar, grain: str, span: tuple[dt.date, dt.date]) -> Label | None:
    """The label of ``grain`` periods as a CASE of day ranges over ``span``; ``None`` when the
    span has more than :data:`MAX_WHENS` of them (or the calendar lacks the grain)."""
    try:
        first = calendar.period_of(span[0], grain)
        periods = [first]
        while periods[-1].end < span[1]:
            if len(periods) >= MAX_WHENS:
                return None
            periods.append(calendar.period_of(periods[-1].end + ONE_DAY, grain))
    except InvalidPeriodError:
        return None

    def day(d: dt.date) -> exp.Expression:
        return exp.Cast(this=exp.Literal.string(d.isoformat()), to=exp.DataType.build("date"))

    def label(column: exp.Expression) -> exp.Expression:
        case = exp.Case()
        for p in periods:
            case = case.when(
                exp.and_(
                    exp.GTE(this=column.copy(), expression=day(p.start)),
                    exp.LT(this=column.copy(), expression=day(p.end + ONE_DAY)),
                ),
                exp.Literal.string(p.text),
            )
        return case

    return label


def coarse_tree(tree: exp.Query, grain: str | Label) -> exp.Query | None:
    """The metric's SQL with its ``period`` written as the ``grain`` (quarter, year — or a
    label built by :func:`case_label`) of its date column, grouped by that; ``None`` when its
    period is not a date written as a month or a day (or it has a window function or a set
    operation)."""
    if not isinstance(tree, exp.Select) or tree.find(exp.Window):
        return None
    for projection in tree.expressions:
        if projection.alias_or_name.lower() != "period":
            continue
        expr = projection.unalias()
        fmt = expr.args.get("format") if isinstance(expr, exp.TimeToStr) else None
        if not isinstance(fmt, exp.Literal) or fmt.this not in _MONTH_OR_DAY:
            return None
        if not isinstance(expr.this, exp.Column):
            return None
        new = tree.copy()
        old = expr.sql()
        label = grain(expr.this) if callable(grain) else _label(expr.this, grain)
        for p in new.expressions:
            if p.alias_or_name.lower() == "period":
                p.replace(exp.alias_(label.copy(), exp.to_identifier("period")))
        group = new.args.get("group")
        if group is not None and not group.args.get("all"):
            group.set(
                "expressions",
                [label.copy() if g.sql() == old else g for g in group.expressions],
            )
        return new
    return None


def coarse_grains(
    calendar: Calendar | None, span: tuple[dt.date, dt.date] | None
) -> dict[str, str | Label]:
    """``stored grain name → grain or label`` asked of the engine: quarters and years, and —
    given the calendar and the span of the metric's data — the other calendars' periods."""
    out: dict[str, str | Label] = {g: g for g in COARSE_GRAINS}
    if calendar is None or span is None:
        return out
    for grain in CASE_GRAINS:
        fiscal = grain.startswith("fiscal")
        if fiscal and not calendar.has_fiscal:
            continue
        label = case_label(calendar, grain, span)
        if label is not None:
            out[f"{grain}@{calendar.fiscal_year_start}" if fiscal else grain] = label
    return out


def fetch_coarse(
    engine: SqlEngine,
    spec: MetricSql,
    dims: Sequence[str],
    calendar: Calendar | None = None,
    periods: Iterable[str] = (),
) -> dict[str, list[tuple[Any, ...]]] | None:
    """``grain → rows (period, *members by dims, value)`` of the metric at quarters and years
    (and, given the ``calendar`` and the stored ``periods`` its data has, at the other
    calendars' grains), each aggregated in the engine; ``None`` when its SQL cannot be asked
    so."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, grain in coarse_grains(calendar, span_of(periods)).items():

        def build(tree: exp.Query, grain: str | Label = grain) -> str:
            coarse = coarse_tree(tree, grain)
            if coarse is None:
                raise _NotCoarse
            return aggregate_sql(coarse, Rollup(grain=tuple(dims)), engine.dialect)

        try:
            out[name] = fetch(engine, spec, build).rows
        except _NotCoarse:
            return None
    return out


class _NotCoarse(Exception):
    pass


def coarse_frame(
    rows: Sequence[tuple[str, str, float]],
    labels: Sequence[str],
    grain: Sequence[str],
    where: Mapping[str, str],
) -> dict[tuple[str, ...], dict[str, float]] | None:
    """The cached quarter/year rows ``(period, members JSON, value)`` of a rate for the asked
    periods: members of ``grain`` (others must be totals — a rate is never summed over
    members), filtered by ``where``; ``None`` when none of them is cached."""
    wanted = set(labels)
    needed = set(grain) | set(where)
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for period, members_json, value in rows:
        if period not in wanted:
            continue
        members: dict[str, str | None] = json.loads(members_json)
        if any((members.get(d) is None) == (d in needed) for d in set(members) | needed):
            continue
        if any(members.get(d) != m for d, m in where.items()):
            continue
        key = tuple(str(members[d]) for d in grain)
        out.setdefault(key, {})[period] = float(value)
    return out or None
