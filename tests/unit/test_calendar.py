"""Grains and calendars (graph_schema.calendar) and values rolled up to them.

Every expectation below was computed by hand (weekdays from a printed calendar):

- ISO weeks: 1 January 2026 is a Thursday, so ISO year 2026 has 53 weeks; week 1 is Monday
  2025-12-29 … Sunday 2026-01-04 and week 53 is Monday 2026-12-28 … Sunday 2027-01-03.
  1 January 2025 is a Wednesday in a common year: 52 weeks. Years with 53 ISO weeks in
  2000–2029: 2004, 2009, 2015, 2020, 2026 (1 Jan a Thursday, or a Wednesday in a leap year).
- Fiscal year starting April, named after the year it ends in: FY2026 = 2025-04-01 …
  2026-03-31; FY2026-Q1 = April–June 2025, FY2026-Q4 = January–March 2026.
- Retail 4-5-4 (NRF): the year ends on the Saturday nearest 31 January. 31 Jan 2023 is a
  Tuesday → Saturday 2023-01-28 (3 days before); 31 Jan 2024 is a Wednesday → Saturday
  2024-02-03 (3 days after); 31 Jan 2025 is a Friday → Saturday 2025-02-01. So R2023 runs
  Sunday 2023-01-29 … Saturday 2024-02-03 = 371 days = 53 weeks (NRF's 53-week fiscal 2023),
  R2024 runs 2024-02-04 … 2025-02-01 = 364 days = 52 weeks. R2023's months: M01 = 4 weeks
  (01-29 … 02-25), M02 = 5 weeks (02-26 … 04-01), M03 = 4 weeks (04-02 … 04-29); Q4 starts
  after 39 weeks = 2023-10-29 and, with the 53rd week in January (M12 = 5 weeks: 2023-12-31 …
  2024-02-03), runs 14 weeks to 2024-02-03; W53 = 2024-01-28 … 2024-02-03.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.evaluate import evaluate
from analysis.explain import explain
from analysis.explain_types import base_period
from graph_schema.calendar import (
    Calendar,
    InvalidPeriodError,
    iso_weeks,
    retail_weeks,
    retail_year_end,
)
from graph_schema.errors import InvalidQueryError
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.errors import ValuesQueryError

D = dt.date
CAL = Calendar()
FISCAL_APRIL = Calendar(fiscal_year_start=4)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages these tests match are the English ones (zh is the default language)."""
    from core import i18n

    with i18n.use("en"):
        yield


def span(cal: Calendar, text: str) -> tuple[str, str]:
    p = cal.parse(text)
    return p.start.isoformat(), p.end.isoformat()


# -- the calendar itself -----------------------------------------------------------------


def test_iso_weeks_across_the_year_boundary() -> None:
    assert [y for y in range(2000, 2030) if iso_weeks(y) == 53] == [2004, 2009, 2015, 2020, 2026]
    assert span(CAL, "2026-W01") == ("2025-12-29", "2026-01-04")
    assert span(CAL, "2026-W53") == ("2026-12-28", "2027-01-03")
    assert CAL.period_of(D(2027, 1, 1), "week").text == "2026-W53"
    assert CAL.period_of(D(2025, 12, 31), "week").text == "2026-W01"
    assert CAL.period_of(D(2027, 1, 4), "week").text == "2027-W01"
    assert CAL.previous(CAL.parse("2027-W01")).text == "2026-W53"  # wow across the boundary
    assert CAL.year_before(CAL.parse("2027-W01")).text == "2026-W01"  # type: ignore[union-attr]
    assert CAL.year_before(CAL.parse("2026-W53")) is None  # 2025 has 52 weeks
    with pytest.raises(InvalidPeriodError, match="ISO year 2025 has 52 weeks"):
        CAL.parse("2025-W53")


def test_quarters_years_months_days() -> None:
    assert span(CAL, "2026-Q1") == ("2026-01-01", "2026-03-31")
    assert span(CAL, "2024-Q1") == ("2024-01-01", "2024-03-31")
    assert span(CAL, "2026-Q4") == ("2026-10-01", "2026-12-31")
    assert span(CAL, "2024") == ("2024-01-01", "2024-12-31")
    assert span(CAL, "2024-02") == ("2024-02-01", "2024-02-29")
    assert CAL.period_of(D(2026, 8, 15), "quarter").text == "2026-Q3"
    assert CAL.previous(CAL.parse("2026-Q1")).text == "2025-Q4"
    assert CAL.year_before(CAL.parse("2026-Q1")).text == "2025-Q1"  # type: ignore[union-attr]
    assert CAL.previous(CAL.parse("2026-03-01")).text == "2026-02-28"
    assert CAL.year_before(CAL.parse("2024-02-29")) is None
    for bad in ("2026-Q5", "2026-13", "2023-02-29", "1899", "FY26", "2026-w01", "R2026-M13"):
        with pytest.raises(InvalidPeriodError):
            CAL.parse(bad)


def test_fiscal_year_starting_april_is_named_after_the_year_it_ends_in() -> None:
    assert span(FISCAL_APRIL, "FY2026") == ("2025-04-01", "2026-03-31")
    assert span(FISCAL_APRIL, "FY2026-Q1") == ("2025-04-01", "2025-06-30")
    assert span(FISCAL_APRIL, "FY2026-Q4") == ("2026-01-01", "2026-03-31")
    assert FISCAL_APRIL.period_of(D(2026, 3, 31), "fiscal_quarter").text == "FY2026-Q4"
    assert FISCAL_APRIL.period_of(D(2026, 4, 1), "fiscal_quarter").text == "FY2027-Q1"
    assert FISCAL_APRIL.period_of(D(2025, 12, 31), "fiscal_year").text == "FY2026"
    assert FISCAL_APRIL.previous(FISCAL_APRIL.parse("FY2026-Q1")).text == "FY2025-Q4"
    assert span(FISCAL_APRIL, "FY2025-Q4") == ("2025-01-01", "2025-03-31")
    # a fiscal year declared to start in January is the calendar year
    assert span(Calendar(1), "FY2026") == ("2026-01-01", "2026-12-31")
    # no fiscal year declared (the default): a fiscal period is of a calendar the catalog
    # does not have — refused, saying what to declare (#26)
    for fiscal in ("FY2026", "FY2026-Q1"):
        with pytest.raises(InvalidPeriodError, match="fiscal_year_start"):
            CAL.parse(fiscal)
    # October start (as the US federal year): FY2026 = 2025-10-01 … 2026-09-30
    assert span(Calendar(10), "FY2026-Q1") == ("2025-10-01", "2025-12-31")
    assert span(Calendar(10), "FY2026") == ("2025-10-01", "2026-09-30")
    with pytest.raises(InvalidQueryError, match="fiscal_year_start"):
        Calendar(13)


def test_retail_454_with_a_53_week_year() -> None:
    assert retail_year_end(2022) == D(2023, 1, 28)
    assert retail_year_end(2023) == D(2024, 2, 3)
    assert retail_year_end(2024) == D(2025, 2, 1)
    # NRF names FY'12, FY'17 and FY'23 as its 53-week years (nrf.com/resources/4-5-4-calendar)
    assert [y for y in range(2010, 2030) if retail_weeks(y) == 53] == [2012, 2017, 2023, 2028]
    assert span(CAL, "R2023") == ("2023-01-29", "2024-02-03")
    assert span(CAL, "R2024") == ("2024-02-04", "2025-02-01")
    assert span(CAL, "R2023-M01") == ("2023-01-29", "2023-02-25")  # 4 weeks
    assert span(CAL, "R2023-M02") == ("2023-02-26", "2023-04-01")  # 5 weeks
    assert span(CAL, "R2023-M03") == ("2023-04-02", "2023-04-29")  # 4 weeks
    assert span(CAL, "R2023-Q4") == ("2023-10-29", "2024-02-03")  # 14 weeks: 4-5-5
    assert span(CAL, "R2023-M12") == ("2023-12-31", "2024-02-03")  # 5 weeks
    assert span(CAL, "R2024-M12") == ("2025-01-05", "2025-02-01")  # 4 weeks
    assert span(CAL, "R2023-W53") == ("2024-01-28", "2024-02-03")
    with pytest.raises(InvalidPeriodError, match="retail year 2024 has 52 weeks"):
        CAL.parse("R2024-W53")
    assert CAL.period_of(D(2024, 2, 3), "retail_week").text == "R2023-W53"
    assert CAL.period_of(D(2024, 2, 4), "retail_week").text == "R2024-W01"
    assert CAL.period_of(D(2023, 12, 30), "retail_month").text == "R2023-M11"
    assert CAL.period_of(D(2023, 12, 31), "retail_month").text == "R2023-M12"
    assert CAL.period_of(D(2023, 1, 28), "retail_year").text == "R2022"
    assert CAL.previous(CAL.parse("R2024-W01")).text == "R2023-W53"
    assert CAL.previous(CAL.parse("R2024-M01")).text == "R2023-M12"
    assert CAL.year_before(CAL.parse("R2024-M12")).text == "R2023-M12"  # type: ignore[union-attr]
    assert CAL.year_before(CAL.parse("R2023-W53")) is None


def test_bases_on_the_same_calendar() -> None:
    assert base_period("2026-06", "mom") == "2026-05"
    assert base_period("2026-06", "yoy") == "2025-06"
    assert base_period("2026-Q1", "qoq") == "2025-Q4"
    assert base_period("2027-W01", "wow") == "2026-W53"
    assert base_period("2026-03-01", "dod") == "2026-02-28"
    assert base_period("FY2026-Q1", "qoq", FISCAL_APRIL) == "FY2025-Q4"
    assert base_period("R2024-M01", "mom") == "R2023-M12"
    assert base_period("2026", "yoy") == "2025"
    assert base_period("2026-Q2", "2025-Q4") == "2025-Q4"
    assert base_period("2026-06", "target") is None
    with pytest.raises(InvalidQueryError, match="use qoq or yoy"):
        base_period("2026-Q2", "mom")
    with pytest.raises(InvalidQueryError, match="same grain and calendar"):
        base_period("2026-Q2", "2026-05")
    with pytest.raises(InvalidQueryError, match="same grain and calendar"):
        base_period("FY2026-Q1", "2025-Q2", FISCAL_APRIL)  # the same months, another calendar
    with pytest.raises(InvalidQueryError, match="same grain and calendar"):
        base_period("R2024-W10", "2024-W10")
    with pytest.raises(InvalidQueryError, match="no same period a year before"):
        base_period("2026-W53", "yoy")


# -- values rolled up by the metric's rule -----------------------------------------------

METRICS = {
    "metrics/score.yaml": "id: score\nname: 满意度\naggregation: avg\n",
    "metrics/stock.yaml": "id: stock\nname: 库存\naggregation: last\n",
    "metrics/rate.yaml": "id: rate\nname: 留存率\naggregation: none\n",
}
DIMS = "- {id: time, name: 时间}\n- {id: store, name: 门店}\n"


def engine(root: Path, values: str, manifest: str = "name: test catalog\n") -> ValuesEngine:
    write_catalog(
        root,
        {"kpigraph.yaml": manifest, "dimensions.yaml": DIMS, **METRICS, "values/v.csv": values},
    )
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


DAILY = (
    "metric,period,store,value\n"
    # revenue (sum): Sun 2026-12-27 is in W52; Mon 12-28 … Sun 2027-01-03 is W53; Mon 01-04 W01
    "revenue,2026-12-27,S1,5\n"
    "revenue,2026-12-28,S1,10\n"
    "revenue,2027-01-03,S2,20\n"
    "revenue,2027-01-04,S1,40\n"
    # stock (last): W53's last day with a value is 2027-01-03 → 9 (S1 4 + S2 5)
    "stock,2026-12-28,S1,7\nstock,2027-01-03,S1,4\nstock,2027-01-03,S2,5\n"
    # score (avg): W53 = mean of the daily means (80, 90) = 85
    "score,2026-12-28,S1,80\nscore,2027-01-02,S1,90\n"
    "rate,2026-12-28,S1,0.5\n"
)


def test_daily_values_roll_up_to_iso_weeks_by_the_metric_rule(tmp_path: Path) -> None:
    e = engine(tmp_path, DAILY)
    weeks = e.frame("revenue", periods=["2026-W52", "2026-W53", "2027-W01"])[()]
    assert weeks == {"2026-W52": 5.0, "2026-W53": 30.0, "2027-W01": 40.0}
    by_store = e.frame("revenue", ["store"], periods=["2026-W53"])
    assert by_store == {("S1",): {"2026-W53": 10.0}, ("S2",): {"2026-W53": 20.0}}
    assert e.frame("stock", periods=["2026-W53"])[()] == {"2026-W53": 9.0}
    assert e.frame("score", periods=["2026-W53"])[()] == {"2026-W53": 85.0}
    # the month and the ISO year cut the same days differently
    assert e.frame("revenue", periods=["2027-01"])[()] == {"2027-01": 60.0}
    assert e.frame("revenue", periods=["2026"])[()] == {"2026": 15.0}
    with pytest.raises(ValuesQueryError, match="aggregation: none"):
        e.frame("rate", periods=["2026-W53"])
    # explain and eval compare the week with the week before, on the ISO calendar
    result = explain(e, "revenue", "2027-W01", "wow", by=["store"])
    assert (result.base_period, result.value, result.base_value) == ("2026-W53", 40.0, 30.0)
    ev = evaluate(e, "revenue", "2026-W53")
    assert (ev["value"], ev["previous_period"], ev["previous"]) == (30.0, "2026-W52", 5.0)
    assert ev["year_before_period"] is None and ev["yoy"] is None  # 2025 has no week 53


MONTHLY = (
    "metric,period,store,value\n"
    "revenue,2025-03,S1,1\n"  # FY2025-Q4
    "revenue,2025-04,S1,10\n"  # FY2026-Q1 …
    "revenue,2025-06,S2,100\n"  # … FY2026-Q1 (= calendar 2025-Q2)
    "revenue,2025-07,S1,1000\n"  # FY2026-Q2
    "revenue,2026-03,S1,10000\n"  # FY2026-Q4
    "revenue,2026-04,S1,100000\n"  # FY2027-Q1
    "stock,2025-04,S1,5\nstock,2025-06,S1,8\n"  # last of FY2026-Q1: 8
    "score,2025-04,S1,70\nscore,2025-05,S1,80\nscore,2025-06,S1,90\n"  # avg 80
)


def test_monthly_values_roll_up_to_quarters_and_an_april_fiscal_year(tmp_path: Path) -> None:
    e = engine(tmp_path, MONTHLY, "name: test catalog\ncalendar: {fiscal_year_start: 4}\n")
    assert e.calendar.fiscal_year_start == 4
    fy = e.frame("revenue", periods=["FY2025-Q4", "FY2026-Q1", "FY2026-Q4", "FY2027-Q1"])[()]
    assert fy == {"FY2025-Q4": 1.0, "FY2026-Q1": 110.0, "FY2026-Q4": 10000.0, "FY2027-Q1": 1e5}
    assert e.frame("revenue", periods=["FY2026"])[()] == {"FY2026": 11110.0}  # 10+100+1000+1e4
    assert e.frame("revenue", periods=["2025"])[()] == {"2025": 1111.0}  # calendar 2025
    assert e.frame("revenue", periods=["2025-Q2"])[()] == {"2025-Q2": 110.0}
    assert e.frame("stock", periods=["FY2026-Q1"])[()] == {"FY2026-Q1": 8.0}
    assert e.frame("score", periods=["FY2026-Q1"])[()] == {"FY2026-Q1": 80.0}
    # a range of quarters (what a trend asks)
    ranged = e.frame("revenue", start="FY2026-Q1", end="FY2026-Q4")[()]
    assert ranged == {"FY2026-Q1": 110.0, "FY2026-Q2": 1000.0, "FY2026-Q4": 10000.0}
    result = explain(e, "revenue", "FY2027-Q1", "yoy")
    assert (result.base_period, result.value, result.base_value) == ("FY2026-Q1", 1e5, 110.0)
    # weeks are not made of months: a clear error, not a wrong number
    with pytest.raises(ValuesQueryError, match="needs daily"):
        e.frame("revenue", periods=["2025-W20"])
    with pytest.raises(InvalidQueryError, match="different grains"):
        e.frame("revenue", periods=["2025-Q2", "FY2026-Q1"])


RETAIL = (
    "metric,period,store,value\n"
    "revenue,2023-12-30,S1,7000\n"  # Sat: R2023-M11
    "revenue,2023-12-31,S1,600\n"  # Sun: first day of R2023-M12
    "revenue,2024-01-27,S1,50\n"  # Sat: R2023-W52
    "revenue,2024-01-28,S1,4\n"  # Sun: first day of R2023-W53
    "revenue,2024-02-03,S1,3\n"  # Sat: last day of R2023 (W53)
    "revenue,2024-02-04,S1,80000\n"  # Sun: R2024-W01, M01
)


def test_retail_454_values_in_a_53_week_year(tmp_path: Path) -> None:
    e = engine(tmp_path, RETAIL)
    got = e.frame(
        "revenue", periods=["R2023-M11", "R2023-M12", "R2024-M01"]
    )[()]  # fmt: skip
    assert got == {"R2023-M11": 7000.0, "R2023-M12": 657.0, "R2024-M01": 80000.0}
    assert e.frame("revenue", periods=["R2023-Q4"])[()] == {"R2023-Q4": 7657.0}
    assert e.frame("revenue", periods=["R2023-W53"])[()] == {"R2023-W53": 7.0}
    assert e.frame("revenue", periods=["R2023"])[()] == {"R2023": 7657.0}
    # the same days by calendar month: January 2024 = 50 + 4, February 2024 = 3 + 80000
    assert e.frame("revenue", periods=["2024-01", "2024-02"])[()] == {
        "2024-01": 54.0,
        "2024-02": 80003.0,
    }
    result = explain(e, "revenue", "R2024-M01", "mom")
    assert (result.base_period, result.value, result.base_value) == ("R2023-M12", 80000.0, 657.0)
    with pytest.raises(InvalidQueryError, match="no same period a year before"):
        explain(e, "revenue", "R2023-W53", "yoy")


@pytest.mark.usefixtures("english")  # reads the notes' English words
def test_partly_filled_periods_are_said(tmp_path: Path) -> None:
    from values.service import values_report

    e = engine(tmp_path / "m", MONTHLY, "name: test catalog\ncalendar: {fiscal_year_start: 4}\n")
    # FY2026-Q1 has April and June 2025 (not May); FY2026 has 2025-04, -06, -07 and 2026-03
    assert e.coverage("revenue", ["FY2026-Q1", "FY2026", "2025-06"]) == {
        "FY2026-Q1": (2, 3),
        "FY2026": (4, 12),
    }
    notes = explain(e, "revenue", "FY2027-Q1", "yoy").notes
    assert "FY2027-Q1 has values for 1 of its 3 stored periods" in " ".join(notes)
    assert "FY2026-Q1 has values for 2 of its 3" in " ".join(notes)
    report = values_report(e, "revenue", None, "FY2026-Q1", "FY2026-Q2")
    assert report["partial"] == {"FY2026-Q1": [2, 3], "FY2026-Q2": [1, 3]}
    daily = engine(tmp_path / "d", DAILY)
    assert daily.coverage("revenue", ["2026-W53"]) == {"2026-W53": (2, 7)}  # 12-28, 01-03


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "FY2026 has values for 4 of its 12 stored periods"),
        ("zh", "FY2026 的 12 个存储期间（月或日）中只有 4 个有数值"),
    ],
)
def test_eval_of_a_fiscal_year_says_which_compared_years_are_partly_filled(
    tmp_path: Path, lang: str, words: str
) -> None:
    """``eval FY2027`` compares with FY2026 (its MoM and YoY base), which has 4 of its 12
    months: the same note ``explain`` gives, not a silent +x % against a part of a year."""
    from core import i18n
    from values.service import eval_report

    e = engine(tmp_path, MONTHLY, "name: test catalog\ncalendar: {fiscal_year_start: 4}\n")
    with i18n.use(lang):
        report = eval_report(e, "revenue", "FY2027")
        by_store = eval_report(e, "revenue", "FY2027", "store")
        explained = explain(e, "revenue", "FY2027", "yoy").notes
    assert (report["previous_period"], report["value"]) == ("FY2026", 100000.0)
    assert len(report["notes"]) == 2, report  # FY2027 (1 of 12) and FY2026, once each
    assert any(words in n for n in report["notes"]), report["notes"]
    assert report["notes"] == by_store["notes"] == [n for n in explained if "12" in n]
    # a period its months fill gets no note
    assert "notes" not in eval_report(e, "revenue", "2026-03")


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "the target of FY2027 is set for 2 of its 12 stored periods"),
        ("zh", "FY2027 的 12 个存储期间（月或日）中只有 2 个设了目标"),
    ],
)
def test_eval_says_when_the_target_covers_part_of_the_period(
    tmp_path: Path, lang: str, words: str
) -> None:
    """Targets set for April and May 2026 only: FY2027's target is their sum, so its
    attainment (100,000 of 300 = 33,333 %) is against two months of a twelve-month year —
    said, not left silent (found by gaps11: FY2026's 406 % on a catalog with a part-year
    target). A month whose target is set gets no such note."""
    from core import i18n
    from values.service import eval_report

    write_catalog(
        tmp_path,
        {
            "targets/t.csv": (
                "metric,period,store,target\nrevenue,2026-04,S1,100\nrevenue,2026-05,S1,200\n"
            )
        },
    )
    e = engine(tmp_path, MONTHLY, "name: test catalog\ncalendar: {fiscal_year_start: 4}\n")
    with i18n.use(lang):
        report = eval_report(e, "revenue", "FY2027")
        month = eval_report(e, "revenue", "2026-04")
    assert report["target"] == 300.0
    assert sum(words in n for n in report["notes"]) == 1, report["notes"]
    assert month["target"] == 100.0 and "notes" not in month
