"""PostgreSQL's object-identifier types read the system catalogs: a metric's SQL that casts to
one learned what no catalog declares (review). ``(o.n + 9)::regrole::text`` names the roles
(``postgres``; count up from a declared table's rows to list them all), ``'x'::regclass``
says whether any table exists and ``(2200)::regnamespace`` names schemas — the function
allow-list and the declared-tables rule both passed them. Each ran on a real PostgreSQL as the
values reader; now the sandbox refuses the cast by its type, in every spelling."""

from __future__ import annotations

from typing import Any

import pytest

from core import i18n
from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql
from tests.warehouse.conftest import Warehouse, pg_server, postgres_demo
from values.engines import open_engine
from values.engines.base import MetricSql, fetch
from values.engines.connections import SecretUrl
from values.errors import EngineQueryError

__all__ = ["pg_server", "postgres_demo"]  # fixtures used below

#: (SQL, what the unchecked query answers on a real PostgreSQL, what the refusal names)
PROBES = [
    ("SELECT (count(*) * 0 + 10)::regrole::text AS v FROM dms_orders", "postgres", "regrole"),
    (
        "SELECT CAST(CAST(count(*) * 0 + 10 AS oid) AS regrole)::text AS v FROM dms_orders",
        "postgres",
        "regrole",
    ),
    ("SELECT regrole 'postgres'::text AS v FROM dms_orders", "postgres", "regrole"),
    ("SELECT 'hr_secret'::regclass::text AS v FROM dms_orders", "hr_secret", "regclass"),
    ("SELECT '{hr_secret}'::_regclass::text AS v FROM dms_orders", "{hr_secret}", "_regclass"),
    (
        "SELECT 'hr_secret'::pg_catalog.regclass::text AS v FROM dms_orders",
        "hr_secret",
        "schema-qualified",
    ),
    ("SELECT 'hr_secret'::\"regclass\"::text AS v FROM dms_orders", "hr_secret", "regclass"),
    ("SELECT (2200)::regnamespace::text AS v FROM dms_orders", "public", "regnamespace"),
]


@pytest.mark.parametrize(("sql", "revealed", "named"), PROBES)
def test_a_cast_to_a_catalog_type_is_refused(
    postgres_demo: Warehouse, pg_server: Any, sql: str, revealed: str, named: str
) -> None:
    with pg_server.admin() as con:
        con.execute("CREATE TABLE IF NOT EXISTS hr_secret (x text)")
    engine = open_engine(SecretUrl(postgres_demo.url))
    try:
        # the hole: unchecked, the values reader's connection answers from the catalogs
        assert engine.run(sql).rows[0][0] == revealed
        # the reason is worded when read: read here in English (the probes name English words)
        with i18n.use("en"), pytest.raises(UnsafeSQLError, match=named):
            check_metric_sql(sql, tables={"dms_orders"}, dialect="postgres")
        # as a metric's SQL selecting period and value (else it is skipped before the sandbox)
        shaped = sql.replace(" AS v FROM ", " AS value, '2026-01' AS period FROM ")
        spec = MetricSql("m", "dms", shaped, "postgres", frozenset({"dms_orders"}))
        with pytest.raises(EngineQueryError, match=r"refused|拒绝"):
            fetch(engine, spec, lambda tree: tree.sql("postgres"))
    finally:
        engine.close()


def test_plain_casts_still_pass() -> None:
    sql = (
        "SELECT to_char(o.complete_date::date, 'YYYY-MM') AS period, "
        "CAST(sum(o.total_amount) AS numeric(18, 2)) AS value, count(*)::text AS n "
        "FROM dms_orders o GROUP BY 1"
    )
    check_metric_sql(sql, tables={"dms_orders"}, dialect="postgres")
