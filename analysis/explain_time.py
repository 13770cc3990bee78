"""Explain by time: the calendar as a hierarchy (时间维度: 年份、季度、月度、日 — seed 002; seed 000
slices every metric by 时间 first), drilled like any other (:mod:`analysis.explain_hierarchy`).

``explain 营收 --period 2026-Q2 --base qoq --by time`` ranks the quarter's months against the
base quarter's months in the same position (April against January, May against February, June
against March), then follows the month where the change concentrates down to its days (the
15th against the 15th). A year goes year → quarter → month → day. Members are the explained
period's sub-periods (``2026-04``); a position only the base has (the 31st against a 30-day
month) is named after the base's (``2026-01-31 (base)``).

Each calendar is drilled down its own levels: an ISO week to its days (Monday against Monday);
a fiscal year to its fiscal quarters, then months and days (FY2027-Q1 = April–June against
FY2026-Q4 = January–March: April against January); a retail 4-5-4 year to its quarters, periods
(retail months of 4, 5 and 4 weeks), weeks and days — a period's weeks against the base
period's by position (the fifth week of a 5-week period against nothing when the base has 4).
Each sub-period names the base's sub-period it is set against (``base_member``).

The levels stop at the grain the metric's values have (monthly values: the months, no days;
a rate's weeks only when the cache holds them). Only against a base period (not against
targets).
"""

from __future__ import annotations

from typing import Any

from analysis.explain_types import PeriodPair, ValueSource
from core.i18n import N_, _
from graph_schema.calendar import Calendar, Period
from graph_schema.errors import InvalidQueryError
from graph_schema.hierarchy import Hierarchy

#: the time dimension's id (dimensions.yaml) drilled as the calendar
TIME_DIMENSION = "time"
#: the calendar levels as people name them (年 → 季 → 月 → 日; 财年 → 财季; 零售年 → 零售季 →
#: 零售期 → 零售周; 周)
LEVEL_NAMES = {
    "year": N_("year"),
    "quarter": N_("quarter"),
    "month": N_("month"),
    "day": N_("day"),
    "week": N_("ISO week"),
    "fiscal_year": N_("fiscal year"),
    "fiscal_quarter": N_("fiscal quarter"),
    "retail_year": N_("retail year"),
    "retail_quarter": N_("retail quarter"),
    "retail_month": N_("retail period"),
    "retail_week": N_("retail week"),
}
#: a period's grain → the levels below it, coarsest first, each calendar's own
_LEVELS = {
    "year": ["quarter", "month", "day"],
    "quarter": ["month", "day"],
    "month": ["day"],
    "week": ["day"],
    "fiscal_year": ["fiscal_quarter", "month", "day"],
    "fiscal_quarter": ["month", "day"],
    "retail_year": ["retail_quarter", "retail_month", "retail_week", "day"],
    "retail_quarter": ["retail_month", "retail_week", "day"],
    "retail_month": ["retail_week", "day"],
    "retail_week": ["day"],
}

Frame = dict[tuple[str, ...], dict[str, float]]


def is_time(source: ValueSource, dimension: str) -> bool:
    """``dimension`` is the time dimension and declares no hierarchy of its own."""
    if dimension != TIME_DIMENSION:
        return False
    lookup = getattr(source, "hierarchy", None)
    return lookup is None or lookup(dimension) is None


class TimeFrames:
    """Stands for a :class:`PeriodPair` in the hierarchy drill: ``frames(metric, levels)`` are
    the metric's values by sub-period path, the period's against the base's (by position)."""

    def __init__(self, source: ValueSource, pair: PeriodPair, calendar: Calendar) -> None:
        if pair.base_p is None:
            raise InvalidQueryError(_("time is drilled against a base period, not against targets"))
        self.source, self.calendar = source, calendar
        self.period = pair.period
        self.now, self.base = calendar.parse(pair.period), calendar.parse(pair.base_p)
        if self.now.grain not in _LEVELS or self.base.grain != self.now.grain:
            raise InvalidQueryError(
                _(
                    "time is drilled for years, quarters, months and weeks, not {grain}",
                    grain=self.now.grain,
                )
            )
        self._cache: dict[tuple[str, int], tuple[Frame, Frame]] = {}
        #: a sub-period of the explained period → the base's sub-period at its position
        self.base_of: dict[str, str] = {}

    def levels(self, metric_id: str) -> list[str]:
        """The levels below the period's grain the metric has values at."""
        out: list[str] = []
        for level in _LEVELS[self.now.grain]:
            first = self.calendar.period_of(self.now.start, level).text
            try:
                self.source.frame(metric_id, (), periods=[first])
            except InvalidQueryError:
                break
            out.append(level)
        return out

    def _subs(self, parent: Period, level: str) -> list[Period]:
        first = self.calendar.period_of(parent.start, level)
        last = self.calendar.period_of(parent.end, level)
        return self.calendar.periods_between(first, last)

    def _paths(self, top: Period, levels: list[str]) -> list[tuple[tuple[str, ...], Period]]:
        """Every path of sub-periods down ``levels`` (positions: ``(i, j, …)``), with the
        finest sub-period."""
        paths: list[tuple[tuple[str, ...], Period]] = [((), top)]
        for level in levels:
            paths = [
                ((*pos, str(i)), sub)
                for pos, parent in paths
                for i, sub in enumerate(self._subs(parent, level))
            ]
        return paths

    def frames(self, metric_id: str, grain: tuple[str, ...] = ()) -> tuple[Frame, Frame]:
        """``(now, base)`` of ``metric_id`` by path of sub-period labels (``grain``: the levels
        down to the asked depth), both keyed by the explained period."""
        depth = len(grain)
        key = (metric_id, depth)
        if key in self._cache:
            return self._cache[key]
        levels = list(grain)
        now_paths = self._paths(self.now, levels)
        base_paths = self._paths(self.base, levels)
        periods = [p.text for _, p in now_paths] + [p.text for _, p in base_paths]
        values = self.source.frame(metric_id, (), periods=list(dict.fromkeys(periods))).get((), {})
        labels: dict[tuple[str, ...], tuple[str, ...]] = {}
        now_at = dict(now_paths)
        base_at = dict(base_paths)
        for pos in dict.fromkeys([*now_at, *base_at]):
            labels[pos] = tuple(self._label(now_at, base_at, pos[: i + 1]) for i in range(len(pos)))
            if pos in now_at and pos in base_at:
                self.base_of[now_at[pos].text] = base_at[pos].text
        now: Frame = {}
        base: Frame = {}
        for out, at in ((now, now_at), (base, base_at)):
            for pos, sub in at.items():
                if sub.text in values:
                    out[labels[pos]] = {self.period: values[sub.text]}
        self._cache[key] = (now, base)
        return now, base

    def _label(
        self,
        now_at: dict[tuple[str, ...], Period],
        base_at: dict[tuple[str, ...], Period],
        pos: tuple[str, ...],
    ) -> str:
        """The sub-period at ``pos`` as the explained period writes it (or the base's)."""
        found = now_at.get(pos) or self._walk(self.now, pos)
        if found is not None:
            return found.text
        other = base_at.get(pos) or self._walk(self.base, pos)
        return f"{other.text} (base)" if other is not None else "?"

    def _walk(self, top: Period, pos: tuple[str, ...]) -> Period | None:
        levels = _LEVELS[self.now.grain][: len(pos)]
        current = top
        for level, i in zip(levels, pos, strict=True):
            subs = self._subs(current, level)
            if int(i) >= len(subs):
                return None
            current = subs[int(i)]
        return current


def time_view(
    source: ValueSource, pair: PeriodPair, metric: Any, kind: str, change: float
) -> dict[str, Any]:
    """The time dimension's view: ranked at the first level below the period's grain, the
    ``hierarchy`` path down to the finest the values have."""
    from analysis.explain_hierarchy import top_level_view

    calendar = getattr(source, "calendar", None) or Calendar()
    frames = TimeFrames(source, pair, calendar)
    levels = frames.levels(metric.id)
    if not levels:
        raise InvalidQueryError(
            _(
                "{metric} has no values below the grain {grain}",
                metric=metric.id,
                grain=frames.now.grain,
            )
        )
    hierarchy = Hierarchy(TIME_DIMENSION, levels)
    view = top_level_view(frames, metric, kind, hierarchy, change)  # type: ignore[arg-type]
    # what each sub-period is compared with (May against February for Q2 against Q1)
    members = [*view["members"]]
    for step in view["hierarchy"]["path"]:
        members += [step, *step["members"]]
    for member in members:
        if member["member"] in frames.base_of:
            member["base_member"] = frames.base_of[member["member"]]
    return view


def level_name(level: str) -> str:
    """A level's name in the reader's language (年/季/月/日 for the calendar's; else its id)."""
    from core.i18n import _

    return _(LEVEL_NAMES[level]) if level in LEVEL_NAMES else level
