"""One suite over the three values engines (DuckDB file, a real PostgreSQL, Spark local mode):
the demo's DMS data on each gives exactly the numbers the files give; filters and GROUP BY run
in the engine; errors name metric, system and engine message; sessions are read-only, timed
out and bounded; passwords never show."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cli.explain_render import render_explanation
from core import i18n
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO
from tests.warehouse.conftest import Warehouse
from tests.warehouse.servers import READER_PASSWORD, PgServer
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.engines import open_engine
from values.engines.base import MetricSql, checked_sql, fetch, probe_sql
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError, EngineQueryError, NoValuesError
from values.remote import RemoteTable
from values.service import explain_report

QUESTION = ("revenue", "2026-06", "mom", ["store", "order_type"])


def _explain(root: Path, tmp: Path) -> tuple[dict[str, Any], str, ValuesEngine]:
    graph = load_catalog(root)
    store = EmbeddedStore(tmp / f"{root.name}.sqlite")
    store.load(graph)
    engine = ValuesEngine(root, GraphDefinitions(graph))
    metric, period, base, by = QUESTION
    report = explain_report(store, engine, metric, period, base, by)
    buf = io.StringIO()
    with i18n.use("en"):  # the figures below are checked as the English page writes them
        render_explanation(Console(file=buf, width=160, color_system=None), report)
    store.close()
    return report, buf.getvalue(), engine


@pytest.fixture(scope="module")
def from_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    report, text, engine = _explain(DEMO, tmp_path_factory.mktemp("files"))
    engine.close()
    return report, text


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_explain_gives_the_files_numbers(
    catalog: Path, tmp_path: Path, warehouse: Warehouse, from_files: tuple[dict[str, Any], str]
) -> None:
    report, text, engine = _explain(catalog, tmp_path)
    try:
        remote = [m for m, t in engine._sql.items() if isinstance(t, RemoteTable)]
        assert "maintenance_visits" in remote and len(remote) >= 4, engine.notes
        assert text == from_files[1]  # the printed explanation, to the last digit
        assert "change −262,262 (−9.5%)" in text
        assert _rounded(report) == _rounded(from_files[0])  # every number to 10 digits
    finally:
        engine.close()


def test_filters_and_group_by_run_in_the_engine(catalog: Path, warehouse: Warehouse) -> None:
    graph = load_catalog(catalog)
    engine = ValuesEngine(catalog, GraphDefinitions(graph))
    try:
        table = engine._sql_table(engine.metric("revenue"))
        assert isinstance(table, RemoteTable)
        assert table.rows_moved == 24  # the probe: the total by month (what a trend asks)
        frame = engine.frame("revenue", ("store",), periods=["2026-06"], kind="observed")
        assert len(frame) == 6 and table.rows_moved == 24 + 6  # one row per store
        engine.frame("revenue", ("region",), periods=["2026-05", "2026-06"], kind="observed")
        assert table.rows_moved == 24 + 6 + 4  # one row per period × member asked for
        engine.frame(
            "revenue", ("store",), periods=["2026-06"], where={"order_type": "repair"},
            kind="observed",
        )  # fmt: skip
        assert table.rows_moved == 24 + 6 + 4 + 6
        assert warehouse.fact_rows > 40_000  # of which none left the engine
        assert all("GROUP BY" in q.upper() for q in table.queries)
    finally:
        engine.close()


def _engine(warehouse: Warehouse, **kw: Any) -> Any:
    return open_engine(SecretUrl(warehouse.url), **kw)


def test_an_engine_error_names_metric_system_and_message(warehouse: Warehouse) -> None:
    engine = _engine(warehouse)
    bad = MetricSql("revenue", "dms", "SELECT no_such_column AS period, 1 AS value FROM dms_orders")
    with pytest.raises(EngineQueryError) as caught:
        fetch(engine, bad, lambda tree: probe_sql(tree, engine.dialect))
    message = caught.value.message
    assert "'revenue'" in message and "'dms'" in message and warehouse.kind in message
    assert "no_such_column" in message.lower()


def test_unsafe_sql_never_reaches_the_engine(warehouse: Warehouse) -> None:
    engine = _engine(warehouse)
    tables = frozenset({"dms_orders", "dms_stores"})
    for sql in (
        "DROP TABLE dms_orders",
        "SELECT 1 AS value; DROP TABLE dms_orders",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT * FROM secrets",
    ):
        with pytest.raises(EngineQueryError, match="被拒绝执行"):  # zh: no catalog chose a language
            checked_sql(MetricSql("m", "dms", sql, None, tables), engine.dialect)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])  # Spark: few tests (slow start-up)
def test_results_are_bounded(kind: str, request: pytest.FixtureRequest) -> None:
    engine = _engine(request.getfixturevalue(f"{kind}_demo"), max_rows=3)
    spec = MetricSql("m", "dms", "SELECT order_id AS period, 1 AS value FROM dms_orders")
    with pytest.raises(EngineQueryError, match=r"more than 3 rows|超过 3 行"):
        fetch(engine, spec, lambda tree: checked_sql(spec, engine.dialect).sql(engine.dialect))


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_sessions_are_read_only(kind: str, request: pytest.FixtureRequest) -> None:
    warehouse: Warehouse = request.getfixturevalue(f"{kind}_demo")
    engine = _engine(warehouse)
    # PostgreSQL runs every query inside a SELECT bounding its bytes (postgres.bounded_sql):
    # a statement that is not a query is a syntax error there, before the READ ONLY
    # transaction refuses it
    for sql in ("CREATE TABLE kpigraph_probe (a int)", "DELETE FROM dms_stores"):
        with pytest.raises(EngineQueryError, match=r"(?i)read.only|cannot execute|syntax error"):
            engine.run(sql)
    assert engine.run("SELECT count(*) FROM dms_stores").rows == [(6,)]
    if kind == "postgres":
        ro = engine.run("SELECT current_setting('transaction_read_only') AS ro").rows
        assert ro == [("on",)]


def test_postgres_statement_timeout(postgres_demo: Warehouse) -> None:
    engine = _engine(postgres_demo, timeout_s=0.3)
    with pytest.raises(EngineQueryError, match="statement timeout"):
        engine.run("SELECT pg_sleep(3)")


def test_duckdb_statement_timeout(duckdb_demo: Warehouse) -> None:
    engine = _engine(duckdb_demo, timeout_s=0.2)
    slow = "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range = 7"
    with pytest.raises(EngineQueryError, match="超过语句时限"):  # zh: no catalog chose a language
        engine.run(slow)


# -- connections and secrets --------------------------------------------------------------


def test_the_password_never_shows(
    pg_server: PgServer, postgres_demo: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = SecretUrl(postgres_demo.url)
    assert READER_PASSWORD not in f"{url} {url!r} {[url]}" and "***" in str(url)
    wrong = SecretUrl(pg_server.url(password=READER_PASSWORD + "-wrong"))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy").setLevel(logging.DEBUG)
    with pytest.raises(EngineConnectionError) as caught:
        open_engine(wrong).run("SELECT 1")
    assert "password authentication failed" in caught.value.message
    # through the values engine: the note of a metric that cannot connect
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", wrong.reveal())
    from tests.warehouse.conftest import connected_catalog

    root = connected_catalog(tmp_path / "cat")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    with pytest.raises(NoValuesError) as no_values:
        engine.frame("revenue", kind="observed")
    engine.close()
    seen = [caught.value.message, no_values.value.message, str(no_values.value.details)]
    seen += [r.getMessage() for r in caplog.records] + list(capsys.readouterr())
    assert not [s for s in seen if READER_PASSWORD in s]


def test_connection_from_a_secrets_file(
    postgres_demo: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "dms.url"
    secret.write_text(postgres_demo.url + "\n", encoding="utf-8")
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", str(secret))
    from tests.warehouse.conftest import connected_catalog

    root = connected_catalog(tmp_path / "cat")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    try:
        assert engine.frame("revenue", periods=["2026-06"], kind="observed")[()]["2026-06"] > 0
    finally:
        engine.close()


def test_a_missing_variable_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KPIGRAPH_CONN_NOPE", raising=False)
    from tests.warehouse.conftest import connected_catalog

    root = connected_catalog(tmp_path / "cat", env="KPIGRAPH_CONN_NOPE")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    with pytest.raises(NoValuesError, match="KPIGRAPH_CONN_NOPE"):
        engine.frame("revenue", kind="observed")
    assert engine.source("visits") is None  # other metrics of the system: the same note
    engine.close()


def test_a_connection_url_is_never_accepted_in_yaml() -> None:
    with pytest.raises(ValueError):
        Metric.model_validate({})  # sanity: models validate
    from graph_schema.models import System

    with pytest.raises(ValueError):
        System.model_validate(
            {"id": "dms", "name": "DMS", "connection": {"env": "postgresql://u:p@h/db"}}
        )
    with pytest.raises(ValueError):
        System.model_validate({"id": "dms", "name": "DMS", "connection": {"url": "x"}})


def test_quarters_and_years_roll_up_in_the_engine(
    catalog: Path, tmp_path: Path, warehouse: Warehouse
) -> None:
    """Periods of another grain (a quarter, a fiscal year) are ranges of the stored months,
    rolled up in the engine (one row per quarter × member) to the numbers the files give."""
    files = ValuesEngine(DEMO, GraphDefinitions(load_catalog(DEMO)))
    engine = ValuesEngine(catalog, GraphDefinitions(load_catalog(catalog)))
    try:
        table = engine._sql_table(engine.metric("revenue"))
        assert isinstance(table, RemoteTable)
        before = table.rows_moved
        asked = ["2026-Q1", "2026-Q2"]
        got = engine.frame("revenue", ("store",), periods=asked, kind="observed")
        assert table.rows_moved == before + 12  # 2 quarters × 6 stores
        assert "CASE WHEN" in table.queries[-1].upper()
        want = files.frame("revenue", ("store",), periods=asked, kind="observed")
        assert _rounded(got) == _rounded(want)
        months = files.frame("revenue", periods=["2026-04", "2026-05", "2026-06"])[()]
        q2 = engine.frame("revenue", periods=["2026-Q2"], kind="observed")[()]["2026-Q2"]
        assert q2 == pytest.approx(sum(months.values()))
    finally:
        engine.close()
        files.close()
