"""A rate and a sum metric at ISO weeks, fiscal quarters/years (April start) and retail 4-5-4
periods, from the values cache, on DuckDB and on a real PostgreSQL (values/coarse.py).

A rate (``aggregation: none``) is asked of the warehouse at each grain — its week's rate is
recomputed over the week's rows, never a mean of days or months; a sum metric with daily SQL
rolls its cached days up. ``values`` (``frame``), ``eval`` (WoW/QoQ on the same calendar) and
``explain --base`` are checked against figures computed by hand from eleven orders:

=============  ==  ===========================================================================
day            ok  periods
=============  ==  ===========================================================================
2025-12-01     1   FY2026-Q3 · R2025-Q4
2026-01-10     0   FY2026-Q4 · R2025-Q4
2026-02-03     1   FY2026-Q4 · R2026-M01 (2026-02-01 … 02-28)
2026-03-03     1   ISO 2026-W10 (03-02 … 03-08) · R2026-W05 (Sun 03-01 … Sat 03-07) · R2026-M02
2026-03-04     0   2026-W10 · R2026-W05 · R2026-M02 (03-01 … 04-04, five weeks)
2026-03-08     1   2026-W10 (its Sunday) · R2026-W06 (its Sunday: 03-08 … 03-14)
2026-03-10     0   2026-W11 · R2026-W06
2026-03-12     0   2026-W11 · R2026-W06
2026-04-20     1   FY2027-Q1 · R2026-M03 (04-05 … 05-02) · R2026-Q1 (02-01 … 05-02)
2026-05-05     1   FY2027-Q1 · R2026-Q2
2026-06-30     0   FY2027-Q1 · R2026-Q2
=============  ==  ===========================================================================

Rates: 2026-W10 2/3, W11 0/2; R2026-W05 1/2, W06 1/3; R2026-M01 1/1, M02 2/5; R2025-Q4 1/2,
R2026-Q1 4/7 (02-03, the five of March, 04-20); FY2026-Q4 3/7, FY2027-Q1 2/3, FY2026 4/8.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from analysis.evaluate import evaluate
from analysis.explain import explain
from graph_schema.calendar import InvalidPeriodError
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from tests.warehouse.servers import PgServer
from values.cache import refresh_engine
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine

ORDERS = [
    ("2025-12-01", 1), ("2026-01-10", 0), ("2026-02-03", 1), ("2026-03-03", 1),
    ("2026-03-04", 0), ("2026-03-08", 1), ("2026-03-10", 0), ("2026-03-12", 0),
    ("2026-04-20", 1), ("2026-05-05", 1), ("2026-06-30", 0),
]  # fmt: skip
FIELDS = "fields: [wh.cal_orders.day, wh.cal_orders.ok]\n"
FILES: dict[str, str | bytes | None] = {
    "kpigraph.yaml": "name: test catalog\ncalendar: {fiscal_year_start: 4}\n",
    "dimensions.yaml": "- {id: time, name: 时间}\n",
    "sources.yaml": (
        "- id: wh\n  name: 数仓\n  dialect: duckdb\n  connection: {env: KPIGRAPH_CONN_WH}\n"
        "  tables:\n    - id: cal_orders\n      name: 工单表\n      fields:\n"
        "        - {id: day, name: 完成日期, type: date}\n"
        "        - {id: ok, name: 是否完工, type: integer}\n"
    ),
    "metrics/revenue.yaml": None,
    "metrics/visits.yaml": None,
    "metrics/atp.yaml": None,
    "metrics/orders_d.yaml": (
        "id: orders_d\nname: 工单数\nlevel: L1\nowner: ops\naggregation: sum\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m-%d') AS period, COUNT(*) AS value "
        "FROM cal_orders GROUP BY ALL\n"
    ),
    "metrics/ok_rate.yaml": (
        "id: ok_rate\nname: 完工率\nlevel: L1\nowner: ops\naggregation: none\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, SUM(ok) * 1.0 / COUNT(*) AS value "
        "FROM cal_orders GROUP BY strftime(day, '%Y-%m')\n"
    ),
}  # fmt: skip


def _duckdb(tmp_path: Path) -> tuple[str, Callable[[], None]]:
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE cal_orders (day DATE, ok INTEGER)")
    con.executemany("INSERT INTO cal_orders VALUES (CAST(? AS DATE), ?)", ORDERS)
    con.close()
    return f"duckdb:///{db}", db.unlink


def _postgres(server: PgServer) -> tuple[str, Callable[[], None]]:
    with server.admin() as con:
        con.execute("DROP TABLE IF EXISTS cal_orders")
        con.execute("CREATE TABLE cal_orders (day date, ok integer)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO cal_orders VALUES (%s::date, %s)", ORDERS)
        con.execute("GRANT SELECT ON cal_orders TO reader")

    def gone() -> None:
        with server.admin() as con:
            con.execute("DROP TABLE cal_orders")

    return server.url(), gone


@pytest.fixture(params=["duckdb", "postgres"])
def root(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    if request.param == "postgres":
        url, gone = _postgres(request.getfixturevalue("pg_server"))
    else:
        url, gone = _duckdb(tmp_path)
    monkeypatch.setenv("KPIGRAPH_CONN_WH", url)
    root = write_catalog(tmp_path / "catalog", FILES)
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    report = refresh_engine(engine)
    engine.close()
    assert set(report.refreshed) == {"orders_d", "ok_rate"}, report.failed
    gone()  # from here on only the cache answers
    yield root


def _engine(root: Path) -> ValuesEngine:
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def test_a_rate_at_weeks_fiscal_and_retail_periods(root: Path) -> None:
    engine = _engine(root)
    frame = engine.frame
    assert frame("ok_rate", periods=["2026-W10", "2026-W11"]) == {
        (): {"2026-W10": pytest.approx(2 / 3), "2026-W11": 0.0}
    }
    assert frame("ok_rate", periods=["R2026-W05", "R2026-W06"]) == {
        (): {"R2026-W05": 0.5, "R2026-W06": pytest.approx(1 / 3)}
    }
    assert frame("ok_rate", periods=["R2026-M01", "R2026-M02"]) == {
        (): {"R2026-M01": 1.0, "R2026-M02": 0.4}
    }
    assert frame("ok_rate", periods=["R2025-Q4", "R2026-Q1"]) == {
        (): {"R2025-Q4": 0.5, "R2026-Q1": pytest.approx(4 / 7)}
    }
    # the fiscal year starts in April: FY2026-Q4 = 2026-01 … 03, FY2027-Q1 = 2026-04 … 06
    assert frame("ok_rate", periods=["FY2026-Q4", "FY2027-Q1"]) == {
        (): {"FY2026-Q4": pytest.approx(3 / 7), "FY2027-Q1": pytest.approx(2 / 3)}
    }
    assert frame("ok_rate", periods=["FY2026"]) == {(): {"FY2026": 0.5}}
    assert "ok_rate" in engine.fetched  # the cache answered: the warehouse table is gone
    engine.close()


def test_a_sum_metric_rolls_its_cached_days_up(root: Path) -> None:
    engine = _engine(root)
    frame = engine.frame
    assert frame("orders_d", periods=["2026-W10", "2026-W11"]) == {
        (): {"2026-W10": 3.0, "2026-W11": 2.0}
    }
    assert frame("orders_d", periods=["R2026-W05", "R2026-W06"]) == {
        (): {"R2026-W05": 2.0, "R2026-W06": 3.0}
    }
    assert frame("orders_d", periods=["R2026-M01", "R2026-M02"]) == {
        (): {"R2026-M01": 1.0, "R2026-M02": 5.0}
    }
    assert frame("orders_d", periods=["R2025-Q4", "R2026-Q1"]) == {
        (): {"R2025-Q4": 2.0, "R2026-Q1": 7.0}
    }
    assert frame("orders_d", periods=["FY2026-Q4", "FY2027-Q1"]) == {
        (): {"FY2026-Q4": 7.0, "FY2027-Q1": 3.0}
    }
    assert frame("orders_d", periods=["FY2026"]) == {(): {"FY2026": 8.0}}
    engine.close()


def test_eval_and_explain_on_the_same_calendar(root: Path) -> None:
    engine = _engine(root)
    week = evaluate(engine, "ok_rate", "2026-W11")
    assert week["previous_period"] == "2026-W10"
    assert week["value"] == 0.0
    fiscal = evaluate(engine, "ok_rate", "FY2027-Q1")
    assert fiscal["previous_period"] == "FY2026-Q4"
    assert fiscal["value"] == pytest.approx(2 / 3)
    counted = evaluate(engine, "orders_d", "R2026-Q1")
    assert counted["previous_period"] == "R2025-Q4" and counted["value"] == 7.0
    cases = [
        ("ok_rate", "2026-W11", "wow", "2026-W10", 0.0, 2 / 3),
        ("ok_rate", "FY2027-Q1", "qoq", "FY2026-Q4", 2 / 3, 3 / 7),
        ("ok_rate", "R2026-Q1", "qoq", "R2025-Q4", 4 / 7, 1 / 2),
        ("ok_rate", "R2026-W06", "wow", "R2026-W05", 1 / 3, 1 / 2),
        ("orders_d", "2026-W11", "wow", "2026-W10", 2.0, 3.0),
        ("orders_d", "FY2027-Q1", "qoq", "FY2026-Q4", 3.0, 7.0),
        ("orders_d", "R2026-M02", "mom", "R2026-M01", 5.0, 1.0),
    ]
    for metric, period, base, base_period, value, base_value in cases:
        got = explain(engine, metric, period, base).to_json()
        assert got["base_period"] == base_period, (metric, period)
        assert got["value"] == pytest.approx(value), (metric, period)
        assert got["base_value"] == pytest.approx(base_value), (metric, period)
    engine.close()


def test_a_fiscal_period_without_a_fiscal_year(tmp_path: Path) -> None:
    """The catalog declares no fiscal year: FY2026-Q1 is of a calendar it does not have."""
    plain = {**FILES, "kpigraph.yaml": "name: test catalog\n", "metrics/ok_rate.yaml": None}
    root = write_catalog(tmp_path / "catalog", plain)
    engine = _engine(root)
    with pytest.raises(InvalidPeriodError, match="fiscal_year_start"):
        engine.frame("orders_d", periods=["FY2026-Q1"])
    engine.close()


def test_the_commands_as_a_user_runs_them(root: Path, tmp_path: Path) -> None:
    """``kpigraph values``, ``eval`` and ``explain --base`` in a real process, from the cache."""
    from store.embedded import EmbeddedStore
    from tests.unit.test_cli import run

    db = tmp_path / "cli.sqlite"
    EmbeddedStore(db).load(load_catalog(root))
    where = ("--values-dir", str(root))
    proc = run(
        "values", "ok_rate", "--from", "2026-W10", "--to", "2026-W11", "--json", *where, db=db
    )
    rows = {r["period"]: r["value"] for r in json.loads(proc.stdout)["rows"]}
    assert rows == {"2026-W10": pytest.approx(2 / 3), "2026-W11": 0.0}
    proc = run("eval", "ok_rate", "--period", "FY2027-Q1", "--json", *where, db=db)
    evaluated = json.loads(proc.stdout)
    assert evaluated["previous_period"] == "FY2026-Q4"
    assert evaluated["value"] == pytest.approx(2 / 3)
    assert evaluated["previous"] == pytest.approx(3 / 7)
    proc = run(
        "explain", "ok_rate", "--period", "R2026-Q1", "--base", "qoq", "--json", *where, db=db
    )
    explained = json.loads(proc.stdout)
    assert explained["base_period"] == "R2025-Q4"
    assert explained["value"] == pytest.approx(4 / 7) and explained["base_value"] == 0.5
    assert "ok_rate" in explained["fetched"]  # from the cache


def test_sql_that_is_no_values_query_is_skipped_and_another_systems_table_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#26, the demo's walkthrough: seed SQL of one month (``… AS ok_rate``, no ``period``) is
    skipped with the columns it selects, not failed; SQL over a table of another system fails
    naming the tables of the system it runs on."""
    url, _gone = _duckdb(tmp_path)
    monkeypatch.setenv("KPIGRAPH_CONN_WH", url)
    files = {
        **FILES,
        "sources.yaml": FILES["sources.yaml"] + (  # type: ignore[operator]
            "- id: erp\n  name: 财务系统\n  tables:\n    - id: ledger\n      name: 台账\n"
            "      fields:\n        - {id: cost, name: 成本, type: integer}\n"
        ),
        "metrics/doc_rate.yaml": (
            "id: doc_rate\nname: 示例完工率\nlevel: L1\nowner: ops\naggregation: none\n" + FIELDS
            + "sql: SELECT SUM(ok) * 1.0 / COUNT(*) AS ok_rate FROM cal_orders "
            "WHERE day BETWEEN '2026-03-01' AND '2026-03-31'\n"
        ),
        "metrics/cost.yaml": (
            "id: cost\nname: 成本\nlevel: L1\nowner: ops\n"
            "fields: [wh.cal_orders.day, erp.ledger.cost]\n"
            "sql: SELECT strftime(day, '%Y-%m') AS period, SUM(cost) AS value FROM ledger "
            "GROUP BY ALL\n"
        ),
    }  # fmt: skip
    root = write_catalog(tmp_path / "catalog", files)
    engine = _engine(root)
    report = refresh_engine(engine)
    engine.close()
    assert set(report.refreshed) == {"orders_d", "ok_rate"}
    assert set(report.skipped) == {"doc_rate"} and "ok_rate" in report.skipped["doc_rate"]
    assert "period" in report.skipped["doc_rate"]
    assert set(report.failed) == {"cost"}
    assert "'ledger'" in report.failed["cost"] and "cal_orders" in report.failed["cost"]
    assert "'wh'" in report.failed["cost"]  # the system it runs on
