"""Hostile input on the warehouse path: members and SQL text that would break out of a
literal, a placeholder, or the read-only SELECT; a password that must never show."""

from __future__ import annotations

from typing import Any

import pytest

from tests.warehouse.conftest import Warehouse, duckdb_demo, pg_server, postgres_demo
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, checked_sql, fetch
from values.engines.connections import SecretUrl, mask_url, resolve
from values.errors import EngineConnectionError, EngineQueryError

__all__ = ["duckdb_demo", "pg_server", "postgres_demo"]  # fixtures used below

SQL = (
    "SELECT strftime(o.complete_date, '%Y-%m') AS period, s.store_name AS store, "
    "SUM(o.total_amount) AS value FROM dms_orders o JOIN dms_stores s USING (store_id) "
    "WHERE s.store_name LIKE '%店' GROUP BY ALL"
)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
@pytest.mark.parametrize(
    "member",
    ["南山店' OR '1'='1", "a%sb", "x\\' OR 1=1 --", "%(x)s", "'; DROP TABLE dms_orders; --"],
)
def test_a_hostile_member_is_a_literal(kind: str, member: str, request: Any) -> None:
    warehouse: Warehouse = request.getfixturevalue(f"{kind}_demo")
    engine = open_engine(SecretUrl(warehouse.url))
    spec = MetricSql("revenue", "dms", SQL)
    rollup = Rollup(grain=("store",), where={"store": member}, periods=("2026-06",))
    rows = fetch(engine, spec, lambda tree: aggregate_sql(tree, rollup, engine.dialect)).rows
    assert rows == []  # no such store: nothing matched, nothing ran but the SELECT
    every = Rollup(grain=("store",), periods=("2026-06",))
    rows = fetch(engine, spec, lambda tree: aggregate_sql(tree, every, engine.dialect)).rows
    assert len(rows) == 6  # the LIKE '%店' reached the server as written
    engine.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS value; DROP TABLE dms_orders",
        "WITH x AS (SELECT 1) INSERT INTO dms_orders SELECT * FROM x",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM pg_catalog.pg_authid",
        "COPY dms_orders TO '/tmp/x'",
        "SET default_transaction_read_only = off",
    ],
)
def test_sql_that_writes_or_reads_elsewhere_is_refused(sql: str) -> None:
    spec = MetricSql("m", "dms", sql, None, frozenset({"dms_orders", "dms_stores"}))
    for dialect in ("duckdb", "postgres", "spark"):
        with pytest.raises(EngineQueryError, match="被拒绝执行"):  # zh: no catalog chose a language
            checked_sql(spec, dialect)


def test_passwords_are_masked_in_every_form() -> None:
    url = "postgresql+psycopg://reader:p@ss:w0rd@db:5432/dms?password=other&sslmode=require"
    shown = mask_url(url)
    assert "p@ss" not in shown and "w0rd" not in shown and "other" not in shown
    secret = SecretUrl(url)
    assert "w0rd" not in f"{secret} {secret!r} {[secret]} { ({'u': secret}) }"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


def test_a_secrets_file_that_cannot_be_read_says_so_without_its_content(tmp_path: Any) -> None:
    with pytest.raises(EngineConnectionError, match="无法读取"):
        resolve("KPIGRAPH_CONN_X", {"KPIGRAPH_CONN_X": str(tmp_path / "missing")})
    with pytest.raises(EngineConnectionError, match="KPIGRAPH_CONN_X"):
        resolve("KPIGRAPH_CONN_X", {})


def test_an_unknown_url_kind_is_refused_masked() -> None:
    with pytest.raises(EngineConnectionError) as caught:
        open_engine(SecretUrl("mysql://root:hunter2@db/x"))
    assert "hunter2" not in caught.value.message and "***" in caught.value.message
