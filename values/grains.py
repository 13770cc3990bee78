"""Periods of any grain asked of the values engine (:mod:`graph_schema.calendar`): which
stored periods make them up, and how much of them the stored values fill."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.i18n import _
from graph_schema.calendar import Calendar, InvalidPeriodError, Period
from graph_schema.errors import InvalidQueryError
from values.errors import ValuesQueryError

#: grains stored values are written in (and asked as prefixes of them)
STORED_GRAINS = frozenset({"month", "day"})


def resolve_periods(
    calendar: Calendar,
    periods: Iterable[str] | None,
    start: str | None,
    end: str | None,
    monthly: bool,
) -> tuple[tuple[str, ...] | None, str | None, str | None, int, tuple[Period, ...] | None]:
    """``(periods, start, end, period length, buckets)`` of a frame query: months and days
    as asked (length 7 or 10); periods of another grain (quarters, weeks, fiscal, retail …) as
    ``buckets`` (a range ``start``…``end`` of them listed period by period).

    Raises
    ------
    InvalidPeriodError
        Periods of different grains, a period that is not one, an open range of buckets.
    """
    asked = tuple(periods) if periods is not None else None
    plen = 7 if monthly else 10
    texts = [*(asked or ()), *(p for p in (start, end) if p)]
    grains = {calendar.grain_of(p) for p in texts}
    if len(grains) > 1:
        raise InvalidPeriodError(
            _(
                "periods {texts} are of different grains ({grains}); ask for periods of one grain",
                texts=", ".join(sorted(set(texts))),
                grains=", ".join(sorted(grains)),
            )
        )
    if grains and not grains <= STORED_GRAINS:
        if asked is None:
            if not (start and end):
                raise InvalidPeriodError(
                    _(
                        "give both ends of a range of {value} periods (from and to)",
                        value=grains.pop(),
                    )
                )
            found = calendar.periods_between(calendar.parse(start), calendar.parse(end))
        else:
            found = [calendar.parse(p) for p in dict.fromkeys(asked)]
        return tuple(p.text for p in found), None, None, plen, tuple(found)
    if grains:
        plen = 10 if grains == {"day"} else 7
    return asked, start, end, plen, None


def coverage(
    engine: Any, metric_id: str, periods: Iterable[str], kind: str = "value"
) -> dict[str, tuple[int, int]]:
    """For periods of a coarser grain than the stored one: ``period → (stored periods with a
    total value, stored periods it has)`` (of its targets with ``kind="target"``). Months and
    days, and periods of a metric without values, are left out. One query over the range."""
    calendar: Calendar = engine.calendar
    asked = [calendar.parse(p) for p in dict.fromkeys(periods)]
    asked = [p for p in asked if p.grain not in STORED_GRAINS]
    if not asked:
        return {}
    lo, hi = min(p.start for p in asked), max(p.end for p in asked)
    try:
        try:
            stored = engine.frame(
                metric_id, start=lo.isoformat(), end=hi.isoformat(), monthly=False, kind=kind
            ).get((), {})
            daily = True
        except ValuesQueryError:  # monthly values
            stored = engine.frame(
                metric_id, start=lo.isoformat()[:7], end=hi.isoformat()[:7], kind=kind
            ).get((), {})
            daily = False
    except InvalidQueryError:
        return {}
    out: dict[str, tuple[int, int]] = {}
    for p in asked:
        if daily:
            first, last = p.start.isoformat(), p.end.isoformat()
            total = (p.end - p.start).days + 1
        else:
            first, last = p.start.isoformat()[:7], p.end.isoformat()[:7]
            total = (p.end.year - p.start.year) * 12 + p.end.month - p.start.month + 1
        out[p.text] = (sum(1 for k in stored if first <= k <= last), total)
    return out
