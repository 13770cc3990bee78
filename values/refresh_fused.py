"""A values refresh that scans a fact table once for all its metrics.

``kpigraph values refresh`` asks, per connected metric, which periods exist and then the
missing ones — two scans of the fact table per metric, 200 for 100 metrics. Here metrics whose
SQL has the simple fusable shape (:mod:`values.engines.fused`) and reads the same tables at the
same grain on the same engine are asked together:

- nothing of the group cached yet (a first refresh, ``--full``, a changed SQL): ONE query of
  every metric's values over the asked periods — the periods each metric has are those of its
  rows;
- some periods cached: one query of the periods each metric has (counts only), then one
  query per distinct set of missing periods (usually one).

Each metric is still written in its own transaction (:meth:`values.cache.ValuesCache.write`).
A group whose fused query fails (an error in one metric's SQL, a timeout of the bigger query)
is handed back and refreshed metric by metric, so the failing metric is named and the others
still refresh. A metric of another shape, or alone in its group, is handed back untouched.
"""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph_schema.errors import KpigraphError
from graph_schema.models import Metric
from values.cache import RefreshReport, ValuesCache, query_hash
from values.chunks import by_periods
from values.coarse import fetch_coarse, needs_coarse
from values.engines.base import MetricSql, Rollup, SqlEngine, checked_sql, fetch
from values.engines.fused import Shape, fused_sql, period_type, shape_of, split
from values.errors import EngineConnectionError, EngineQueryError, RowLimitError

Pair = tuple[Metric, MetricSql]
#: metrics in one fused query at most (PostgreSQL takes 1,664 columns: a value per metric and a
#: count per distinct WHERE; and one query's time limit is shared by all of them)
MAX_FUSED = 200


@dataclass
class _Item:
    metric: Metric
    spec: MetricSql
    shape: Shape


def span(start: str | None, end: str | None, plen: int) -> tuple[str | None, str | None] | None:
    """``--from``/``--to`` as periods of the stored length (so that a filter on the stored
    period text keeps exactly what the one-by-one refresh keeps: ``p >= start`` and
    ``p[:len(end)] <= end``), or ``None`` when they are of another form (then one by one).

    >>> span("2026-05", "2026-06", 10)
    ('2026-05-01', '2026-06-30')
    >>> span(None, "2026-06", 7)
    (None, '2026-06')
    """
    out: list[str | None] = []
    for text, last in ((start, False), (end, True)):
        if text is None or len(text) == plen:
            out.append(text)
        elif len(text) == 7 and plen == 10 and text[4] == "-" and text.replace("-", "").isdigit():
            year, month = int(text[:4]), int(text[5:7])
            if not 1 <= month <= 12:
                return None
            day = calendar.monthrange(year, month)[1] if last else 1
            out.append(f"{text}-{day:02d}")
        else:
            return None
    return out[0], out[1]


class FusedRefresh:
    """The ``batch`` of :meth:`values.cache.ValuesCache.refresh` for a
    :class:`values.engine.ValuesEngine`."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        #: fused queries run (the tests count them)
        self.queries: list[str] = []

    def __call__(
        self,
        cache: ValuesCache,
        con: sqlite3.Connection,
        todo: list[Pair],
        start: str | None,
        end: str | None,
        full: bool,
        report: RefreshReport,
        progress: Callable[[str], None] | None,
    ) -> list[Pair]:
        left: list[Pair] = []
        groups: dict[tuple[Any, ...], tuple[SqlEngine, list[_Item]]] = {}
        for metric, spec in todo:
            item = self._fusable(metric, spec)
            if item is None:
                left.append((metric, spec))
                continue
            sql_engine, found = item
            key = (id(sql_engine), found.shape.group)
            groups.setdefault(key, (sql_engine, []))[1].append(found)
        chunks = [
            (sql_engine, members[i : i + MAX_FUSED])
            for sql_engine, members in groups.values()
            for i in range(0, len(members), MAX_FUSED)
        ]
        for sql_engine, items in chunks:
            bounds = span(start, end, items[0].shape.plen)
            if len(items) < 2 or bounds is None:
                left.extend((i.metric, i.spec) for i in items)
                continue
            try:
                done = self._group(cache, con, sql_engine, items, bounds, full, report)
            except (EngineQueryError, EngineConnectionError):
                done = set()
            for member in items:
                if member.metric.id in done:
                    if progress:
                        progress(member.metric.id)
                else:
                    left.append((member.metric, member.spec))
        return left

    def _fusable(self, metric: Metric, spec: MetricSql) -> tuple[SqlEngine, _Item] | None:
        remote = self.engine.remote
        try:
            found = remote.spec(metric)
            if found is None:
                return None
            sql_engine: SqlEngine = remote.engine(found[1])
            tree = checked_sql(spec, sql_engine.dialect)
        except KpigraphError:
            return None  # one by one: the failure is reported there, with its message
        shape = shape_of(metric.id, tree, sql_engine.dialect)
        if shape is None:
            return None
        dims = list(shape.dims)
        if set(dims) - set(self.engine.defs.dimension_ids(dims)):
            return None  # one by one says which columns are not dimensions
        return sql_engine, _Item(metric, spec, shape)

    def _run(self, sql_engine: SqlEngine, spec: MetricSql, sql: str) -> list[tuple[Any, ...]]:
        self.queries.append(sql)
        return fetch(sql_engine, spec, lambda _tree: sql, hash_groups=True).rows

    def _group(
        self,
        cache: ValuesCache,
        con: sqlite3.Connection,
        sql_engine: SqlEngine,
        items: list[_Item],
        bounds: tuple[str | None, str | None],
        full: bool,
        report: RefreshReport,
    ) -> set[str]:
        """Fetch and write the group; the metrics written (or found up to date)."""
        shapes = [i.shape for i in items]
        plen, dims = shapes[0].plen, shapes[0].dims
        kind = period_type(sql_engine, shapes[0])  # what the engine says the date column is
        spec = items[0].spec
        asked = Rollup(grain=dims, start=bounds[0], end=bounds[1], plen=plen, stored_plen=plen)
        states = {
            i.metric.id: cache.cached_periods(con, i.metric.id, query_hash(i.spec, i.metric), full)
            for i in items
        }
        rows_of: dict[str, list[tuple[Any, ...]]] = {}
        missing: dict[str, list[str]] = {}
        fetched = False
        if not any(cached for _, cached in states.values()):
            fused = fused_sql(shapes, asked, sql_engine.dialect, period_type=kind)
            try:
                rows_of = split(fused, self._run(sql_engine, spec, fused.sql))
                missing = {m: sorted({str(r[0]) for r in rows}) for m, rows in rows_of.items()}
                fetched = True
            except RowLimitError:
                pass  # more rows than one query may bring: asked a few periods at a time below
        if not fetched:
            probe = fused_sql(shapes, asked, sql_engine.dialect, values=False, period_type=kind)
            have = split(probe, self._run(sql_engine, spec, probe.sql))
            missing = {
                m: sorted({str(r[0]) for r in rows} - states[m][1]) for m, rows in have.items()
            }
            by_periods_of: dict[tuple[str, ...], list[Shape]] = {}
            for shape in shapes:
                if missing[shape.metric]:
                    by_periods_of.setdefault(tuple(missing[shape.metric]), []).append(shape)
            for periods, part in by_periods_of.items():

                def ask(
                    chunk: tuple[str, ...], part: list[Shape] = part
                ) -> list[dict[str, list[tuple[Any, ...]]]]:
                    rollup = Rollup(grain=dims, periods=chunk, plen=plen, stored_plen=plen)
                    fused = fused_sql(part, rollup, sql_engine.dialect, period_type=kind)
                    return [split(fused, self._run(sql_engine, spec, fused.sql))]

                for found in by_periods(ask, periods):
                    for metric_id, rows in found.items():
                        rows_of.setdefault(metric_id, []).extend(rows)
        coarse = {  # a rate's quarters and years, asked before anything is written
            i.metric.id: fetch_coarse(
                sql_engine,
                i.spec,
                dims,
                self.engine.calendar,
                [*missing.get(i.metric.id, ()), *states[i.metric.id][1]],
            )
            for i in items
            if needs_coarse(i.metric) and missing.get(i.metric.id)
        }
        done: set[str] = set()
        for item in items:
            mid = item.metric.id
            if not missing.get(mid):
                if not states[mid][1]:
                    continue  # none cached, none found: one by one says why (no rows at all?)
                report.unchanged.append(mid)
                done.add(mid)
                continue
            rows = rows_of.get(mid, [])
            cache.write(
                con, item.metric, item.spec, states[mid][0], missing[mid], dims, plen, rows,
                coarse.get(mid),
            )  # fmt: skip
            report.refreshed[mid] = len(rows)
            done.add(mid)
        return done
