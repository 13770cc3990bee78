"""What a values refresh costs on each engine: M metrics × 24 months × 3 dimensions from one
fact table of N rows, on PostgreSQL (a private server, as the tests start it), on DuckDB over the
same data as Parquet, and on Spark local mode (its start-up measured apart).

Each metric is one query as the values engines run it (:func:`values.engines.base.fetch` of
:func:`values.engines.base.aggregate_sql`): the metric's SQL (DuckDB dialect, transpiled),
grouped by the three dimensions and the month in the engine; the rows moved are counted.

    python -m benchmarks.warehouse --rows 10000000 --metrics 100 [--before-metrics 10]
        [--no-spark] [--json]

``--before-metrics N`` also times the first N metrics on PostgreSQL the way kpigraph queried
before the date-range push-down and ``work_mem`` (issue #26's first measurement), on the same
data and server. The load average is recorded around each engine's run.

Run from a checkout (it borrows the test suite's PostgreSQL launcher).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from values.engines import open_engine
from values.engines.base import MetricSql, Rollup, aggregate_sql, fetch
from values.engines.connections import SecretUrl

DIMS = ("store", "order_type", "channel")
MEASURES = ("amount", "labor", "parts", "hours", "qty")


def make_parquet(path: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute(
        f"""COPY (
        SELECT 'S' || lpad(CAST(i % 60 AS VARCHAR), 2, '0') AS store,
               ['maintenance','repair','bodyshop','wash','inspection'][1 + (i // 7) % 5]
                   AS order_type,
               ['walk_in','app','phone','dealer'][1 + (i // 13) % 4] AS channel,
               DATE '2024-07-01' + CAST((i * 7919) % 730 AS INTEGER) AS day,
               CAST((i * 31) % 997 AS DOUBLE) + 0.25 AS amount,
               CAST((i * 17) % 311 AS DOUBLE) AS labor,
               CAST((i * 13) % 701 AS DOUBLE) AS parts,
               CAST((i * 3) % 11 AS DOUBLE) / 2 AS hours,
               1 + i % 3 AS qty,
               i % 10 AS bucket
        FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT PARQUET)"""
    )
    con.close()


def metric_sql(k: int) -> str:
    measure = MEASURES[k % len(MEASURES)]
    return (
        "SELECT strftime(day, '%Y-%m') AS period, store, order_type, channel, "
        f"SUM({measure}) AS value FROM fact WHERE bucket <> {k % 10} GROUP BY ALL"
    )


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def refresh(url: SecretUrl, metrics: int, *, before: bool = False, **kw: Any) -> dict[str, Any]:
    """``before``: PostgreSQL as kpigraph queried it first (the server's work_mem, the period
    filtered on its formatted text only)."""
    load_at_start = _load()
    started = time.perf_counter()
    if before:
        from values.engines.postgres import PostgresEngine

        engine: Any = PostgresEngine(url, work_mem_mb=None, **kw)
    else:
        engine = open_engine(url, **kw)
    opened = time.perf_counter() - started
    rollup = Rollup(grain=DIMS, start="2024-07", end="2026-06")
    moved = 0
    started = time.perf_counter()
    for k in range(metrics):
        spec = MetricSql(f"m{k}", "bench", metric_sql(k), "duckdb", frozenset({"fact"}))
        result = fetch(
            engine,
            spec,
            lambda tree: aggregate_sql(tree, rollup, engine.dialect, push_dates=not before),
        )
        moved += len(result.rows)
    seconds = time.perf_counter() - started
    engine.close()
    return {
        "metrics": metrics,
        "open_s": round(opened, 2),
        "refresh_s": round(seconds, 2),
        "per_metric_s": round(seconds / max(1, metrics), 3),
        "rows_moved": moved,
        "load_avg_start": load_at_start,
        "load_avg_end": _load(),
    }


def load_postgres(server: Any, parquet: Path, tmp: Path) -> None:
    csv = tmp / "fact.csv"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER false)")
    con.close()
    with server.admin() as pg:
        pg.execute(
            "CREATE TABLE fact (store text, order_type text, channel text, day date, "
            "amount double precision, labor double precision, parts double precision, "
            "hours double precision, qty integer, bucket integer)"
        )
        with (
            pg.cursor() as cur,
            cur.copy("COPY fact FROM STDIN (FORMAT csv)") as cp,
            csv.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        # as a warehouse's table is: statistics, hint bits set (else the first query pays)
        pg.execute("VACUUM (FREEZE, ANALYZE) fact")
        pg.execute("GRANT SELECT ON fact TO reader")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--metrics", type=int, default=100)
    ap.add_argument("--before-metrics", type=int, default=0)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-bench-wh-"))
    data = tmp / "data"
    data.mkdir()
    parquet = data / "fact.parquet"
    started = time.perf_counter()
    make_parquet(parquet, args.rows)
    out: dict[str, Any] = {"rows": args.rows, "metrics": args.metrics, "months": 24, "dims": 3}
    out["generate_s"] = round(time.perf_counter() - started, 2)
    timeout = 3600.0
    out["duckdb_parquet"] = refresh(
        SecretUrl("duckdb://"), args.metrics, data_dir=data, timeout_s=timeout
    )
    from tests.warehouse.servers import postgres_server

    with postgres_server() as server:
        started = time.perf_counter()
        load_postgres(server, parquet, tmp)
        out["postgres_load_s"] = round(time.perf_counter() - started, 2)
        out["postgres"] = refresh(SecretUrl(server.url()), args.metrics, timeout_s=timeout)
        if args.before_metrics:
            out["postgres_before"] = refresh(
                SecretUrl(server.url()), args.before_metrics, before=True, timeout_s=timeout
            )
    out["postgres_vs_duckdb"] = round(
        out["postgres"]["refresh_s"] / max(1e-9, out["duckdb_parquet"]["refresh_s"]), 2
    )
    if not args.no_spark:
        from pyspark.sql import SparkSession

        started = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
        spark.read.parquet(str(parquet)).createOrReplaceTempView("fact")
        out["spark_start_s"] = round(time.perf_counter() - started, 2)
        out["spark_local"] = refresh(SecretUrl("local[2]"), args.metrics, timeout_s=timeout)
        spark.stop()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
