"""The first search after ``kpigraph serve`` starts (issue #17), with and without the search
index file a load writes (:mod:`store.search_file`), on both backends.

usage: python -m benchmarks.first_search --size S|M|L [--seed 1] [--backends neo4j,embedded]
                                         [--neo4j-uri bolt://...] [--heap 2g] [--pagecache-mb 256]
                                         [--workdir DIR] [--later 30] [--out FILE]

For each backend: the catalog is loaded into a fresh store in this process (the load writes
the index file into this run's own cache directory), then, against a real ``kpigraph serve``
process started twice —

- ``with_file``: the cache directory the load wrote to: the server takes the index from the
  file at start-up;
- ``without_file``: an empty cache directory: the Neo4j server answers from Cypher while it
  builds the index in the background; the embedded one builds it at the first search —

the time from starting the process to ``/health`` answering (Neo4j: its query plans cleared
first, so that each server plans its statements as after a Neo4j restart), the first four
searches right after it (one HTTP request each, in order: 营收, 转化率, m000123, revenue), and
the same four ×5 a little later (p50/p95). In this process: the index built from the loaded
nodes (what the load adds), the file's size, writing and reading it; Neo4j: building from the
store and the Cypher search (the fallback), p50 over the benchmark terms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.run import SEARCH_TERMS, catalog_for, stats, timed
from loaders.catalog import load_catalog
from neo4j_local import launcher
from store.base import SearchQuery
from store.search_file import IndexFile
from store.search_index import SearchIndexBuilder

ROOT = Path(__file__).resolve().parents[1]
FIRST_TERMS = ["营收", "转化率", "m000123", "revenue"]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def serve_and_search(backend: str, env: dict[str, str], later_after: float) -> dict[str, Any]:
    """Start ``kpigraph serve``; time /health, the first searches, and later ones."""
    port = launcher.free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--backend", backend, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            while True:
                try:
                    if client.get("/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.perf_counter() - started > 900:
                    raise RuntimeError(f"kpigraph serve --backend {backend} did not come up")
                time.sleep(0.02)
            health_s = time.perf_counter() - started
            first = []
            for term in FIRST_TERMS:
                t0 = time.perf_counter()
                resp = client.get("/api/metrics", params={"q": term})
                first.append(round((time.perf_counter() - t0) * 1000, 1))
                resp.raise_for_status()
            time.sleep(later_after)
            later = [
                t
                for term in FIRST_TERMS
                for t in timed(lambda q=term: client.get("/api/metrics", params={"q": q}), 5)
            ]
            ping = timed(lambda: client.get("/api/ping"), 20)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "to_health_s": round(health_s, 2),
        "first_ms": first,
        f"after_{later_after:g}s": stats(later),
        "ping_p50_ms": stats(ping)["p50_ms"],  # the HTTP floor in the same run
    }


def first_in_process(backend: str, where: str) -> dict[str, Any]:
    """A new store handle in this process (no index in memory; Neo4j: plans cleared): its
    start-up warm-up (synchronous here), then the first four searches."""
    store: Any
    if backend == "neo4j":
        from store.neo4j import Neo4jStore, connect

        clear_plans(where)
        store = Neo4jStore(connect(where, "neo4j", "kpigraph", timeout=60), uri=where)
    else:
        from store.embedded import EmbeddedStore

        store = EmbeddedStore(where)
    try:
        started = time.perf_counter()
        store.snapshot().warm()
        warm_s = time.perf_counter() - started
        first = [
            round(timed(lambda q=term: store.search(SearchQuery(text=q)))[0], 1)
            for term in FIRST_TERMS
        ]
        source = store.snapshot().search_index_source
    finally:
        store.close()
    return {"warm_s": round(warm_s, 2), "first_ms": first, "index": source}


def clear_plans(uri: str) -> None:
    from store.neo4j import connect

    driver = connect(uri, "neo4j", "kpigraph", timeout=60)
    try:
        driver.execute_query("CALL db.clearQueryCaches()")
    finally:
        driver.close()


def in_process(store: Any, graph: Any, backend: str) -> dict[str, Any]:
    """Index build from the loaded nodes, the file's size, write and read; Neo4j: the build
    from the store and the Cypher search."""
    reader = store.snapshot()
    reader.info()
    file: IndexFile | None = reader.index_file()
    assert file is not None, "the cache is off"
    started = time.perf_counter()
    index = SearchIndexBuilder.of_nodes(graph.nodes)
    out: dict[str, Any] = {"build_from_nodes_s": round(time.perf_counter() - started, 2)}
    out["file_write_s"] = round(timed(lambda: file.save(index))[0] / 1000, 3)
    out["file_mb"] = round(file.path.stat().st_size / 2**20, 1)
    reads = timed(file.load, 5)
    out["file_read_ms"] = {"min": round(min(reads), 1), "max": round(max(reads), 1)}
    if backend == "neo4j":
        gen = reader.generation
        started = time.perf_counter()
        reader._build_index(gen)
        out["build_from_neo4j_s"] = round(time.perf_counter() - started, 2)
        terms = [t for ts in SEARCH_TERMS.values() for t in ts]
        cypher = []
        for term in terms:
            q = SearchQuery(text=term)
            reader._search_cypher(q)  # plan once
            cypher += timed(lambda q=q: reader._search_cypher(q), 3)
        out["cypher_search"] = stats(cypher)
    else:
        from store.embedded import EmbeddedStore

        fresh = EmbeddedStore(store.path)  # the graph read a new server's first request waits for
        started = time.perf_counter()
        fresh._fresh()
        out["graph_read_s"] = round(time.perf_counter() - started, 2)
        fresh.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["S", "M", "L"], default="S")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="neo4j,embedded")
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--heap", default="2g", help="the local Neo4j's heap")
    parser.add_argument("--pagecache-mb", type=int, default=256, help="its page cache")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "kpig-fs")
    parser.add_argument("--later", type=float, default=30.0, help="seconds before the later ones")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    import psutil

    cache = args.workdir / f"cache-{args.size}"
    empty = Path(tempfile.mkdtemp(prefix="kpig-fs-empty-"))
    os.environ["KPIGRAPH_CACHE_DIR"] = str(cache)  # the loads here write their index files there
    catalog = catalog_for(args.size, args.seed, args.workdir)
    graph = load_catalog(catalog)
    res: dict[str, Any] = {
        "size": args.size,
        "nodes": len(graph.nodes),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": psutil.cpu_count(),
        "load_avg_start": [round(x, 2) for x in psutil.getloadavg()],
    }
    data_dir = args.workdir / f"neo4j-{args.size}"
    uri = args.neo4j_uri
    started_local = False
    try:
        for backend in args.backends.split(","):
            out: dict[str, Any] = {}
            store: Any
            if backend == "neo4j":
                from store.neo4j import Neo4jStore, connect

                if uri is None:
                    port = launcher.free_port()
                    uri = launcher.start(
                        port=port,
                        data_dir=data_dir,
                        heap=args.heap,
                        pagecache_mb=args.pagecache_mb,
                    ).uri
                    started_local = True
                store = Neo4jStore(connect(uri, "neo4j", "kpigraph", timeout=60), uri=uri)
                env = {"KPIGRAPH_NEO4J_URI": uri}
            else:
                from store.embedded import EmbeddedStore

                db = args.workdir / f"fs-{args.size}.sqlite"
                db.unlink(missing_ok=True)
                store = EmbeddedStore(db)
                env = {"KPIGRAPH_DB": str(db)}
            env["KPIGRAPH_NOTIFY"] = "false"
            out["load_s"] = round(timed(lambda s=store: s.load(graph))[0] / 1000, 2)
            log(f"{backend}: loaded in {out['load_s']} s (index file written)")
            out["in_process"] = in_process(store, graph, backend)
            log(f"{backend} in process: {out['in_process']}")
            store.close()
            where = uri if backend == "neo4j" else str(db)
            out["first_in_process"] = first_in_process(backend, where)
            log(f"{backend} first searches in process: {out['first_in_process']}")
            for name, where in (("with_file", cache), ("without_file", empty)):
                if backend == "neo4j":  # each server plans its statements, as after a restart
                    clear_plans(uri)
                out[name] = serve_and_search(
                    backend, {**env, "KPIGRAPH_CACHE_DIR": str(where)}, args.later
                )
                log(f"{backend} {name}: {out[name]}")
                for leftover in empty.iterdir():  # the server wrote its file: empty it again
                    leftover.unlink() if leftover.is_file() else _rmtree(leftover)
            res[backend] = out
    finally:
        if started_local:
            launcher.stop(data_dir)
    res["load_avg_end"] = [round(x, 2) for x in psutil.getloadavg()]
    text = json.dumps(res, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
