"""Explain, causes: along CAUSES edges into the metric and its first-level inputs, the cause's
change over the same two periods shifted by the edge's lag, and the Pearson correlation of the
two series' month-over-month changes at that lag — labelled as evidence, not proof."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from analysis.explain_types import TreeNode, ValueSource, is_month, shift_month
from core.i18n import _
from graph_schema.errors import InvalidQueryError


def parse_lag(text: str | None) -> int:
    """Months of a CAUSES edge's lag: ``"3个月"``, ``"3 months"``, ``"1季度"``; none → 0.

    Examples
    --------
    >>> parse_lag("3个月"), parse_lag(None), parse_lag("1 quarter")
    (3, 0, 3)
    """
    if not text:
        return 0
    m = re.search(r"(\d+)", text)
    n = int(m.group(1)) if m else 0
    return n * 3 if re.search(r"季|quarter", text) else n * 12 if re.search(r"年|year", text) else n


def cause_rows(
    source: ValueSource,
    metric_id: str,
    root: TreeNode,
    period: str,
    base_p: str | None,
    causes: Sequence[Mapping[str, Any]],
    series: Callable[[str], dict[str, float]] | None,
    notes: list[str],
) -> list[dict[str, Any]]:
    effects = {metric_id} | {c.ref.split(":", 1)[1] for c in root.children if c.ref}
    rows: list[dict[str, Any]] = []
    for edge in causes:
        if edge["effect"] not in effects:
            continue
        lag = parse_lag(edge.get("lag"))
        cause = source.metric(edge["cause"])
        if is_month(period) and (base_p is None or is_month(base_p)):
            p1 = shift_month(period, -lag)
            p0 = shift_month(base_p, -lag) if base_p else shift_month(period, -lag - 1)
        elif lag == 0 and base_p is not None:  # quarters, weeks …: the same two periods
            p1, p0 = period, base_p
        else:
            notes.append(
                f"the cause {cause.id} acts with a lag in months: it is compared for months only"
            )
            continue
        row: dict[str, Any] = {
            "cause": f"Metric:{cause.id}",
            "name": cause.name,
            "effect": f"Metric:{edge['effect']}",
            "effect_name": source.metric(edge["effect"]).name,
            "polarity": edge.get("polarity", "+"),
            "lag_months": lag,
            "period": p1,
            "base_period": p0,
            "value": None,
            "base_value": None,
            "change": None,
            "correlation": None,
            "n": 0,
            "label": "evidence, not proof",
        }
        try:
            frame = source.frame(cause.id, periods=[p1, p0]).get((), {})
        except InvalidQueryError:
            frame = {}
        if p1 in frame and p0 in frame:
            row.update(value=frame[p1], base_value=frame[p0], change=frame[p1] - frame[p0])
        else:
            notes.append(
                _(
                    "cause {name}: no values for {period} and {base}",
                    name=cause.name,
                    period=p1,
                    base=p0,
                )
            )
        if series is not None:
            r, n = lagged_correlation(series(cause.id), series(edge["effect"]), lag, period)
            row.update(correlation=r, n=n)
        rows.append(row)
    return rows


def lagged_correlation(
    cause: Mapping[str, float], effect: Mapping[str, float], lag: int, until: str
) -> tuple[float | None, int]:
    """Pearson correlation of month-over-month changes: the cause at ``t − lag`` against the
    effect at ``t``, for every month ``t ≤ until`` where both changes exist.

    Examples
    --------
    >>> c = {"2026-01": 1, "2026-02": 2, "2026-03": 4, "2026-04": 3}
    >>> e = {"2026-02": 10, "2026-03": 20, "2026-04": 40, "2026-05": 30}
    >>> r, n = lagged_correlation(c, e, 1, "2026-05")
    >>> round(r, 6), n
    (1.0, 3)
    """
    xs, ys = [], []
    for t in sorted(effect):
        if t > until:
            continue
        t0, c1, c0 = shift_month(t, -1), shift_month(t, -lag), shift_month(t, -lag - 1)
        if t0 in effect and c1 in cause and c0 in cause:
            ys.append(effect[t] - effect[t0])
            xs.append(cause[c1] - cause[c0])
    n = len(xs)
    if n < 3:
        return None, n
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None, n
    return sxy / math.sqrt(sxx * syy), n
