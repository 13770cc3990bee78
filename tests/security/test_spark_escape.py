"""Spark SQL reaches outside the query in two ways the sandbox did not know (review, issue 21):
``SELECT TRANSFORM(…) USING 'cmd'`` runs a shell command (script transformation, no Hive
needed), and ``${env:NAME}`` / ``${system:…}`` / ``${spark:…}`` anywhere in the text is
replaced by Spark before it parses (variable substitution, on by default) — inside a string
literal too, so a metric's value column could show the server's environment
(``KPIGRAPH_SECRET_KEY``, connection URLs). Both ran on a real Spark before the fix; the
``${`` also came from escapes that sqlglot writes back unescaped (``'$\\{…}'``,
PostgreSQL's ``E'\\x24{…}'``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql
from tests.warehouse.conftest import spark, spark_demo
from values.engines.base import MetricSql, Rollup, aggregate_sql, fetch
from values.engines.connections import SecretUrl
from values.engines.spark import SparkEngine
from values.errors import EngineQueryError

__all__ = ["spark", "spark_demo"]  # fixtures used below

TABLES = frozenset({"dms_orders"})
PERIOD = "date_format(complete_date, 'yyyy-MM') AS period"


def _script(marker: Path) -> str:
    return (
        f"SELECT TRANSFORM(order_id) USING 'sh -c \"touch {marker}; echo x\"' "
        "AS (period, value) FROM dms_orders"
    )


VARIABLES = [
    ("spark", f"SELECT {PERIOD}, '${{env:HOME}}' AS store, 1 AS value FROM dms_orders"),
    ("spark", f"SELECT {PERIOD}, '$\\{{env:HOME}}' AS store, 1 AS value FROM dms_orders"),
    ("spark", f"SELECT {PERIOD}, `${{system:user.home}}` AS store, 1 AS value FROM dms_orders"),
    (
        "postgres",
        "SELECT to_char(complete_date, 'YYYY-MM') AS period, E'\\x24{env:HOME}' AS "
        "store, 1 AS value FROM dms_orders",
    ),
    (
        "duckdb",
        "SELECT strftime(complete_date, '%Y-%m') AS period, '${env:HOME}' AS store, "
        "1 AS value FROM dms_orders",
    ),
]


def test_script_transformation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSQLError, match="TRANSFORM"):
        check_metric_sql(_script(tmp_path / "x"), tables=TABLES, dialect="spark")


@pytest.mark.parametrize(("dialect", "sql"), VARIABLES)
def test_variable_substitution_is_refused(dialect: str, sql: str) -> None:
    with pytest.raises(UnsafeSQLError, match=r"\$\{"):
        check_metric_sql(sql, tables=TABLES, dialect=dialect)


def test_spark_runs_no_script(spark_demo: Any, spark: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    engine = SparkEngine(SecretUrl("local[1]"), session=spark)
    spec = MetricSql("m", "dms", _script(marker), "spark", TABLES)
    with pytest.raises(EngineQueryError):  # refused (or skipped: its columns are not seen)
        fetch(engine, spec, lambda tree: aggregate_sql(tree, Rollup(agg="none"), "spark"))
    assert not marker.exists()
    with pytest.raises(EngineQueryError, match=r"\$\{"):  # the engine's own last guard
        engine.run(f"SELECT '${{env:HOME}}' AS period, {1} AS value")


@pytest.mark.parametrize(("dialect", "sql"), VARIABLES)
def test_spark_shows_no_environment(spark_demo: Any, spark: Any, dialect: str, sql: str) -> None:
    engine = SparkEngine(SecretUrl("local[1]"), session=spark)
    spec = MetricSql("m", "dms", sql, dialect, TABLES)
    rollup = Rollup(grain=("store",), periods=("2026-06",))
    try:
        rows = fetch(engine, spec, lambda tree: aggregate_sql(tree, rollup, "spark")).rows
    except EngineQueryError:
        return
    home = os.environ.get("HOME", "/root")
    assert not any(home in str(v) for row in rows for v in row), rows


def test_the_spark_session_reads_no_file_by_path(spark_demo: Any, spark: Any) -> None:
    """Behind the SQL check, as for DuckDB: ``csv.`/path``` is off in the engine's session
    (``spark.sql.runSQLOnFiles``), and so is variable substitution."""
    engine = SparkEngine(SecretUrl("local[1]"), session=spark)
    with pytest.raises(EngineQueryError):
        engine.run("SELECT * FROM text.`/etc/hostname`")
    assert spark.conf.get("spark.sql.variable.substitute") == "false"
