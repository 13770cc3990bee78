"""What a values refresh costs on each engine: M metrics × 24 months × 3 dimensions from one
fact table of N rows, on PostgreSQL (a private server, as the tests start it), on DuckDB over the
same data as Parquet, and on Spark local mode (its start-up measured apart).

Two ways, as ``kpigraph values refresh`` can run them:

- **one by one**: each metric one query as the values engines run it
  (:func:`values.engines.base.fetch` of :func:`values.engines.base.aggregate_sql`): the metric's
  SQL (DuckDB dialect, transpiled), grouped by the three dimensions and the month in the engine;
- **fused** (what a refresh does since #26's third pass): the metrics that read the same table
  at the same grain in ONE query of ``SUM(x) FILTER (WHERE …)`` columns
  (:mod:`values.engines.fused`); its rows are split per metric, and the metrics also run one by
  one are checked to give the same rows.

    python -m benchmarks.warehouse --rows 10000000 --metrics 100 [--alone-metrics 5]
        [--before-metrics 10] [--no-spark] [--json]

``--alone-metrics N``: on PostgreSQL only the first N metrics one by one (100 take ~17 min);
``--duckdb-alone-metrics N``: the same on DuckDB (default: all; ``postgres_fused_vs_duckdb``
then compares with N metrics, not all).

``--before-metrics N`` also times the first N metrics on PostgreSQL the way kpigraph queried
before the date-range push-down and ``work_mem`` (issue #26's first measurement), on the same
data and server. The load average is recorded around each engine's run, and a fused run's CPU
seconds (``cpu_s``: this process, plus the local PostgreSQL server's processes) — on a shared,
loaded machine a steadier figure than wall time.

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
from values.engines.base import MetricSql, Rollup, aggregate_sql, checked_sql, fetch
from values.engines.connections import SecretUrl
from values.engines.fused import fused_query, groups, shape_of, split

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


def _spec(k: int) -> MetricSql:
    return MetricSql(f"m{k}", "bench", metric_sql(k), "duckdb", frozenset({"fact"}))


ROLLUP = Rollup(grain=tuple(sorted(DIMS)), start="2024-07", end="2026-06")


def _server_cpu(postmaster: int | None) -> float:
    """CPU seconds of a local PostgreSQL's postmaster and the processes it has reaped (its
    backends and parallel workers, once they exit); 0 without one."""
    if postmaster is None:
        return 0.0
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _postmaster(server: Any) -> int | None:
    pid_file = Path(server.socket_dir).parent / "data" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def refresh_fused(
    url: SecretUrl, metrics: int, *, postmaster: int | None = None, **kw: Any
) -> dict[str, Any]:
    """All metrics fetched as a refresh fetches them: fused by table and grain.

    ``cpu_s``: CPU seconds this process spent (DuckDB runs in it) plus, with ``postmaster``,
    those of the PostgreSQL processes that served the run (its connections close at the end, so
    the postmaster has reaped them) — a figure the machine's load changes less than wall time.
    """
    load_at_start = _load()
    _settle(postmaster)  # the loading connection's backend (COPY: ~10 s CPU) counted before
    cpu_at_start = time.process_time() + _server_cpu(postmaster)
    started = time.perf_counter()
    engine = open_engine(url, **kw)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    specs = [_spec(k) for k in range(metrics)]
    shapes = [shape_of(s.metric, checked_sql(s, engine.dialect), engine.dialect) for s in specs]
    assert all(shapes), "every benchmark metric has the fusable shape"
    moved = values = queries = 0
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for group in groups([s for s in shapes if s is not None]):
        fused = fused_query(engine, group, ROLLUP)  # as a refresh: the date column's type asked
        result = fetch(engine, specs[0], lambda _tree, sql=fused.sql: sql, hash_groups=True)
        queries += 1
        moved += len(result.rows)
        rows |= split(fused, result.rows)
    values = sum(len(r) for r in rows.values())
    seconds = time.perf_counter() - started
    engine.close()
    _settle(postmaster)  # until the server has reaped the closed connections' backends
    cpu = time.process_time() + _server_cpu(postmaster) - cpu_at_start
    return {
        "metrics": metrics,
        "queries": queries,
        "cpu_s": round(cpu, 2),
        "open_s": round(opened, 2),
        "refresh_s": round(seconds, 2),
        "per_metric_s": round(seconds / max(1, metrics), 3),
        "rows_moved": moved,
        "values_moved": values,
        "load_avg_start": load_at_start,
        "load_avg_end": _load(),
        "_rows": rows,
    }


def _settle(postmaster: int | None) -> None:
    """Wait (up to 5 s) until the postmaster has reaped every backend that has exited."""
    for _ in range(50):
        if postmaster is None or not _children(postmaster):
            break
        time.sleep(0.1)


def _children(postmaster: int) -> list[int]:
    """The postmaster's backends (not its background processes: their title has no address),
    a connection through the socket (``[local]``, the loading one) included, and exited ones
    not reaped yet (zombies: their CPU is counted once reaped)."""
    out = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                cmd = (status.parent / "cmdline").read_bytes()
                client = (b"127.0.0.1", b"[local]", b"parallel worker")
                if fields[0] == "Z" or any(c in cmd for c in client):
                    out.append(int(status.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def same_rows(fused: dict[str, Any], alone: dict[str, Any]) -> bool:
    """The fused rows of the metrics also run one by one equal theirs (values to 1e-12: the
    engine may add a group's rows in another order)."""
    import math

    for metric, want in alone["_rows"].items():
        got = sorted(fused["_rows"][metric], key=lambda r: repr(r[:-1]))
        want = sorted(want, key=lambda r: repr(r[:-1]))
        if [r[:-1] for r in got] != [r[:-1] for r in want]:
            return False
        for a, b in zip(got, want, strict=True):
            if not math.isclose(a[-1], b[-1], rel_tol=1e-12, abs_tol=1e-9):
                return False
    return True


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
    moved = 0
    rows: dict[str, list[tuple[Any, ...]]] = {}
    started = time.perf_counter()
    for k in range(metrics):
        spec = _spec(k)
        result = fetch(
            engine,
            spec,
            lambda tree: aggregate_sql(tree, ROLLUP, engine.dialect, push_dates=not before),
        )
        moved += len(result.rows)
        rows[spec.metric] = result.rows
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
        "_rows": rows,
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


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


def main() -> None:
    import shutil

    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-bench-wh-"))
    try:
        run(tmp)
    finally:  # the Parquet file and its CSV copy: ~0.5 GB at 10 M rows
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--metrics", type=int, default=100)
    ap.add_argument("--alone-metrics", type=int, default=5)
    ap.add_argument("--before-metrics", type=int, default=0)
    ap.add_argument("--duckdb-alone-metrics", type=int, default=None)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = tmp / "data"
    data.mkdir()
    parquet = data / "fact.parquet"
    started = time.perf_counter()
    make_parquet(parquet, args.rows)
    out: dict[str, Any] = {"rows": args.rows, "metrics": args.metrics, "months": 24, "dims": 3}
    out["generate_s"] = round(time.perf_counter() - started, 2)
    timeout = 3600.0
    duck = SecretUrl("duckdb://")
    duck_n = args.metrics if args.duckdb_alone_metrics is None else args.duckdb_alone_metrics
    duck_alone = refresh(duck, duck_n, data_dir=data, timeout_s=timeout)
    duck_fused = refresh_fused(duck, args.metrics, data_dir=data, timeout_s=timeout)
    out["duckdb_parquet"] = _public(duck_alone)
    out["duckdb_parquet_fused"] = _public(duck_fused) | {"same": same_rows(duck_fused, duck_alone)}
    from tests.warehouse.servers import postgres_server

    with postgres_server() as server:
        started = time.perf_counter()
        load_postgres(server, parquet, tmp)
        out["postgres_load_s"] = round(time.perf_counter() - started, 2)
        pg = SecretUrl(server.url())
        pg_fused = refresh_fused(
            pg, args.metrics, postmaster=_postmaster(server), timeout_s=timeout
        )
        out["postgres_fused"] = _public(pg_fused)
        if args.alone_metrics:
            alone = refresh(pg, args.alone_metrics, timeout_s=timeout)
            out["postgres"] = _public(alone) | {"same_as_fused": same_rows(pg_fused, alone)}
        if args.before_metrics:
            out["postgres_before"] = _public(
                refresh(pg, args.before_metrics, before=True, timeout_s=timeout)
            )
    fused_s = out["postgres_fused"]["refresh_s"]
    out["postgres_fused_vs_duckdb"] = round(fused_s / max(1e-9, duck_alone["refresh_s"]), 2)
    out["postgres_fused_vs_duckdb_fused"] = round(fused_s / max(1e-9, duck_fused["refresh_s"]), 2)
    out["postgres_fused_vs_duckdb_fused_cpu"] = round(
        out["postgres_fused"]["cpu_s"] / max(1e-9, duck_fused["cpu_s"]), 2
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
        spark_url = SecretUrl("local[2]")
        spark_fused = refresh_fused(spark_url, args.metrics, timeout_s=timeout)
        out["spark_local_fused"] = _public(spark_fused)
        if args.alone_metrics:
            alone = refresh(spark_url, args.alone_metrics, timeout_s=timeout)
            out["spark_local"] = _public(alone) | {"same_as_fused": same_rows(spark_fused, alone)}
        spark.stop()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
