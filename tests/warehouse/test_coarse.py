"""Quarters and years from the values cache (values/coarse.py): a sum metric's quarter is the sum
of its cached months; a rate (``aggregation: none``) is asked of the warehouse at the quarter
and the year and kept beside its months — the quarter's rate recomputed over its rows, not a
mean of monthly rates. Hand-computed on ten orders in a DuckDB warehouse file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analysis.evaluate import evaluate
from analysis.explain import explain
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from values.cache import refresh_engine
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.errors import ValuesQueryError
from values.refresh_fused import FusedRefresh

#: (day, store, ok): 完工 ok=1
ORDERS = [
    ("2025-10-10", "A", 1), ("2025-11-11", "B", 0),                          # 2025-Q4: 1/2
    ("2026-01-05", "A", 1), ("2026-02-03", "A", 1), ("2026-02-10", "A", 0),  # 2026-Q1: 2/5
    ("2026-02-20", "A", 0), ("2026-03-15", "B", 0),
    ("2026-04-01", "A", 1), ("2026-05-02", "A", 1), ("2026-06-01", "A", 0),  # 2026-Q2: 4/5
    ("2026-06-30", "A", 1), ("2026-05-15", "B", 1),
]  # fmt: skip
FIELDS = "fields: [wh.orders.day, wh.orders.store, wh.orders.ok]\n"
FILES: dict[str, str | bytes | None] = {
    "dimensions.yaml": "- {id: time, name: 时间}\n- {id: store, name: 门店}\n",
    "sources.yaml": (
        "- id: wh\n  name: 数仓\n  dialect: duckdb\n  connection: {env: KPIGRAPH_CONN_WH}\n"
        "  tables:\n    - id: orders\n      name: 工单表\n      fields:\n"
        "        - {id: day, name: 完成日期, type: date}\n"
        "        - {id: store, name: 门店, type: string}\n"
        "        - {id: ok, name: 是否完工, type: integer}\n"
    ),
    "metrics/revenue.yaml": None,
    "metrics/visits.yaml": None,
    "metrics/atp.yaml": None,
    "metrics/orders_n.yaml": (
        "id: orders_n\nname: 工单数\nlevel: L1\nowner: ops\naggregation: sum\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, store, COUNT(*) AS value "
        "FROM orders GROUP BY ALL\n"
    ),
    "metrics/ok_rate.yaml": (
        "id: ok_rate\nname: 完工率\nlevel: L1\nowner: ops\naggregation: none\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, SUM(ok) * 1.0 / COUNT(*) AS value "
        "FROM orders GROUP BY strftime(day, '%Y-%m')\n"
    ),
    "metrics/ok_avg.yaml": (
        "id: ok_avg\nname: 月完工率均值\nlevel: L1\nowner: ops\naggregation: avg\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, AVG(ok) AS value FROM orders "
        "GROUP BY ALL\n"
    ),
    "metrics/orders_last.yaml": (
        "id: orders_last\nname: 期末工单数\nlevel: L1\nowner: ops\naggregation: last\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, store, COUNT(*) AS value FROM orders "
        "GROUP BY ALL\n"
    ),
    # the same shape as ok_rate: both are fetched by one fused query, quarters and years too
    "metrics/fail_rate.yaml": (
        "id: fail_rate\nname: 未完工率\nlevel: L1\nowner: ops\naggregation: none\n" + FIELDS
        + "sql: SELECT strftime(day, '%Y-%m') AS period, SUM(1 - ok) * 1.0 / COUNT(*) AS value "
        "FROM orders GROUP BY strftime(day, '%Y-%m')\n"
    ),
}  # fmt: skip


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (day DATE, store VARCHAR, ok INTEGER)")
    con.executemany("INSERT INTO orders VALUES (CAST(? AS DATE), ?, ?)", ORDERS)
    con.close()
    monkeypatch.setenv("KPIGRAPH_CONN_WH", f"duckdb:///{db}")
    root = write_catalog(tmp_path / "catalog", FILES)
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    batch = FusedRefresh(engine)
    report = refresh_engine(engine, fuse=batch)
    engine.close()
    assert set(report.refreshed) == {"orders_n", "ok_rate", "fail_rate", "ok_avg", "orders_last"}
    assert not report.failed
    assert len(batch.queries) == 2  # by month: the three rates; by month × store: the counts
    db.unlink()  # from here on only the cache answers
    return root


def _engine(root: Path) -> ValuesEngine:
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def test_a_rate_is_recomputed_at_the_quarter_and_year(root: Path) -> None:
    engine = _engine(root)
    monthly = engine.frame("ok_rate", start="2026-01", end="2026-06")[()]
    assert monthly["2026-02"] == pytest.approx(1 / 3) and monthly["2026-03"] == 0.0
    quarters = engine.frame("ok_rate", periods=["2025-Q4", "2026-Q1", "2026-Q2"])
    # 2/5 and 4/5 — the means of the monthly rates would be 0.444 and 0.833
    assert quarters == {(): {"2025-Q4": 0.5, "2026-Q1": 0.4, "2026-Q2": 0.8}}
    assert engine.frame("ok_rate", periods=["2025", "2026"]) == {(): {"2025": 0.5, "2026": 0.6}}
    fails = engine.frame("fail_rate", periods=["2026-Q1", "2026-Q2"])
    assert fails == {(): {"2026-Q1": 0.6, "2026-Q2": 0.2}}
    assert engine.frame("fail_rate", periods=["2026"]) == {(): {"2026": 0.4}}
    assert "ok_rate" in engine.fetched  # from the cache: the warehouse file is gone
    with pytest.raises(ValuesQueryError, match="aggregation: none"):
        engine.frame("ok_rate", periods=["2026-Q3"])  # no row of that quarter: not a mean
    # weeks and retail periods are asked of the engine too (by the fused query's metrics as
    # by any): W06 (02-02 … 02-08) 1/1, W07 (02-09 … 02-15) 0/1; R2026-Q1 (Sun 02-01 … Sat
    # 05-02): 02-03, 04-01 and 05-02 of six orders = 3/6
    assert engine.frame("ok_rate", periods=["2026-W06", "2026-W07"]) == {
        (): {"2026-W06": 1.0, "2026-W07": 0.0}
    }
    assert engine.frame("fail_rate", periods=["R2026-Q1"]) == {(): {"R2026-Q1": 0.5}}
    with pytest.raises(ValuesQueryError, match=r"week|周"):
        engine.frame("ok_rate", periods=["2026-W10"])  # no order that week: no mean of months
    engine.close()


def test_a_sum_metric_rolls_its_cached_months_up(root: Path) -> None:
    engine = _engine(root)
    by_store = engine.frame("orders_n", ("store",), periods=["2026-Q1", "2026-Q2"])
    assert by_store == {
        ("A",): {"2026-Q1": 4.0, "2026-Q2": 4.0},
        ("B",): {"2026-Q1": 1.0, "2026-Q2": 1.0},
    }
    assert engine.frame("orders_n", periods=["2026"]) == {(): {"2026": 10.0}}
    engine.close()


def test_avg_and_last_roll_their_cached_months_up(root: Path) -> None:
    engine = _engine(root)
    # avg: the unweighted mean of the months' values — Q1: (1 + 1/3 + 0) / 3, Q2: (1 + 1 + 1/2) / 3
    avg = engine.frame("ok_avg", periods=["2026-Q1", "2026-Q2"])[()]
    assert avg == {"2026-Q1": pytest.approx(4 / 9), "2026-Q2": pytest.approx(5 / 6)}
    # last: a stock — the quarter's last month (March: B's 1 order; June: A's 2), by store the
    # store's last month in the quarter (A: February's 3, B: March's 1)
    assert engine.frame("orders_last", periods=["2026-Q1", "2026-Q2"]) == {
        (): {"2026-Q1": 1.0, "2026-Q2": 2.0}
    }
    by_store = engine.frame("orders_last", ("store",), periods=["2026-Q1"])
    assert by_store == {("A",): {"2026-Q1": 3.0}, ("B",): {"2026-Q1": 1.0}}
    engine.close()


def test_eval_and_explain_a_quarter_from_the_cache(root: Path) -> None:
    engine = _engine(root)
    result = evaluate(engine, "ok_rate", "2026-Q2")
    text = repr(result)
    assert "0.8" in text and "0.4" in text, text
    explained = explain(engine, "ok_rate", "2026-Q2", "2026-Q1").to_json()
    assert explained["value"] == pytest.approx(0.8) and explained["base_value"] == pytest.approx(
        0.4
    )
    engine.close()
