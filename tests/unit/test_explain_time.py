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
    assert any("below the month" in n for n in explained["notes"])
    engine.close()
