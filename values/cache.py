"""The values cache: what ``kpigraph values refresh`` fetched from the warehouse, kept as tidy
rows (metric, period, members, value) with the query's hash and the time it ran.

- A refresh queries, per metric whose system has a ``connection``, only the periods not cached
  yet — or all of them when the metric's SQL, dialect or version changed (the hash differs) or
  ``full`` is asked. Each metric is written in ONE transaction: a metric whose query fails keeps
  what it had (nothing half-cached) and the others go on; the failure is listed.
- The values engine reads a metric from the cache when it holds rows of the metric's current
  hash (so an unreachable engine still answers, with the age of its numbers); otherwise it asks
  the engine directly (values/remote.py).
- Staleness: a metric's ``update_frequency`` (每日/daily, 每周/weekly, 每月/monthly, 每小时/hourly)
  says how old its cached rows may get before they are marked stale.

The cache is one SQLite file, ``.kpigraph-cache/values.sqlite`` in the catalog directory. Beside
it, after each metric's write, a columnar copy of that metric's rows
(``.kpigraph-cache/rows/<metric key>.<token>.parquet``) that the values engine reads without
Python touching each row — a command line call reads a million cached rows in a second instead of
several. The copy is named by a token written in the metric's transaction: a copy whose token
is not the one in ``metric_meta`` (a refresh killed between its commit and the copy, a copy from
elsewhere) is never read; the rows then come from SQLite.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cache_root import CATALOG_CACHE_DIR
from core.i18n import Said
from graph_schema.calendar import Calendar
from graph_schema.confined import ADVICE, LINKED_OUT, escapes
from graph_schema.errors import CatalogIssue, KpigraphError
from graph_schema.models import Metric
from values.chunks import by_periods
from values.coarse import fetch_coarse, needs_coarse
from values.engines.base import MetricSql, Rollup
from values.errors import NotValuesQueryError, ValuesFileError

CACHE_DIR = CATALOG_CACHE_DIR
_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_meta (
  metric TEXT PRIMARY KEY, query_hash TEXT NOT NULL, system TEXT NOT NULL,
  dims TEXT NOT NULL, period_len INTEGER NOT NULL, fetched_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS metric_rows (
  metric TEXT NOT NULL, period TEXT NOT NULL, members TEXT NOT NULL, value REAL NOT NULL,
  query_hash TEXT NOT NULL, fetched_at REAL NOT NULL, PRIMARY KEY (metric, period, members));
CREATE TABLE IF NOT EXISTS metric_rows_coarse (
  metric TEXT NOT NULL, grain TEXT NOT NULL, period TEXT NOT NULL, members TEXT NOT NULL,
  value REAL NOT NULL, query_hash TEXT NOT NULL, fetched_at REAL NOT NULL,
  PRIMARY KEY (metric, period, members));
"""
#: update_frequency words → seconds a cached value stays fresh
_FREQUENCIES = [
    (("小时", "hour"), 3600.0),
    (("每日", "每天", "日更", "daily", "day"), 86400.0),
    (("每周", "weekly", "week"), 7 * 86400.0),
    (("每月", "月度", "monthly", "month"), 31 * 86400.0),
]


def query_hash(spec: MetricSql, metric: Metric) -> str:
    """What the cached rows depend on: the SQL, its dialect and system, and how the values roll
    up. Not the metric's version: a store numbers versions the files may not declare, and the
    same SQL gives the same rows whatever the definition's words say (so ``check-values
    --catalog DIR`` reads what ``values refresh`` cached from the store)."""
    text = json.dumps([spec.sql, spec.dialect, spec.system, metric.aggregation])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fresh_for(update_frequency: str | None) -> float | None:
    """How long (s) a value stays fresh by the metric's ``update_frequency``; ``None``: unsaid.

    >>> fresh_for("每日02:00更新前一日数据")
    86400.0
    >>> fresh_for("每月结账后更新")
    2678400.0
    """
    text = (update_frequency or "").lower()
    for words, seconds in _FREQUENCIES:
        if any(w in text for w in words):
            return seconds
    return None


@dataclass
class Cached:
    """A metric's cached rows: ``(period, members by dims, value)``."""

    dims: tuple[str, ...]
    period_len: int
    fetched_at: float
    #: column-wise, in (period, members) order: the periods, the members as stored (a JSON
    #: object of dimension → member, parsed where the rows are loaded: DuckDB's JSON reader
    #: parses a million in a fraction of what Python's ``json.loads`` a row costs) and values
    periods: list[str]
    members: list[str]
    values: list[float]
    #: the columnar copy holding the rows instead (then the three lists are empty)
    copy: Path | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        """``(period, *members by dims, value)`` tuples (small results, tests)."""
        periods, members_of, values = self.periods, self.members, self.values
        if self.copy is not None:
            import pyarrow.parquet as pq

            table = pq.read_table(self.copy)
            periods, members_of, values = (table.column(c).to_pylist() for c in table.column_names)
        out = []
        for period, members, value in zip(periods, members_of, values, strict=True):
            found = json.loads(members)
            out.append((period, *(found.get(d) for d in self.dims), value))
        return out


@dataclass
class RefreshReport:
    refreshed: dict[str, int] = field(default_factory=dict)  # metric → rows written
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # metric → why
    #: metric → why its SQL is not asked (not a query of values by period: it documents the
    #: calculation); not a failure
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "refreshed": self.refreshed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "skipped": self.skipped,
        }


#: ``(cache, connection, (metric, spec) pairs, start, end, full, report, progress)`` → the
#: pairs it did not refresh (:class:`values.refresh_fused.FusedRefresh`)
Batch = Callable[..., list[tuple[Metric, MetricSql]]]


class ValuesCache:
    def __init__(self, root: Path, calendar: Calendar | None = None) -> None:
        self.path = Path(root) / CACHE_DIR / "values.sqlite"
        #: the catalog's calendar: a rate's weeks, fiscal and retail periods are asked by it
        self.calendar = calendar

    def _connect(self) -> sqlite3.Connection:
        """Open (and create) the cache.

        Raises
        ------
        ValuesFileError
            The cache folder, its file or its copies' folder is a link out of the catalog
            directory (a hostile git tree could point it anywhere: nothing is read or
            written there).
        """
        root = self.path.parent.parent
        for path in (self.path.parent, self.path, self.path.parent / "rows"):
            if (path.exists() or path.is_symlink()) and escapes(root, path):
                rel = str(path.relative_to(root))
                raise ValuesFileError(
                    [CatalogIssue(rel, None, Said.of(LINKED_OUT), Said.of(ADVICE))]
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.executescript(_SCHEMA)
        have = {row[1] for row in con.execute("PRAGMA table_info(metric_meta)")}
        for column, kind in (("token", "TEXT"), ("oldest", "REAL")):  # caches before the copy
            if column not in have:
                try:
                    con.execute(f"ALTER TABLE metric_meta ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
        return con

    def copy_path(self, metric_id: str, token: str) -> Path:
        """Where the columnar copy of a metric's rows under ``token`` lives."""
        key = hashlib.sha256(metric_id.encode()).hexdigest()[:16]
        return self.path.parent / "rows" / f"{key}.{token}.parquet"

    def _write_copy(self, con: sqlite3.Connection, metric_id: str, token: str) -> None:
        """Write the metric's rows as Parquet under ``token`` (to a temporary name, then
        renamed) and remove its older copies. Best effort: without a copy the rows are read
        from SQLite."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.copy_path(metric_id, token)
        key = path.name.split(".", 1)[0]
        try:
            table = rows_table(*_columns(con, metric_id))
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            pq.write_table(table, partial)
            os.replace(partial, path)
        except (OSError, sqlite3.Error, pa.ArrowException):
            return
        for old in path.parent.glob(f"{key}.*.parquet"):
            if old != path:
                old.unlink(missing_ok=True)

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self, metric_id: str, qhash: str, *, columnar: bool = True) -> Cached | None:
        """The metric's rows when cached under ``qhash`` (its current SQL), else ``None``.
        ``columnar``: point to the columnar copy when it is the current one (else, or when it
        cannot be read, the rows come from SQLite)."""
        if not self.exists():
            return None
        con = self._connect()
        try:
            meta = con.execute(
                "SELECT dims, period_len, fetched_at, token, oldest FROM metric_meta "
                "WHERE metric = ? AND query_hash = ?",
                (metric_id, qhash),
            ).fetchone()
            if meta is None:
                return None
            dims = tuple(json.loads(meta[0]))
            token, oldest = meta[3], meta[4]
            if columnar and token and oldest is not None:
                copy = self.copy_path(metric_id, str(token))
                root = self.path.parent.parent
                if copy.is_file() and not escapes(root, copy):
                    return Cached(dims, int(meta[1]), float(oldest), [], [], [], copy=copy)
            periods, members, values = _columns(con, metric_id)
            (oldest,) = con.execute(
                "SELECT min(fetched_at) FROM metric_rows WHERE metric = ?", (metric_id,)
            ).fetchone()
            return Cached(dims, int(meta[1]), float(oldest or meta[2]), periods, members, values)
        finally:
            con.close()

    def read_coarse(
        self, metric_id: str, qhash: str, calendar: Calendar | None = None
    ) -> list[tuple[str, str, float]]:
        """A rate's cached rows at coarser grains ``(period, members JSON, value)`` under
        ``qhash`` (:mod:`values.coarse`): fiscal ones only of ``calendar``'s fiscal year."""
        if not self.exists():
            return []
        fiscal = (
            f"%@{calendar.fiscal_year_start}" if calendar is not None and calendar.has_fiscal
            else ""
        )  # fmt: skip
        con = self._connect()
        try:
            return con.execute(
                "SELECT period, members, value FROM metric_rows_coarse "
                "WHERE metric = ? AND query_hash = ? "
                "AND (grain NOT LIKE 'fiscal%' OR grain LIKE ?) ORDER BY period, members",
                (metric_id, qhash, fiscal),
            ).fetchall()
        finally:
            con.close()

    def refresh(
        self,
        metrics: Iterable[Metric],
        table_of: Callable[[Metric], Any],
        spec_of: Callable[[Metric], MetricSql | None],
        *,
        start: str | None = None,
        end: str | None = None,
        full: bool = False,
        progress: Callable[[str], None] | None = None,
        batch: Batch | None = None,
    ) -> RefreshReport:
        """Fetch what is missing, metric by metric (one transaction each). ``batch``: metrics
        it can ask together (one scan for many, :mod:`values.refresh_fused`) are asked so;
        the others, and any batch that fails, one by one."""
        report = RefreshReport()
        todo: list[tuple[Metric, MetricSql]] = []
        for metric in metrics:
            try:
                spec = spec_of(metric)
            except KpigraphError as exc:
                report.failed[metric.id] = exc.message
                continue
            if spec is not None:
                todo.append((metric, spec))
            elif progress:
                progress(metric.id)
        if not todo:
            return report  # nothing connected: no cache file made in the catalog directory
        con = self._connect()
        try:
            if batch is not None:
                todo = batch(self, con, todo, start, end, full, report, progress)
            for metric, spec in todo:
                if progress:
                    progress(metric.id)
                try:
                    self._one(con, metric, spec, table_of, start, end, full, report)
                except NotValuesQueryError as exc:
                    report.skipped[metric.id] = exc.message
                except KpigraphError as exc:
                    report.failed[metric.id] = exc.message
        finally:
            con.close()
        return report

    def cached_periods(
        self, con: sqlite3.Connection, metric_id: str, qhash: str, full: bool
    ) -> tuple[bool, set[str]]:
        """``(same, periods)``: whether the cache holds the metric under ``qhash`` (and
        ``full`` is not asked), and the periods it holds then (else none)."""
        meta = con.execute(
            "SELECT query_hash FROM metric_meta WHERE metric = ?", (metric_id,)
        ).fetchone()
        same = meta is not None and meta[0] == qhash and not full
        if not same:
            return False, set()
        found = con.execute(
            "SELECT DISTINCT period FROM metric_rows WHERE metric = ?", (metric_id,)
        )
        return True, {p for (p,) in found}

    def _one(
        self,
        con: sqlite3.Connection,
        metric: Metric,
        spec: MetricSql,
        table_of: Callable[[Metric], Any],
        start: str | None,
        end: str | None,
        full: bool,
        report: RefreshReport,
    ) -> None:
        qhash = query_hash(spec, metric)
        table = table_of(metric)  # a RemoteTable: its probe lists the periods (totals by month)
        totals = table.fetch_rows(Rollup())
        every = sorted(str(r[0]) for r in totals)
        periods = [
            p for p in every if (not start or p >= start) and (not end or p[: len(end)] <= end)
        ]
        same, cached = self.cached_periods(con, metric.id, qhash, full)
        missing = [p for p in periods if p not in cached]
        if not missing:
            report.unchanged.append(metric.id)
            return
        dims = tuple(table.dims)
        plen = table.period_len["_"]
        rows = by_periods(
            lambda chunk: table.fetch_rows(
                Rollup(grain=dims, periods=chunk, plen=plen, stored_plen=plen)
            ),
            missing,
        )
        coarse = (
            fetch_coarse(table.engine, spec, dims, self.calendar, every)
            if needs_coarse(metric)
            else None
        )
        self.write(con, metric, spec, same, missing, dims, plen, rows, coarse)
        report.refreshed[metric.id] = len(rows)

    def write(
        self,
        con: sqlite3.Connection,
        metric: Metric,
        spec: MetricSql,
        same: bool,
        missing: Iterable[str],
        dims: tuple[str, ...],
        plen: int,
        rows: Iterable[tuple[Any, ...]],
        coarse: Mapping[str, Iterable[tuple[Any, ...]]] | None = None,
    ) -> None:
        """Store a metric's fetched rows ``(period, *members by dims, value)`` for the
        ``missing`` periods, in ONE transaction (``same``: the cache holds the metric under its
        current hash; else its old rows go). ``coarse``: a rate's rows asked at quarters and
        years (:mod:`values.coarse`), replacing those it had."""
        qhash = query_hash(spec, metric)
        now = time.time()
        con.execute("BEGIN IMMEDIATE")
        try:
            if not same or coarse is not None:
                con.execute("DELETE FROM metric_rows_coarse WHERE metric = ?", (metric.id,))
            for grain, found in (coarse or {}).items():
                con.executemany(
                    "INSERT OR REPLACE INTO metric_rows_coarse VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (metric.id, grain, str(r[0]), _members(dims, r[1:-1]), float(r[-1]),
                         qhash, now)
                        for r in found
                        if r[-1] is not None and r[0] is not None
                    ],
                )  # fmt: skip
            if not same:
                con.execute("DELETE FROM metric_rows WHERE metric = ?", (metric.id,))
            else:
                con.executemany(
                    "DELETE FROM metric_rows WHERE metric = ? AND period = ?",
                    [(metric.id, p) for p in missing],
                )
            con.executemany(
                "INSERT OR REPLACE INTO metric_rows VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (metric.id, str(r[0]), _members(dims, r[1:-1]), float(r[-1]), qhash, now)
                    for r in rows
                    if r[-1] is not None
                ],
            )
            (oldest,) = con.execute(
                "SELECT min(fetched_at) FROM metric_rows WHERE metric = ?", (metric.id,)
            ).fetchone()
            token = secrets.token_hex(8)
            con.execute(
                "INSERT OR REPLACE INTO metric_meta "
                "(metric, query_hash, system, dims, period_len, fetched_at, token, oldest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (metric.id, qhash, spec.system, json.dumps(list(dims)), plen, now, token,
                 oldest if oldest is not None else now),
            )  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._write_copy(con, metric.id, token)


def _columns(con: sqlite3.Connection, metric_id: str) -> tuple[list[str], list[str], list[float]]:
    """A metric's cached rows column-wise: periods, members (JSON), values."""
    found = con.execute(
        "SELECT period, members, value FROM metric_rows WHERE metric = ? ORDER BY period, members",
        (metric_id,),
    ).fetchall()
    return [r[0] for r in found], [r[1] for r in found], [r[2] for r in found]


def rows_table(periods: list[str], members: list[str], values: list[float]) -> Any:
    """The cached rows as an Arrow table ``(period, members, value)``: what the columnar copy
    holds and what the values engine reads."""
    import pyarrow as pa

    return pa.table(
        {
            "period": pa.array(periods, pa.string()),
            "members": pa.array(members, pa.string()),
            "value": pa.array(values, pa.float64()),
        }
    )


def _members(dims: tuple[str, ...], values: tuple[Any, ...]) -> str:
    return json.dumps(
        {d: (None if v is None else str(v)) for d, v in zip(dims, values, strict=True)},
        ensure_ascii=False,
        sort_keys=True,
    )


def refresh_engine(
    engine: Any,
    metric_ids: Iterable[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    system: str | None = None,
    full: bool = False,
    progress: Callable[[str], None] | None = None,
    fuse: Any = True,
) -> RefreshReport:
    """Refresh the cache of a :class:`values.engine.ValuesEngine`'s catalog: its metrics (or
    ``metric_ids``) whose system has a connection (or is ``system``). ``fuse``: metrics of
    one table and grain are fetched by one query (:mod:`values.refresh_fused`); off, each by
    its own (the results are the same); a :class:`~values.refresh_fused.FusedRefresh` of
    the engine: that one (it records the queries it ran)."""
    from values.refresh_fused import FusedRefresh

    ids = list(metric_ids) if metric_ids is not None else engine.defs.all_metric_ids()
    metrics = [engine.metric(i) for i in ids]

    def spec_of(metric: Metric) -> MetricSql | None:
        found = engine.remote.metric_sql(metric)
        if found is None or (system and found[0].system != system):
            return None
        return found[0]  # type: ignore[no-any-return]

    def table_of(metric: Metric) -> Any:
        return engine.remote.table(metric, engine.defs.dimension_ids, f"metric {metric.id!r} sql")

    return ValuesCache(engine.root, engine.calendar).refresh(
        metrics, table_of, spec_of, start=start, end=end, full=full, progress=progress,
        batch=fuse if isinstance(fuse, FusedRefresh) else FusedRefresh(engine) if fuse else None,
    )  # fmt: skip
