"""A corpus of hostile metric SQL (issue 21): each attempt is refused, with its reason, by the
engine-independent check (:func:`graph_schema.sql_safety.check_metric_sql`) and again by the
DuckDB values engine's check (its own parser too); and the locked-down DuckDB connection
refuses file, network, extension and configuration access even to SQL that skipped both."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import pytest

from core import i18n
from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql
from values.sandbox import SandboxLimits, connect, duckdb_refusal, lock_down

TABLES = {"dms_orders", "dms.dms_orders"}

#: (name, SQL, what the refusal names)
CORPUS: list[tuple[str, str, str]] = [
    ("read_text", "SELECT read_text('/proc/self/cmdline')", "function read_text"),
    (
        "read_text table",
        "SELECT content FROM read_text('/proc/self/cmdline')",
        "table function read_text",
    ),
    (
        "read_blob wal",
        "SELECT content FROM read_blob('/root/.local/share/kpigraph/kpigraph.sqlite-wal')",
        "table function read_blob",
    ),
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd', sep=':')", "table function READ_CSV"),
    ("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", "table function read_csv_auto"),
    (
        "read_parquet",
        "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
        "table function READ_PARQUET",
    ),
    (
        "read_json",
        "SELECT * FROM read_json('http://169.254.169.254/latest/meta-data')",
        "table function read_json",
    ),
    ("parquet_scan", "SELECT * FROM parquet_scan('/tmp/x.parquet')", "table function parquet_scan"),
    (
        "sqlite_scan",
        "SELECT * FROM sqlite_scan('/root/.local/share/kpigraph/kpigraph.sqlite', 'gov_meta')",
        "table function sqlite_scan",
    ),
    ("glob", "SELECT * FROM glob('/root/**')", "table function glob"),
    ("file path table", "SELECT * FROM '/etc/passwd'", "(a file path)"),
    ("quoted csv table", 'SELECT * FROM "data/secret.csv"', "(a file path)"),
    ("from-first reader", "FROM read_text('/etc/hostname')", "table function read_text"),
    (
        "lateral reader",
        "SELECT o.order_id FROM dms_orders o, LATERAL (SELECT * FROM read_text('/etc/hostname')) r",
        "LATERAL",
    ),
    (
        "reader in subquery",
        "SELECT (SELECT content FROM read_text('/etc/hostname')) AS period, 1 AS value "
        "FROM dms_orders",
        "table function read_text",
    ),
    (
        "reader in cte",
        "WITH k AS (SELECT * FROM read_blob('/tmp/k')) SELECT * FROM k",
        "table function read_blob",
    ),
    ("query_table", "SELECT * FROM query_table('dms_orders')", "table function query_table"),
    (
        "query",
        "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
        "table function query",
    ),
    (
        "getenv",
        "SELECT getenv('KPIGRAPH_SECRET_KEY') AS period, 1 AS value FROM dms_orders",
        "function getenv",
    ),
    ("httpfs url", "SELECT * FROM 'https://example.com/x.csv'", "(a file path)"),
    ("copy to", "COPY (SELECT 1) TO '/tmp/pwned.csv'", "COPY is not a query"),
    ("copy from", "COPY dms_orders FROM '/etc/passwd'", "COPY is not a query"),
    (
        "second statement copy",
        "SELECT sum(total_amount) AS value FROM dms_orders; COPY (SELECT 1) TO '/tmp/pwned.csv'",
        "more than one statement (';' then COPY",
    ),
    (
        "second statement no space",
        "SELECT 1 FROM dms_orders;COPY dms_orders TO '/tmp/x'",
        "more than one statement",
    ),
    (
        "attach",
        "ATTACH '/root/.local/share/kpigraph/kpigraph.sqlite' AS s",
        "ATTACH is not a query",
    ),
    ("attach after select", "SELECT 1 FROM dms_orders; ATTACH ':memory:' AS m", "';' then ATTACH"),
    ("install", "INSTALL httpfs", "INSTALL is not a query"),
    ("load", "LOAD httpfs", "LOAD is not a query"),
    ("set", "SET enable_external_access = true", "SET is not a query"),
    ("reset", "RESET enable_external_access", "RESET is not a query"),
    ("pragma", "PRAGMA database_list", "PRAGMA is not a query"),
    ("call", "CALL pragma_database_list()", "CALL is not a query"),
    ("export", "EXPORT DATABASE '/tmp/dump'", "does not parse"),
    ("import", "IMPORT DATABASE '/tmp/dump'", "does not parse"),
    (
        "create macro",
        "CREATE MACRO r(p) AS TABLE SELECT * FROM read_text(p)",
        "CREATE is not a query",
    ),
    ("drop view", "DROP VIEW dms_orders", "DROP is not a query"),
    ("insert", "INSERT INTO dms_orders SELECT * FROM dms_orders", "INSERT is not a query"),
    ("select into", "SELECT * INTO pwned FROM dms_orders", "SELECT … INTO"),
    (
        "data-modifying cte",
        "WITH d AS (DELETE FROM dms_orders RETURNING *) SELECT count(*) FROM d",
        "DELETE is not allowed",
    ),
    ("checkpoint", "CHECKPOINT", "CHECKPOINT is not a query"),
    (
        "comment hides statement",
        "SELECT sum(total_amount) AS value FROM dms_orders /* ; COPY dms_orders TO '/tmp/x' */",
        "a comment holds ';'",
    ),
    (
        "line comment with semicolon",
        "SELECT sum(total_amount) AS value FROM dms_orders -- x; COPY dms_orders TO '/tmp/x'\n",
        "a comment holds ';'",
    ),
    (
        "nested comment",
        "SELECT 1 FROM dms_orders /* /* */ ; COPY dms_orders TO '/tmp/x'; /* */",
        "does not parse",
    ),
    (
        "carriage-return comment",
        "SELECT 1 AS value FROM dms_orders -- note\r; COPY dms_orders TO '/tmp/x'",
        "more than one statement",
    ),
    (
        "fullwidth semicolon",
        "SELECT 1 AS value FROM dms_orders；COPY dms_orders TO '/tmp/x'",
        "U+FF1B (FULLWIDTH SEMICOLON)",
    ),
    ("fullwidth function", "SELECT ｒｅａｄ_ｔｅｘｔ('/etc/passwd')", "function ｒｅａｄ_ｔｅｘｔ"),
    (
        "cyrillic table",
        "SELECT sum(total_amount) AS value FROM dms_оrders",
        "table 'dms_оrders' is not a table of the catalog",
    ),
    (
        "zero-width space",
        "SELECT sum(total_amount)\u200b AS value FROM dms_orders",
        "U+200B (ZERO WIDTH SPACE)",
    ),
    (
        "bidi override",
        "SELECT 1 AS value FROM dms_orders WHERE order_id = '\u202e'",
        "U+202E (RIGHT-TO-LEFT OVERRIDE)",
    ),
    ("no-break space", "SELECT\xa0read_text('/etc/passwd')", "U+00A0 (NO-BREAK SPACE)"),
    ("ideographic space", "SELECT 1 AS value\u3000FROM dms_orders", "U+3000 (IDEOGRAPHIC SPACE)"),
    ("nul byte", "SELECT 1 AS value FROM dms_orders\x00; COPY dms_orders TO '/tmp/x'", "U+0000"),
    (
        "information_schema",
        "SELECT table_name FROM information_schema.tables",
        "table 'information_schema.tables'",
    ),
    ("duckdb_settings", "SELECT * FROM duckdb_settings()", "table function duckdb_settings"),
    ("duckdb_tables bare", "SELECT * FROM duckdb_tables", "table 'duckdb_tables'"),
    ("sqlite_master", "SELECT * FROM sqlite_master", "table 'sqlite_master'"),
    ("pg_catalog", "SELECT * FROM pg_catalog.pg_tables", "table 'pg_catalog.pg_tables'"),
    (
        "current_setting",
        "SELECT current_setting('allowed_paths') AS period, 1 AS value FROM dms_orders",
        "function current_setting",
    ),
    ("duckdb_secrets", "SELECT * FROM duckdb_secrets()", "table function duckdb_secrets"),
    ("huge range", "SELECT count(*) AS value FROM range(3000000000)", "table function RANGE"),
    (
        "generate_series",
        "SELECT count(*) AS value FROM generate_series(1, 3000000000)",
        "table function GENERATE_SERIES",
    ),
    ("range scalar", "SELECT len(range(3000000000)) AS value FROM dms_orders", "function RANGE"),
    (
        "repeat",
        "SELECT length(repeat('x', 2000000000)) AS value FROM dms_orders",
        "function REPEAT",
    ),
    (
        "recursive cte",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
        "SELECT count(*) AS value FROM r",
        "WITH RECURSIVE",
    ),
    ("unnest", "SELECT unnest(range(1000000000)) AS value FROM dms_orders", "function UNNEST"),
    ("undeclared table", "SELECT count(*) AS value FROM gov_users", "table 'gov_users'"),
    ("catalog-qualified", "SELECT * FROM s.main.gov_meta", "catalog-qualified"),
    ("schema-qualified other", "SELECT * FROM other.dms_orders", "table 'other.dms_orders'"),
    (
        "lambda",
        "SELECT list_transform([1, 2], x -> x + 1) AS value FROM dms_orders",
        "function LIST_TRANSFORM",
    ),
    ("setvariable", "SELECT getvariable('x') AS value FROM dms_orders", "function getvariable"),
    # PostgreSQL answers these bare words with the session's role (sqlglot reads a column)
    ("bare user", "SELECT user AS period, 1 AS value FROM dms_orders", "USER names the database"),
    (
        "current_role",
        "SELECT current_role AS period, 1 AS value FROM dms_orders",
        "CURRENT_ROLE names the database",
    ),
    ("prepared", "EXECUTE p", "EXECUTE is not a query"),
    ("not parseable", "SELEC sum(x) FROM dms_orders", "does not parse"),
    ("empty", "   ", "the SQL is empty"),
    (
        "too long",
        "SELECT 1 AS value FROM dms_orders WHERE order_id IN (" + ",".join(["'x'"] * 6000) + ")",
        "characters long",
    ),
]

#: metric SQL of the kind the demo catalogs hold: it passes
LEGITIMATE = [
    "SELECT strftime(complete_date, '%Y-%m') AS period, store_id AS store, "
    "sum(total_amount) AS value FROM dms_orders WHERE order_status = 'completed' GROUP BY ALL",
    "WITH done AS (SELECT * FROM dms_orders WHERE order_status = 'completed') "
    "SELECT left(CAST(complete_date AS VARCHAR), 7) AS period, count(DISTINCT order_id) AS value "
    "FROM done GROUP BY 1 ORDER BY 1;",
    "SELECT date_trunc('month', complete_date) AS period, "
    "sum(CASE WHEN order_type IN ('maintenance', 'repair') THEN 1 ELSE 0 END) * 100.0 "
    "/ nullif(count(*), 0) AS value FROM dms_orders d GROUP BY 1",
    "SELECT '2026-06' AS period, coalesce(sum(total_amount), 0) AS 营收 -- 口径：含工时，不含保险\n"
    "FROM dms.dms_orders WHERE order_id LIKE 'A%' AND store_id = '南山店'",
    "SELECT period, value FROM (SELECT strftime(complete_date, '%Y-%m') AS period, "
    "row_number() OVER (ORDER BY total_amount DESC) AS value FROM dms_orders) t WHERE value < 3",
]


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """A values-engine connection: one data table registered, then locked down."""
    folder = tmp_path_factory.mktemp("data")
    csv = folder / "dms_orders.csv"
    csv.write_text(
        "order_id,store_id,order_type,order_status,total_amount,complete_date\n"
        "A1,南山店,repair,completed,100.5,2026-06-03\n",
        encoding="utf-8",
    )
    con = connect(SandboxLimits())
    con.execute(f"CREATE VIEW dms_orders AS SELECT * FROM read_csv('{csv}')")
    lock_down(con, [csv.resolve()])
    return con


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 40
    assert len({name for name, _, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("name", "sql", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_refused_with_its_reason(name: str, sql: str, reason: str) -> None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to a Command"
    with pytest.raises(UnsafeSQLError) as caught:
        check_metric_sql(sql, tables=TABLES, dialect="duckdb")
    with i18n.use("en"):  # the corpus names each reason by its English words
        assert reason in caught.value.reason, caught.value.reason
        assert str(caught.value).startswith("SQL refused: ")
    with i18n.use("zh"):  # the same refusal, worded when it is read, in the other language
        assert str(caught.value).startswith("SQL 被拒绝："), str(caught.value)
        assert re.search("[\u4e00-\u9fff]", caught.value.reason), caught.value.reason


@pytest.mark.parametrize(("name", "sql", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_refused_by_the_values_engine(
    locked: duckdb.DuckDBPyConnection, name: str, sql: str, reason: str
) -> None:
    refused = duckdb_refusal(locked, sql, ["dms_orders"])
    assert refused is not None and refused.reason


@pytest.mark.parametrize("sql", LEGITIMATE)
def test_legitimate_sql_passes(locked: duckdb.DuckDBPyConnection, sql: str) -> None:
    check_metric_sql(sql, tables=TABLES, dialect="duckdb")
    if "dms.dms_orders" not in sql and "date_trunc" not in sql:
        assert duckdb_refusal(locked, sql, ["dms_orders"]) is None
        assert locked.execute(f"SELECT count(*) FROM ({sql.rstrip(';')})").fetchone()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_blob('/proc/self/environ')",
        "SELECT * FROM glob('/*')",
        "COPY (SELECT 1) TO '/tmp/kpigraph-pwned.csv'",
        "ATTACH '/tmp/kpigraph-pwned.db' AS p",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET allowed_paths = ['/']",
        "SET memory_limit = '100GB'",
        "RESET enable_external_access",
    ],
)
def test_the_locked_connection_refuses_even_unchecked_sql(
    locked: duckdb.DuckDBPyConnection, sql: str
) -> None:
    """The second wall: what the checks would have let through still cannot reach out."""
    with pytest.raises(duckdb.Error):
        locked.execute(sql)
    assert not Path("/tmp/kpigraph-pwned.csv").exists()
    assert not Path("/tmp/kpigraph-pwned.db").exists()
    assert locked.execute("SELECT count(*) FROM dms_orders").fetchone() == (1,)


def test_the_data_file_is_still_readable(locked: duckdb.DuckDBPyConnection) -> None:
    assert locked.execute("SELECT sum(total_amount) FROM dms_orders").fetchone() == (100.5,)
    assert locked.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
