"""Translate between a MetricFlow derived-metric ``expr`` (SQL) and a kpigraph formula.

A kpigraph formula is ids, numbers, ``+ - * /`` and parentheses (see
:mod:`graph_schema.formula`). A MetricFlow ``expr`` is SQL over its input names. The arithmetic
carries over as is; ``NULLIF(x, 0)`` as a divisor becomes ``x`` (kpigraph already gives no value
for a division by zero) and ``CAST(x AS ...)`` becomes ``x``; every such rewrite is reported.
Anything else (``CASE``, other functions) cannot be written as a formula and is reported.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp

from core.i18n import _
from graph_schema.errors import FormulaSyntaxError
from graph_schema.formula import parse_formula


class UntranslatableExpr(ValueError):
    """The SQL expression has a construct a kpigraph formula cannot hold."""


_BINARY: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}


def sql_to_formula(sql: str, names: Mapping[str, str], notes: list[str] | None = None) -> str:
    """Rewrite ``sql`` with each input name replaced by its metric id (``names``).

    Examples
    --------
    >>> sql_to_formula("(bookings - ref) * 1.0 / NULLIF(bookings, 0)",
    ...                {"bookings": "bookings", "ref": "referred_bookings"})
    '(bookings - referred_bookings) * 1.0 / bookings'
    >>> sql_to_formula("a / NULLIF(b + c, 0)", {"a": "a", "b": "b", "c": "c"})
    'a / (b + c)'

    Raises
    ------
    UntranslatableExpr
        A construct other than arithmetic, ``NULLIF(x, 0)`` and ``CAST``; or an unknown name.
    """
    try:
        tree = sqlglot.parse_one(sql)
    except sqlglot.errors.ParseError as exc:
        raise UntranslatableExpr(
            _("not valid SQL: {value}", value=str(exc).splitlines()[0])
        ) from None
    lowered = {k.lower(): v for k, v in names.items()}
    if not isinstance(tree, exp.Expression):  # pragma: no cover - parse_one returns one
        raise UntranslatableExpr(_("not an expression"))
    out = _emit(tree, lowered, notes if notes is not None else [])
    try:
        parse_formula(out)
    except FormulaSyntaxError as exc:  # pragma: no cover - _emit only builds valid formulas
        raise UntranslatableExpr(exc.reason) from None
    return out


def _emit(node: exp.Expression, names: Mapping[str, str], notes: list[str]) -> str:
    if isinstance(node, exp.Column) and not node.table:
        name = node.name.lower()
        if name not in names:
            raise UntranslatableExpr(
                _("{name} is not one of the metric's inputs", name=repr(node.name))
            )
        return names[name]
    if isinstance(node, exp.Literal) and not node.is_string:
        return str(node.this)
    if isinstance(node, exp.Paren):
        return f"({_emit(node.this, names, notes)})"
    if isinstance(node, exp.Neg):
        return f"-{_wrap(node.this, names, notes)}"
    op = _BINARY.get(type(node))
    if op is not None:
        return f"{_emit(node.this, names, notes)} {op} {_emit(node.expression, names, notes)}"
    if isinstance(node, exp.Nullif) and _is_zero(node.expression):
        notes.append(_("{before} written as {after}", before=node.sql(), after=node.this.sql()))
        return _wrap(node.this, names, notes)
    if isinstance(node, exp.Cast):
        notes.append(_("{before} written as {after}", before=node.sql(), after=node.this.sql()))
        return _wrap(node.this, names, notes)
    raise UntranslatableExpr(
        _("{value} has no kpigraph formula equivalent", value=repr(node.sql()))
    )


def _wrap(node: exp.Expression, names: Mapping[str, str], notes: list[str]) -> str:
    text = _emit(node, names, notes)
    return f"({text})" if type(node) in _BINARY else text


def _is_zero(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and float(node.this) == 0
