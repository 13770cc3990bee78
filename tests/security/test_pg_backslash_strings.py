"""Metric SQL runs on PostgreSQL as SQL that sqlglot *regenerates* from the checked tree: a
string literal holding a backslash is written ``'a\\'``. That is one string only while the
server has ``standard_conforming_strings = on``; a server (or a role, or a database) with the
legacy ``off`` reads ``\\'`` as an escaped quote, so the text of the query's *next* string
literal — which the SQL check let through as data — ran as SQL: an undeclared table, a system
catalog, ``pg_read_file`` for a privileged role. The engine now sets the setting on in every
query's transaction. Real PostgreSQL (tests/warehouse/servers.py); the legacy setting on a role
of its own."""

from __future__ import annotations

import pytest

from tests.warehouse.conftest import Warehouse, pg_server, postgres_demo
from tests.warehouse.servers import PgServer
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, fetch
from values.engines.connections import SecretUrl

__all__ = ["pg_server", "postgres_demo"]  # fixtures used below

PASSWORD = "legacy-pw-123"

#: written in DuckDB's dialect; the second literal is data to the check, code to a legacy server
HOSTILE = (
    "SELECT '2026-06' AS period, 'x\\' AS store, count(*) AS value FROM dms_orders "
    "WHERE store_id <> ' AS junk, secret AS store, 1 AS value FROM kept_secret) AS m "
    'GROUP BY "period", "store" --\' GROUP BY 1, 2'
)


@pytest.fixture(scope="module")
def legacy(pg_server: PgServer, postgres_demo: Warehouse) -> str:
    with pg_server.admin() as con:
        con.execute("CREATE TABLE IF NOT EXISTS kept_secret (secret text)")
        con.execute("INSERT INTO kept_secret VALUES ('the-payroll-password')")
        con.execute("DO $$ BEGIN CREATE ROLE legacy LOGIN PASSWORD 'legacy-pw-123'; "
                    "EXCEPTION WHEN duplicate_object THEN NULL; END $$")  # fmt: skip
        con.execute("ALTER ROLE legacy SET standard_conforming_strings = off")
        con.execute("ALTER ROLE legacy SET default_transaction_read_only = on")
        con.execute("GRANT SELECT ON dms_orders, dms_stores, kept_secret TO legacy")
    return pg_server.url("legacy", PASSWORD)


def test_a_backslash_ends_its_string_on_a_legacy_server(legacy: str) -> None:
    engine = open_engine(SecretUrl(legacy))
    try:
        spec = MetricSql("m", "dms", HOSTILE, "duckdb", frozenset({"dms_orders"}))
        rollup = Rollup(grain=("store",), periods=("2026-06",))
        rows = fetch(engine, spec, lambda tree: aggregate_sql(tree, rollup, "postgres")).rows
        assert all("payroll" not in repr(r) for r in rows), rows
        assert [r[1] for r in rows] == ["x\\"]  # the literal, as written
    finally:
        engine.close()


def test_a_member_asked_for_is_a_literal_on_a_legacy_server(legacy: str) -> None:
    """The members a reader asks for (``?store=…``) are string literals in the same SQL."""
    engine = open_engine(SecretUrl(legacy))
    try:
        spec = MetricSql("m", "dms", "SELECT '2026-06' AS period, 'a' AS store, 1 AS value")
        for member in ("x\\", "x\\' OR 1=1 --", "\\"):
            rollup = Rollup(grain=("store",), where={"store": member}, periods=("2026-06",))
            rows = fetch(engine, spec, lambda tree, r=rollup: aggregate_sql(tree, r, "postgres"))
            assert rows.rows == []
    finally:
        engine.close()
