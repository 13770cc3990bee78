"""Quarters and years of a rate, from the warehouse at that grain, kept in the values cache.

A metric with ``aggregation: sum|avg|last`` gets its quarters and years from its cached months
(or days) by that rule (:meth:`values.engine.ValuesEngine.frame`, a range of stored periods per
quarter). A rate — ``aggregation: none``, e.g. 完工率 = Σ完工 / Σ工单 written as one SQL — has no
such rule: the quarter's rate is neither the sum nor the mean of its months' rates, it is the
ratio recomputed over the quarter's rows. So ``kpigraph values refresh`` also asks the engine for
the metric's SQL with its ``period`` written as the quarter (``2026-Q2``) and the year
(``2026``) of the same date column, and stores those rows beside the months; ``explain --period
2026-Q2 --base qoq`` and ``eval`` then read them from the cache.

Only SQL whose ``period`` is a date column written ``YYYY-MM``/``YYYY-MM-DD`` (and no window
function or set operation) can be asked so; for any other, quarters of a rate stay refused, as
before. (Metrics with a ``formula`` are recomputed from their inputs at any grain already.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

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
_MONTH_OR_DAY = {"%Y-%m", "%Y-%m-%d"}


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


def coarse_tree(tree: exp.Query, grain: str) -> exp.Query | None:
    """The metric's SQL with its ``period`` written as the ``grain`` (quarter, year) of its
    date column, grouped by that; ``None`` when its period is not a date written as a month or
    a day (or it has a window function or a set operation)."""
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
        label = _label(expr.this, grain)
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


def fetch_coarse(
    engine: SqlEngine, spec: MetricSql, dims: Sequence[str]
) -> dict[str, list[tuple[Any, ...]]] | None:
    """``grain → rows (period, *members by dims, value)`` of the metric at quarters and years,
    each aggregated in the engine; ``None`` when its SQL cannot be asked so."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for grain in COARSE_GRAINS:

        def build(tree: exp.Query, grain: str = grain) -> str:
            coarse = coarse_tree(tree, grain)
            if coarse is None:
                raise _NotCoarse
            return aggregate_sql(coarse, Rollup(grain=tuple(dims)), engine.dialect)

        try:
            out[grain] = fetch(engine, spec, build).rows
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
