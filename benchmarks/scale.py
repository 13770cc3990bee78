"""Scale, round 2 (issue #17): what one process serves, and what it costs, in one run.

usage: python -m benchmarks.scale --size M [--seed 1] [--neo4j-uri bolt://...] [--workdir DIR]
                                  [--clients 1,4,16] [--seconds 10] [--out results.json]

For each backend, against a real ``kpigraph serve`` process:

- HTTP overhead: p50 of the do-nothing endpoint ``/api/ping`` and of ``/api/nodes/{ref}/
  lineage?depth=3``, and the p50 of the raw store work under that endpoint (both walks, the
  labels, the edges among them, on one snapshot) in this process; overhead = endpoint p50 −
  raw p50, reported beside the ping p50 (goal: overhead ≤ 1.5 × ping p50);
- lineage requests/s with N concurrent clients (threads, one HTTP connection each);
- the serving process's RSS after that.

Neo4j only: the first search after ``serve`` starts (answered from Cypher while the index
builds in the background), the Cypher search and the index search side by side, the index
build time and size, the store's size on disk. At S: the naive row-at-a-time loader against the
batched one, the naive run's cleanup timed too.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.run import SEARCH_TERMS, catalog_for, roots, serving, stats, timed
from graph_schema.ids import NodeRef
from graph_schema.relations import LINEAGE_RELATIONS
from loaders.catalog import load_catalog
from neo4j_local import launcher
from store.base import GraphStore, SearchQuery, Walk

ROOT = Path(__file__).resolve().parents[1]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def raw_lineage(store: GraphStore, r: NodeRef) -> object:
    """The store work under the lineage endpoint (depth 3, both ways), without the answer."""
    reader = store.snapshot()
    up = reader.traverse(r, Walk.BACKWARD, LINEAGE_RELATIONS, 3)
    down = reader.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, 3)
    members = [r, *up, *down]
    return reader.labels(members), reader.edges_among(members, LINEAGE_RELATIONS)


def overhead(base: str, store: GraphStore, sample: list[NodeRef]) -> dict[str, Any]:
    """Ping, endpoint and raw p50 in one run, interleaved root by root."""
    ping, http, raw = [], [], []
    with httpx.Client(base_url=base, timeout=120) as client:
        for r in sample[:10]:  # warm-up: plans, connections
            client.get(f"/api/nodes/{r}/lineage", params={"depth": 3})
            client.get("/api/ping")
            raw_lineage(store, r)
        for r in sample:
            ping += timed(lambda: client.get("/api/ping"))
            http += timed(lambda r=r: client.get(f"/api/nodes/{r}/lineage", params={"depth": 3}))
            raw += timed(lambda r=r: raw_lineage(store, r))
    out: dict[str, Any] = {"ping": stats(ping), "endpoint": stats(http), "raw": stats(raw)}
    over = out["endpoint"]["p50_ms"] - out["raw"]["p50_ms"]
    out["overhead_p50_ms"] = round(over, 3)
    out["overhead_over_ping"] = round(over / out["ping"]["p50_ms"], 2)
    return out


def throughput(base: str, sample: list[NodeRef], clients: int, seconds: float) -> dict[str, Any]:
    """Lineage requests/s with ``clients`` concurrent clients for ``seconds``."""
    done: list[float] = []
    errors: list[int] = []
    stop = time.monotonic() + seconds

    def client_loop(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=base, timeout=120) as client:
            while time.monotonic() < stop:
                r = rng.choice(sample)
                started = time.perf_counter()
                resp = client.get(f"/api/nodes/{r}/lineage", params={"depth": 3})
                if resp.status_code != 200:
                    errors.append(resp.status_code)
                done.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "requests": len(done),
        "rps": round(len(done) / elapsed, 1),
        "p50_ms": round(statistics.median(done), 2) if done else None,
        "errors": len(errors),
    }


def first_search(base: str) -> dict[str, Any]:
    """Right after the server answers: the first searches (Cypher while the index builds),
    then the same ones once the index had time to be built."""
    terms = ["营收", "转化率", "m000123", "revenue"]
    with httpx.Client(base_url=base, timeout=120) as client:
        first = [t for term in terms for t in timed(lambda q=term: client.get(_search(q)))]
        time.sleep(30)
        later = [t for term in terms for t in timed(lambda q=term: client.get(_search(q)), 5)]
    return {"first_ms": [round(t, 1) for t in first], "after_30s": stats(later)}


def _search(term: str) -> str:
    return f"/api/metrics?q={term}"


def search_paths(store: Any) -> dict[str, Any]:
    """In this process: Cypher search vs index search per term, and the index build."""
    reader = store.snapshot()
    reader.info()
    gen = reader.generation
    started = time.perf_counter()
    index = reader._build_index(gen)
    build_s = time.perf_counter() - started
    arrays = 0
    for kind in index.kinds.values():
        for blob in (kind.titles, kind.bodies):
            arrays += blob.codes.nbytes + blob.starts.nbytes + blob.freq.nbytes
        arrays += kind.order.nbytes + kind.by_order.nbytes
        arrays += sum(sys.getsizeof(r) for r in kind.refs)
    terms = [t for ts in SEARCH_TERMS.values() for t in ts]
    cypher, idx = [], []
    for term in terms:
        q = SearchQuery(text=term)
        reader._search_cypher(q)  # plan once
        cypher += timed(lambda q=q: reader._search_cypher(q), 5)
        idx += timed(lambda q=q: index.page(q), 5)
    return {
        "index_build_s": round(build_s, 2),
        "index_mb": round(arrays / 1_048_576, 1),
        "cypher_search": stats(cypher),
        "index_search": stats(idx),
    }


def naive_vs_batched(uri: str, graph: Any) -> dict[str, Any]:
    from benchmarks.naive import naive_load
    from store.neo4j import Neo4jStore, connect

    store = Neo4jStore(connect(uri, "neo4j", "kpigraph", timeout=60), uri=uri)
    try:
        store.clear()
        first = timed(lambda s=store: s.load(graph))[0] / 1000  # creates the schema, plans
        # the same whole graph into an emptied database with the schema and plans in place:
        # what the naive loader is compared with (a reload of the same graph writes nothing)
        store.clear()
        batched = timed(lambda s=store: s.load(graph))[0] / 1000
        started = time.perf_counter()
        naive = naive_load(store.driver, graph)
        with_cleanup = time.perf_counter() - started
    finally:
        store.close()
    return {
        "batched_first_load_s": round(first, 2),
        "batched_load_s": round(batched, 2),
        "naive_load_s": round(naive, 1),
        "naive_cleanup_s": round(with_cleanup - naive, 2),
        "speedup": round(naive / batched, 1),
        "speedup_with_cleanup": round(with_cleanup / batched, 1),
    }


def du(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["S", "M", "L"], default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "kpig-sc")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backends", default="neo4j,embedded")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--heap", default="2g", help="the local Neo4j's heap")
    parser.add_argument("--pagecache-mb", type=int, default=256, help="its page cache")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    import psutil

    catalog = catalog_for(args.size, args.seed, args.workdir)
    graph = load_catalog(catalog)
    n_metrics = sum(1 for n in graph.nodes if n.kind.value == "Metric")
    sample, _ = roots(n_metrics, args.seed)
    res: dict[str, Any] = {
        "size": args.size,
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "metrics": n_metrics,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": psutil.cpu_count(),
        "load_avg_start": [round(x, 2) for x in psutil.getloadavg()],
    }
    data_dir = args.workdir / f"neo4j-{args.size}"
    uri = args.neo4j_uri
    started_local = False
    if uri is None and "neo4j" in args.backends:
        uri = launcher.start(
            port=launcher.free_port(),
            data_dir=data_dir,
            heap=args.heap,
            pagecache_mb=args.pagecache_mb,
        ).uri
        started_local = True
    try:
        for backend in args.backends.split(","):
            out: dict[str, Any] = {}
            store: Any
            if backend == "neo4j":
                from store.neo4j import Neo4jStore, connect

                if args.size == "S":
                    out["naive"] = naive_vs_batched(uri, graph)
                    log(f"naive vs batched: {out['naive']}")
                store = Neo4jStore(connect(uri, "neo4j", "kpigraph", timeout=60), uri=uri)
                out["load_s"] = timed(lambda s=store: s.load(graph))[0] / 1000
                env = {"KPIGRAPH_NEO4J_URI": uri}
            else:
                from store.embedded import EmbeddedStore

                db = args.workdir / f"scale-{args.size}.sqlite"
                store = EmbeddedStore(db)
                out["load_s"] = timed(lambda s=store: s.load(graph))[0] / 1000
                env = {"KPIGRAPH_DB": str(db)}
            log(f"{backend}: loaded in {out['load_s']:.1f} s")
            with serving(backend, {**env, "KPIGRAPH_NOTIFY": "false"}) as (base, pid):
                if backend == "neo4j":
                    out["first_search"] = first_search(base)
                    log(f"first search: {out['first_search']}")
                out["overhead"] = overhead(base, store, sample)
                log(f"{backend} overhead: {json.dumps(out['overhead'])}")
                out["throughput"] = [
                    throughput(base, sample, int(n), args.seconds) for n in args.clients.split(",")
                ]
                log(f"{backend} throughput: {out['throughput']}")
                out["serving_rss_mb"] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
            if backend == "neo4j":
                out["search"] = search_paths(store)
                log(f"search paths: {out['search']}")
                if started_local:
                    out["neo4j_data_dir_mb"] = du(data_dir)  # store + transaction logs
            store.close()
            res[backend] = out
    finally:
        if started_local:
            launcher.stop(data_dir)
    res["load_avg_end"] = [round(x, 2) for x in psutil.getloadavg()]
    text = json.dumps(res, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
