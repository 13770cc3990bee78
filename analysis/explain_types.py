"""What the explain modules share: the values they read (:class:`ValueSource`), the metric tree
node (:class:`TreeNode`), the two periods compared (:class:`PeriodPair`) and month arithmetic.

One module both :mod:`analysis.explain` and its parts (:mod:`analysis.explain_dims`,
:mod:`analysis.explain_causes`, :mod:`analysis.localize`) import, so none imports another in a
circle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.i18n import _
from graph_schema.calendar import DEFAULT, Calendar
from graph_schema.errors import InvalidQueryError, NoTotalError
from graph_schema.models import Metric
from graph_schema.periods import MONTH_PATTERN

Frame = dict[tuple[str, ...], dict[str, float]]


class ValueSource(Protocol):
    """What explain reads (the values engine provides it)."""

    def metric(self, metric_id: str) -> Metric: ...

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
    ) -> Frame: ...


@dataclass
class TreeNode:
    ref: str | None
    name: str
    value: float | None
    base_value: float | None
    change: float | None
    contribution: float
    share: float | None
    method: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "children"}
        out["children"] = [c.to_json() for c in self.children]
        return out


def shift_month(period: str, months: int) -> str:
    """``YYYY-MM`` moved by ``months``.

    Examples
    --------
    >>> shift_month("2026-01", -1), shift_month("2026-06", -12)
    ('2025-12', '2025-06')
    """
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def is_month(period: str) -> bool:
    """``YYYY-MM`` (the periods month arithmetic applies to)."""
    return re.fullmatch(MONTH_PATTERN, period) is not None


def calendar_of(source: object) -> Calendar:
    """The calendar of a value source (its catalog's fiscal year), or the default."""
    found = getattr(source, "calendar", None)
    return found if isinstance(found, Calendar) else DEFAULT


def base_period(period: str, base: str, calendar: Calendar = DEFAULT) -> str | None:
    """The period compared with, on ``period``'s own calendar (:mod:`graph_schema.calendar`):
    ``mom``/``qoq``/``wow``/``dod`` → the previous month/quarter/week/day, ``yoy`` → the same
    period a year before, ``target`` → ``None`` (the targets of the same period), else ``base``
    itself (a period of the same grain and calendar).

    Raises
    ------
    InvalidQueryError
        A period that is not one, a keyword that does not fit its grain, a base of another
        grain or calendar.

    Examples
    --------
    >>> base_period("2026-06", "mom"), base_period("2027-W01", "wow"), base_period("2026-Q2", "yoy")
    ('2026-05', '2026-W53', '2025-Q2')
    """
    found = calendar.base(calendar.parse(period), base)
    return None if found is None else found.text


def partial_period_notes(source: object, metric_id: str, periods: Sequence[str]) -> list[str]:
    """A note for each compared period that its stored months/days do not fill (a quarter
    with two of its three months, a fiscal year with nine of its twelve): its figures cover
    those only (``explain`` and ``eval`` alike)."""
    coverage = getattr(source, "coverage", None)
    if coverage is None:
        return []
    return [
        _(
            "{period} has values for {have} of its {total} stored periods "
            "(months or days); its figures cover those only",
            period=period,
            have=have,
            total=total,
        )
        for period, (have, total) in coverage(metric_id, list(dict.fromkeys(periods))).items()
        if have < total
    ]


def partial_target_notes(source: object, metric_id: str, period: str) -> list[str]:
    """A note when the targets stored for ``period`` (a quarter, a fiscal year …) do not fill
    it — the target is their sum, so an attainment against it reads high."""
    coverage = getattr(source, "coverage", None)
    if coverage is None:
        return []
    try:
        found = coverage(metric_id, [period], kind="target")
    except InvalidQueryError:  # no targets at all: no attainment to qualify
        return []
    return [
        _(
            "the target of {period} is set for {have} of its {total} stored periods "
            "(months or days) only; its attainment compares with that part",
            period=p,
            have=have,
            total=total,
        )
        for p, (have, total) in found.items()
        if 0 < have < total
    ]


class PeriodPair:
    """Values of metrics at a period and its base, by grain, cached."""

    def __init__(self, source: ValueSource, period: str, base_p: str | None) -> None:
        self.source, self.period, self.base_p = source, period, base_p
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[Frame, Frame]] = {}

    def frames(self, metric_id: str, grain: tuple[str, ...] = ()) -> tuple[Frame, Frame]:
        """``(now, base)`` frames of ``metric_id`` at ``grain``, both keyed by ``self.period``."""
        key = (metric_id, grain)
        if key not in self._cache:
            if self.base_p is None:
                now = self.source.frame(metric_id, grain, periods=[self.period])
                old = self.source.frame(metric_id, grain, periods=[self.period], kind="target")
                base = {k: {self.period: v[self.period]} for k, v in old.items()}
            else:
                both = self.source.frame(metric_id, grain, periods=[self.period, self.base_p])
                now = {
                    k: {self.period: v[self.period]} for k, v in both.items() if self.period in v
                }
                base = {
                    k: {self.period: v[self.base_p]} for k, v in both.items() if self.base_p in v
                }
            self._cache[key] = (_flat(now, self.period), _flat(base, self.period))
        return self._cache[key]

    def total(self, metric_id: str) -> tuple[float, float] | None:
        try:
            now, base = self.frames(metric_id)
        except NoTotalError:
            raise  # a rate by members only: said as such (analysis.explain), not "no values"
        except InvalidQueryError:
            return None
        if () not in now or () not in base:
            return None
        return now[()][self.period], base[()][self.period]


def _flat(frame: Frame, period: str) -> Frame:
    return {k: {period: v[period]} for k, v in frame.items() if period in v}
