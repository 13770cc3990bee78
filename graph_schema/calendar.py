"""Grains and calendars: what a period is at every grain analysts use, and how periods move.

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

Comparisons are made on the period's own calendar: the previous period (``mom``, ``qoq``,
``wow``, ``dod``) and the same period a year before (``yoy``: the same quarter/month/week
number of the previous year of that calendar). An ISO week 53 or 29 February has no period a
year before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.i18n import _
from graph_schema.confined import ADVICE, LINKED_OUT, escapes
from graph_schema.errors import CatalogError, CatalogIssue, InvalidQueryError

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

#: base keyword → the grains it compares (``yoy`` compares every grain)
STEP_BASES = {
    "mom": ("month", "retail_month"),
    "qoq": ("quarter", "fiscal_quarter", "retail_quarter"),
    "wow": ("week", "retail_week"),
    "dod": ("day",),
}

_Y = r"([0-9]{4})"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
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
_RETAIL_MONTH_WEEKS = (4, 5, 4)
_ONE_DAY = dt.timedelta(days=1)


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


def _check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidPeriodError(
            f"period {text!r}: the year must be from {MIN_YEAR} to {MAX_YEAR}",
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
    return retail_year_end(year - 1) + _ONE_DAY


def retail_weeks(year: int) -> int:
    """52 or 53."""
    return ((retail_year_end(year) - retail_year_start(year)).days + 1) // 7


def iso_weeks(year: int) -> int:
    """52 or 53 (28 December is always in the year's last ISO week)."""
    return dt.date(year, 12, 28).isocalendar()[1]


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - _ONE_DAY


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


class Calendar:
    """Periods of every grain; ``fiscal_year_start`` is the fiscal year's first month (1–12).

    Examples
    --------
    >>> cal = Calendar(fiscal_year_start=4)
    >>> p = cal.parse("FY2026-Q1")
    >>> (p.start.isoformat(), p.end.isoformat())
    ('2025-04-01', '2025-06-30')
    """

    def __init__(self, fiscal_year_start: int = 1) -> None:
        if not 1 <= fiscal_year_start <= 12:
            raise InvalidQueryError(
                f"calendar: fiscal_year_start must be a month from 1 to 12, "
                f"not {fiscal_year_start!r} (kpigraph.yaml)"
            )
        self.fiscal_year_start = fiscal_year_start

    # -- parsing -------------------------------------------------------------------------

    def grain_of(self, text: str) -> str:
        for grain, pattern in _PATTERNS:
            if pattern.match(text):
                return grain
        raise InvalidPeriodError(
            _("period {period} is not one of {accepted}", period=repr(text), accepted=ACCEPTED),
            {"period": text, "accepted": ACCEPTED},
        )

    def parse(self, text: str) -> Period:
        """The period ``text`` writes.

        Raises
        ------
        InvalidPeriodError
            Not an accepted form, a year out of range, a day or week the calendar lacks.
        """
        text = text.strip()
        grain = self.grain_of(text)
        match = dict(_PATTERNS)[grain].match(text)
        assert match is not None
        nums = [int(g) for g in match.groups()]
        year = nums[0]
        _check_year(year, text)
        start, end = self._bounds(grain, nums, text)
        return Period(text, grain, start, end)

    def _bounds(self, grain: str, nums: list[int], text: str) -> tuple[dt.date, dt.date]:
        year = nums[0]
        if grain == "year":
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if grain == "quarter":
            first = 3 * (nums[1] - 1) + 1
            return dt.date(year, first, 1), _month_end(year, first + 2)
        if grain == "month":
            return dt.date(year, nums[1], 1), _month_end(year, nums[1])
        if grain == "day":
            try:
                day = dt.date(year, nums[1], nums[2])
            except ValueError:
                raise InvalidPeriodError(
                    f"period {text!r}: no such day", {"period": text}
                ) from None
            return day, day
        if grain == "week":
            if nums[1] > iso_weeks(year):
                raise InvalidPeriodError(
                    f"period {text!r}: ISO year {year} has {iso_weeks(year)} weeks",
                    {"period": text},
                )
            monday = dt.date.fromisocalendar(year, nums[1], 1)
            return monday, monday + dt.timedelta(days=6)
        if grain in ("fiscal_year", "fiscal_quarter"):
            # FY named after the calendar year it ends in
            start = self.fiscal_year_start
            y0, m0 = (year, 1) if start == 1 else (year - 1, start)
            if grain == "fiscal_year":
                y1, m1 = _add_months(y0, m0, 11)
                return dt.date(y0, m0, 1), _month_end(y1, m1)
            ys, ms = _add_months(y0, m0, 3 * (nums[1] - 1))
            ye, me = _add_months(ys, ms, 2)
            return dt.date(ys, ms, 1), _month_end(ye, me)
        return self._retail_bounds(grain, nums, text)

    def _retail_bounds(self, grain: str, nums: list[int], text: str) -> tuple[dt.date, dt.date]:
        year = nums[0]
        start, weeks = retail_year_start(year), retail_weeks(year)
        if grain == "retail_year":
            return start, retail_year_end(year)
        if grain == "retail_week":
            if nums[1] > weeks:
                raise InvalidPeriodError(
                    f"period {text!r}: retail year {year} has {weeks} weeks", {"period": text}
                )
            first = start + dt.timedelta(weeks=nums[1] - 1)
            return first, first + dt.timedelta(days=6)
        # weeks before each retail month; the 53rd week goes to the last month
        month_weeks = list(_RETAIL_MONTH_WEEKS * 4)
        month_weeks[-1] += weeks - 52
        if grain == "retail_quarter":
            first_m, last_m = 3 * (nums[1] - 1), 3 * (nums[1] - 1) + 2
        else:
            first_m = last_m = nums[1] - 1
        before = sum(month_weeks[:first_m])
        span = sum(month_weeks[first_m : last_m + 1])
        first = start + dt.timedelta(weeks=before)
        return first, first + dt.timedelta(weeks=span) - _ONE_DAY

    # -- days to periods -----------------------------------------------------------------

    def period_of(self, day: dt.date, grain: str) -> Period:
        """The period of ``grain`` that holds ``day``."""
        if grain not in CALENDAR_OF:
            raise InvalidQueryError(
                _(
                    "grain {grain} is not one of {grains}",
                    grain=repr(grain),
                    grains=", ".join(GRAINS),
                )
            )
        if grain == "year":
            return self.parse(f"{day.year:04d}")
        if grain == "quarter":
            return self.parse(f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}")
        if grain == "month":
            return self.parse(f"{day.year:04d}-{day.month:02d}")
        if grain == "day":
            return self.parse(day.isoformat())
        if grain == "week":
            iso = day.isocalendar()
            return self.parse(f"{iso[0]:04d}-W{iso[1]:02d}")
        if grain in ("fiscal_year", "fiscal_quarter"):
            s = self.fiscal_year_start
            fy = day.year if s == 1 or day.month < s else day.year + 1
            if grain == "fiscal_year":
                return self.parse(f"FY{fy:04d}")
            return self.parse(f"FY{fy:04d}-Q{(day.month - s) % 12 // 3 + 1}")
        year = day.year if day >= retail_year_start(day.year) else day.year - 1
        week = (day - retail_year_start(year)).days // 7 + 1
        if grain == "retail_year":
            return self.parse(f"R{year:04d}")
        if grain == "retail_week":
            return self.parse(f"R{year:04d}-W{week:02d}")
        month_weeks = list(_RETAIL_MONTH_WEEKS * 4)
        month_weeks[-1] += retail_weeks(year) - 52
        month, seen = 0, 0
        while seen + month_weeks[month] < week:
            seen += month_weeks[month]
            month += 1
        if grain == "retail_month":
            return self.parse(f"R{year:04d}-M{month + 1:02d}")
        return self.parse(f"R{year:04d}-Q{month // 3 + 1}")

    def periods_between(self, first: Period, last: Period) -> list[Period]:
        """``first`` … ``last`` (same grain), in order."""
        _same_grain(first, last)
        out: list[Period] = []
        p = first
        while p.start <= last.start:
            out.append(p)
            p = self.shift(p, 1)
        return out

    # -- moving --------------------------------------------------------------------------

    def shift(self, period: Period, steps: int) -> Period:
        """The period ``steps`` periods of the same grain after (negative: before)."""
        if steps == 0:
            return period
        p = period
        for _step in range(abs(steps)):
            day = p.end + _ONE_DAY if steps > 0 else p.start - _ONE_DAY
            if not MIN_YEAR <= day.year <= MAX_YEAR:
                raise InvalidPeriodError(
                    f"no period before/after {period.text} within {MIN_YEAR}–{MAX_YEAR}",
                    {"period": period.text},
                )
            p = self.period_of(day, period.grain)
        return p

    def previous(self, period: Period) -> Period:
        return self.shift(period, -1)

    def step_base(self, text: str) -> str:
        """The base keyword of the period before ``text``, of its grain — what an explanation
        compares with when no base is given (page, API, CLI and MCP alike): ``mom`` for a
        month, ``qoq`` for a quarter, ``wow`` for a week, ``dod`` for a day, ``yoy`` for a
        year (the year before). Not a period: ``mom`` (the period's own check says why).

        >>> cal = Calendar(fiscal_year_start=4)
        >>> [cal.step_base(p) for p in ("2026-06", "2026-Q1", "FY2026-Q2", "2026-W05", "2026")]
        ['mom', 'qoq', 'qoq', 'wow', 'yoy']
        """
        try:
            grain = self.grain_of(text.strip())
        except InvalidPeriodError:
            return "mom"
        return next((k for k, grains in STEP_BASES.items() if grain in grains), "yoy")

    def year_before(self, period: Period) -> Period | None:
        """The same period of the previous year of its calendar; ``None`` when that year
        has none (ISO or retail week 53, 29 February)."""
        g, text = period.grain, period.text
        if g in ("year", "fiscal_year", "retail_year"):
            return self.shift(period, -1)
        prefix = "FY" if g.startswith("fiscal") else "R" if g.startswith("retail") else ""
        year = int(text[len(prefix) : len(prefix) + 4])
        if year - 1 < MIN_YEAR:
            return None
        rest = text[len(prefix) + 4 :]
        try:
            return self.parse(f"{prefix}{year - 1:04d}{rest}")
        except InvalidPeriodError:
            return None

    def base(self, period: Period, base: str) -> Period | None:
        """The period ``period`` is compared with: ``mom``/``qoq``/``wow``/``dod`` → the
        previous period (of a month, quarter, week, day), ``yoy`` → the same period a year
        before, ``target`` → ``None``, else ``base`` itself (a period of the same grain and
        calendar).

        Raises
        ------
        InvalidPeriodError
            The keyword does not fit the grain, the base is of another grain or calendar, or
            the period has no counterpart a year before.
        """
        if base == "target":
            return None
        if base == "yoy":
            found = self.year_before(period)
            if found is None:
                raise InvalidPeriodError(
                    f"period {period.text} has no same period a year before on its calendar "
                    f"({period.calendar}); compare with an explicit period",
                    {"period": period.text},
                )
            return found
        if base in STEP_BASES:
            if period.grain not in STEP_BASES[base]:
                fitting = [k for k, gs in STEP_BASES.items() if period.grain in gs]
                raise InvalidPeriodError(
                    f"base {base!r} compares {' or '.join(STEP_BASES[base])} periods; "
                    f"{period.text} is a {period.grain.replace('_', ' ')}: use "
                    f"{' or '.join([*fitting, 'yoy'])}",
                    {"period": period.text, "base": base},
                )
            return self.previous(period)
        try:
            other = self.parse(base)
        except InvalidPeriodError:
            raise InvalidPeriodError(
                f"base {base!r} must be mom, qoq, wow, dod, yoy, target or a period ({ACCEPTED})",
                {"base": base},
            ) from None
        _same_grain(period, other)
        return other

    # -- stored values -------------------------------------------------------------------

    def stored_range(self, period: Period, stored_len: int) -> tuple[str, str]:
        """The stored periods (``YYYY-MM`` when ``stored_len`` is 7, ``YYYY-MM-DD`` when 10)
        that make up ``period``: ``(first, last)``, compared as text.

        Raises
        ------
        InvalidPeriodError
            Monthly values cannot make up a period that does not start and end with a month
            (weeks, retail periods).
        """
        if stored_len == 10:
            return period.start.isoformat(), period.end.isoformat()
        if period.start.day != 1 or period.end != _month_end(period.end.year, period.end.month):
            raise InvalidPeriodError(
                f"period {period.text} ({period.grain.replace('_', ' ')}) does not start and "
                "end with a month: it needs daily (YYYY-MM-DD) values, these are monthly",
                {"period": period.text},
            )
        return period.start.isoformat()[:7], period.end.isoformat()[:7]


def _same_grain(a: Period, b: Period) -> None:
    if a.grain != b.grain:
        raise InvalidPeriodError(
            f"{b.text} is a {b.grain.replace('_', ' ')} ({b.calendar} calendar) and "
            f"{a.text} a {a.grain.replace('_', ' ')} ({a.calendar} calendar): compare "
            "periods of the same grain and calendar",
            {"period": a.text, "base": b.text},
        )


DEFAULT = Calendar()


def read_calendar(root: Path) -> Calendar:
    """The calendar ``root/kpigraph.yaml`` declares (``calendar: {fiscal_year_start: 4}``);
    the gregorian default (fiscal year = calendar year) when it declares none.

    Raises
    ------
    InvalidQueryError
        ``fiscal_year_start`` is not a month number.
    CatalogError
        ``kpigraph.yaml`` is a symbolic link out of ``root`` (:mod:`graph_schema.confined`):
        refused unread, as the catalog loader refuses it.
    """
    manifest = root / "kpigraph.yaml"
    if escapes(root, manifest):
        raise CatalogError([CatalogIssue("kpigraph.yaml", None, LINKED_OUT, ADVICE)])
    if not manifest.is_file() or manifest.stat().st_size > 1_000_000:
        return DEFAULT
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return DEFAULT  # the catalog loader reports a broken manifest with its line
    section = data.get("calendar") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return DEFAULT
    start = section.get("fiscal_year_start", 1)
    if not isinstance(start, int) or isinstance(start, bool):
        raise InvalidQueryError(
            f"{manifest}: calendar.fiscal_year_start must be a month number 1–12, not {start!r}"
        )
    return Calendar(start)
