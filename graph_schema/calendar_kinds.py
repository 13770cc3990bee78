"""The calendar kinds: which grains there are, how a period of each is written, and the day
arithmetic of each calendar (gregorian, ISO weeks, fiscal, retail 4-5-4). Parsing a period and
moving between periods is :class:`graph_schema.calendar.Calendar`.

Seed 002: "时间维度：年份、季度、月度、日", judged by "同比、环比" — on the period's own calendar.

Periods (a year from 1900 to 2200, as :mod:`graph_schema.periods`):

============================  ==================  ===========================================
written                       grain               calendar
============================  ==================  ===========================================
``2026``                      ``year``            gregorian
``2026-Q2``                   ``quarter``         gregorian
``2026-06``                   ``month``           gregorian
``2026-06-15``                ``day``             gregorian
``2026-W53``                  ``week``            ISO 8601 weeks (Monday–Sunday; week 1 holds
                                                  the year's first Thursday)
``FY2026``, ``FY2026-Q1``     ``fiscal_year``,    fiscal: the year starts on the first of the
                              ``fiscal_quarter``  month ``calendar: fiscal_year_start`` gives in
                                                  ``kpigraph.yaml`` and is **named after the
                                                  calendar year it ends in** (start April:
                                                  ``FY2026`` = 2025-04-01 … 2026-03-31, its Q1
                                                  = 2025-04 … 2025-06)
``R2023``, ``R2023-Q4``,      ``retail_year``,    retail 4-5-4 (NRF): see below
``R2023-M12``, ``R2023-W53``  ``retail_quarter``,
                              ``retail_month``,
                              ``retail_week``
============================  ==================  ===========================================

The retail 4-5-4 calendar follows the National Retail Federation's convention
(https://nrf.com/resources/4-5-4-calendar): the fiscal year ends on the **Saturday nearest
January 31** (up to three days before or after it) and is named after the calendar year it
starts in (NRF's "fiscal 2023" = ``R2023`` = Sunday 2023-01-29 … Saturday 2024-02-03). Weeks run
Sunday–Saturday; each quarter is 13 weeks in months of 4, 5 and 4 weeks. A year has 52 weeks,
or 53 when the nearest Saturday moves forward (2023, 2028 …): the 53rd week is added to the last
month (January), so that year's fourth quarter is 4-5-5 (14 weeks). NRF's page (checked
2026-12-07) names FY'12, FY'17 and FY'23 as 53-week years, which this rule gives. ``yoy`` compares
the same week/month/quarter number of the previous retail year *as published*; NRF also publishes
a restated calendar for the year after a 53-week year (each week moved back one, the first week
of the 53-week year left out) — kpigraph does not restate, and week 53 has no period a year
before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core.i18n import N_, _
from graph_schema.errors import InvalidQueryError

MIN_YEAR, MAX_YEAR = 1900, 2200

#: grain → calendar
CALENDAR_OF = {
    "year": "gregorian",
    "quarter": "gregorian",
    "month": "gregorian",
    "day": "gregorian",
    "week": "iso",
    "fiscal_year": "fiscal",
    "fiscal_quarter": "fiscal",
    "retail_year": "retail",
    "retail_quarter": "retail",
    "retail_month": "retail",
    "retail_week": "retail",
}
GRAINS = tuple(CALENDAR_OF)

#: how a period of each grain is written (for messages)
FORMS = {
    "year": "YYYY",
    "quarter": "YYYY-Qn",
    "month": "YYYY-MM",
    "day": "YYYY-MM-DD",
    "week": "YYYY-Www",
    "fiscal_year": "FYyyyy",
    "fiscal_quarter": "FYyyyy-Qn",
    "retail_year": "Ryyyy",
    "retail_quarter": "Ryyyy-Qn",
    "retail_month": "Ryyyy-Mmm",
    "retail_week": "Ryyyy-Www",
}
ACCEPTED = ", ".join(FORMS.values())

#: a grain in words, for messages (零售月, not retail_month)
GRAIN_WORDS = {
    "year": N_("a year"),
    "quarter": N_("a quarter"),
    "month": N_("a month"),
    "day": N_("a day"),
    "week": N_("a week"),
    "fiscal_year": N_("a fiscal year"),
    "fiscal_quarter": N_("a fiscal quarter"),
    "retail_year": N_("a retail year"),
    "retail_quarter": N_("a retail quarter"),
    "retail_month": N_("a retail month"),
    "retail_week": N_("a retail week"),
}


def grain_word(grain: str) -> str:
    """``retail_month`` → 零售月 / a retail month (the grain's id when it has no word)."""
    return _(GRAIN_WORDS[grain]) if grain in GRAIN_WORDS else grain


#: base keyword → the grains it compares (``yoy`` compares every grain)
STEP_BASES = {
    "mom": ("month", "retail_month"),
    "qoq": ("quarter", "fiscal_quarter", "retail_quarter"),
    "wow": ("week", "retail_week"),
    "dod": ("day",),
}

_Y = r"([0-9]{4})"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("year", re.compile(rf"^{_Y}$")),
    ("quarter", re.compile(rf"^{_Y}-Q([1-4])$")),
    ("month", re.compile(rf"^{_Y}-(0[1-9]|1[0-2])$")),
    ("day", re.compile(rf"^{_Y}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")),
    ("week", re.compile(rf"^{_Y}-W(0[1-9]|[1-4][0-9]|5[0-3])$")),
    ("fiscal_year", re.compile(rf"^FY{_Y}$")),
    ("fiscal_quarter", re.compile(rf"^FY{_Y}-Q([1-4])$")),
    ("retail_year", re.compile(rf"^R{_Y}$")),
    ("retail_quarter", re.compile(rf"^R{_Y}-Q([1-4])$")),
    ("retail_month", re.compile(rf"^R{_Y}-M(0[1-9]|1[0-2])$")),
    ("retail_week", re.compile(rf"^R{_Y}-W(0[1-9]|[1-4][0-9]|5[0-3])$")),
)
#: any period of any grain (the year range is checked by :meth:`Calendar.parse`)
ANY_PERIOD_PATTERN = (
    r"^([0-9]{4}(-Q[1-4]|-W[0-5][0-9]|-[01][0-9](-[0-3][0-9])?)?"
    r"|FY[0-9]{4}(-Q[1-4])?|R[0-9]{4}(-Q[1-4]|-M[01][0-9]|-W[0-5][0-9])?)$"
)
#: weeks of the retail months of a quarter (4-5-4)
RETAIL_MONTH_WEEKS = (4, 5, 4)
ONE_DAY = dt.timedelta(days=1)


class InvalidPeriodError(InvalidQueryError):
    """A period that is not one of the accepted forms, or not in the calendar."""

    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    """One period: how it is written, its grain and its days (``start`` … ``end`` inclusive)."""

    text: str
    grain: str
    start: dt.date
    end: dt.date

    @property
    def calendar(self) -> str:
        return CALENDAR_OF[self.grain]

    def __str__(self) -> str:
        return self.text


def check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidPeriodError(
            _(
                "period {text}: the year must be from {MIN_YEAR} to {MAX_YEAR}",
                text=repr(text),
                MIN_YEAR=MIN_YEAR,
                MAX_YEAR=MAX_YEAR,
            ),
            {"period": text},
        )


def retail_year_end(year: int) -> dt.date:
    """The last day of retail year ``year``: the Saturday nearest 31 January of ``year + 1``.

    Examples
    --------
    >>> retail_year_end(2023), retail_year_end(2024)
    (datetime.date(2024, 2, 3), datetime.date(2025, 2, 1))
    """
    jan31 = dt.date(year + 1, 1, 31)
    ahead = (5 - jan31.weekday()) % 7  # Saturday is weekday 5
    return jan31 + dt.timedelta(days=ahead - 7 if ahead > 3 else ahead)


def retail_year_start(year: int) -> dt.date:
    return retail_year_end(year - 1) + ONE_DAY


def retail_weeks(year: int) -> int:
    """52 or 53."""
    return ((retail_year_end(year) - retail_year_start(year)).days + 1) // 7


def iso_weeks(year: int) -> int:
    """52 or 53 (28 December is always in the year's last ISO week)."""
    return dt.date(year, 12, 28).isocalendar()[1]


def month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - ONE_DAY


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def retail_month_weeks(year: int) -> list[int]:
    """Weeks of each of the retail year's 12 months (4-5-4 per quarter); the 53rd week of a
    53-week year goes to the last month."""
    month_weeks = list(RETAIL_MONTH_WEEKS * 4)
    month_weeks[-1] += retail_weeks(year) - 52
    return month_weeks


def retail_bounds(grain: str, nums: list[int], text: str) -> tuple[dt.date, dt.date]:
    """The days of a retail year, quarter, month or week (``nums``: the year and the number)."""
    year = nums[0]
    start, weeks = retail_year_start(year), retail_weeks(year)
    if grain == "retail_year":
        return start, retail_year_end(year)
    if grain == "retail_week":
        if nums[1] > weeks:
            raise InvalidPeriodError(
                _(
                    "period {text}: retail year {year} has {weeks} weeks",
                    text=repr(text),
                    year=year,
                    weeks=weeks,
                ),
                {"period": text},
            )
        first = start + dt.timedelta(weeks=nums[1] - 1)
        return first, first + dt.timedelta(days=6)
    month_weeks = retail_month_weeks(year)
    if grain == "retail_quarter":
        first_m, last_m = 3 * (nums[1] - 1), 3 * (nums[1] - 1) + 2
    else:
        first_m = last_m = nums[1] - 1
    before = sum(month_weeks[:first_m])
    span = sum(month_weeks[first_m : last_m + 1])
    first = start + dt.timedelta(weeks=before)
    return first, first + dt.timedelta(weeks=span) - ONE_DAY
