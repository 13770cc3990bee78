"""Metrics whose system has a ``connection``: their SQL runs on that system's engine.

Which system a metric's SQL runs on: the systems of its ``fields`` (``system.table.field``);
one of them must declare ``connection: {env: …}`` in ``sources.yaml`` (two connected systems
for one metric is an error — a query runs on one engine). A metric without a connected system
keeps today's path (DuckDB over the catalog's ``data/`` files, in :mod:`values.engine`).

A :class:`RemoteTable` stands where a loaded :class:`values.files.ObservedTable` would: it
knows the SQL's columns (dimensions) and period length from a one-row probe, and answers each
question with ONE aggregate query in the engine (:func:`values.engines.base.aggregate_sql`):
rows moved = periods × members asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.i18n import N_, Said
from graph_schema.models import Metric, System
from values.definitions import Definitions
from values.engines import open_engine
from values.engines.base import (
    MetricSql,
    Rollup,
    SqlEngine,
    aggregate_sql,
    checked_sql,
    fetch,
    lower_columns,
    probe_sql,
    rows_as_frame,
)
from values.engines.connections import SecretUrl, resolve
from values.errors import EngineConnectionError, EngineQueryError
from values.files import ObservedTable, load_query

Frame = dict[tuple[str, ...], dict[str, float]]
#: how long an answer of an engine is reused in memory (the values cache keeps them longer)
MEMO_SECONDS = 300.0


@dataclass
class RemoteTable(ObservedTable):
    """A metric's SQL on a remote engine, as the values engine sees a table."""

    engine: Any = None  # SqlEngine
    spec: MetricSql | None = None
    #: rows received from the engine so far (the pushdown test counts them)
    rows_moved: int = 0
    queries: list[str] = field(default_factory=list)
    _memo: dict[str, tuple[float, list[tuple[Any, ...]]]] = field(default_factory=dict)

    def query(
        self,
        grain: tuple[str, ...],
        where: Mapping[str, str],
        periods: tuple[str, ...] | None,
        start: str | None,
        end: str | None,
        plen: int,
        agg: str,
        ranges: tuple[tuple[str, str, str], ...] | None = None,
    ) -> Frame:
        rollup = Rollup(
            grain, dict(where), periods, start, end, plen, self.period_len["_"], agg, ranges
        )
        return rows_as_frame(self.fetch_rows(rollup))

    def fetch_rows(self, rollup: Rollup) -> list[tuple[Any, ...]]:
        """The engine's rows for ``rollup``; the same question within :data:`MEMO_SECONDS`
        is answered from memory (one explanation asks for a series several times)."""
        assert self.spec is not None and self.engine is not None
        engine: SqlEngine = self.engine
        sql = aggregate_sql(checked_sql(self.spec, engine.dialect), rollup, engine.dialect)
        now = time.monotonic()
        hit = self._memo.get(sql)
        if hit is not None and now - hit[0] < MEMO_SECONDS:
            return hit[1]
        self.queries.append(sql)
        result = fetch(engine, self.spec, lambda _tree: sql)
        self.rows_moved += len(result.rows)
        self._memo[sql] = (now, result.rows)
        return result.rows


class RemoteSources:
    """The engines of one values engine's connected systems (opened on first use)."""

    def __init__(self, root: Path, defs: Definitions) -> None:
        self.root = root
        self.defs = defs
        self._engines: dict[SecretUrl, SqlEngine] = {}
        self._lock = threading.Lock()
        self._plain: set[str] = set()  # metrics known to have no connected system

    def metric_sql(self, metric: Metric) -> tuple[MetricSql, System] | None:
        """The metric's SQL and its connected system (no URL resolved), or ``None`` when no
        system of its fields has a connection.

        Raises
        ------
        EngineConnectionError
            Two connected systems.
        """
        if not metric.sql or metric.id in self._plain:
            return None
        ids = list(dict.fromkeys(f.split(".", 1)[0] for f in metric.fields if "." in f))
        lookup = getattr(self.defs, "systems", None)
        systems: dict[str, System] = lookup(ids) if lookup is not None else {}
        connected = [s for s in systems.values() if s.connection is not None]
        if not connected:
            self._plain.add(metric.id)
            return None
        if len(connected) > 1:
            raise EngineConnectionError(
                Said.of(
                    N_(
                        "metric {metric} reads the connected systems {systems}; a metric's SQL "
                        "runs on one system"
                    ),
                    metric=repr(metric.id),
                    systems=", ".join(s.id for s in connected),
                ),
                {"metric": metric.id},
            )
        system = connected[0]
        tables_of = getattr(self.defs, "tables_of", None)
        # a system that declares no tables lets its metrics read none (never "any")
        tables = frozenset(tables_of(system.id)) if tables_of is not None else frozenset()
        return MetricSql(metric.id, system.id, metric.sql, system.dialect, tables), system

    def spec(self, metric: Metric) -> tuple[MetricSql, SecretUrl] | None:
        """:meth:`metric_sql` and the system's URL.

        Raises
        ------
        EngineConnectionError
            Two connected systems, or a connection variable that is not set.
        """
        found = self.metric_sql(metric)
        if found is None:
            return None
        spec, system = found
        assert system.connection is not None
        return spec, resolve(system.connection.env)

    def engine(self, url: SecretUrl) -> SqlEngine:
        with self._lock:
            found = self._engines.get(url)
            if found is None:
                found = open_engine(url, data_dir=self.root / "data")
                self._engines[url] = found
            return found

    def table(self, metric: Metric, known_dims: Any, label: str) -> RemoteTable | None:
        """Probe the metric's SQL on its engine: its dimension columns and period length.

        Raises
        ------
        EngineQueryError, EngineConnectionError
            The SQL failed (metric, system and the engine's message) or returns no tidy rows.
        """
        found = self.spec(metric)
        if found is None:
            return None
        spec, url = found
        engine = self.engine(url)
        result = fetch(engine, spec, lambda tree: probe_sql(tree, engine.dialect))
        cols = lower_columns(result.columns)
        if "period" not in cols or "value" not in cols:
            raise EngineQueryError(
                Said.of(
                    N_(
                        "{label} on {engine}: returns {columns}; return period, dimension "
                        "columns and value"
                    ),
                    label=label,
                    engine=engine.kind,
                    columns=", ".join(cols),
                ),
                {"metric": metric.id, "system": spec.system},
            )
        dims = [c for c in cols if c not in ("period", "value")]
        unknown = sorted(set(dims) - set(known_dims(dims)))
        if unknown:
            raise EngineQueryError(
                Said.of(
                    N_("{label}: columns {columns} are not dimension ids (dimensions.yaml)"),
                    label=label,
                    columns=", ".join(unknown),
                ),
                {"metric": metric.id, "system": spec.system},
            )
        table = RemoteTable(f"remote:{spec.system}", engine=engine, spec=spec)
        table.dims = tuple(sorted(dims))
        table.grains["_"] = {(1 << len(dims)) - 1}
        # the total by period (what a trend asks first): its periods' length is the grain
        table.period_len["_"] = 0
        totals = table.fetch_rows(Rollup())
        if not totals:
            raise EngineQueryError(
                Said.of(
                    N_("{label} on {engine}: its sql returned no rows"),
                    label=label,
                    engine=engine.kind,
                )
            )
        table.period_len["_"] = len(str(totals[0][0]))
        table.rows = len(totals)
        return table

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()


def cached_table(engine: Any, metric: Metric, con: Any, name: str) -> ObservedTable | None:
    """The metric's rows from the values cache (``kpigraph values refresh``) as a loaded table,
    when the cache holds them under the metric's current SQL; records when they were fetched
    (``engine.fetched``). ``None``: not cached (the engine is asked directly)."""
    from values.cache import ValuesCache, fresh_for, query_hash, rows_table

    cache = ValuesCache(engine.root)
    if not cache.exists():
        return None
    found = engine.remote.metric_sql(metric)
    if found is None:
        return None
    qhash = query_hash(found[0], metric)
    cached = cache.read(metric.id, qhash)
    if cached is None or not (cached.periods or cached.copy):
        return None
    # a rate's quarters, years, weeks, fiscal and retail periods
    engine.coarse[metric.id] = cache.read_coarse(metric.id, qhash, engine.calendar)
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow: pa.Table | None = None
    if cached.copy is not None:  # the columnar copy: no Python object per row
        try:
            arrow = pq.read_table(cached.copy)
        except (OSError, pa.ArrowException):
            arrow = None
        if arrow is None or arrow.schema.names != ["period", "members", "value"]:
            arrow, cached = None, cache.read(metric.id, qhash, columnar=False)  # from SQLite
            if cached is None:
                return None
    if arrow is None:
        arrow = rows_table(cached.periods, cached.members, cached.values)
    if arrow.num_rows == 0:
        return None
    # each dimension's member out of the stored JSON object, by DuckDB's JSON reader
    members = "".join(
        f", json_extract_string(members, {_sql_text(_json_path(d))}) AS {_sql_ident(d)}"
        for d in cached.dims
    )
    _settle(con)
    con.register(f"{name}_arrow", arrow)
    try:
        table = load_query(
            con, f"SELECT period{members}, value FROM {name}_arrow",
            f"metric {metric.id!r} (values cache)", name, engine.defs.dimension_ids,
        )  # fmt: skip
    finally:
        _settle(con)
        con.unregister(f"{name}_arrow")
    fresh = fresh_for(metric.update_frequency)
    stale = fresh is not None and time.time() - cached.fetched_at > fresh
    engine.fetched[metric.id] = (cached.fetched_at, stale)
    # an ObservedTable of one metric: the engine reads it under the key "_" like its sql's
    return table


def _settle(con: Any) -> None:
    """DuckDB ≥ 2 refuses register/unregister while a statement's result (even a DDL's) is
    pending on the connection: run and drain a trivial one first."""
    con.execute("SELECT 1").fetchall()


def _json_path(key: str) -> str:
    """The JSON path of one object key (``$."store"``), quoted for any key text."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
