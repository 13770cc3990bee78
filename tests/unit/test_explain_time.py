"""``explain --by time``: the calendar drilled as a hierarchy (时间维度: 年份、季度、月度、日,
seed 002). A planted cause — three days of May 2026 at +100 — is found from the quarter: Q2
against Q1 ranks May first (+330 of +310), then May's days against February's (the 10th).
Hand-computed: 10 a day everywhere; Q1 = 90 days = 900, Q2 = 91 days + 300 = 1,210."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.explain import explain
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine

PLANTED = {dt.date(2026, 5, 10), dt.date(2026, 5, 11), dt.date(2026, 5, 12)}


def _values() -> str:
    lines = ["metric,period,value"]
    day = dt.date(2026, 1, 1)
    while day <= dt.date(2026, 6, 30):
        lines.append(f"revenue,{day.isoformat()},{110 if day in PLANTED else 10}")
        day += dt.timedelta(days=1)
    return "\n".join(lines) + "\n"


@pytest.fixture
def engine(tmp_path: Path) -> ValuesEngine:
    root = write_catalog(tmp_path / "catalog", {"values/v.csv": _values()})
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def test_a_quarter_drills_to_the_month_then_the_day(engine: ValuesEngine) -> None:
    result = explain(engine, "revenue", "2026-Q2", "qoq", by=["time"]).to_json()
    assert result["value"] == 1210 and result["base_value"] == 900
    (view,) = result["dimensions"]
    assert view["dimension"] == "time" and view["level"] == "month"
    ranked = [(m["member"], m["contribution"]) for m in view["members"]]
    # April − January, May − February, June − March
    assert ranked == [("2026-05", 330.0), ("2026-04", -10.0), ("2026-06", -10.0)]
    assert view["explained_by"] == 1
    # each month against the base quarter's month at its position
    assert {m["member"]: m["base_member"] for m in view["members"]} == {
        "2026-04": "2026-01",
        "2026-05": "2026-02",
        "2026-06": "2026-03",
    }
    path = view["hierarchy"]["path"]
    assert view["hierarchy"]["levels"] == ["month", "day"]
    assert [(s["level"], s["member"], s["contribution"]) for s in path] == [
        ("month", "2026-05", 330.0),
        ("day", "2026-05-10", 100.0),  # ties (the 10th–12th) go to the first
    ]
    assert [s.get("base_member") for s in path] == ["2026-02", "2026-02-10"]
    days = {m["member"]: m["contribution"] for m in path[1]["members"]}
    assert days["2026-05-11"] == days["2026-05-12"] == 100.0
    assert days["2026-05-29"] == 10.0  # February 2026 has no 29th: against nothing
    engine.close()


@pytest.mark.usefixtures("english")  # reads the note's English words
def test_a_year_goes_quarter_month_day_and_monthly_values_stop_at_months(
    tmp_path: Path,
) -> None:
    monthly = "metric,period,value\n" + "".join(
        f"revenue,2026-{m:02d},{500 if m == 5 else 100}\n" for m in range(1, 7)
    )
    root = write_catalog(tmp_path / "catalog", {"values/v.csv": monthly})
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    result = explain(engine, "revenue", "2026-Q2", "qoq", by=["time"]).to_json()
    (view,) = result["dimensions"]
    assert view["hierarchy"]["levels"] == ["month"]  # no days to drill into
    assert [(s["member"], s["contribution"]) for s in view["hierarchy"]["path"]] == [
        ("2026-05", 400.0)
    ]
    explained = explain(engine, "revenue", "2026-06", "mom", by=["time"]).to_json()
    assert explained["dimensions"] == []  # a month of monthly values: nothing below it
    assert any("below the grain month" in n for n in explained["notes"])
    engine.close()


#: the other calendars (fiscal year from April): 10 a day from October 2025 to August 2026,
#: one planted day — Wednesday 2026-05-13 at 100 (+90)
PLANTED_WEDNESDAY = dt.date(2026, 5, 13)


@pytest.fixture
def calendars(tmp_path: Path) -> ValuesEngine:
    lines = ["metric,period,value"]
    day = dt.date(2025, 10, 1)
    while day <= dt.date(2026, 8, 31):
        lines.append(f"revenue,{day.isoformat()},{100 if day == PLANTED_WEDNESDAY else 10}")
        day += dt.timedelta(days=1)
    root = write_catalog(
        tmp_path / "catalog",
        {
            "kpigraph.yaml": "name: test catalog\ncalendar: {fiscal_year_start: 4}\n",
            "values/v.csv": "\n".join(lines) + "\n",
        },
    )
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def _drilled(result: dict[str, object]) -> list[tuple[str, str, float, str | None]]:
    (view,) = result["dimensions"]  # type: ignore[misc]
    return [
        (s["level"], s["member"], s["contribution"], s.get("base_member"))
        for s in view["hierarchy"]["path"]
    ]


def test_an_iso_week_drills_to_its_days(calendars: ValuesEngine) -> None:
    # 2026-W20 = Mon 05-11 … Sun 05-17: 70 + 90 = 160; W19 (05-04 … 05-10): 70
    result = explain(calendars, "revenue", "2026-W20", "wow", by=["time"]).to_json()
    assert (result["value"], result["base_value"]) == (160, 70)
    (view,) = result["dimensions"]
    assert view["hierarchy"]["levels"] == ["day"]
    # Wednesday against Wednesday
    assert _drilled(result) == [("day", "2026-05-13", 90.0, "2026-05-06")]
    calendars.close()


def test_a_fiscal_quarter_drills_to_its_months_then_days(calendars: ValuesEngine) -> None:
    # FY2027-Q1 = April–June 2026: 910 + 90 = 1,000; FY2026-Q4 = January–March 2026: 900.
    # April (300) − January (310) = −10, May (400) − February (280) = +120, June − March = −10
    result = explain(calendars, "revenue", "FY2027-Q1", "qoq", by=["time"]).to_json()
    assert result["base_period"] == "FY2026-Q4"
    assert (result["value"], result["base_value"]) == (1000, 900)
    (view,) = result["dimensions"]
    assert view["level"] == "month"
    assert [(m["member"], m["contribution"], m["base_member"]) for m in view["members"]] == [
        ("2026-05", 120.0, "2026-02"),
        ("2026-04", -10.0, "2026-01"),
        ("2026-06", -10.0, "2026-03"),
    ]
    assert _drilled(result) == [
        ("month", "2026-05", 120.0, "2026-02"),
        ("day", "2026-05-13", 90.0, "2026-02-13"),
    ]
    calendars.close()


def test_a_retail_quarter_drills_period_week_day(calendars: ValuesEngine) -> None:
    # R2026-Q2 = 05-03 … 08-01 (91 days): 1,000; R2026-Q1 = 02-01 … 05-02 (91 days): 910.
    # Periods (4-5-4): M04 (05-03 … 05-30) 370 − M01 (02-01 … 02-28) 280 = +90; M05 − M02 and
    # M06 − M03 = 0. M04's second week R2026-W15 (05-10 … 05-16) against M01's, W02 (02-08 …
    # 02-14): +90; its Wednesday 05-13 against W02's Wednesday, 02-11.
    result = explain(calendars, "revenue", "R2026-Q2", "qoq", by=["time"]).to_json()
    assert result["base_period"] == "R2026-Q1"
    assert (result["value"], result["base_value"]) == (1000, 910)
    (view,) = result["dimensions"]
    assert view["hierarchy"]["levels"][:2] == ["retail_month", "retail_week"]
    assert _drilled(result) == [
        ("retail_month", "R2026-M04", 90.0, "R2026-M01"),
        ("retail_week", "R2026-W15", 90.0, "R2026-W02"),
        ("day", "2026-05-13", 90.0, "2026-02-11"),
    ]
    calendars.close()


def test_periods_without_values_are_no_values_in_the_language_in_use(engine: ValuesEngine) -> None:
    """Found by a new user: ``explain`` of a quarter with no values said, in English whatever
    the language, "metric 'revenue' has no values for 2027-Q1 and 2026-Q4" as an
    ``invalid_query`` (README: a period without values is 422 ``no_values`` naming the periods
    that have them)."""
    from core import i18n
    from graph_schema.calendar_kinds import InvalidPeriodError
    from graph_schema.errors import NoValuesError

    with pytest.raises(NoValuesError) as caught, i18n.use("zh"):
        explain(engine, "revenue", "2027-Q1", "qoq")
    assert caught.value.code == "no_values"
    assert "没有同时覆盖 2027-Q1 和 2026-Q4 的数值" in caught.value.message
    assert "2026-01-01 … 2026-06-30" in caught.value.message or "2026-01 … 2026-06" in (
        caught.value.message
    ), caught.value.message
    with pytest.raises(InvalidPeriodError) as bad, i18n.use("zh"):
        explain(engine, "revenue", "2026-Q2", "foo")
    assert "须为 mom" in bad.value.message
    engine.close()
