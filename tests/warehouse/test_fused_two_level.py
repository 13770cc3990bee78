"""The fused query's PostgreSQL form (values/engines/fused.py): the date column truncated as the
type the server says it is, and the two-level query (keys × a bitmask of the WHEREs inside, each
metric's aggregate of those outside) — the same rows as the one-level fused query and as each
metric's own query, on the real PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.warehouse.conftest import Warehouse
from tests.warehouse.servers import PgServer
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, checked_sql
from values.engines.connections import SecretUrl
from values.engines.fused import Shape, fused_query, fused_sql, period_type, shape_of, split

TABLES = frozenset({"dms_orders", "dms_stores", "dms_stamped"})
_KEYS = (
    "SELECT strftime(o.complete_date, '%Y-%m') AS period, s.store_name AS store, "
    "o.order_type, {value} AS value FROM dms_orders o JOIN dms_stores s USING (store_id) "
    "{where} GROUP BY ALL"
)
#: bare aggregates (the two-level form): sums of doubles and of integers, counts of rows and of
#: a column, a MIN/MAX that is NULL in some groups, a WHERE that is NULL for some rows, a WHERE
#: few groups reach, a WHERE shared by two metrics, and no WHERE
BARE = {
    "revenue": ("SUM(o.total_amount)", "WHERE o.order_status = 'completed'"),
    "labor": ("SUM(o.labor_amount)", "WHERE o.order_status = 'completed'"),
    "cents": ("SUM(CAST(o.total_amount * 100 AS INTEGER))", "WHERE o.total_amount > 2000"),
    "big_orders": ("COUNT(*)", "WHERE o.total_amount > 2000"),
    "all_rows": ("COUNT(*)", ""),
    "hours_n": ("COUNT(o.labor_hours)", "WHERE NULLIF(o.labor_hours, 2) > 1"),
    "va_max": ("MAX(CASE WHEN o.value_added_amount > 800 THEN o.value_added_amount END)", ""),
    "rare_min": ("MIN(o.parts_amount)", "WHERE o.labor_hours > 7 AND o.order_type = 'repair'"),
    "parts": ("SUM(o.parts_amount)", "WHERE o.parts_amount > 0 OR o.labor_hours > 5"),
}


def _spec(metric: str, sql: str) -> MetricSql:
    return MetricSql(metric, "dms", sql, None, TABLES)


def _shapes(specs: list[MetricSql], dialect: str = "postgres") -> list[Shape]:
    shapes = [shape_of(s.metric, checked_sql(s, dialect), dialect) for s in specs]
    assert all(shapes)
    return [s for s in shapes if s is not None]


def _bare_specs() -> list[MetricSql]:
    return [_spec(m, _KEYS.format(value=v, where=w)) for m, (v, w) in BARE.items()]


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda r: repr(r[:-1]))


def _same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], what: str) -> None:
    """Keys and NULLs exactly; counts, minima, maxima and sums of integers exactly; sums of
    doubles to 1e-12 (another order of the same additions, as a parallel plan gives)."""
    got, want = _sorted(got), _sorted(want)
    assert [r[:-1] for r in got] == [r[:-1] for r in want], what
    exact = not what.startswith(("revenue", "labor", "parts"))
    for a, b in zip(got, want, strict=True):
        if a[-1] is None or b[-1] is None:
            assert a[-1] is b[-1] is None, (what, a, b)
        elif exact:
            assert a[-1] == b[-1], (what, a, b)
        else:
            assert math.isclose(a[-1], b[-1], rel_tol=1e-12, abs_tol=1e-9), (what, a, b)


ROLLUPS = [
    Rollup(grain=("order_type", "store")),
    Rollup(grain=("order_type", "store"), start="2025-03", end="2026-02"),
    Rollup(grain=("order_type", "store"), periods=("2025-01", "2025-07", "2026-06")),
]


@pytest.mark.parametrize("rollup", ROLLUPS, ids=["all", "range", "periods"])
def test_two_level_rows_equal_one_level_and_each_metric_alone(
    postgres_demo: Warehouse, rollup: Rollup
) -> None:
    engine = open_engine(SecretUrl(postgres_demo.url))
    try:
        specs = _bare_specs()
        shapes = _shapes(specs)
        kind = period_type(engine, shapes[0])
        assert kind == "date"  # the demo's complete_date, as the server says
        two = fused_sql(shapes, rollup, "postgres", period_type=kind)
        one = fused_sql(shapes, rollup, "postgres", two_level=False)
        assert '"w0" & ' in two.sql and "CAST(o.complete_date AS TIMESTAMP)" in two.sql
        assert '"w0"' not in one.sql and "CAST(o.complete_date" not in one.sql
        got = split(two, engine.run(two.sql, hash_groups=True).rows)
        want = split(one, engine.run(one.sql, hash_groups=True).rows)
        for spec in specs:
            alone = engine.run(aggregate_sql(checked_sql(spec, "postgres"), rollup, "postgres"))
            assert alone.rows, spec.metric
            _same(got[spec.metric], want[spec.metric], f"{spec.metric} one level")
            _same(got[spec.metric], alone.rows, f"{spec.metric} alone")
        assert len(got["rare_min"]) < len(got["all_rows"])  # groups only some metrics reach
        assert any(r[-1] is None for r in got["va_max"])  # a NULL value stays a NULL value
        assert all(isinstance(r[-1], float) for r in got["cents"])  # double, as one level
    finally:
        engine.close()


def test_values_that_are_not_bare_aggregates_stay_one_level() -> None:
    """A ratio (integer division, numeric SUM of SUMs), an AVG, COUNT DISTINCT: one level."""
    for value in ("SUM(o.total_amount) / COUNT(*)", "AVG(o.labor_hours)",
                  "COUNT(DISTINCT o.order_id)", "MIN(o.parts_amount) + 1"):  # fmt: skip
        specs = [*_bare_specs(), _spec("other", _KEYS.format(value=value, where=""))]
        fused = fused_sql(_shapes(specs), ROLLUPS[0], "postgres", period_type="date")
        assert '"w0"' not in fused.sql, value
    # one WHERE (nothing to share) or more than 30 (the mask's bits): one level
    one = [_spec(f"m{k}", _KEYS.format(value="SUM(o.total_amount)", where="")) for k in range(3)]
    assert '"w0"' not in fused_sql(_shapes(one), ROLLUPS[0], "postgres").sql
    many = [
        _spec(
            f"m{k}", _KEYS.format(value="SUM(o.total_amount)", where=f"WHERE o.labor_hours > {k}")
        )
        for k in range(31)
    ]
    assert '"w0"' not in fused_sql(_shapes(many), ROLLUPS[0], "postgres").sql
    assert '"w0"' in fused_sql(_shapes(many[:30]), ROLLUPS[0], "postgres").sql
    # DuckDB and Spark: the query as before
    for dialect in ("duckdb", "spark"):
        fused = fused_sql(_shapes(_bare_specs(), dialect), ROLLUPS[0], dialect, period_type="date")
        assert '"w0"' not in fused.sql and "w0" not in fused.sql


@pytest.fixture(scope="module")
def stamped(pg_server: PgServer, postgres_demo: Warehouse) -> Warehouse:
    """The demo's orders with the date as a ``timestamptz`` (late evening, so that the session's
    time zone decides the month of some rows) and a UTC session for the test."""
    with pg_server.admin() as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS dms_stamped AS SELECT store_id, order_type, order_status,"
            " total_amount, (complete_date + time '23:30') AT TIME ZONE 'Asia/Shanghai'"
            " AS complete_date FROM dms_orders"
        )
        con.execute("GRANT SELECT ON dms_stamped TO reader")
    return postgres_demo


@pytest.mark.parametrize("grain", ["%Y-%m", "%Y-%m-%d"])
def test_a_date_column_of_another_type_is_truncated_as_before(
    stamped: Warehouse, grain: str
) -> None:
    """The server says the column is a ``timestamptz``: no cast to ``timestamp`` (which would
    truncate the same instants but is not what was checked); the rows equal each metric's own
    query, at the month and at the day."""
    sql = (
        f"SELECT strftime(complete_date, '{grain}') AS period, order_type, {{value}} AS value "
        "FROM dms_stamped {where} GROUP BY ALL"
    )
    specs = [
        _spec("a", sql.format(value="SUM(total_amount)", where="WHERE order_status = 'completed'")),
        _spec("b", sql.format(value="COUNT(*)", where="WHERE total_amount > 2000")),
    ]
    plen = len(grain.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD"))
    rollup = Rollup(grain=("order_type",), plen=plen, stored_plen=plen)
    engine = open_engine(SecretUrl(stamped.url))
    try:
        shapes = _shapes(specs)
        assert period_type(engine, shapes[0]) == "timestamptz"
        fused = fused_query(engine, shapes, rollup)
        assert "AS TIMESTAMP" not in fused.sql and '"w0"' in fused.sql
        got = split(fused, engine.run(fused.sql, hash_groups=True).rows)
        for spec in specs:
            alone = engine.run(aggregate_sql(checked_sql(spec, "postgres"), rollup, "postgres"))
            assert alone.rows
            _same(got[spec.metric], alone.rows, f"{spec.metric} stamped")
    finally:
        engine.close()


def test_the_day_of_a_date_column_is_the_column(postgres_demo: Warehouse) -> None:
    sql = (
        "SELECT strftime(complete_date, '%Y-%m-%d') AS period, order_type, {value} AS value "
        "FROM dms_orders {where} GROUP BY ALL"
    )
    specs = [
        _spec("a", sql.format(value="SUM(total_amount)", where="WHERE order_status = 'completed'")),
        _spec("b", sql.format(value="COUNT(*)", where="WHERE total_amount > 2000")),
    ]
    rollup = Rollup(grain=("order_type",), start="2026-01-01", end="2026-03-31", plen=10,
                    stored_plen=10)  # fmt: skip
    engine = open_engine(SecretUrl(postgres_demo.url))
    try:
        fused = fused_query(engine, _shapes(specs), rollup)
        assert "DATE_TRUNC" not in fused.sql
        got = split(fused, engine.run(fused.sql, hash_groups=True).rows)
        for spec in specs:
            alone = engine.run(aggregate_sql(checked_sql(spec, "postgres"), rollup, "postgres"))
            assert len(alone.rows) > 100
            _same(got[spec.metric], alone.rows, f"{spec.metric} by day")
    finally:
        engine.close()
