"""A values query on PostgreSQL (or a DuckDB warehouse) whose result is huge must not take
kpigraph's memory.

Before the fix, the engine read its rows with a client-side cursor: libpq receives *every* row
of a result before the first is read, so ``fetchmany(max_rows + 1)`` bounded nothing, and a
text value may be 1 GB. Eight rows of ``s || lpad('', 100000000, 'x')`` (``lpad`` is an allowed
function; a warehouse's own long text column does as well) took 1.7 GB of the process
(``values refresh``, the server). Now the server refuses a result whose rows' text passes
``max_bytes`` before sending it (``values.engines.postgres.bounded_sql``), and rows come through
a server-side cursor, at most ``max_rows + 1`` of them. Real PostgreSQL
(tests/warehouse/servers.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.warehouse.conftest import Warehouse, pg_server, postgres_demo
from tests.warehouse.servers import PgServer
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, fetch
from values.engines.connections import SecretUrl
from values.engines.postgres import PostgresEngine
from values.errors import ResultBytesError, RowLimitError

__all__ = ["pg_server", "postgres_demo"]  # fixtures used below

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(scope="module")
def wide(pg_server: PgServer) -> str:
    """A table of 1,000 rows (28 days of 2026-01, a member each) the reader may read."""
    with pg_server.admin() as con:
        con.execute("DROP TABLE IF EXISTS wide_facts")
        con.execute("CREATE TABLE wide_facts (d date, s text, v double precision)")
        con.execute(
            "INSERT INTO wide_facts SELECT date '2026-01-01' + (i % 28), 's' || i, 1 "
            "FROM generate_series(1, 1000) i"
        )
        con.execute("GRANT SELECT ON wide_facts TO reader")
    return pg_server.url()


def metric(sql: str) -> MetricSql:
    return MetricSql("m", "dw", sql, "duckdb", frozenset({"wide_facts"}))


ROLLUP = Rollup(grain=("s",), periods=("2026-01",))

#: eight rows of a 30 MB member each: 240 MB of text
LONG_TEXT = (
    "SELECT strftime(d, '%Y-%m') AS period, s || lpad('', 30000000, 'x') AS s, v AS value "
    "FROM wide_facts WHERE s IN ('s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8')"
)

CHILD = """
import os, resource
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, fetch
from values.engines.connections import SecretUrl
from values.errors import ResultBytesError
engine = open_engine(SecretUrl(os.environ["URL"]))
spec = MetricSql("m", "dw", os.environ["SQL"], "duckdb", frozenset({"wide_facts"}))
rollup = Rollup(grain=("s",), periods=("2026-01",))
engine.run("SELECT 1 AS warm")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    fetch(engine, spec, lambda tree: aggregate_sql(tree, rollup, "postgres"))
    outcome = "fetched"
except ResultBytesError:
    outcome = "refused"
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(outcome, grown // 1024)
"""


def test_long_text_values_are_refused_before_they_reach_memory(wide: str) -> None:
    env = dict(os.environ, URL=wide, SQL=LONG_TEXT, KPIGRAPH_LANG="en")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome, grown_mb = done.stdout.split()
    assert outcome == "refused"
    assert int(grown_mb) < 100, f"the process grew {grown_mb} MB for a refused result"


def test_the_refusal_names_the_metric_and_the_limit(wide: str) -> None:
    engine = PostgresEngine(SecretUrl(wide), max_bytes=1_048_576)
    try:
        sql = LONG_TEXT.replace("30000000", "2000000")
        with pytest.raises(ResultBytesError) as caught:
            fetch(engine, metric(sql), lambda tree: aggregate_sql(tree, ROLLUP, "postgres"))
        message = caught.value.message
        assert "metric 'm' (system 'dw') on postgres: the result passes 1 MiB" in message
        assert isinstance(caught.value, RowLimitError)  # a refresh asks for fewer periods
        # the same SQL under the bound answers, in the engine's column names and types
        small = LONG_TEXT.replace("30000000", "10")
        result = fetch(engine, metric(small), lambda tree: aggregate_sql(tree, ROLLUP, "postgres"))
        assert result.columns == ["period", "s", "value"]
        assert len(result.rows) == 8 and result.types == ["text", "text", "float8"]
    finally:
        engine.close()


def test_a_column_named_like_the_bound_cannot_stand_in_for_the_row(wide: str) -> None:
    """The bound measures ``ROW(q.*)``; a column named ``kpigraph_q`` or ``kpigraph_bytes``
    does not make a long row look short."""
    engine = PostgresEngine(SecretUrl(wide), max_bytes=1_048_576)
    try:
        for alias in ("kpigraph_q", "kpigraph_bytes", "kpigraph_w"):
            sql = (
                f"SELECT '2026-01' AS period, 1 AS {alias}, lpad('', 2000000, 'x') AS s, "
                "1 AS value FROM wide_facts LIMIT 1"
            )
            with pytest.raises((ResultBytesError, Exception)) as caught:
                engine.run(sql)
            assert isinstance(caught.value, ResultBytesError) or "ambiguous" in str(caught.value), (
                caught.value
            )
    finally:
        engine.close()


def test_many_rows_are_not_all_received(wide: str) -> None:
    """A billion rows (three copies of the table crossed): the cursor hands over
    ``max_rows + 1`` and the query stops; a client-side cursor would wait for them all."""
    engine = open_engine(SecretUrl(wide), max_rows=1000, timeout_s=60)
    try:
        sql = (
            "SELECT '2026-01' AS period, a.s || b.s || c.s AS s, 1 AS value "
            "FROM wide_facts a, wide_facts b, wide_facts c"
        )
        started = time.monotonic()
        with pytest.raises(RowLimitError, match="more than 1,000 rows"):
            fetch(engine, metric(sql), lambda tree: tree.sql("postgres"))
        assert time.monotonic() - started < 20
    finally:
        engine.close()


def test_refresh_sized_results_still_come_back(wide: str) -> None:
    """A result of many ordinary rows (every member of every day) is under the bound."""
    engine = open_engine(SecretUrl(wide))
    try:
        sql = "SELECT strftime(d, '%Y-%m-%d') AS period, s, v AS value FROM wide_facts"
        rollup = Rollup(grain=("s",), start="2026-01-01", end="2026-01-31", plen=10, stored_plen=10)
        rows = fetch(engine, metric(sql), lambda tree: aggregate_sql(tree, rollup, "postgres"))
        assert len(rows.rows) == 1000
        assert {r[0] for r in rows.rows} == {f"2026-01-{d:02d}" for d in range(1, 29)}
    finally:
        engine.close()


def test_duckdb_refuses_long_text_results_too(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The DuckDB warehouse engine (``duckdb:///file``): its memory limit bounds DuckDB, not
    the Python copies of a result (eight 30 MB rows took 870 MB before the bound, 615 MB now:
    DuckDB's own work, under its limit). Refused the same way."""
    import duckdb

    from values.engines.duckdb_engine import DuckDBEngine

    db = tmp_path_factory.mktemp("duck") / "wide.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE wide_facts AS SELECT DATE '2026-01-01' + (i % 28)::INT AS d, "
        "'s' || i AS s, 1.0 AS v FROM range(1, 1001) r(i)"
    )
    con.close()
    engine = DuckDBEngine(SecretUrl(f"duckdb://{db}"), max_bytes=1_048_576)
    try:
        sql = LONG_TEXT.replace("30000000", "2000000")
        with pytest.raises(ResultBytesError, match="on duckdb: the result passes 1 MiB"):
            fetch(engine, metric(sql), lambda tree: aggregate_sql(tree, ROLLUP, "duckdb"))
        small = LONG_TEXT.replace("30000000", "10")
        result = fetch(engine, metric(small), lambda tree: aggregate_sql(tree, ROLLUP, "duckdb"))
        assert result.columns == ["period", "s", "value"] and len(result.rows) == 8
    finally:
        engine.close()


def test_values_refresh_reports_the_metric_and_keeps_the_others(
    tmp_path: Path, postgres_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kpigraph values refresh`` on the demo catalog connected to PostgreSQL, one metric's SQL
    padding its store names to 8 MB (18 rows a month: 144 MB, over the bound even one month a
    query; at 3 MB the refresh asks a month at a time and fits): that metric fails with the
    bound's message, every other metric is refreshed."""
    from loaders.catalog import load_catalog
    from tests.warehouse.conftest import connected_catalog
    from values.cache import refresh_engine
    from values.definitions import GraphDefinitions
    from values.engine import ValuesEngine

    monkeypatch.setenv("KPIGRAPH_CONN_DMS", postgres_demo.url)
    root = connected_catalog(tmp_path / "catalog")
    components = root / "metrics" / "revenue" / "components.yaml"
    text = components.read_text(encoding="utf-8")
    # padded once per month × store × order type (the fact rows' padding is the warehouse's
    # work and its statement timeout's), in the first metric of the file only
    head = "SELECT strftime(o.complete_date, '%Y-%m') AS period"
    text = text.replace(
        head,
        "SELECT period, store || lpad('', 8000000, 'x') AS store, region, order_type, value "
        f"FROM ({head}",
        1,
    ).replace("GROUP BY ALL\n", "GROUP BY ALL) AS padded\n", 1)
    components.write_text(text, encoding="utf-8")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    ids = ["labor_revenue", "revenue", "maintenance_visits"]
    report = refresh_engine(engine, ids, start="2026-05", end="2026-06")
    assert set(report.failed) == {"labor_revenue"}, report.failed
    assert "the result passes 64 MiB" in report.failed["labor_revenue"]
    assert {"revenue", "maintenance_visits"} <= set(report.refreshed)
