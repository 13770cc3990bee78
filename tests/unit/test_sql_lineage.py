"""SQL-checked field lineage: which catalog columns a metric's SQL reads (sqlglot), per dialect."""
# ruff: noqa: E501  (catalog YAML and SQL fixtures read best on one line)

from __future__ import annotations

import pytest

from analysis.sql_lineage import (
    SourceSchema,
    SourceTable,
    SqlDialectError,
    SqlSyntaxError,
    metric_dialect,
    normalize_dialect,
    sql_reads,
)

#: the refusals in English (in zh: tests/unit/test_i18n_errors.py and the commands' tests)
pytestmark = pytest.mark.usefixtures("english")

ORDERS = SourceTable(
    "dms.dms_orders",
    "dms",
    "dms_orders",
    ("order_id", "store_id", "order_type", "order_status", "total_amount", "complete_date"),
)
PARTS = SourceTable("dms.dms_parts_issue", "dms", "dms_parts_issue", ("order_id", "part_cost"))
STORES = SourceTable("dms.dms_stores", "dms", "dms_stores", ("store_id", "region"))
# a table of the same name in another system
CRM_ORDERS = SourceTable("crm.dms_orders", "crm", "dms_orders", ("order_id", "channel"))
COMPLETED = SourceTable(
    "dms.v_completed",
    "dms",
    "v_completed",
    (),
    sql="SELECT order_id, store_id, total_amount AS amount, complete_date FROM dms_orders "
    "WHERE order_status = 'completed'",
)


def schema(*extra: SourceTable) -> SourceSchema:
    return SourceSchema([ORDERS, PARTS, STORES, *extra])


def ids(*cols: str, table: str = "dms.dms_orders") -> set[str]:
    return {f"{table}.{c}" for c in cols}


def test_plain_select_reads_projection_and_filter_columns() -> None:
    reads = sql_reads(
        "SELECT SUM(total_amount) / COUNT(DISTINCT order_id) AS atp FROM dms_orders "
        "WHERE order_status = 'completed' AND order_type IN ('maintenance', 'repair')",
        schema(),
    )
    assert reads.fields == ids("total_amount", "order_id", "order_status", "order_type")
    assert reads.tables == {"dms.dms_orders"}
    assert not reads.unknown_tables and not reads.unknown_columns and not reads.unresolved


def test_aliases_joins_and_using() -> None:
    reads = sql_reads(
        "SELECT 1 - SUM(p.part_cost) / SUM(o.total_amount) FROM dms_orders o "
        "JOIN dms_parts_issue AS p USING (order_id)",
        schema(),
    )
    assert reads.fields == ids("total_amount", "order_id") | ids(
        "part_cost", "order_id", table="dms.dms_parts_issue"
    )


def test_cte_and_derived_table_resolve_to_base_columns() -> None:
    reads = sql_reads(
        """
        WITH done AS (
          SELECT order_id, total_amount AS amt, store_id FROM dms_orders
          WHERE order_status = 'completed'
        ),
        by_store AS (SELECT s.region, d.amt FROM done d JOIN dms_stores s ON s.store_id = d.store_id)
        SELECT region, SUM(x.amt) AS revenue
        FROM (SELECT * FROM by_store) AS x
        GROUP BY region
        """,
        schema(),
    )
    # order_id is selected by the CTE but never used downstream: not read
    assert reads.fields == ids("total_amount", "order_status", "store_id") | ids(
        "region", "store_id", table="dms.dms_stores"
    )


def test_union_and_correlated_subquery() -> None:
    reads = sql_reads(
        "SELECT order_id FROM dms_orders WHERE order_type = 'repair' "
        "UNION ALL SELECT order_id FROM dms_parts_issue p "
        "WHERE p.part_cost > (SELECT AVG(total_amount) FROM dms_orders o "
        "WHERE o.order_id = p.order_id)",
        schema(),
    )
    assert reads.fields == ids("order_id", "order_type", "total_amount") | ids(
        "order_id", "part_cost", table="dms.dms_parts_issue"
    )


def test_views_are_read_through_column_by_column() -> None:
    s = schema(COMPLETED)
    reads = sql_reads("SELECT SUM(amount) FROM v_completed", s)
    # the view's column 'amount' is total_amount, and its filter reads order_status
    assert reads.fields == ids("total_amount", "order_status")
    assert reads.view_fields == {"dms.v_completed.amount"}
    assert reads.through_views["dms.v_completed.amount"] == frozenset(
        ids("total_amount", "order_status")
    )
    assert reads.tables == {"dms.v_completed", "dms.dms_orders"}
    other = sql_reads("SELECT COUNT(DISTINCT order_id) FROM v_completed", s)
    assert other.fields == ids("order_id", "order_status")


def test_db_qualified_names_pick_the_system() -> None:
    s = schema(CRM_ORDERS)
    assert sql_reads("SELECT channel FROM crm.dms_orders", s).fields == {"crm.dms_orders.channel"}
    ambiguous = sql_reads("SELECT channel FROM dms_orders", s)
    assert ambiguous.unknown_tables and "ambiguous" in ambiguous.unknown_tables[0]
    preferred = sql_reads("SELECT channel FROM dms_orders", s, prefer=["crm"])
    assert preferred.fields == {"crm.dms_orders.channel"}


def test_unknown_tables_and_columns_are_reported() -> None:
    reads = sql_reads("SELECT SUM(total_amount), SUM(bogus) FROM dms_orders", schema())
    assert reads.unknown_columns == ("dms.dms_orders.bogus",)
    reads = sql_reads("SELECT SUM(x) FROM ods_orders", schema())
    assert reads.unknown_tables == ("ods_orders",)
    assert reads.fields == frozenset()


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        (
            "mysql",
            "SELECT SUM(IF(`order_status` = 'completed', `total_amount`, 0)) "
            "FROM `dms_orders` WHERE DATE_FORMAT(`complete_date`, '%Y-%m') = '2023-06' LIMIT 10",
        ),
        (
            "postgres",
            "SELECT SUM(\"total_amount\") FILTER (WHERE order_status = 'completed') "
            "FROM dms_orders WHERE complete_date::date >= DATE '2023-06-01'",
        ),
        (
            "hive",
            "SELECT SUM(total_amount) FROM dms.dms_orders "
            "WHERE order_status = 'completed' AND to_date(complete_date) >= date_sub('2023-07-01', 30)",
        ),
        (
            "spark",
            "SELECT SUM(`total_amount`) FROM `dms`.`dms_orders` "
            "WHERE `order_status` = 'completed' AND complete_date >= add_months('2023-07-01', -1)",
        ),
        (
            "duckdb",
            "SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed' "
            "AND complete_date >= DATE '2023-06-01' QUALIFY 1 = 1",
        ),
    ],
)
def test_dialects(dialect: str, sql: str) -> None:
    reads = sql_reads(sql, schema(), normalize_dialect(dialect))
    assert reads.fields == ids("total_amount", "order_status", "complete_date")


def test_dialect_matters_for_parsing() -> None:
    sql = "SELECT SUM(`total_amount`) FROM dms_orders"
    assert sql_reads(sql, schema(), "mysql").fields == ids("total_amount")
    with pytest.raises(SqlSyntaxError):
        sql_reads(sql, schema(), "postgres")


def test_syntax_errors_say_where() -> None:
    with pytest.raises(SqlSyntaxError) as info:
        sql_reads("SELECT SUM(total_amount)\nFROM dms_orders\nWHERE AND x", schema())
    assert info.value.line == 3
    assert "SQL does not parse at line 3" in str(info.value)
    with pytest.raises(SqlSyntaxError, match="one statement"):
        sql_reads("SELECT 1; SELECT 2", schema())
    with pytest.raises(SqlSyntaxError, match="SELECT"):
        sql_reads("DELETE FROM dms_orders", schema())
    with pytest.raises(SqlSyntaxError):
        sql_reads("SELECT 'unterminated FROM dms_orders", schema())


def test_dialect_names() -> None:
    assert normalize_dialect("PostgreSQL") == "postgres"
    assert normalize_dialect("Spark") == "spark"
    assert normalize_dialect("") is None
    with pytest.raises(SqlDialectError, match="unknown SQL dialect 'oracle9'"):
        normalize_dialect("oracle9")


def test_metric_dialect_from_the_fields_system() -> None:
    hive = SourceTable("hv.t", "hv", "t", ("a",), dialect="hive")
    pg = SourceTable("pg.u", "pg", "u", ("b",), dialect="postgres")
    s = SourceSchema([hive, pg])
    assert metric_dialect(["hv.t.a"], s, None) == "hive"
    assert metric_dialect(["hv.t.a", "pg.u.b"], s, "duckdb") == "duckdb"  # mixed: the catalog's
    assert metric_dialect([], s, None) is None


def test_a_view_defined_by_itself_is_an_error() -> None:
    loop = SourceTable("dms.v", "dms", "v", ("a",), sql="SELECT a FROM v")
    with pytest.raises(SqlSyntaxError, match="itself"):
        sql_reads("SELECT a FROM v", SourceSchema([loop]))


def test_output_aliases_and_unqualified_unknown_columns() -> None:
    reads = sql_reads(
        "SELECT SUM(total_amount) AS revenue FROM dms_orders GROUP BY store_id ORDER BY revenue",
        schema(),
    )
    assert reads.fields == ids("total_amount", "store_id") and not reads.unresolved
    typo = sql_reads("SELECT totl_amount FROM dms_orders", schema())
    assert typo.unknown_columns == ("dms.dms_orders.totl_amount",)
    # two unknown-to-us sources: the column's table cannot be told
    joined = sql_reads("SELECT x FROM ods_a JOIN ods_b ON 1 = 1", schema())
    assert joined.unresolved == ("x",) and joined.unknown_tables == ("ods_a", "ods_b")
