"""Reading a metric's frame from a table of stored values (``values/``, ``targets/``, metric
SQL run by DuckDB): the query asked (:class:`Query`), the stored grain and periods it rolls up
from (:func:`rolled`) and the SQL that reads them (:func:`query_sql`). Used by
:class:`values.engine.ValuesEngine`."""

from __future__ import annotations

from collections.abc import Callable

from core.i18n import _
from graph_schema.calendar import Calendar, InvalidPeriodError, Period
from graph_schema.models import Aggregation, Metric
from values.coarse import coarse_frame
from values.errors import NoValuesError, RateTotalError, ValuesQueryError, no_total_message
from values.files import ObservedTable

#: members (in grain order) → period → value
Frame = dict[tuple[str, ...], dict[str, float]]


class MonthlyOnly(ValuesQueryError):
    """A period monthly values cannot make up (a week), named after the metric
    that was asked for (:meth:`values.engine.ValuesEngine.frame`)."""


class Query:
    __slots__ = ("buckets", "end", "grain", "periods", "plen", "start", "where")

    def __init__(
        self,
        grain: tuple[str, ...],
        periods: tuple[str, ...] | None,
        start: str | None,
        end: str | None,
        where: dict[str, str],
        plen: int,
        buckets: tuple[Period, ...] | None = None,
    ) -> None:
        self.grain, self.periods, self.start, self.end = grain, periods, start, end
        self.where, self.plen, self.buckets = where, plen, buckets


def rolled(
    metric: Metric,
    table: ObservedTable,
    key: str,
    q: Query,
    where: str,
    calendar: Calendar,
    coarse: list[tuple[str, str, float]],
    run: Callable[[int, Aggregation, tuple[tuple[str, str, str], ...] | None], Frame],
) -> Frame:
    """``metric``'s values in ``table`` (under ``key``; ``where`` names the table in messages)
    as ``q`` asks them: the stored grain to roll up from and the stored periods that make up
    each asked one (``calendar``), read by ``run(grain, aggregation, ranges)`` — or the rows
    of a rate the warehouse gave at that grain (``coarse``, see :mod:`values.coarse`).

    Raises
    ------
    NoValuesError, ValuesQueryError
        As :meth:`values.engine.ValuesEngine.frame`.
    """
    grains = table.grains.get(key)
    if not grains:
        raise NoValuesError(
            _("no rows for metric {metric} in {where}", metric=repr(metric.id), where=where),
            {"metric": metric.id},
        )
    needed = list(dict.fromkeys([*q.grain, *q.where]))
    missing = [d for d in needed if d not in table.dims]
    if missing:
        raise NoValuesError(
            _(
                "metric {metric} has no values by {dimensions} (in {where})",
                metric=repr(metric.id),
                dimensions=", ".join(missing),
                where=where,
            ),
            {"metric": metric.id, "dimensions": list(table.dims)},
        )
    req = sum(1 << table.dims.index(d) for d in needed)
    candidates = sorted((g for g in grains if g & req == req), key=lambda g: (g.bit_count(), g))
    if not candidates:
        raise NoValuesError(
            _(
                "metric {metric} has no values at the grain {grain} (in {where})",
                metric=repr(metric.id),
                grain=", ".join(needed) or _("total"),
                where=where,
            ),
            {"metric": metric.id},
        )
    grain = candidates[0]
    plen = table.period_len[key]
    if q.plen > plen and q.buckets is None:
        raise ValuesQueryError(
            _(
                "metric {metric} has monthly values only; ask for YYYY-MM periods",
                metric=repr(metric.id),
            )
        )
    ranges: tuple[tuple[str, str, str], ...] | None = None
    unfit: InvalidPeriodError | None = None  # periods the stored ones cannot make up
    if q.buckets is not None:
        try:
            ranges = tuple((p.text, *calendar.stored_range(p, plen)) for p in q.buckets)
        except InvalidPeriodError as exc:
            unfit = exc  # unless the warehouse was asked at that grain (a rate, below)
    # a metric with a formula is a ratio or the like: its observed values are not rolled
    # up unless its aggregation says how
    agg = metric.aggregation or (Aggregation.NONE if metric.formula else Aggregation.SUM)
    if agg is Aggregation.NONE and (grain != req or q.plen < plen or q.buckets is not None):
        asked = q.buckets if grain == req and q.buckets is not None else None
        found = coarse_frame(coarse, [p.text for p in asked or ()], q.grain, q.where)
        if found is not None:  # a rate asked of the warehouse at that grain (coarse.py)
            return found
        if unfit is not None:
            raise MonthlyOnly(unfit.message, {**unfit.details, "metric": metric.id})
        by = ", ".join(d for i, d in enumerate(table.dims) if grain >> i & 1)
        if not needed and by:
            raise RateTotalError(no_total_message(metric.id, by), {"metric": metric.id, "by": by})
        raise ValuesQueryError(
            _(
                "metric {metric} has 'aggregation: none': its values are not rolled up "
                "(asked for {asked}, the data is by {by})",
                metric=repr(metric.id),
                asked=", ".join(needed) or _("the total"),
                by=by or _("total"),
            ),
        )
    if unfit is not None:
        raise MonthlyOnly(unfit.message, {**unfit.details, "metric": metric.id})
    return run(grain, agg, ranges)


def query_sql(
    table: ObservedTable,
    key: str,
    grain: int,
    q: Query,
    agg: Aggregation,
    ranges: tuple[tuple[str, str, str], ...] | None,
) -> tuple[str, dict[str, object]]:
    """The query of a frame from ``table`` (:meth:`values.engine.ValuesEngine._query`): rows
    ``period, members of q.grain…, value``."""
    # same grain as stored: filter on the sorted column itself (zone maps prune)
    pexpr = "period" if q.plen == table.period_len[key] else f"left(period, {q.plen})"
    cols = "".join(f', "{d}"' for d in q.grain)
    params: dict[str, object] = {"m": key, "g": grain}
    conds = ["metric = $m", "grain = $g"]
    for i, (dim, member) in enumerate(q.where.items()):
        conds.append(f'"{dim}" = $w{i}')
        params[f"w{i}"] = member
    if ranges is not None:  # periods of another grain: each a range of stored periods
        whens, spans = [], []
        for i, (label, lo, hi) in enumerate(ranges):
            params.update({f"bl{i}": label, f"lo{i}": lo, f"hi{i}": hi})
            whens.append(f"WHEN period BETWEEN $lo{i} AND $hi{i} THEN $bl{i}")
            spans.append(f"period BETWEEN $lo{i} AND $hi{i}")
        pexpr = f"CASE {' '.join(whens)} END"
        conds.append(f"({' OR '.join(spans) or 'false'})")
    elif q.periods is not None:
        wanted = sorted(set(q.periods)) or [""]
        conds.append(f"{pexpr} IN ({', '.join(f'$p{i}' for i in range(len(wanted)))})")
        params.update({f"p{i}": p for i, p in enumerate(wanted)})
    if q.start:
        conds.append(f"{pexpr} >= $start")
        params["start"] = q.start
    if q.end:
        conds.append(f"{pexpr} <= $end")
        params["end"] = q.end
    inner = {"avg": "avg(value)"}.get(agg.value, "sum(value)")
    outer = {"avg": "avg(value)", "last": "arg_max(value, period)"}.get(agg.value, "sum(value)")
    where = " AND ".join(conds)
    exact = grain == sum(1 << table.dims.index(d) for d in dict.fromkeys([*q.grain, *q.where]))
    if pexpr == "period" and exact:  # the rows as stored: nothing to aggregate
        sql = f"SELECT period{cols}, value FROM {table.table} WHERE {where}"
    elif pexpr == "period":  # members roll up, periods stay
        sql = f"SELECT period{cols}, {inner} FROM {table.table} WHERE {where} GROUP BY ALL"
    else:  # members roll up, then days into months
        sql = (
            f"SELECT p{cols}, {outer} FROM (SELECT {pexpr} AS p, period{cols}, {inner} AS "
            f"value FROM {table.table} WHERE {where} GROUP BY ALL) GROUP BY ALL"
        )
    return sql, params
