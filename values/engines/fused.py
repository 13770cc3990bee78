"""One scan for many metrics: metrics whose SQL reads the same tables at the same grain fused
into ONE query of conditional aggregates (``SUM(x) FILTER (WHERE …)`` per metric).

A refresh of 100 metrics over one fact table used to scan it 100 times (PostgreSQL reads the
heap row by row each time; BENCHMARKS.md, "Warehouse refresh"). Metrics that differ only in
their WHERE and their aggregate are the usual case (营收, 工时收入, 配件收入 … over DMS 工单表), so
they are asked together: the fact rows are read once, each metric's WHERE becomes the FILTER
of its aggregates, and a ``COUNT(*) FILTER (WHERE …)`` per distinct WHERE says which groups
the metric has (a group none of its rows reach does not exist when it runs alone).

Only a SQL of the simple shape is fused — after :func:`values.engines.base.checked_sql` (the
one safety check) and parsed by sqlglot:

- one ``SELECT`` (no WITH, set operation, DISTINCT, HAVING, QUALIFY, ORDER BY, LIMIT, window,
  subquery or existing FILTER anywhere);
- FROM and JOINs written identically (the same joined rows for every metric of the group);
- projections: ``period`` (a date column written ``YYYY-MM`` or ``YYYY-MM-DD``), dimension
  columns without aggregates, and ``value``: an expression of ``SUM``/``COUNT``/``AVG``/``MIN``/
  ``MAX`` over columns (no column outside an aggregate);
- ``GROUP BY ALL`` or a GROUP BY of exactly the non-aggregate projections (no grouping sets).

Anything else runs alone, as before. The result of a fused query, split per metric
(:func:`split`), is the same rows the metric's own query gives — tests compare both on each
engine (``tests/warehouse/test_fused.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from values.engines.base import (
    _PERIOD_FORMATS,
    Rollup,
    SqlEngine,
    _col,
    _conditions,
    _ident,
    _push_date_range,
)

#: aggregates whose FILTER form is exactly the aggregate over the filtered rows
_FUSABLE_AGGS = (exp.Sum, exp.Count, exp.Avg, exp.Min, exp.Max)
#: parts of a SELECT a fusable SQL may have (any other part, when set, makes it run alone)
_ALLOWED_PARTS = {"expressions", "from", "from_", "joins", "where", "group"}
#: names of the fused query's value and count columns
_OWN_COLUMN = re.compile(r"^[vnw][0-9]+$")
#: engines whose SQL has ``agg FILTER (WHERE …)``
FUSING_DIALECTS = {"postgres", "duckdb", "spark"}
#: aggregates a two-level query computes exactly: (inner, outer) — the outer one adds up the
#: inner one's values of the groups a metric's WHERE holds for
_TWO_LEVEL: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.Sum: exp.Sum, exp.Count: exp.Sum, exp.Min: exp.Min, exp.Max: exp.Max,
}  # fmt: skip
#: distinct WHEREs a two-level query tests at most (one bit each of an ``integer``)
_MASK_BITS = 30


@dataclass(frozen=True)
class Shape:
    """A metric's SQL in the fusable shape."""

    metric: str
    select: exp.Select
    #: the FROM and JOINs as SQL: metrics with the same source and keys fuse
    source: str
    #: key name → its expression (``period`` and the dimensions), names sorted
    keys: tuple[tuple[str, exp.Expression], ...]
    where: exp.Expression | None
    value: exp.Expression
    #: length of the periods the SQL writes (7: YYYY-MM, 10: YYYY-MM-DD)
    plen: int

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.keys if name != "period")

    @property
    def group(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Metrics with equal ``group`` are fused into one query."""
        return self.source, tuple((n, e.sql()) for n, e in self.keys)


def _empty(value: Any) -> bool:
    return value is None or value is False or value == []


def shape_of(metric: str, tree: exp.Query, dialect: str) -> Shape | None:
    """The metric's checked SQL (``checked_sql``'s tree) as a :class:`Shape`, or ``None`` when
    it is not of the simple shape that fuses safely (it then runs alone)."""
    if dialect not in FUSING_DIALECTS or not isinstance(tree, exp.Select):
        return None
    if any(not _empty(v) for k, v in tree.args.items() if k not in _ALLOWED_PARTS):
        return None
    if tree.args.get("from") is None and tree.args.get("from_") is None:
        return None
    for node in tree.walk():
        if node is tree:
            continue
        if isinstance(node, (exp.Select, exp.Subquery, exp.Window, exp.Filter, exp.Lateral)):
            return None
        if isinstance(node, (exp.Unnest, exp.Placeholder, exp.Parameter)):
            return None
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            return None
    keys: dict[str, exp.Expression] = {}
    value: exp.Expression | None = None
    for projection in tree.expressions:
        name = projection.alias_or_name.lower()
        expr = projection.unalias()
        if not name or name in keys or (name == "value" and value is not None):
            return None
        if _OWN_COLUMN.match(name):  # the fused query's own columns (v0, n0, w0 …)
            return None
        if not isinstance(projection, exp.Alias) and not isinstance(expr, exp.Column):
            return None
        if name == "value":
            value = expr
        elif expr.find(exp.AggFunc) is not None:
            return None
        else:
            keys[name] = expr
    if value is None or "period" not in keys or not _value_ok(value):
        return None
    period = keys["period"]
    fmt = period.args.get("format") if isinstance(period, exp.TimeToStr) else None
    if not isinstance(period.this, exp.Column) or not isinstance(fmt, exp.Literal):
        return None
    plen = _PERIOD_FORMATS.get(fmt.this)
    where_node = tree.args.get("where")
    where = where_node.this if where_node is not None else None
    if plen is None or (where is not None and where.find(exp.AggFunc) is not None):
        return None
    if not _grouped_by_keys(tree, list(keys.values())):
        return None
    source_parts: list[exp.Expression] = [tree.args.get("from") or tree.args["from_"]]
    source_parts += list(tree.args.get("joins") or [])
    source = " ".join(p.sql(dialect) for p in source_parts)
    ordered = tuple(sorted(keys.items()))
    return Shape(metric, tree, source, ordered, where, value, plen)


def _value_ok(value: exp.Expression) -> bool:
    """At least one aggregate, every aggregate fusable and none nested, and no column outside
    an aggregate."""
    aggs = list(value.find_all(exp.AggFunc))
    if not aggs or any(not isinstance(a, _FUSABLE_AGGS) for a in aggs):
        return False
    if any(len(list(a.find_all(exp.AggFunc))) > 1 for a in aggs):
        return False
    for column in value.find_all(exp.Column):
        if column.find_ancestor(exp.AggFunc) is None:
            return False
    return True


def _grouped_by_keys(tree: exp.Select, keys: list[exp.Expression]) -> bool:
    group = tree.args.get("group")
    if group is None:
        return False
    if any(not _empty(v) for k, v in group.args.items() if k not in ("expressions", "all")):
        return False
    if group.args.get("all"):
        return not group.expressions
    wanted = {k.sql() for k in keys}
    seen: set[str] = set()
    for g in group.expressions:
        if isinstance(g, exp.Literal) and not g.is_string:  # GROUP BY 1, 2 …
            index = int(g.this) - 1
            if not 0 <= index < len(tree.expressions):
                return False
            text = tree.expressions[index].unalias().sql()
        else:
            text = g.sql()
        if text not in wanted:
            return False
        seen.add(text)
    return seen == wanted


@dataclass(frozen=True)
class Fused:
    """One query for several metrics, and where each metric's columns are in its rows."""

    sql: str
    metrics: tuple[str, ...]
    dims: tuple[str, ...]
    #: per metric: (index of its value column, index of its count column) in the rows
    columns: Mapping[str, tuple[int, int]]


def period_type(engine: SqlEngine, shape: Shape) -> str | None:
    """The engine's type of the date column the metric writes as its ``period`` (``date``,
    ``timestamp`` …), asked of PostgreSQL with a query of no row (``LIMIT 0``: planned, no row
    read); ``None`` on another engine, or when the engine does not say."""
    if engine.dialect != "postgres":
        return None
    period = dict(shape.keys)["period"]
    probe = shape.select.copy()
    probe.set("expressions", [exp.alias_(period.this.copy(), "d")])
    for part in ("where", "group"):
        probe.set(part, None)
    result = engine.run(probe.limit(0).sql(engine.dialect))
    return result.types[0] if result.types else None


def fused_query(
    engine: SqlEngine, shapes: Sequence[Shape], rollup: Rollup, *, values: bool = True
) -> Fused:
    """:func:`fused_sql` for ``engine``, with what the engine says of the date column."""
    return fused_sql(
        shapes, rollup, engine.dialect, values=values, period_type=period_type(engine, shapes[0])
    )


def fused_sql(
    shapes: Sequence[Shape],
    rollup: Rollup,
    dialect: str,
    *,
    values: bool = True,
    period_type: str | None = None,
    two_level: bool | None = None,
) -> Fused:
    """The query of ``shapes`` (one :attr:`Shape.group`) at their stored grain, filtered by
    ``rollup`` (periods, start/end, members; ``rollup.grain`` is not used): rows ``period``,
    the dimensions (sorted), then a ``v{i}`` per metric and an ``n{j}`` per distinct WHERE.
    ``values=False``: only ``period`` and the counts (which periods each metric has).

    ``period_type``: the engine's type of the date column (:func:`period_type`); on
    PostgreSQL a ``date`` is truncated to its month as a ``timestamp``, not through
    ``timestamptz`` (see :func:`_truncate_period`). ``two_level``: the two-level form of
    :func:`_two_level` where it gives the same values (``None``: on PostgreSQL)."""
    assert shapes and len({s.group for s in shapes}) == 1
    base = shapes[0]
    keys = base.keys if values else tuple((n, e) for n, e in base.keys if n == "period")
    fused = exp.Select()
    fused.set("expressions", [exp.alias_(e.copy(), _ident(n)) for n, e in keys])
    source = base.select.args.get("from") or base.select.args.get("from_")
    assert source is not None
    fused.set("from" if "from" in base.select.args else "from_", source.copy())
    if base.select.args.get("joins"):
        fused.set("joins", [j.copy() for j in base.select.args["joins"]])
    wheres: dict[str, exp.Expression | None] = {}
    count_of: dict[str, int] = {}
    for shape in shapes:
        text = shape.where.sql() if shape.where is not None else ""
        if text not in wheres:
            wheres[text] = shape.where
    counts = []
    for j, (text, where) in enumerate(wheres.items()):
        count_of[text] = j
        counts.append(exp.alias_(_filtered(exp.Count(this=exp.Star()), where), f"n{j}"))
    aggs = []
    if values:
        for i, shape in enumerate(shapes):
            value: exp.Expression = shape.value.copy()
            if isinstance(value, _FUSABLE_AGGS):  # the root has no parent to replace it in
                value = _filtered(value, shape.where)
            else:
                for agg in list(value.find_all(*_FUSABLE_AGGS)):
                    agg.replace(_filtered(agg.copy(), shape.where))
            aggs.append(exp.alias_(value, f"v{i}"))
    fused.set("expressions", [*fused.expressions, *aggs, *counts])
    if all(w is not None for w in wheres.values()):
        either: exp.Expression | None = None
        for where in wheres.values():
            assert where is not None
            part = exp.Paren(this=where.copy())
            either = part if either is None else exp.Or(this=either, expression=part)
        fused.where(either, copy=False)
    fused.group_by(*[e.copy() for _, e in keys], copy=False)
    pushed, exact = _push_date_range(fused, rollup)
    assert isinstance(pushed, exp.Select)
    formatted = _truncate_period(pushed, base, dialect, period_type)
    dims = tuple(n for n, _ in keys if n != "period")
    if two_level is None:
        two_level = dialect == "postgres"
    if values and two_level and _two_level_ok(shapes, wheres):
        pushed = _two_level(pushed, shapes, list(wheres), [n for n, _ in keys])
    outer = exp.select(
        formatted.as_("period"),
        *[_col(d) for d in dims],
        *[
            exp.Cast(this=_col(f"v{i}"), to=exp.DataType.build("double")).as_(f"v{i}")
            for i in range(len(aggs))
        ],
        *[_col(f"n{j}") for j in range(len(counts))],
    ).from_(pushed.subquery("m"))
    conds = _conditions(rollup, formatted, periods=not exact)
    if conds:
        outer = outer.where(*conds)
    first = 1 + len(dims)
    columns = {
        s.metric: (
            first + i if values else -1,
            first + len(aggs) + count_of[s.where.sql() if s.where is not None else ""],
        )
        for i, s in enumerate(shapes)
    }
    return Fused(outer.sql(dialect), tuple(s.metric for s in shapes), dims, columns)


def _truncate_period(
    select: exp.Select, shape: Shape, dialect: str, column_type: str | None
) -> exp.Expression:
    """Group by the date truncated to the month (or day) and write it as text outside: the
    formatted text of every fact row (PostgreSQL's ``to_char`` per row, a text hash key) costs
    more than the aggregation it keys. The same groups: a ``YYYY-MM`` text is a function of the
    month's first instant and back (both in the session's time zone). Returns the formatting
    of the inner query's ``period`` (the expression the outer query selects and filters on).

    On PostgreSQL, a column the engine says is a ``date`` (``column_type``) is truncated to
    its month as a ``timestamp`` (``date_trunc`` of a ``date`` converts it to ``timestamptz``
    and truncates in the session's time zone: ~0.1 µs more per row, BENCHMARKS.md) and is its
    own day: the same months and days, written as the same text outside."""
    period = dict(shape.keys)["period"]
    assert isinstance(period, exp.TimeToStr)
    unit = exp.Var(this="MONTH" if shape.plen == 7 else "DAY")
    trunc: exp.Expression = exp.TimestampTrunc(this=period.this.copy(), unit=unit)
    if dialect == "postgres" and column_type == "date":
        stamp = exp.Cast(this=period.this.copy(), to=exp.DataType.build("timestamp"))
        trunc = exp.TimestampTrunc(this=stamp, unit=unit) if shape.plen == 7 else period.this
    text = period.sql()
    for projection in select.expressions:
        if projection.alias_or_name == "period":
            projection.set("this", trunc.copy())
    group = select.args["group"]
    group.set("expressions", [trunc.copy() if g.sql() == text else g for g in group.expressions])
    formatted = period.copy()
    formatted.set("this", _col("period"))
    return formatted


def _two_level_ok(shapes: Sequence[Shape], wheres: Mapping[str, Any]) -> bool:
    """Every metric's value a bare ``SUM``/``COUNT``/``MIN``/``MAX`` (no DISTINCT, no
    arithmetic around it: ``SUM(SUM(int))`` is a ``numeric`` where ``SUM(int)`` is a
    ``bigint``, which an integer division would tell apart), and 2 to 30 distinct WHEREs."""
    tested = [t for t in wheres if t]
    if not 2 <= len(tested) <= _MASK_BITS:
        return False
    for shape in shapes:
        value = shape.value
        if type(value) not in _TWO_LEVEL or value.find(exp.Distinct) is not None:
            return False
    return True


def _two_level(
    select: exp.Select, shapes: Sequence[Shape], wheres: list[str], keys: list[str]
) -> exp.Select:
    """The one-level fused query (``select``: keys, ``v{i}``, ``n{j}``) as two levels that give
    the same rows:

    - inside, the fact rows grouped by the keys AND a bitmask of the WHEREs they pass
      (``CASE WHEN w_j THEN 2^j ELSE 0 END`` summed), one aggregate per distinct aggregate of
      the metrics (``SUM(amount)`` once for every metric that sums ``amount``) and ``COUNT(*)``;
      each WHERE is evaluated once per row, not once per metric that has it;
    - outside, per metric, its aggregate of those (``SUM`` of sums and counts, ``MIN`` of
      minima, ``MAX`` of maxima) over the groups whose mask has its WHERE's bit.

    A WHERE that is NULL for a row leaves its bit 0, as ``FILTER`` leaves the row out; a SUM
    of sums is NULL exactly where every value was NULL. The values are exact where the
    one-level ones are (integers are summed as ``numeric``; every value is cast to double
    outside); sums of doubles add the same values in another order, as a parallel plan does.
    A COUNT of no row is 0 (``COALESCE``); a ``n{j}`` stays a ``bigint``. Measured: −18 % of
    PostgreSQL's CPU for 100 metrics of 10 WHEREs (BENCHMARKS.md, "Warehouse refresh")."""
    mask: exp.Expression | None = None
    bit_of: dict[str, int] = {}
    for text in wheres:
        where = next(
            (s.where for s in shapes if s.where is not None and s.where.sql() == text), None
        )
        if where is None:
            continue  # the metrics without a WHERE
        bit_of[text] = 1 << len(bit_of)
        case = exp.Case(ifs=[exp.If(this=exp.Paren(this=where.copy()), true=_number(bit_of[text]))])
        case.set("default", _number(0))
        mask = case if mask is None else exp.Add(this=mask, expression=case)
    assert mask is not None
    #: the inner aggregates (a metric's aggregate as written, once per distinct text)
    inner_aggs: dict[str, tuple[int, exp.Expression]] = {}
    outer: list[exp.Expr] = []
    for i, shape in enumerate(shapes):
        agg = shape.value
        k, _ = inner_aggs.setdefault(agg.sql(), (len(inner_aggs), agg))
        combined = _TWO_LEVEL[type(agg)](this=_col(f"v{k}"))
        combined = _filtered(combined, _has_bit(shape, bit_of))
        if isinstance(agg, exp.Count):
            combined = exp.Coalesce(this=combined, expressions=[_number(0)])
        outer.append(exp.alias_(combined, f"v{i}"))
    for j, text in enumerate(wheres):
        count = _filtered(exp.Sum(this=_col("n0")), _bit(bit_of[text]) if text else None)
        count = exp.Cast(this=count, to=exp.DataType.build("bigint"))
        outer.append(exp.alias_(exp.Coalesce(this=count, expressions=[_number(0)]), f"n{j}"))
    inner = select.copy()
    inner.set(
        "expressions",
        [
            *inner.expressions[: len(keys)],  # the keys come first in the one-level query
            exp.alias_(mask.copy(), "w0"),
            *[exp.alias_(agg.copy(), f"v{k}") for k, agg in inner_aggs.values()],
            exp.alias_(exp.Count(this=exp.Star()), "n0"),
        ],
    )
    inner.args["group"].set("expressions", [*inner.args["group"].expressions, mask])
    middle = exp.select(*[_col(n) for n in keys], *outer).from_(inner.subquery("l"))
    return middle.group_by(*[_col(n) for n in keys], copy=False)


def _number(n: int) -> exp.Expression:
    return exp.Literal.number(n)


def _bit(bit: int) -> exp.Expression:
    """The inner group's mask has ``bit``."""
    masked = exp.BitwiseAnd(this=_col("w0"), expression=_number(bit))
    return exp.NEQ(this=exp.Paren(this=masked), expression=_number(0))


def _has_bit(shape: Shape, bit_of: Mapping[str, int]) -> exp.Expression | None:
    return None if shape.where is None else _bit(bit_of[shape.where.sql()])


def _filtered(agg: Any, where: exp.Expression | None) -> exp.Expression:
    """``agg FILTER (WHERE where)`` (``agg``: an aggregate node, of sqlglot's AggFunc mixin)."""
    if where is None:
        return agg  # type: ignore[no-any-return]
    return exp.Filter(this=agg, expression=exp.Where(this=where.copy()))


def split(fused: Fused, rows: Sequence[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """Each metric's rows ``(period, *dims, value)`` — the rows its own query gives: the groups
    some of its rows reach (count > 0)."""
    out: dict[str, list[tuple[Any, ...]]] = {m: [] for m in fused.metrics}
    width = 1 + len(fused.dims)
    for row in rows:
        head = tuple(row[:width])
        for metric, (v, n) in fused.columns.items():
            if row[n]:
                out[metric].append((*head, row[v] if v >= 0 else None))
    return out


def groups(shapes: Sequence[Shape]) -> list[list[Shape]]:
    """``shapes`` in fusable groups (same source and keys), in first-seen order."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[Shape]] = {}
    for shape in shapes:
        found.setdefault(shape.group, []).append(shape)
    return list(found.values())
