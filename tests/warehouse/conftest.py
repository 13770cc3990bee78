"""Fixtures of the warehouse tests: the after-sales demo's DMS tables (``data/``) loaded into
a DuckDB database file, a real PostgreSQL and Spark local mode, and a copy of the demo catalog
whose ``dms`` system says ``connection: {env: KPIGRAPH_CONN_DMS}`` (its ``data/`` removed, so
every value of a DMS metric comes from the engine)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import DEMO
from tests.warehouse.servers import PgServer, postgres_server, spark_session

ENGINES = ["duckdb", "postgres", "spark"]
ORDERS = DEMO / "data" / "dms_orders.parquet"
STORES = DEMO / "data" / "dms_stores.csv"


@dataclass(frozen=True)
class Warehouse:
    kind: str
    url: str
    fact_rows: int


def _demo_rows() -> tuple[list[tuple[str, str]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = duckdb.connect()
    orders = con.execute(f"SELECT * FROM read_parquet('{ORDERS}')")
    cols = [(d[0], str(d[1])) for d in orders.description or []]
    rows = orders.fetchall()
    stores = con.execute(f"SELECT * FROM read_csv('{STORES}', all_varchar=true)").fetchall()
    con.close()
    return cols, rows, stores


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_demo(pg_server: PgServer) -> Warehouse:
    cols, rows, stores = _demo_rows()
    types = {"VARCHAR": "text", "DATE": "date", "DOUBLE": "double precision"}
    with pg_server.admin() as con:
        ddl = ", ".join(f"{c} {types[t]}" for c, t in cols)
        con.execute(f"CREATE TABLE dms_orders ({ddl})")
        con.execute("CREATE TABLE dms_stores (store_id text, store_name text, region text)")
        with con.cursor() as cur:
            with cur.copy(f"COPY dms_orders ({', '.join(c for c, _ in cols)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            with cur.copy("COPY dms_stores FROM STDIN") as cp:
                for row in stores:
                    cp.write_row(row)
        con.execute("ANALYZE")
        con.execute("GRANT SELECT ON dms_orders, dms_stores TO reader")
    return Warehouse("postgres", pg_server.url(), len(rows))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    with spark_session() as session:
        yield session


@pytest.fixture(scope="session")
def spark_demo(spark: Any) -> Warehouse:
    orders = spark.read.parquet(str(ORDERS)).cache()  # read once: queries then scan memory
    orders.createOrReplaceTempView("dms_orders")
    stores = spark.read.option("header", True).csv(str(STORES)).cache()
    stores.createOrReplaceTempView("dms_stores")
    return Warehouse("spark", "local[1]", orders.count())


@pytest.fixture(scope="session")
def duckdb_demo(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    path = tmp_path_factory.mktemp("duckdb-warehouse") / "dms.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE dms_orders AS SELECT * FROM read_parquet('{ORDERS}')")
    con.execute(f"CREATE TABLE dms_stores AS SELECT * FROM read_csv('{STORES}', all_varchar=1)")
    (n,) = con.execute("SELECT count(*) FROM dms_orders").fetchone()  # type: ignore[misc]
    con.close()
    return Warehouse("duckdb", f"duckdb:///{path}", int(n))


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """The demo's DMS tables on each engine in turn."""
    return request.getfixturevalue(f"{request.param}_demo")  # type: ignore[no-any-return]


def connected_catalog(dest: Path, env: str = "KPIGRAPH_CONN_DMS") -> Path:
    """A copy of the demo catalog whose 'dms' system has a connection and no data/ files."""
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns(".kpigraph-cache"))
    shutil.rmtree(dest / "data")
    sources = dest / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    text = text.replace("- id: dms\n", f"- id: dms\n  connection: {{env: {env}}}\n", 1)
    sources.write_text(text, encoding="utf-8")
    return dest


@pytest.fixture
def catalog(tmp_path: Path, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", warehouse.url)
    return connected_catalog(tmp_path / "catalog")
