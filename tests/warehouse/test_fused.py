"""One scan for many metrics (values/engines/fused.py, values/refresh_fused.py): the fused
query gives each metric exactly the rows its own query gives, on each real engine; only the
simple shape is fused; a refresh with fusion fills the cache exactly as one by one does, in
fewer queries; a group whose fused query fails falls back to one by one."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from loaders.catalog import load_catalog
from tests.warehouse.conftest import Warehouse, connected_catalog
from values.cache import ValuesCache, refresh_engine
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, checked_sql
from values.engines.connections import SecretUrl
from values.engines.fused import fused_sql, groups, shape_of, split
from values.refresh_fused import FusedRefresh

TABLES = frozenset({"dms_orders", "dms_stores"})
_KEYS = (
    "SELECT strftime(o.complete_date, '%Y-%m') AS period, s.store_name AS store, "
    "o.order_type, {value} AS value FROM dms_orders o JOIN dms_stores s USING (store_id) "
    "{where} GROUP BY ALL"
)
#: metric → (value, WHERE): filters across the keys (amount, status), none, ratios, COUNT(*),
#: COUNT DISTINCT, a value that is NULL in some groups, a filter few groups reach
FUSABLE = {
    "revenue": ("SUM(o.total_amount)", "WHERE o.order_status = 'completed' AND o.total_amount > 0"),
    "big_orders": ("COUNT(*)", "WHERE o.total_amount > 2000"),
    "all_rows": ("COUNT(*)", ""),
    "atp": (
        "SUM(o.total_amount) / COUNT(DISTINCT o.order_id)",
        "WHERE o.order_status = 'completed'",
    ),
    "labor_share": (
        "SUM(o.labor_amount) * 1.0 / NULLIF(SUM(o.total_amount), 0)",
        "WHERE o.order_type <> 'wash'",
    ),
    "va_max": ("MAX(CASE WHEN o.value_added_amount > 0 THEN o.value_added_amount END)", ""),
    "avg_hours": ("AVG(o.labor_hours)", "WHERE o.labor_hours > 3 AND o.order_type = 'repair'"),
    "min_parts": ("MIN(o.parts_amount) + 1", "WHERE o.parts_amount > 0 OR o.labor_hours > 5"),
}
ALONE = {
    "with": "WITH x AS (SELECT * FROM dms_orders) SELECT strftime(complete_date, '%Y-%m') AS "
    "period, SUM(total_amount) AS value FROM x GROUP BY ALL",
    "window": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(SUM(total_amount)) OVER () "
    "AS value FROM dms_orders GROUP BY ALL",
    "having": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) AS value "
    "FROM dms_orders GROUP BY ALL HAVING COUNT(*) > 5",
    "distinct": "SELECT DISTINCT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) AS "
    "value FROM dms_orders GROUP BY ALL",
    "limit": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) AS value "
    "FROM dms_orders GROUP BY ALL LIMIT 3",
    "order": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) AS value "
    "FROM dms_orders GROUP BY ALL ORDER BY 1",
    "subquery": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) AS value "
    "FROM dms_orders WHERE store_id IN (SELECT store_id FROM dms_stores) GROUP BY ALL",
    "filter": "SELECT strftime(complete_date, '%Y-%m') AS period, SUM(total_amount) FILTER "
    "(WHERE total_amount > 0) AS value FROM dms_orders GROUP BY ALL",
    "bare_column": "SELECT strftime(complete_date, '%Y-%m') AS period, order_type, "
    "SUM(total_amount) + length(order_type) AS value FROM dms_orders GROUP BY ALL",
    "no_aggregate": "SELECT strftime(complete_date, '%Y-%m') AS period, total_amount AS value "
    "FROM dms_orders",
    "median": "SELECT strftime(complete_date, '%Y-%m') AS period, median(total_amount) AS value "
    "FROM dms_orders GROUP BY ALL",
    "text_period": "SELECT CAST(complete_date AS VARCHAR) AS period, SUM(total_amount) AS value "
    "FROM dms_orders GROUP BY ALL",
    "rollup": "SELECT strftime(complete_date, '%Y-%m') AS period, order_type, SUM(total_amount) "
    "AS value FROM dms_orders GROUP BY ROLLUP (strftime(complete_date, '%Y-%m'), order_type)",
    "own_column": "SELECT strftime(complete_date, '%Y-%m') AS period, order_type AS v0, "
    "SUM(total_amount) AS value FROM dms_orders GROUP BY ALL",
    "partial_group": "SELECT strftime(complete_date, '%Y-%m') AS period, order_type, "
    "SUM(total_amount) AS value FROM dms_orders GROUP BY strftime(complete_date, '%Y-%m'), "
    "order_type, store_id",
}


def _spec(metric: str, sql: str) -> MetricSql:
    return MetricSql(metric, "dms", sql, None, TABLES)


def _fusable_specs() -> list[MetricSql]:
    return [_spec(m, _KEYS.format(value=v, where=w)) for m, (v, w) in FUSABLE.items()]


@pytest.mark.parametrize("name", sorted(ALONE))
def test_other_shapes_run_alone(name: str) -> None:
    tree = sqlglot.parse_one(ALONE[name], read="duckdb")
    assert shape_of(name, tree, "postgres") is None  # type: ignore[arg-type]


def test_the_simple_shape_fuses_and_groups_by_source_and_keys() -> None:
    specs = _fusable_specs()
    other = _spec(
        "by_store",
        "SELECT strftime(o.complete_date, '%Y-%m') AS period, s.store_name AS store, "
        "SUM(o.total_amount) AS value FROM dms_orders o JOIN dms_stores s USING (store_id) "
        "GROUP BY 1, 2",
    )
    shapes = [shape_of(s.metric, checked_sql(s, "postgres"), "postgres") for s in [*specs, other]]
    assert all(shapes)
    found = groups([s for s in shapes if s is not None])
    assert [[s.metric for s in g] for g in found] == [list(FUSABLE), ["by_store"]]
    fused = fused_sql(found[0], Rollup(grain=("order_type", "store")), "postgres")
    assert fused.sql.count("FILTER(WHERE") >= len(FUSABLE)
    assert "dms_orders" in fused.sql and fused.sql.count("FROM dms_orders") == 1


def _same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], what: str) -> None:
    """The same rows (keys exactly), values equal but for the order the engine added them in:
    a plan that sorts a group's rows and one that hashes them feed SUM/AVG of doubles in
    another order (PostgreSQL does so for the same query under another plan too), which can
    move the last binary digit — 1e-12 relative is a thousand times that, and far below any
    digit a report prints."""
    assert [r[:-1] for r in got] == [r[:-1] for r in want], what
    for a, b in zip(got, want, strict=True):
        if a[-1] is None or b[-1] is None:
            assert a[-1] is b[-1] is None, (what, a, b)
        else:
            assert math.isclose(a[-1], b[-1], rel_tol=1e-12, abs_tol=1e-9), (what, a, b)


def _one_by_one(engine: Any, spec: MetricSql, rollup: Rollup) -> list[tuple[Any, ...]]:
    sql = aggregate_sql(checked_sql(spec, engine.dialect), rollup, engine.dialect)
    return sorted(engine.run(sql).rows, key=lambda r: repr(r[:-1]))


@pytest.mark.parametrize(
    "rollup",
    [
        Rollup(grain=("order_type", "store")),
        Rollup(grain=("order_type", "store"), start="2025-03", end="2026-02"),
        Rollup(grain=("order_type", "store"), periods=("2025-01", "2025-07", "2026-06")),
        Rollup(grain=("order_type", "store"), start="2026-01", where={"store": "南山店"}),
    ],
    ids=["all", "range", "periods", "from-member"],
)
def test_fused_rows_equal_each_metric_alone(warehouse: Warehouse, rollup: Rollup) -> None:
    engine = open_engine(SecretUrl(warehouse.url))
    try:
        specs = _fusable_specs()
        shapes = [shape_of(s.metric, checked_sql(s, engine.dialect), engine.dialect) for s in specs]
        assert all(shapes)
        fused = fused_sql([s for s in shapes if s is not None], rollup, engine.dialect)
        got = split(fused, engine.run(fused.sql).rows)
        for spec in specs:
            alone = _one_by_one(engine, spec, rollup)
            assert alone, spec.metric
            _same(sorted(got[spec.metric], key=lambda r: repr(r[:-1])), alone, spec.metric)
        assert len(got["avg_hours"]) < len(got["all_rows"])  # groups only some metrics reach
        assert any(r[-1] is None for r in got["va_max"])  # a NULL value stays a NULL value
    finally:
        engine.close()


def _cache_rows(root: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = sqlite3.connect(ValuesCache(root).path)
    try:
        rows = con.execute(
            "SELECT metric, period, members, query_hash, value FROM metric_rows ORDER BY 1, 2, 3"
        ).fetchall()
        meta = con.execute(
            "SELECT metric, query_hash, system, dims, period_len FROM metric_meta ORDER BY 1"
        ).fetchall()
        return rows, meta
    finally:
        con.close()


def _same_cache(a: Path, b: Path) -> None:
    (rows_a, meta_a), (rows_b, meta_b) = _cache_rows(a), _cache_rows(b)
    assert meta_a == meta_b
    _same(rows_a, rows_b, "cache")


def _refresh(root: Path, fuse: Any, **kw: Any) -> Any:
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    try:
        return refresh_engine(engine, fuse=fuse if fuse is not True else FusedRefresh(engine), **kw)
    finally:
        engine.close()


def test_refresh_on_postgres_fused_equals_one_by_one(
    tmp_path: Path, postgres_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", postgres_demo.url)
    fused_root = connected_catalog(tmp_path / "fused")
    alone_root = connected_catalog(tmp_path / "alone")
    steps: list[dict[str, Any]] = [
        {"start": "2026-05", "end": "2026-06"},
        {},  # the other 22 months: the probe of what each metric has, then the missing
        {"full": True, "metric_ids": ["revenue", "visits", "atp"]},
    ]
    for step in steps:
        engine = ValuesEngine(fused_root, GraphDefinitions(load_catalog(fused_root)))
        batch = FusedRefresh(engine)
        fused = refresh_engine(engine, fuse=batch, **step)
        engine.close()
        alone = _refresh(alone_root, False, **step)
        assert fused.to_json()["refreshed"] == alone.to_json()["refreshed"]
        assert sorted(fused.unchanged) == sorted(alone.unchanged)
        assert fused.failed == alone.failed
        _same_cache(fused_root, alone_root)
        assert batch.queries, step  # the fused path ran
    assert len(_cache_rows(fused_root)[0]) > 1000
    # 10 of the 11 fusable DMS metrics are by order_type × region × store: ONE query for them
    # (one by one: two each, the periods it has and its rows); atp (by store) is alone
    engine = ValuesEngine(fused_root, GraphDefinitions(load_catalog(fused_root)))
    batch = FusedRefresh(engine)
    report = refresh_engine(engine, full=True, fuse=batch)
    engine.close()
    assert len(batch.queries) == 1 and batch.queries[0].count("FILTER(WHERE") >= 10
    # the demo's other DMS metrics are not tidy rows (one by one reports them, as before)
    assert len(report.refreshed) == 11 and {"revenue", "atp"} <= set(report.refreshed)


def test_a_big_group_is_fused_in_chunks(
    tmp_path: Path, duckdb_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", duckdb_demo.url)
    monkeypatch.setattr("values.refresh_fused.MAX_FUSED", 4)
    root = connected_catalog(tmp_path / "catalog")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    batch = FusedRefresh(engine)
    report = refresh_engine(engine, start="2026-06", end="2026-06", fuse=batch)
    engine.close()
    assert len(batch.queries) == 3  # 10 metrics of one group: 4 + 4 + 2
    assert len(report.refreshed) == 11 and report.refreshed["revenue"] == 18


def test_a_fused_group_that_fails_falls_back_to_one_by_one(
    tmp_path: Path, postgres_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", postgres_demo.url)
    root = connected_catalog(tmp_path / "catalog")
    path = root / "metrics" / "revenue" / "components.yaml"
    text = path.read_text(encoding="utf-8")
    # fails when it runs on PostgreSQL (division by zero), not when it is checked
    path.write_text(
        text.replace("SUM(o.parts_amount) AS value", "SUM(o.parts_amount) / 0 AS value")
    )
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    batch = FusedRefresh(engine)
    report = refresh_engine(engine, start="2026-06", end="2026-06", fuse=batch)
    engine.close()
    assert "division by zero" in report.failed["parts_revenue"]
    assert "'dms'" in report.failed["parts_revenue"]
    assert {"revenue", "labor_revenue", "visits", "atp"} <= set(report.refreshed)
    assert batch.queries  # it was tried fused first


def test_postgres_hashes_the_groups_of_a_fused_query(postgres_demo: Warehouse) -> None:
    """Only the fused query's transaction turns sorting off (its plan, never its rows)."""
    engine = open_engine(SecretUrl(postgres_demo.url))
    try:
        ask = "SELECT current_setting('enable_sort'), current_setting('transaction_read_only')"
        assert engine.run(ask, hash_groups=True).rows == [("off", "on")]
        assert engine.run(ask).rows == [("on", "on")]  # the next transaction: as the server has it
    finally:
        engine.close()
