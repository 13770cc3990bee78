"""A catalog may declare any table name in sources.yaml, and the sandbox let a metric read every
declared name — the database's own catalogs too (review). A connected system whose
sources.yaml lists ``pg_roles``, ``pg_settings``, ``pg_views`` or ``information_schema.tables``
(``information_schema`` as a system id is a valid slug) gave a metric's values the role names,
the server's settings and every view's SQL on a real PostgreSQL; on a DuckDB warehouse,
``sqlite_master`` showed the server's file paths and ``pg_settings`` its configuration. Whoever
writes sources.yaml may be hostile too: these names are refused whether declared or not."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from graph_schema.models import Metric, System
from graph_schema.sql_safety import check_metric_sql
from tests.warehouse.conftest import Warehouse, duckdb_demo, pg_server, postgres_demo
from values.engines import open_engine
from values.engines.base import fetch, probe_sql
from values.engines.connections import SecretUrl
from values.errors import EngineQueryError
from values.remote import RemoteSources

__all__ = ["duckdb_demo", "pg_server", "postgres_demo"]  # fixtures used below


class Declares:
    """Definitions of a catalog whose connected system declares the database's catalogs."""

    def __init__(self, system: System, tables: set[str]) -> None:
        self.system, self.tables = system, tables

    def systems(self, ids: Iterable[str]) -> dict[str, System]:
        return {i: self.system for i in ids if i == self.system.id}

    def tables_of(self, system_id: str) -> set[str]:
        return self.tables


def _refused(tmp_path: Path, url: str, system: System, tables: set[str], sql: str) -> None:
    sources = RemoteSources(tmp_path, Declares(system, tables))  # type: ignore[arg-type]
    found = sources.metric_sql(Metric(id="m", name="m", fields=[f"{system.id}.x"], sql=sql))
    assert found is not None
    spec, _system = found
    engine = open_engine(SecretUrl(url))
    try:
        assert engine.run(sql).rows  # the hole: the engine answers it
        with pytest.raises(
            EngineQueryError, match=r"the database's own catalog|数据库自己的系统目录"
        ):
            fetch(engine, spec, lambda tree: probe_sql(tree, engine.dialect))
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("system_id", "tables", "sql"),
    [
        (
            "dms",
            {"pg_roles"},
            "SELECT '2026-06' AS period, rolname AS who, 1 AS value FROM pg_roles",
        ),
        ("dms", {"pg_settings"}, "SELECT name AS period, 1 AS value FROM pg_settings"),
        ("dms", {"pg_views"}, "SELECT viewname AS period, definition AS value FROM pg_views"),
        (
            "information_schema",
            {"information_schema.tables"},
            "SELECT table_name AS period, 1 AS value FROM information_schema.tables",
        ),
    ],
)
def test_postgres_catalogs_are_refused_even_when_declared(
    postgres_demo: Warehouse, tmp_path: Path, system_id: str, tables: set[str], sql: str
) -> None:
    system = System(id=system_id, name="S", connection={"env": "KPIGRAPH_CONN_DMS"})
    _refused(tmp_path, postgres_demo.url, system, tables, sql)


@pytest.mark.parametrize(
    ("tables", "sql"),
    [
        ({"sqlite_master"}, "SELECT name AS period, sql AS value FROM sqlite_master"),
        ({"pg_settings"}, "SELECT name AS period, setting AS value FROM pg_settings"),
        ({"duckdb_tables"}, "SELECT table_name AS period, 1 AS value FROM duckdb_tables"),
    ],
)
def test_duckdb_catalogs_are_refused_even_when_declared(
    duckdb_demo: Warehouse, tmp_path: Path, tables: set[str], sql: str
) -> None:
    system = System(id="dms", name="S", connection={"env": "KPIGRAPH_CONN_DMS"}, dialect="duckdb")
    _refused(tmp_path, duckdb_demo.url, system, tables, sql)


def test_a_table_of_the_catalog_still_reads() -> None:
    check_metric_sql(
        "SELECT o.store_id AS store, count(*) AS value FROM dms.dms_orders o GROUP BY 1",
        tables={"dms_orders", "dms.dms_orders"},
        dialect="postgres",
    )
