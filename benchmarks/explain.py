"""Benchmark: ``explain`` over 1,000,000 value rows (3 dimensions × 24 months), embedded.

``python -m benchmarks.explain [--rows-per-metric N] [--repeat 5] [--period P --base B]``
(``--period 2025-Q4 --base qoq``: quarters rolled up from the stored months)

A synthetic catalog: 营收 (``revenue``, observed, ``drivers: visits * atp``), 进厂台次
(``visits``, observed) and 客单价 (``atp = revenue / visits``, derived) by ``store`` (100) ×
``product`` (53) × ``channel`` (4) × 24 months = 1,017,600 rows in ``values/values.parquet``.
Measured apart: loading and validating the values into DuckDB (once per process), and each
``explain … --by store,product`` (total wall time and the DuckDB part of it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

STORES, PRODUCTS, CHANNELS, MONTHS = 100, 53, 4, 24

CATALOG = {
    "kpigraph.yaml": "name: explain benchmark\n",
    "dimensions.yaml": (
        "- {id: time, name: 时间}\n- {id: store, name: 门店}\n- {id: product, name: 产品}\n"
        "- {id: channel, name: 渠道}\n"
    ),
    "metrics/m.yaml": (
        "metrics:\n"
        "  - {id: revenue, name: 营收, drivers: visits * atp,\n"
        "     dimensions: [store, product, channel]}\n"
        "  - {id: visits, name: 进厂台次, dimensions: [store, product, channel]}\n"
        "  - {id: atp, name: 客单价, formula: revenue / visits,\n"
        "     dimensions: [store, product, channel]}\n"
    ),
}


def build(root: Path) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    for rel, text in CATALOG.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    rng = np.random.default_rng(7)
    months = [f"{2024 + (i // 12)}-{i % 12 + 1:02d}" for i in range(MONTHS)]
    s, p, c, m = np.meshgrid(
        np.arange(STORES),
        np.arange(PRODUCTS),
        np.arange(CHANNELS),
        np.arange(MONTHS),
        indexing="ij",
    )
    s, p, c, m = (x.ravel() for x in (s, p, c, m))
    n = s.size
    visits = rng.poisson(40, n).astype(float) + 1
    ticket = 800 + 40 * p + rng.normal(0, 30, n)
    visits[(s == 7) & (m == MONTHS - 1)] *= 0.3  # a planted drop in store S007's last month
    revenue = np.round(visits * ticket, 2)
    stores = np.array([f"S{i:03d}" for i in range(STORES)])[s]
    products = np.array([f"P{i:02d}" for i in range(PRODUCTS)])[p]
    channels = np.array(["到店", "线上", "电话", "外拓"])[c]
    periods = np.array(months)[m]
    table = pa.table(
        {
            "metric": np.concatenate([np.full(n, "revenue"), np.full(n, "visits")]),
            "period": np.concatenate([periods, periods]),
            "store": np.concatenate([stores, stores]),
            "product": np.concatenate([products, products]),
            "channel": np.concatenate([channels, channels]),
            "value": np.concatenate([revenue, visits]),
        }
    )
    (root / "values").mkdir(exist_ok=True)
    pq.write_table(table, root / "values" / "values.parquet")
    return table.num_rows


def main() -> None:
    from analysis.explain import explain
    from loaders.catalog import load_catalog
    from values.definitions import GraphDefinitions
    from values.engine import ValuesEngine

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--period", default=None, help="default: the last month")
    parser.add_argument("--base", default="mom")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kpigraph-explain-bench-"))
    rows = build(root)
    graph = load_catalog(root)
    started = time.perf_counter()
    engine = ValuesEngine(root, GraphDefinitions(graph))
    load_s = time.perf_counter() - started
    print(f"rows {rows:,}; load + validate into DuckDB {load_s:.2f} s")
    period = args.period or f"{2024 + (MONTHS - 1) // 12}-{(MONTHS - 1) % 12 + 1:02d}"
    for metric in ("revenue", "atp"):
        walls, duck = [], []
        for _ in range(args.repeat):
            before = engine.duckdb_seconds
            t = time.perf_counter()
            x = explain(engine, metric, period, args.base, by=["store", "product"])
            walls.append(time.perf_counter() - t)
            duck.append(engine.duckdb_seconds - before)
        top = x.dimensions[0]["members"][0]["member"]
        print(
            f"explain {metric} {period} --base {args.base} --by store,product: "
            f"median {statistics.median(walls):.3f} s "
            f"(DuckDB {statistics.median(duck):.3f} s), max {max(walls):.3f} s; "
            f"top member {top}"
        )


if __name__ == "__main__":
    main()
