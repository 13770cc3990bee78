"""The DuckDB *warehouse* engine (``connection: duckdb:///file`` or ``duckdb://`` over ``data/``)
ran metric SQL on an ordinary connection: external access on, extensions loaded on demand, the
configuration open, no memory limit (review, issue 21: "every engine, DuckDB first … a DuckDB
connection with enable_external_access=false, …, lock_configuration=true, a memory limit").
Only the static check stood between a metric and the machine's files; the embedded values
engine had the second line of defence, this one did not. Now it has the same lock-down."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from values.engines.connections import SecretUrl
from values.engines.duckdb_engine import DuckDBEngine
from values.errors import EngineQueryError

ESCAPES = [
    "SELECT content AS value FROM read_text('/etc/hostname')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SET enable_external_access = true",
    "COPY (SELECT 1) TO '{out}'",
    "ATTACH '{db}' AS other",
]


def _engines(tmp_path: Path) -> list[DuckDBEngine]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("period,value\n2026-06,3\n", encoding="utf-8")
    db = tmp_path / "dms.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders AS SELECT '2026-06' AS period, 3 AS value")
    con.close()
    return [
        DuckDBEngine(SecretUrl("duckdb://"), data_dir=data),
        DuckDBEngine(SecretUrl(f"duckdb:///{db}")),
    ]


@pytest.mark.parametrize("sql", ESCAPES)
def test_the_engine_reaches_no_file(tmp_path: Path, sql: str) -> None:
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    for engine in _engines(tmp_path):
        out = tmp_path / "copied.csv"
        with pytest.raises(EngineQueryError):
            engine.run(sql.format(out=out, db=other))
        assert not out.exists()
        assert engine.run("SELECT sum(value) AS value FROM orders").rows == [(3,)]
        engine.close()
