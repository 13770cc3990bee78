"""The range on the metric's date column that :func:`values.engines.base.aggregate_sql` pushes
into its SQL (so PostgreSQL plans from the column's statistics and hashes the groups; see
BENCHMARKS.md "Warehouse refresh") never changes a number: every question gives the same rows
with and without it, on each engine, and the period filter is dropped only where the range is
exactly that filter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.warehouse.conftest import Warehouse
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, checked_sql, fetch
from values.engines.connections import SecretUrl

#: the demo's 工时收入 (labor revenue) SQL, as catalogs/automotive_aftersales writes it
SQL = """SELECT strftime(o.complete_date, '%Y-%m') AS period, s.store_name AS store, s.region,
       o.order_type, SUM(o.labor_amount) AS value
FROM dms_orders o JOIN dms_stores s USING (store_id)
WHERE o.order_status = 'completed' AND o.order_type IN ('maintenance', 'repair', 'bodyshop')
GROUP BY ALL"""
SPEC = MetricSql("labor_revenue", "dms", SQL, "duckdb", frozenset({"dms_orders", "dms_stores"}))
DAILY = MetricSql(
    "labor_daily", "dms",
    "SELECT strftime(complete_date, '%Y-%m-%d') AS period, order_type, SUM(labor_amount) AS value"
    " FROM dms_orders GROUP BY ALL",
    "duckdb", frozenset({"dms_orders"}),
)  # fmt: skip
Q = (("2025-Q1", "2025-01", "2025-03"), ("2025-Q2", "2025-04", "2025-06"))

# (rollup, the metric, whether the period filter outside is replaced by the range)
# fmt: off
CASES: list[tuple[Rollup, MetricSql, bool]] = [
    (Rollup(grain=("store",), start="2025-11", end="2026-02"), SPEC, True),
    (Rollup(grain=("store", "order_type"), periods=("2025-12", "2026-01", "2026-02")), SPEC, True),
    (Rollup(grain=("region",), periods=("2025-01", "2025-03", "2026-06")), SPEC, False),  # gaps
    (Rollup(ranges=Q, agg="avg"), SPEC, True),
    (Rollup(ranges=Q, agg="last", grain=("store",)), SPEC, True),
    (Rollup(ranges=(Q[1], Q[0]), agg="sum"), SPEC, True),  # the order given does not matter
    (Rollup(("order_type",), start="2026-02-27", end="2026-03-02", plen=10, stored_plen=10),
     DAILY, True),
    (Rollup(periods=("2026-02", "2026-03"), plen=7, stored_plen=10), DAILY, True),
    (Rollup(start="2026-02-27", end="2026-03", plen=10, stored_plen=10), DAILY, False),
]
# fmt: on


def _rows(engine: Any, spec: MetricSql, rollup: Rollup, push: bool) -> tuple[list[Any], str]:
    sql = aggregate_sql(checked_sql(spec, engine.dialect), rollup, engine.dialect, push_dates=push)
    rows = fetch(engine, spec, lambda _tree: sql).rows
    return sorted((tuple(str(c) for c in r[:-1]), round(float(r[-1]), 6)) for r in rows), sql


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_range_changes_no_number(warehouse: Warehouse, case: int) -> None:
    rollup, spec, exact = CASES[case]
    engine = open_engine(SecretUrl(warehouse.url))
    try:
        pushed, sql = _rows(engine, spec, rollup, True)
        plain, plain_sql = _rows(engine, spec, rollup, False)
    finally:
        if warehouse.kind != "spark":  # the session is the fixture's
            engine.close()
    assert pushed and pushed == plain
    inner = sql.split(") AS m")[0]
    assert "CAST('20" in inner and "AS DATE)" in inner  # the range is inside the metric's SQL
    outside = sql.split(") AS m")[1]
    period_filtered = any(w in outside.split("GROUP BY")[0] for w in ("BETWEEN", "IN (", ">="))
    assert period_filtered is not exact
    assert "AS DATE)" not in plain_sql


def test_no_range_when_it_could_change_the_result() -> None:
    windowed = MetricSql(
        "w", "dms",
        "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(labor_amount) OVER "
        "(ORDER BY complete_date) AS value FROM dms_orders",
        "duckdb", frozenset({"dms_orders"}),
    )  # fmt: skip
    other = MetricSql(
        "o", "dms",
        "SELECT substr(CAST(complete_date AS VARCHAR), 1, 7) AS period, SUM(labor_amount) AS "
        "value FROM dms_orders GROUP BY ALL",
        "duckdb", frozenset({"dms_orders"}),
    )  # fmt: skip
    rollup = Rollup(start="2025-01", end="2025-06")
    for spec in (windowed, other):
        sql = aggregate_sql(checked_sql(spec, "postgres"), rollup, "postgres")
        assert "AS DATE)" not in sql and "\"period\" >= '2025-01'" in sql
    open_end = aggregate_sql(checked_sql(SPEC, "postgres"), Rollup(start="2025-01"), "postgres")
    assert "AS DATE)" not in open_end
