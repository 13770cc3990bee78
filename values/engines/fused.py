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
_OWN_COLUMN = re.compile(r"^[vn][0-9]+$")
#: engines whose SQL has ``agg FILTER (WHERE …)``
FUSING_DIALECTS = {"postgres", "duckdb", "spark"}


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
        if _OWN_COLUMN.match(name):  # the fused query's own columns (v0, n0 …)
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


def fused_sql(
    shapes: Sequence[Shape], rollup: Rollup, dialect: str, *, values: bool = True
) -> Fused:
    """The query of ``shapes`` (one :attr:`Shape.group`) at their stored grain, filtered by
    ``rollup`` (periods, start/end, members; ``rollup.grain`` is not used): rows ``period``,
    the dimensions (sorted), then a ``v{i}`` per metric and an ``n{j}`` per distinct WHERE.
    ``values=False``: only ``period`` and the counts (which periods each metric has)."""
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
    formatted = _truncate_period(pushed, base)
    dims = tuple(n for n, _ in keys if n != "period")
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


def _truncate_period(select: exp.Select, shape: Shape) -> exp.Expression:
    """Group by the date truncated to the month (or day) and write it as text outside: the
    formatted text of every fact row (PostgreSQL's ``to_char`` per row, a text hash key) costs
    more than the aggregation it keys. The same groups: a ``YYYY-MM`` text is a function of the
    month's first instant and back (both in the session's time zone). Returns the formatting
    of the inner query's ``period`` (the expression the outer query selects and filters on)."""
    period = dict(shape.keys)["period"]
    assert isinstance(period, exp.TimeToStr)
    unit = exp.Var(this="MONTH" if shape.plen == 7 else "DAY")
    trunc = exp.TimestampTrunc(this=period.this.copy(), unit=unit)
    text = period.sql()
    for projection in select.expressions:
        if projection.alias_or_name == "period":
            projection.set("this", trunc.copy())
    group = select.args["group"]
    group.set("expressions", [trunc.copy() if g.sql() == text else g for g in group.expressions])
    formatted = period.copy()
    formatted.set("this", _col("period"))
    return formatted


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
