"""Benchmark (#26): ``explain --by`` two dimensions read from the values cache, 1 M cached rows.

``python -m benchmarks.explain_cache [--repeat 7]``

The same synthetic data as :mod:`benchmarks.explain` — 营收 (``revenue``, ``drivers: visits *
atp``), 进厂台次 (``visits``) and 客单价 (``atp = revenue / visits``) by ``store`` (100) ×
``product`` (53) × ``channel`` (4) × 24 months — but held in a **warehouse** (a DuckDB file: a
fact table of one row per store × product × channel × day-of-month), reached through the system's
``connection``, and fetched by ``kpigraph values refresh`` (a subprocess, as a user runs it) into
the values cache: 2 metrics × 508,800 period × member rows = **1,017,600 cached rows**. Then, in one
process as ``serve`` holds it: opening the values engine (the cache read into DuckDB, once per
process and change) and ``explain revenue|atp --by store,product`` (median of ``--repeat``; every
run queries DuckDB again, no result cache). The refresh's own time is reported too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.explain import CHANNELS, MONTHS, PRODUCTS, STORES

CATALOG = {
    "kpigraph.yaml": "name: explain cache benchmark\n",
    "dimensions.yaml": (
        "- {id: time, name: 时间}\n- {id: store, name: 门店}\n- {id: product, name: 产品}\n"
        "- {id: channel, name: 渠道}\n"
    ),
    "sources.yaml": (
        "- id: wh\n  name: 数仓\n  dialect: duckdb\n  connection: {env: KPIGRAPH_CONN_WH}\n"
        "  tables:\n    - id: fact\n      name: 事实表\n      fields:\n"
        "        - {id: day, name: 日期, type: date}\n"
        "        - {id: store, name: 门店, type: string}\n"
        "        - {id: product, name: 产品, type: string}\n"
        "        - {id: channel, name: 渠道, type: string}\n"
        "        - {id: revenue, name: 金额, type: double}\n"
        "        - {id: visits, name: 台次, type: double}\n"
    ),
    "metrics/m.yaml": (
        "metrics:\n"
        "  - id: revenue\n    name: 营收\n    drivers: visits * atp\n    aggregation: sum\n"
        "    dimensions: [time, store, product, channel]\n"
        "    fields: [wh.fact.revenue, wh.fact.day, wh.fact.store, wh.fact.product,"
        " wh.fact.channel]\n"
        "    sql: |\n"
        "      SELECT strftime(day, '%Y-%m') AS period, store, product, channel,\n"
        "             SUM(revenue) AS value\n"
        "      FROM fact GROUP BY ALL\n"
        "  - id: visits\n    name: 进厂台次\n    aggregation: sum\n"
        "    dimensions: [time, store, product, channel]\n"
        "    fields: [wh.fact.visits, wh.fact.day, wh.fact.store, wh.fact.product,"
        " wh.fact.channel]\n"
        "    sql: |\n"
        "      SELECT strftime(day, '%Y-%m') AS period, store, product, channel,\n"
        "             SUM(visits) AS value\n"
        "      FROM fact GROUP BY ALL\n"
        "  - {id: atp, name: 客单价, formula: revenue / visits,\n"
        "     dimensions: [time, store, product, channel]}\n"
    ),
}


def build(root: Path, warehouse: Path) -> int:
    """Write the catalog and the warehouse file; returns the fact table's rows."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    for rel, text in CATALOG.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    rng = np.random.default_rng(7)
    s, p, c, m = np.meshgrid(
        np.arange(STORES), np.arange(PRODUCTS), np.arange(CHANNELS), np.arange(MONTHS),
        indexing="ij",
    )  # fmt: skip
    s, p, c, m = (x.ravel() for x in (s, p, c, m))
    n = s.size
    visits = rng.poisson(40, n).astype(float) + 1
    ticket = 800 + 40 * p + rng.normal(0, 30, n)
    visits[(s == 7) & (m == MONTHS - 1)] *= 0.3  # a planted drop in store S007's last month
    revenue = np.round(visits * ticket, 2)
    days = np.array(
        [np.datetime64(f"{2024 + i // 12}-{i % 12 + 1:02d}-15") for i in range(MONTHS)]
    )[m]
    fact = pa.table(
        {
            "day": pa.array(days.astype("datetime64[D]")),
            "store": np.array([f"S{i:03d}" for i in range(STORES)])[s],
            "product": np.array([f"P{i:02d}" for i in range(PRODUCTS)])[p],
            "channel": np.array(["到店", "线上", "电话", "外拓"])[c],
            "revenue": revenue,
            "visits": visits,
        }
    )
    con = duckdb.connect(str(warehouse))
    con.register("fact_arrow", fact)
    con.execute("CREATE TABLE fact AS SELECT * FROM fact_arrow")
    con.close()
    return int(n)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    from analysis.explain import explain
    from store.embedded import EmbeddedStore
    from values.definitions import StoreDefinitions
    from values.engine import ValuesEngine

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-explain-cache-bench-"))
    root, warehouse = tmp / "catalog", tmp / "wh.duckdb"
    fact_rows = build(root, warehouse)
    os.environ["KPIGRAPH_CONN_WH"] = f"duckdb:///{warehouse}"
    print(f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}")
    db = str(tmp / "k.sqlite")
    subprocess.run(
        [sys.executable, "-m", "cli", "load", str(root), "--db", db],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cpu0, t = _children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "values", "refresh", "--db", db],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    refresh_s, refresh_cpu = time.perf_counter() - t, _children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"values refresh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    import sqlite3

    from values.cache import ValuesCache

    con = sqlite3.connect(ValuesCache(root).path)
    (cached,) = con.execute("SELECT count(*) FROM metric_rows").fetchone()
    con.close()
    print(
        f"fact rows {fact_rows:,}; `values refresh` {refresh_s:.2f} s wall, "
        f"{refresh_cpu:.2f} s CPU; cached rows {cached:,}"
    )
    t, cpu_open = time.perf_counter(), time.process_time()
    engine = ValuesEngine(root, StoreDefinitions(EmbeddedStore(Path(db))))  # as `serve` does
    for metric in ("revenue", "visits"):  # opens both cached tables
        engine.source(metric)
    period = f"{2024 + (MONTHS - 1) // 12}-{(MONTHS - 1) % 12 + 1:02d}"
    explain(engine, "revenue", period, "mom", by=["store", "product"])
    open_s = time.perf_counter() - t
    assert engine.fetched, "explain did not read the values cache"
    print(
        f"open the engine + first explain (the cache read into DuckDB): {open_s:.2f} s wall, "
        f"{time.process_time() - cpu_open:.2f} s CPU"
    )
    for metric in ("revenue", "atp"):
        walls, duck = [], []
        for _ in range(args.repeat):
            before = engine.duckdb_seconds
            t = time.perf_counter()
            x = explain(engine, metric, period, "mom", by=["store", "product"])
            walls.append(time.perf_counter() - t)
            duck.append(engine.duckdb_seconds - before)
        top = x.dimensions[0]["members"][0]["member"]
        print(
            f"explain {metric} {period} --base mom --by store,product (from the cache): "
            f"median {statistics.median(walls):.3f} s (DuckDB {statistics.median(duck):.3f} s), "
            f"max {max(walls):.3f} s; top member {top}"
        )
    for metric in ("revenue", "atp"):  # as a user types it: a new process reads the cache
        cpu0, t = _children_cpu(), time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cli", "explain", metric, "--period", period, "--base",
             "mom", "--by", "store,product", "--db", db, "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(
            f"`kpigraph explain {metric} … --by store,product` (a new process): "
            f"{time.perf_counter() - t:.2f} s wall, {_children_cpu() - cpu0:.2f} s CPU"
        )
    print(f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}")


if __name__ == "__main__":
    main()
