"""Values are real (issue 21 item 7): on the landed code ``2024-02-31`` was accepted (folded into
February), ``NaN``, ``inf`` and ``1e309`` were accepted (and ``--json`` printed the invalid JSON
``NaN``), and period ``0000-01`` was accepted (explain then named ``-001-12``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.explain import base_period
from cli.common import emit_json
from graph_schema.errors import InvalidQueryError
from graph_schema.periods import is_period
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.errors import ValuesFileError

#: the values reader's English messages (the zh ones: tests/unit/test_values_cli.py)
pytestmark = pytest.mark.usefixtures("english")

DIMS = "- {id: time, name: 时间}\n- {id: store, name: 门店}\n"


def issues_of(
    tmp_path: Path, rows: str, folder: str = "values", column: str = "value"
) -> set[tuple[int | None, str]]:
    files = {"dimensions.yaml": DIMS, f"{folder}/v.csv": f"metric,period,store,{column}\n{rows}"}
    write_catalog(tmp_path, files)
    with pytest.raises(ValuesFileError) as caught:
        ValuesEngine(tmp_path, GraphDefinitions(load_catalog(tmp_path)))
    return {(i.line, str(i.message)) for i in caught.value.issues if i.file == f"{folder}/v.csv"}


def test_calendar_dates_and_years_are_checked_with_file_and_line(tmp_path: Path) -> None:
    rows = (
        "revenue,2024-02-29,S1,1\n"  # line 2: a leap day, fine
        "revenue,2024-02-31,S2,1\n"  # line 3
        "revenue,2023-02-29,S3,1\n"  # line 4
        "revenue,2024-04-31,S4,1\n"  # line 5
    )
    found = issues_of(tmp_path, rows)
    assert (3, "period '2024-02-31' is not a calendar date") in found
    assert (4, "period '2023-02-29' is not a calendar date") in found
    assert (5, "period '2024-04-31' is not a calendar date") in found
    assert not any(line == 2 for line, _ in found)


def test_years_outside_1900_2200_are_refused(tmp_path: Path) -> None:
    found = issues_of(
        tmp_path, "revenue,0000-01,S1,1\nrevenue,9999-12,S2,1\nrevenue,1899-12,S3,1\n"
    )
    assert {line for line, m in found if m.startswith("bad period")} == {2, 3, 4}


@pytest.mark.parametrize("bad", ["NaN", "nan", "inf", "-inf", "Infinity", "1e309", "-1e400"])
def test_non_finite_numbers_are_refused(tmp_path: Path, bad: str) -> None:
    found = issues_of(tmp_path, f"revenue,2024-01,S1,5\nrevenue,2024-02,S1,{bad}\n")
    assert (3, f"value {bad!r} is not a finite number") in found


def test_non_finite_targets_are_refused(tmp_path: Path) -> None:
    found = issues_of(tmp_path, "revenue,2024-01,S1,NaN\n", folder="targets", column="target")
    assert (2, "target 'NaN' is not a finite number") in found


def test_non_finite_parquet_values_are_refused(tmp_path: Path) -> None:
    import duckdb

    write_catalog(tmp_path, {"dimensions.yaml": DIMS})
    (tmp_path / "values").mkdir()
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('revenue', '2024-01', 'S1', 1.0::DOUBLE), "
        "('revenue', '2024-02', 'S1', 'inf'::DOUBLE)) t(metric, period, store, value)) "
        f"TO '{tmp_path / 'values' / 'v.parquet'}' (FORMAT parquet)"
    )
    with pytest.raises(ValuesFileError) as caught:
        ValuesEngine(tmp_path, GraphDefinitions(load_catalog(tmp_path)))
    assert any("not a finite number" in str(i.message) for i in caught.value.issues)


def test_explain_periods_stay_in_range() -> None:
    with pytest.raises(InvalidQueryError, match="1900 to 2200"):
        base_period("0000-01", "yoy")
    with pytest.raises(InvalidQueryError):
        base_period("2024-01", "0000-01")
    assert base_period("1901-01", "yoy") == "1900-01"
    assert [is_period(p) for p in ("2200-12", "2201-01", "2024-02-31")] == [True, False, False]


def test_json_output_is_always_json() -> None:
    runner = CliRunner()

    def show() -> None:
        emit_json({"value": math.nan, "rows": [{"v": math.inf}, {"v": -math.inf}, {"v": 1.5}]})

    import click

    result = runner.invoke(click.command()(show))
    parsed = json.loads(result.output)  # strict: NaN/Infinity would still parse; check text
    assert "NaN" not in result.output and "Infinity" not in result.output
    assert parsed == {"value": None, "rows": [{"v": None}, {"v": None}, {"v": 1.5}]}


def test_values_api_refuses_a_day_that_does_not_exist(tmp_path: Path) -> None:
    """``GET /api/metrics/{id}/values?from=2024-02-31`` matched the pattern and was folded into
    February; now 422 naming the parameter."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.settings import Settings
    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore
    from tests.helpers import DEMO

    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(DEMO))
    app = create_app(Settings(db=tmp_path / "s.sqlite", notify=False), store=store)
    with TestClient(app) as client:
        bad = client.get("/api/metrics/revenue/values", params={"from": "2024-02-31"})
        assert bad.status_code == 422 and "from" in bad.text, bad.text
        day = client.get("/api/metrics/revenue/values", params={"from": "2024-02-29"})
        # a real day, but 营收 has monthly values: said, never folded into its month silently
        assert day.status_code in (400, 422) and "monthly values only" in day.text, day.text
        good = client.get("/api/metrics/revenue/values", params={"from": "2024-02"})
        assert good.status_code == 200, good.text
    store.close()
