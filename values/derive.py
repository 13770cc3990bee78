"""Derived metrics: a formula evaluated member by member over its inputs' values (at the asked
grain: 客单价 of a region = Σ营收 / Σ进厂台次, never an average of store ratios)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from graph_schema.formula import BinOp, Expr, Neg, Ref, parse_formula
from graph_schema.models import Metric

#: members (in grain order) → period → value
Frame = dict[tuple[str, ...], dict[str, float]]


def is_sum(expr: Expr) -> bool:
    """Whether an expression only adds and subtracts metrics (no constants)."""
    if isinstance(expr, Ref):
        return True
    if isinstance(expr, Neg):
        return is_sum(expr.operand)
    if isinstance(expr, BinOp) and expr.op in "+-":
        return is_sum(expr.left) and is_sum(expr.right)
    return False


def derive(metric: Metric, frames: Mapping[str, Frame]) -> Frame:
    """Evaluate the formula member by member, period by period, where every input has a value
    (a division by zero leaves the cell out). In a sum of metrics, a member missing from one
    input counts as 0 in a period for which that input has values of other members (tidy data
    leaves out rows that would be zero)."""
    assert metric.formula
    formula = parse_formula(metric.formula)
    names = list(frames)
    if not names:
        return {}
    additive = is_sum(formula.root)
    if additive:
        keys = set().union(*(set(frames[n]) for n in names))
        seen_periods = {n: {p for cell in frames[n].values() for p in cell} for n in names}
        periods = set.intersection(*seen_periods.values())
    else:
        keys = set(frames[names[0]]).intersection(*(set(frames[n]) for n in names[1:]))
    out: Frame = {}
    for key in keys:
        if additive:
            series = [frames[n].get(key, {}) for n in names]
            common = periods
            series = [{p: x.get(p, 0.0) for p in common} for x in series]
        else:
            series = [frames[n][key] for n in names]
            common = set(series[0]).intersection(*series[1:])
        cell: dict[str, float] = {}
        for period in common:
            value = formula.evaluate({n: s[period] for n, s in zip(names, series, strict=True)})
            if not math.isnan(value):
                cell[period] = value
        if cell:
            out[key] = cell
    return out
