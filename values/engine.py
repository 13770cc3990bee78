"""The values engine: observed values, targets, metric SQL and derived metrics on DuckDB.

Where a metric's values come from, in order:

1. **derived** — it has a ``formula`` and every input has values: computed at the asked grain
   from its inputs' values *aggregated to that grain* (客单价 of a region = Σ营收 / Σ进厂台次,
   never an average of store ratios);
2. **observed** — rows for it in ``values/`` (CSV/Parquet);
3. **sql** — its ``sql`` run by DuckDB over the catalog's ``data/`` files (each file is a table
   named after the file); the query returns tidy rows: ``period``, dimension columns, ``value``.

Observed and SQL values roll up to a coarser grain (fewer dimensions, or daily → monthly) by the
metric's ``aggregation``: ``sum`` (the default), ``avg`` (unweighted mean), ``last`` (sum over
members, the last period's value over time: stocks) or ``none`` (no roll-up: asking for a grain
the data does not have is refused).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.confined import ADVICE, LINKED_OUT, escapes
from core.i18n import N_, Said, _
from graph_schema.calendar import Calendar, read_calendar
from graph_schema.errors import CatalogIssue, NodeNotFoundError
from graph_schema.formula import parse_formula
from graph_schema.hierarchy import Hierarchy, HierarchyError, read_mapping
from graph_schema.models import Aggregation, Metric
from values.definitions import Definitions
from values.derive import derive
from values.errors import (
    EngineConnectionError,
    EngineQueryError,
    NoValuesError,
    ValuesFileError,
    ValuesQueryError,
)
from values.files import ObservedTable, load_query, load_table
from values.frame_query import Frame, MonthlyOnly, Query, query_sql, rolled
from values.grains import coverage, resolve_periods
from values.remote import RemoteSources, RemoteTable, cached_table
from values.sandbox import Deadline, SandboxLimits, connect, duckdb_refusal, lock_down

if TYPE_CHECKING:
    import pyarrow as pa

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
log = logging.getLogger("kpigraph.values")


class ValuesEngine:
    """Values of one catalog directory. Thread-safe (one lock around DuckDB).

    Parameters
    ----------
    root
        The catalog directory (its ``values/``, ``targets/`` and ``data/`` are read).
    definitions
        Where metric definitions come from (the loaded catalog or the store).
    limits
        Time and memory limits of metric SQL (default: ``KPIGRAPH_VALUES_SQL_*``).

    Metric SQL runs sandboxed (:mod:`values.sandbox`): checked by two parsers, on a
    connection that reads nothing but the catalog's ``data/`` files once they are registered.
    """

    def __init__(
        self, root: str | Path, definitions: Definitions, limits: SandboxLimits | None = None
    ) -> None:
        self.root = Path(root)
        self.defs = definitions
        self.limits = limits or SandboxLimits()
        self._lock = threading.RLock()
        # one thread (the CLI and the API must print the same numbers): see values.sandbox
        self._con = connect(self.limits)
        self.duckdb_seconds = 0.0
        #: metric → why its sql gave no values; worded when read (the engine is kept for
        #: requests in either language)
        self.notes: dict[str, str | Said] = {}
        self._sql: dict[str, ObservedTable | None] = {}
        self._files: list[Path] = []  # data/ files the views read (the only ones allowed)
        self.remote = RemoteSources(self.root, definitions)  # systems with a `connection`
        self.fetched: dict[str, tuple[float, bool]] = {}  # metric → (cached at, stale)
        #: a rate's quarter and year rows from the values cache (values/coarse.py)
        self.coarse: dict[str, list[tuple[str, str, float]]] = {}
        #: periods of every grain (the fiscal year's start from kpigraph.yaml's ``calendar``)
        self.calendar: Calendar = read_calendar(self.root)
        self._hierarchies: dict[tuple[str, str, tuple[str, ...]], Hierarchy] = {}
        started = time.perf_counter()
        try:
            self.tables = self._register_data()
            self.observed = self._load("values", "value", "obs")
            self.targets = self._load("targets", "target", "tgt")
            lock_down(self._con, self._files)
        except BaseException:
            self._con.close()
            raise
        self.load_seconds = time.perf_counter() - started
        log.info(
            "values: %d rows of values/ and targets/ read and checked in %.2f s",
            self.observed.rows + self.targets.rows, self.load_seconds,
        )  # fmt: skip

    # -- loading -------------------------------------------------------------------------

    def _load(self, folder: str, column: str, table: str) -> ObservedTable:
        return load_table(
            self._con,
            self.root,
            folder,
            column,
            table,
            lambda ids: set(self.defs.metrics(ids)),
            self.defs.dimension_ids,
        )

    def _register_data(self) -> list[str]:
        folder = self.root / "data"
        if not folder.is_dir():
            return []
        issues: list[CatalogIssue] = []
        names: list[str] = []
        for path in sorted(folder.iterdir()):
            suffix = path.suffix.lower()
            if not path.is_file() or suffix not in (".csv", ".parquet"):
                continue
            name = path.stem.lower()
            if escapes(self.root, path):
                issues.append(
                    CatalogIssue(
                        str(path.relative_to(self.root)),
                        None,
                        Said.of(LINKED_OUT),
                        Said.of(ADVICE),
                    )
                )
                continue
            if not _TABLE_NAME.match(name):
                issues.append(
                    CatalogIssue(
                        str(path.relative_to(self.root)),
                        None,
                        Said.of(N_("{name} cannot name a table"), name=repr(path.name)),
                        Said.of(N_("name data files like dms_orders.csv (letters, digits, '_')")),
                    )
                )
                continue
            reader = "read_parquet" if suffix == ".parquet" else "read_csv"
            self._files.append(path.resolve())
            literal = str(path.resolve()).replace("'", "''")
            self._con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{literal}')")
            names.append(name)
        if issues:
            raise ValuesFileError(issues)
        return names

    # -- definitions ---------------------------------------------------------------------

    def metric(self, metric_id: str) -> Metric:
        found = self.defs.metrics([metric_id]).get(metric_id)
        if found is None:
            raise NodeNotFoundError(f"Metric:{metric_id}")
        return found

    def inputs(self, metric: Metric) -> list[str]:
        return (
            [name for name, _ in parse_formula(metric.formula).inputs()] if metric.formula else []
        )

    def source(self, metric_id: str, _seen: frozenset[str] = frozenset()) -> str | None:
        """``"derived"``, ``"observed"``, ``"sql"`` or ``None`` (no values)."""
        metric = self.metric(metric_id)
        if metric.formula and metric_id not in _seen:
            names = self.inputs(metric)
            known = self.defs.metrics(names)
            if len(known) == len(names) and all(self.source(n, _seen | {metric_id}) for n in names):
                return "derived"
        if metric_id in self.observed.grains:
            return "observed"
        if self._sql_table(metric) is not None:
            return "sql"
        return None

    def _sql_table(self, metric: Metric) -> ObservedTable | None:
        if metric.sql and metric.id not in self._sql:
            label = f"metric {metric.id!r} sql"
            try:  # its system has a connection: the values cache, else the engine there
                try:
                    with self._lock:
                        cached = cached_table(self, metric, self._con, f"cache_{len(self._sql)}")
                except ValuesFileError as exc:  # a cache linked out of the catalog: not read
                    self.notes[metric.id] = exc.said
                    cached = None
                remote = cached or self.remote.table(metric, self.defs.dimension_ids, label)
            except (EngineQueryError, EngineConnectionError, ValuesFileError) as exc:
                self.notes[metric.id] = exc.said
                remote = None
                self._sql[metric.id] = None
            if remote is not None:
                self._sql[metric.id] = remote
        if metric.id in self._sql:
            return self._sql[metric.id]
        if not metric.sql or not self.tables:
            return None
        with self._lock:
            if metric.id not in self._sql:
                started = time.perf_counter()
                self._sql[metric.id] = self._run_sql(metric, metric.sql)
                self.duckdb_seconds += time.perf_counter() - started
            return self._sql[metric.id]

    def _run_sql(self, metric: Metric, sql: str) -> ObservedTable | None:
        """The metric's SQL, checked, then run within the time limit (once per engine: a
        refusal, failure or timeout is remembered in ``notes``)."""
        refused = duckdb_refusal(self._con, sql, self.tables)
        if refused is not None:
            self.notes[metric.id] = Said.of(N_("its sql is refused: {reason}"), reason=refused.why)
            return None
        body = sql.strip()
        body = body[:-1] if body.endswith(";") else body
        with Deadline(self._con, self.limits.sql_timeout) as deadline:
            try:
                table = load_query(
                    self._con,
                    body + "\n",  # a closing line comment must not swallow the wrapper's ')'
                    f"metric {metric.id!r} sql",
                    f"sql_{len(self._sql)}",
                    self.defs.dimension_ids,
                )
            except ValuesFileError as exc:
                self.notes[metric.id] = exc.said
                table = None
        if deadline.fired:
            self.notes[metric.id] = Said.of(
                N_(
                    "its sql ran longer than {seconds} s and was stopped "
                    "(KPIGRAPH_VALUES_SQL_TIMEOUT)"
                ),
                seconds=f"{self.limits.sql_timeout:g}",
            )
            return None
        if table is not None and not table.rows:
            self.notes[metric.id] = Said.of(N_("its sql returned no rows"))
        return table if table is not None and table.rows else None

    def hierarchy(self, dimension_id: str) -> Hierarchy | None:
        """The hierarchy ``dimension_id`` declares (``levels``, and its ``mapping`` file read),
        or ``None``.

        Raises
        ------
        HierarchyError
            A level that is not a dimension, or a mapping file that is missing or inconsistent.
        """
        lookup = getattr(self.defs, "dimensions", None)
        dim = lookup([dimension_id]).get(dimension_id) if lookup is not None else None
        if dim is None or not dim.levels:
            return None
        unknown = sorted(set(dim.levels) - self.defs.dimension_ids(dim.levels))
        if unknown:
            raise HierarchyError(
                Said.of(
                    N_(
                        "dimension {dimension}: levels {levels} are not dimensions (declare each "
                        "level in dimensions.yaml)"
                    ),
                    dimension=repr(dimension_id),
                    levels=", ".join(unknown),
                ),
                {"dimension": dimension_id},
            )
        if dim.mapping is None:
            return Hierarchy(dimension_id, list(dim.levels))
        key = (dimension_id, dim.mapping, tuple(dim.levels))
        found = self._hierarchies.get(key)
        if found is None:
            found = read_mapping(dimension_id, list(dim.levels), self.root, dim.mapping)
            self._hierarchies[key] = found
        return found

    # -- queries -------------------------------------------------------------------------

    def frame(
        self,
        metric_id: str,
        grain: Sequence[str] = (),
        *,
        periods: Iterable[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        where: Mapping[str, str] | None = None,
        monthly: bool = True,
        kind: str = "value",
    ) -> Frame:
        """Values of ``metric_id`` by ``grain`` members and period.

        ``kind="target"`` reads ``targets/`` (targets are given, never derived);
        ``kind="observed"`` ignores the formula (for identity checks).

        Raises
        ------
        NoValuesError
            When the metric (or an input it needs) has no values at this grain.
        ValuesQueryError
            When rolling up would need an aggregation the metric refuses.
        """
        asked, start, end, plen, buckets = resolve_periods(
            self.calendar, periods, start, end, monthly
        )
        q = Query(tuple(grain), asked, start, end, dict(where or {}), plen, buckets)
        metric = self.metric(metric_id)
        try:
            return self._frame(metric, q, kind, frozenset())
        except MonthlyOnly as exc:  # named after the metric asked for, not an input of it
            source = str(exc.details.get("metric") or metric.id)
            if source != metric.id:
                message = _(
                    "{metric} (through its input {input}): {problem}",
                    metric=metric.name,
                    problem=exc.message,
                    input=self.metric(source).name,
                )
            else:
                message = _("{metric}: {problem}", metric=metric.name, problem=exc.message)
            raise ValuesQueryError(message, {**exc.details, "metric": metric.id}) from None

    def _frame(self, metric: Metric, q: Query, kind: str, seen: frozenset[str]) -> Frame:
        if kind == "target":
            return self._rolled(metric, self.targets, metric.id, q, "targets/")
        if kind == "value" and metric.formula and metric.id not in seen:
            names = self.inputs(metric)
            if self.source(metric.id, seen) == "derived":
                frames = {
                    n: self._frame(self.metric(n), q, "value", seen | {metric.id}) for n in names
                }
                return derive(metric, frames)
        if metric.id in self.observed.grains:
            return self._rolled(metric, self.observed, metric.id, q, "values/")
        table = self._sql_table(metric)
        if table is not None:
            return self._rolled(metric, table, "_", q, "its sql")  # where: said in messages
        why = self._why_none(metric, frozenset())
        details: dict[str, object] = {"metric": metric.id, "values_dir": str(self.root)}
        if why:
            raise NoValuesError(
                _("no values for {metric}: {why}", metric=metric.name, why=why), details
            )
        raise NoValuesError(
            _(
                "no values for {metric} in values/, from its sql or its formula; values are "
                "read from {root} (set KPIGRAPH_VALUES_DIR to change it)",
                metric=metric.name,
                root=self.root,
            ),
            details,
        )

    def _why_none(self, metric: Metric, seen: frozenset[str]) -> str | None:
        """Why ``metric`` has no values, when something said so: its own note (its system's
        connection variable is not set, its SQL refused), else the first of an input's."""
        if metric.id in self.notes:
            return str(self.notes[metric.id])
        if metric.id in seen:
            return None
        known = self.defs.metrics(self.inputs(metric))
        for name, node in known.items():
            if self.source(name) is None:
                why = self._why_none(node, seen | {metric.id})
                if why:
                    return (
                        why
                        if name not in self.notes
                        else _("{metric}: {problem}", metric=node.name, problem=why)
                    )
        return None

    def _rolled(
        self, metric: Metric, table: ObservedTable, key: str, q: Query, where: str
    ) -> Frame:
        return rolled(
            metric,
            table,
            key,
            q,
            where,
            self.calendar,
            self.coarse.get(metric.id, []),
            lambda grain, agg, ranges: self._query(table, key, grain, q, agg, ranges),
        )

    def _query(
        self,
        table: ObservedTable,
        key: str,
        grain: int,
        q: Query,
        agg: Aggregation,
        ranges: tuple[tuple[str, str, str], ...] | None = None,
    ) -> Frame:
        if isinstance(table, RemoteTable):  # pushed down: filters and GROUP BY in the engine
            return table.query(
                q.grain, q.where, q.periods, q.start, q.end, q.plen, agg.value, ranges
            )
        sql, params = query_sql(table, key, grain, q, agg, ranges)
        started = time.perf_counter()
        with self._lock:
            rows = self._con.execute(sql, params).fetchall()
        self.duckdb_seconds += time.perf_counter() - started
        out: Frame = {}
        for row in rows:
            out.setdefault(tuple(row[1:-1]), {})[row[0]] = float(row[-1])
        return out

    def frame_table(
        self,
        metric_id: str,
        grain: Sequence[str],
        *,
        periods: Iterable[str],
        kind: str = "value",
        max_rows: int | None = None,
    ) -> pa.Table | None:
        """:meth:`frame` column-wise, for frames of millions of rows: a pyarrow table with the
        columns ``period``, the members of ``grain`` (in its order) and ``value`` — the rows
        :meth:`frame` would turn into its dictionary, from the same query. ``None`` where the
        values are not one query of this engine's tables (``values/``, ``targets/``, metric
        SQL run here) at the stored period grain — derived from a formula, from another
        system, rolled up from days or into quarters: ask :meth:`frame` then. ``max_rows``:
        at most one row more than this is read (the caller refuses a frame above its budget
        without holding all of it).

        Raises
        ------
        NoValuesError, ValuesQueryError
            As :meth:`frame`.
        """
        metric = self.metric(metric_id)
        table: ObservedTable | None
        key = metric.id
        if kind == "target":
            table = self.targets
        elif metric.formula and self.source(metric_id) == "derived":
            return None
        elif metric.id in self.observed.grains:
            table = self.observed
        else:  # its sql, run here (a system of its own answers frame())
            table, key = self._sql_table(metric), "_"
            if table is None or isinstance(table, RemoteTable):
                return None
        if key not in table.grains:
            return None
        asked, start, end, plen, buckets = resolve_periods(self.calendar, periods, None, None, True)
        q = Query(tuple(grain), asked, start, end, {}, plen, buckets)
        if buckets is not None or q.plen != table.period_len[key]:
            return None  # periods of another grain than stored: frame() rolls them up
        agg = metric.aggregation or (Aggregation.NONE if metric.formula else Aggregation.SUM)
        if any(d not in table.dims for d in q.grain):
            return None  # frame() says what is missing
        req = sum(1 << table.dims.index(d) for d in q.grain)
        grains = sorted(
            (g for g in table.grains[key] if g & req == req), key=lambda g: (g.bit_count(), g)
        )
        if not grains or (agg is Aggregation.NONE and grains[0] != req):
            return None
        sql, params = query_sql(table, key, grains[0], q, agg, None)
        if max_rows is not None:
            sql += f" LIMIT {int(max_rows) + 1}"
        started = time.perf_counter()
        with self._lock:
            rel = self._con.sql(sql, params=params)
            # to_arrow_table from DuckDB 1.4 on; before it, arrow() gave the table
            found = (getattr(rel, "to_arrow_table", None) or rel.arrow)()
        self.duckdb_seconds += time.perf_counter() - started
        return found.rename_columns(["period", *q.grain, "value"])

    def coverage(
        self, metric_id: str, periods: Iterable[str], kind: str = "value"
    ) -> dict[str, tuple[int, int]]:
        """For periods of a coarser grain than the stored one (a quarter of months, a week of
        days …): ``period → (stored periods with a total value, stored periods it has)``, of
        its targets with ``kind="target"`` (:func:`values.grains.coverage`)."""
        return coverage(self, metric_id, periods, kind)

    def observed_dims(self, metric_id: str) -> list[str] | None:
        """Dimensions of the metric's observed values (``values/`` or its sql), or ``None``
        when it has none."""
        if metric_id in self.observed.grains:
            dims = self.observed.dims
            return [
                d
                for i, d in enumerate(dims)
                if any(g >> i & 1 for g in self.observed.grains[metric_id])
            ]
        table = self._sql_table(self.metric(metric_id))
        return list(table.dims) if table is not None else None

    def periods(self, metric_id: str) -> list[str]:
        """Every month with a value of the metric's total."""
        frame = self.frame(metric_id)
        return sorted(frame.get((), {}))

    def close(self) -> None:
        with self._lock:
            self._con.close()
        self.remote.close()
