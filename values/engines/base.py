"""The values-engine protocol and the SQL every engine runs.

An engine (DuckDB, PostgreSQL, Spark SQL — one module each) does one thing: run a SELECT in
its dialect, read-only, under a statement timeout, and return at most ``max_rows`` rows.
Everything above that is shared and lives here:

- :func:`checked_sql` — THE single place a metric's SQL is checked for safety
  (:func:`graph_schema.sql_safety.check_metric_sql`, the SQL sandbox) and transpiled by
  sqlglot from its system's dialect into the engine's; every query an engine runs is built
  from its result;
- :func:`aggregate_sql` — the metric's SQL wrapped so that the period and member filters and
  the roll-up (GROUP BY, by the metric's aggregation) run *in the engine*: one row comes back
  per period × member asked for, never the fact table's rows;
- :func:`fetch` — run it, and report a failure with the metric, the system and the engine's
  own message (passwords masked).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from core.i18n import N_, Said
from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql
from values.errors import EngineQueryError, NotValuesQueryError, ResultBytesError, RowLimitError

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_ROWS = 200_000
#: what one query's result may hold, as the text of its rows: a refresh's 200,000 rows of a
#: period, a few members and a value are ~15 MB; a text value may be up to 1 GB
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: the text of the error an engine's bounded query raises past ``max_bytes``
TOO_LARGE = "kpigraph-result-too-large"


class SqlEngine(Protocol):
    """One connection to a system's tables."""

    #: ``duckdb``, ``postgres`` or ``spark``
    kind: str
    #: the sqlglot dialect the engine speaks
    dialect: str
    timeout_s: float
    max_rows: int

    def run(self, sql: str, *, hash_groups: bool = False) -> Result:
        """Run one SELECT read-only; at most ``max_rows + 1`` rows are fetched.

        ``hash_groups``: the query's GROUP BY has far fewer groups than a planner can estimate
        from the keys (a fused refresh: a month of a date, three dimensions); an engine that
        would sort every row for it should hash them (PostgreSQL: ``enable_sort`` off for the
        transaction). Only the plan changes, never the rows.

        Raises
        ------
        EngineQueryError
            With the engine's message (no password in it).
        """
        ...

    def close(self) -> None: ...


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: the engine's type of each column (PostgreSQL: ``date``, ``timestamp``, ``text`` …),
    #: where the engine says; ``None`` otherwise
    types: list[str | None] | None = None


@dataclass(frozen=True)
class MetricSql:
    """A metric's SQL as its system declares it."""

    metric: str
    system: str
    sql: str
    #: the system's dialect (sqlglot name); ``None``: DuckDB's, as for the catalog's data/ files
    dialect: str | None = None
    #: the tables the SQL may read (the system's tables); ``None``: not restricted
    tables: frozenset[str] | None = None


@dataclass(frozen=True)
class Rollup:
    """What to ask of a metric: members of ``grain`` by period, filtered, rolled up."""

    grain: tuple[str, ...] = ()
    where: Mapping[str, str] = field(default_factory=dict)
    periods: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    #: length of the asked periods (7: YYYY-MM, 10: YYYY-MM-DD) and of the stored ones
    plen: int = 7
    stored_plen: int = 7
    #: ``sum``, ``avg``, ``last`` or ``none`` (``none`` only at the stored grain)
    agg: str = "sum"
    #: periods of another grain (quarters, weeks, fiscal, retail …): ``(label, first, last)``
    #: ranges of stored periods; ``periods``/``start``/``end``/``plen`` are then not used
    ranges: tuple[tuple[str, str, str], ...] | None = None


def engine_error(metric: MetricSql, engine: SqlEngine, message: str) -> EngineQueryError:
    first = (message.strip().splitlines() or [""])[0][:500] or Said.of(N_("(no message)"))
    return EngineQueryError(
        Said.of(
            N_("metric {metric} (system {system}) failed on {engine}: {error}"),
            metric=repr(metric.metric),
            system=repr(metric.system),
            engine=engine.kind,
            error=first,
        ),
        {"metric": metric.metric, "system": metric.system, "engine": engine.kind},
    )


def _check_values_query(metric: MetricSql, read: str) -> None:
    """Refuse SQL whose result has no ``period`` or no ``value`` column, before anything else
    (its tables, its functions): an example of the calculation (``SELECT SUM(a) / SUM(b) AS
    cost_rate …`` for one month) is not a query of values by period, whatever it reads. SQL
    that does not parse, or selects ``*``, is left to the safety check and the engine.

    Raises
    ------
    NotValuesQueryError
        The outer SELECT names no ``period`` or no ``value``.
    """
    from core.i18n import _

    try:
        tree = sqlglot.parse_one(metric.sql, read=read)
    except sqlglot.errors.SqlglotError:
        return
    select = tree
    while isinstance(select, exp.Union):
        select = select.left
    if not isinstance(select, exp.Select):
        return
    if any(p.find(exp.Star) is not None and not p.find(exp.AggFunc) for p in select.expressions):
        return  # SELECT *: its columns are not known here
    shown = [
        p.alias_or_name if p.alias or isinstance(p, exp.Column) else p.sql(dialect=read)[:60]
        for p in select.expressions
    ]
    names = [n.lower() for n in shown]
    if "period" in names and "value" in names:
        return
    raise NotValuesQueryError(
        _(
            "metric {metric} (system {system}): its SQL selects {columns}, not a period and a "
            "value column, so it cannot be asked for values by period (it documents the "
            "calculation, as seed SQL for one month does). To fetch it from the warehouse, "
            "write it as SELECT <date as YYYY-MM> AS period, <members>, <value> AS value …; "
            "until then its values come from values/ when it has some",
            metric=repr(metric.metric),
            system=repr(metric.system),
            columns=", ".join(shown) or "?",
        ),
        {"metric": metric.metric, "system": metric.system},
    )


def checked_sql(metric: MetricSql, dialect: str) -> exp.Query:
    """The metric's SQL, checked and transpiled into ``dialect`` (as a sqlglot tree).

    This is the ONE call site of the static safety check: every engine builds every query it
    runs for a metric from what this returns.

    Raises
    ------
    EngineQueryError
        The SQL is unsafe or does not parse in its system's dialect.
    """
    read = metric.dialect or "duckdb"
    # SQL that selects no period and value (seed 001's SQL of one month) is never run: skipped
    _check_values_query(metric, read)
    try:
        # --- SAFETY CHECK: the SQL sandbox (issue #21), the same check lint and DuckDB run ---
        check_metric_sql(metric.sql, tables=metric.tables, dialect=read)
    except UnsafeSQLError as exc:
        # worded where it is reported: a values engine keeps it for requests in either language
        refused = Said.of(
            N_("metric {metric} (system {system}): its SQL was refused: {reason}"),
            metric=metric.metric,
            system=metric.system,
            reason=exc.why,
        )
        if exc.kind == "table" and metric.tables is not None:
            # which tables it may read: those sources.yaml declares under the system it runs on
            names = sorted({t.rsplit(".", 1)[-1] for t in metric.tables})
            tables: str | Said = ", ".join(names) or Said.of(N_("none declared"))
            where = Said.of(
                N_(
                    " (it runs on system {system}, the connected system of its fields, and reads "
                    "only its tables: {tables})"
                ),
                system=repr(metric.system),
                tables=tables,
            )
            refused = Said.join(refused, where)
        raise EngineQueryError(
            refused, {"metric": metric.metric, "system": metric.system}
        ) from None
    try:
        tree = sqlglot.parse_one(metric.sql, read=read)
    except sqlglot.errors.ParseError as exc:
        raise EngineQueryError(
            Said.of(
                N_(
                    "metric {metric} (system {system}): its SQL does not parse as {dialect}: "
                    "{error}"
                ),
                metric=repr(metric.metric),
                system=repr(metric.system),
                dialect=read,
                error=str(exc).splitlines()[0],
            ),
            {"metric": metric.metric, "system": metric.system},
        ) from None
    assert isinstance(tree, exp.Query)  # check_metric_sql refuses anything else
    if dialect != read:
        _expand_group_by_all(tree)
    return tree


def _expand_group_by_all(tree: Any) -> None:
    """``GROUP BY ALL`` (DuckDB, Spark ≥ 3.4) → the non-aggregate projections, which every
    dialect understands (PostgreSQL has no GROUP BY ALL)."""
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        keys = [
            p.unalias().copy()
            for p in select.expressions
            if not p.unalias().find(exp.AggFunc) and not isinstance(p.unalias(), exp.Literal)
        ]
        select.set("group", exp.Group(expressions=keys) if keys else None)


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str) -> exp.Column:
    return exp.column(_ident(name))


def _between(lo: str, hi: str) -> exp.Expression:
    return exp.Between(this=_col("period"), low=exp.Literal.string(lo), high=exp.Literal.string(hi))


def _period(rollup: Rollup) -> exp.Expression:
    if rollup.ranges is not None:
        case = exp.Case()
        for label, lo, hi in rollup.ranges:
            case = case.when(_between(lo, hi), exp.Literal.string(label))
        return case
    if rollup.plen == rollup.stored_plen:
        return _col("period")
    return exp.Substring(
        this=_col("period"), start=exp.Literal.number(1), length=exp.Literal.number(rollup.plen)
    )


def _conditions(
    rollup: Rollup, pexpr: exp.Expression, periods: bool = True
) -> list[exp.Expression]:
    """The member filters, and the period filter unless ``periods`` is false (a range on the
    date column inside the metric's SQL stands for it exactly)."""
    conds: list[exp.Expression] = []
    for dim, member in rollup.where.items():
        conds.append(exp.EQ(this=_col(dim), expression=exp.Literal.string(member)))
    if not periods:
        return conds
    if rollup.ranges is not None:
        spans = [_between(lo, hi) for _, lo, hi in rollup.ranges]
        either: exp.Expression = spans[0] if spans else exp.Boolean(this=False)
        for more in spans[1:]:
            either = exp.Or(this=either, expression=more)
        conds.append(either)
        return conds
    if rollup.periods is not None:
        wanted = sorted(set(rollup.periods)) or [""]
        conds.append(exp.In(this=pexpr.copy(), expressions=[exp.Literal.string(p) for p in wanted]))
    if rollup.start:
        conds.append(exp.GTE(this=pexpr.copy(), expression=exp.Literal.string(rollup.start)))
    if rollup.end:
        conds.append(exp.LTE(this=pexpr.copy(), expression=exp.Literal.string(rollup.end)))
    return conds


_PERIOD_TEXT = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
#: formats (sqlglot's, strftime style) that write a date as a stored period → its length
_PERIOD_FORMATS = {"%Y-%m": 7, "%Y-%m-%d": 10}


def _span(text: str) -> tuple[date, date] | None:
    """The days ``[first, after)`` a ``YYYY-MM`` or ``YYYY-MM-DD`` period covers."""
    found = _PERIOD_TEXT.match(text)
    if found is None:
        return None
    try:
        first = date(int(found[1]), int(found[2]), int(found[3] or 1))
    except ValueError:
        return None
    if found[3]:
        return first, first + timedelta(days=1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, after


def _bounds(rollup: Rollup, stored_len: int) -> tuple[date, date, bool] | None:
    """``(lo, hi, exact)``: the days ``[lo, hi)`` the period filter can admit; ``exact``: the
    filter admits exactly the rows of those days (periods of the compared length, one
    unbroken run of them), so a range on the date column can stand for it. ``None``: an open
    end, a period that is not ``YYYY-MM[-DD]``, or a format of another length."""
    if stored_len != rollup.stored_plen:
        return None
    if rollup.ranges is not None:
        pairs, width = [(lo, hi) for _, lo, hi in rollup.ranges], rollup.stored_plen
    elif rollup.periods is not None:
        pairs, width = [(p, p) for p in rollup.periods], rollup.plen
    elif rollup.start and rollup.end:
        pairs, width = [(rollup.start, rollup.end)], rollup.plen
    else:
        return None
    spans: list[tuple[date, date]] = []
    exact = True
    for first, last in pairs:
        a, b = _span(first), _span(last)
        if a is None or b is None:
            return None
        exact = exact and len(first) == len(last) == width and a[0] <= b[0]
        spans.append((a[0], b[1]))
    if not spans:
        return None
    spans.sort()
    for (_lo, after), (nxt, _hi) in itertools.pairwise(spans):
        exact = exact and nxt == after  # one unbroken run, no gap and no overlap
    return spans[0][0], max(b for _, b in spans), exact


def _push_date_range(tree: exp.Query, rollup: Rollup) -> tuple[exp.Query, bool]:
    """The metric's SQL with a range on its raw date column added to its WHERE, when its
    ``period`` is that column written as ``YYYY-MM[-DD]`` (``strftime(day, '%Y-%m')``,
    ``TO_CHAR(day, 'YYYY-MM')``, ``date_format(day, 'yyyy-MM')`` written in DuckDB's or
    PostgreSQL's dialect); and whether the range is exactly the period filter (which is then
    left out: PostgreSQL pushes a filter on the formatted text down to every row, formats the
    date three times per row, and — guessing how many rows it keeps — plans a sort of all of
    them; EXPLAIN ANALYZE in BENCHMARKS.md, "Warehouse refresh").

    With the range the engine knows from the column's statistics how many rows are kept, can
    skip what an index, BRIN or Parquet's min/max rules out, and formats only rows in range.
    Left as it is: a set operation, a window function (it would see fewer rows), any other
    period expression (the period filter outside then does all the work, as before)."""
    if not isinstance(tree, exp.Select) or tree.find(exp.Window):
        return tree, False
    for projection in tree.expressions:
        if projection.alias_or_name.lower() != "period":
            continue
        expr = projection.unalias()
        if not isinstance(expr, exp.TimeToStr) or not isinstance(expr.this, exp.Column):
            return tree, False
        fmt = expr.args.get("format")
        length = _PERIOD_FORMATS.get(fmt.this) if isinstance(fmt, exp.Literal) else None
        bounds = _bounds(rollup, length) if length else None
        if bounds is None:
            return tree, False
        lo, hi, exact = bounds
        day = exp.DataType.build("date")
        pushed = tree.copy()
        pushed.where(
            exp.GTE(
                this=expr.this.copy(),
                expression=exp.Cast(this=exp.Literal.string(lo.isoformat()), to=day.copy()),
            ),
            exp.LT(
                this=expr.this.copy(),
                expression=exp.Cast(this=exp.Literal.string(hi.isoformat()), to=day.copy()),
            ),
            copy=False,
        )
        return pushed, exact
    return tree, False


def _value(func: str) -> exp.Expression:
    inner = exp.Cast(this=_col("value"), to=exp.DataType.build("double"))
    return exp.Anonymous(this=func, expressions=[inner]) if func else inner


def aggregate_sql(tree: exp.Query, rollup: Rollup, dialect: str, *, push_dates: bool = True) -> str:
    """The metric's SQL wrapped: filtered, grouped and rolled up in the engine.

    Rows: ``period``, the grain's members in order, ``value`` (a double). ``push_dates``:
    filter the metric's date column by the periods asked (:func:`_push_date_range`); off,
    only the formatted period is filtered (the benchmark's "before").
    """
    pushed, exact = _push_date_range(tree, rollup) if push_dates else (tree, False)
    source = pushed.subquery("m")
    dims = [_col(d) for d in rollup.grain]
    pexpr = _period(rollup)
    conds = _conditions(rollup, pexpr, periods=not exact)
    inner_fn = "AVG" if rollup.agg == "avg" else "SUM"
    same_time = rollup.plen == rollup.stored_plen and rollup.ranges is None
    if same_time or rollup.agg == "sum":
        query = (
            exp.select(pexpr.as_("period"), *dims, _value(inner_fn).as_("value"))
            .from_(source)
            .group_by(pexpr.copy(), *[d.copy() for d in dims])
        )
        if conds:
            query = query.where(*conds)
        return query.sql(dialect)
    # members roll up per stored period, then the stored periods into the asked one
    inner = (
        exp.select(pexpr.as_("p"), _col("period"), *dims, _value(inner_fn).as_("value"))
        .from_(source)
        .group_by(pexpr.copy(), _col("period"), *[d.copy() for d in dims])
    )
    if conds:
        inner = inner.where(*conds)
    if rollup.agg == "avg":
        outer = (
            exp.select(_col("p").as_("period"), *dims, exp.func("AVG", _col("value")).as_("value"))
            .from_(inner.subquery("r"))
            .group_by(_col("p"), *[d.copy() for d in dims])
        )
        return outer.sql(dialect)
    # last: the value of the last stored period (a stock), by a window in the engine
    partition = [_col("p"), *[d.copy() for d in dims]]
    ranked = exp.select(
        _col("p"),
        *dims,
        _col("value"),
        exp.Window(
            this=exp.RowNumber(),
            partition_by=partition,
            order=exp.Order(expressions=[exp.Ordered(this=_col("period"), desc=True)]),
        ).as_("rn"),
    ).from_(inner.subquery("r"))
    last = (
        exp.select(_col("p").as_("period"), *[d.copy() for d in dims], _col("value"))
        .from_(ranked.subquery("k"))
        .where(exp.EQ(this=_col("rn"), expression=exp.Literal.number(1)))
    )
    return last.sql(dialect)


def probe_sql(tree: exp.Query, dialect: str) -> str:
    """No row of the metric's result: its columns (engines plan it, none runs it)."""
    return exp.select("*").from_(tree.subquery("m")).limit(0).sql(dialect)


def fetch(engine: SqlEngine, metric: MetricSql, build: Any, *, hash_groups: bool = False) -> Result:
    """Check and transpile the metric's SQL, build the query from it (``build(tree)`` → SQL
    text in the engine's dialect), run it; a failure names the metric, system and engine.
    ``hash_groups``: see :meth:`SqlEngine.run`."""
    sql = build(checked_sql(metric, engine.dialect))
    try:
        result = engine.run(sql, hash_groups=hash_groups) if hash_groups else engine.run(sql)
    except ResultBytesError as exc:
        from core.i18n import _

        limit = exc.details.get("limit", 0)
        limit = limit if isinstance(limit, int) else 0
        raise ResultBytesError(
            _(
                "metric {metric} (system {system}) on {engine}: the result passes {limit} MiB "
                "(a value of it may be a very long text); ask for fewer periods or members",
                metric=repr(metric.metric),
                system=repr(metric.system),
                engine=engine.kind,
                limit=f"{limit / 1_048_576:g}",
            ),
            {"metric": metric.metric, "system": metric.system, "engine": engine.kind},
        ) from None
    except EngineQueryError as exc:
        raise engine_error(metric, engine, exc.message) from None
    if len(result.rows) > engine.max_rows:
        from core.i18n import _

        raise RowLimitError(
            _(
                "metric {metric} (system {system}) on {engine}: the result has more than "
                "{limit} rows; ask for fewer periods or members",
                metric=repr(metric.metric),
                system=repr(metric.system),
                engine=engine.kind,
                limit=f"{engine.max_rows:,}",
            ),
            {"metric": metric.metric, "system": metric.system, "engine": engine.kind},
        )
    return result


def lower_columns(columns: Iterable[str]) -> list[str]:
    return [c.strip().lower() for c in columns]


def rows_as_frame(rows: Sequence[tuple[Any, ...]]) -> dict[tuple[str, ...], dict[str, float]]:
    """``(period, *members, value)`` rows → members → period → value (NULL values dropped)."""
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for row in rows:
        if row[-1] is None:
            continue
        key = tuple(None if m is None else str(m) for m in row[1:-1])
        out.setdefault(key, {})[str(row[0])] = float(row[-1])  # type: ignore[arg-type]
    return out
