"""A connected system that declares no tables in sources.yaml let its metrics' SQL read any
table the connection's role can see (review, issue 21: "reading only tables the catalog
declares"): ``values.remote`` passed ``tables=None`` — "not restricted" — to the sandbox when
the system's table list was empty, and the apply-time check never looks at tables. On a real
PostgreSQL a metric read a table the operator had granted but no catalog declares, and the
role list (``pg_roles``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from graph_schema.models import Metric, System
from tests.warehouse.conftest import Warehouse, pg_server, postgres_demo
from values.engines import open_engine
from values.engines.base import fetch, probe_sql
from values.engines.connections import SecretUrl
from values.errors import EngineQueryError
from values.remote import RemoteSources

__all__ = ["pg_server", "postgres_demo"]  # fixtures used below

SYSTEM = System(id="dms", name="DMS", connection={"env": "KPIGRAPH_CONN_DMS"})


class NoTables:
    """Definitions of a catalog whose connected system declares no tables."""

    def systems(self, ids: Iterable[str]) -> dict[str, System]:
        return {i: SYSTEM for i in ids if i == SYSTEM.id}

    def tables_of(self, system_id: str) -> set[str]:
        return set()


def _metric(sql: str) -> Metric:
    return Metric(id="m", name="m", fields=["dms.x"], sql=sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT '2026-06' AS period, sum(amount) AS value FROM hr_salaries",
        "SELECT '2026-06' AS period, rolname AS who, 1 AS value FROM pg_roles",
    ],
)
def test_a_system_without_tables_reads_none(
    postgres_demo: Warehouse, pg_server: Any, tmp_path: Path, sql: str
) -> None:
    with pg_server.admin() as con:
        con.execute("CREATE TABLE IF NOT EXISTS hr_salaries (name text, amount double precision)")
        con.execute("INSERT INTO hr_salaries VALUES ('ceo', 1e6)")
        con.execute("GRANT SELECT ON hr_salaries TO reader")
    sources = RemoteSources(tmp_path, NoTables())  # type: ignore[arg-type]
    found = sources.metric_sql(_metric(sql))
    assert found is not None
    spec, _system = found
    engine = open_engine(SecretUrl(postgres_demo.url))
    try:
        with pytest.raises(EngineQueryError, match=r"refused|拒绝"):  # the language in use
            fetch(engine, spec, lambda tree: probe_sql(tree, engine.dialect))
    finally:
        engine.close()
