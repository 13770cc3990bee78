"""The benchmark runner: ``kpigraph bench run --size S|M|L``.

For each backend, in one run: load time, items/s and peak RSS of the loading process; lineage
latency at depth 1, 3, 6 up and down over a fixed random sample of roots plus heavy roots;
impact of the heaviest roots; search; the HTTP lineage endpoint against a direct call and the
raw traversal; the RSS of a serving process. Side by side: the naive row-at-a-time Neo4j loader
(S and M) and the floor, BFS over a CSR array (``scipy.sparse.csgraph``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from analysis.impact import impact
from analysis.lineage import lineage
from analysis.results import Direction
from benchmarks.generate import SIZES, generate
from graph_schema.ids import NodeRef
from graph_schema.relations import LINEAGE_RELATIONS
from neo4j_local import launcher
from store.base import GraphStore, SearchQuery, Walk

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROOTS = 200
SEARCH_TERMS = {
    "zh": ["营收", "转化率", "客单价12", "满意度", "率"],
    "en": ["revenue", "ticket 1", "conversion", "m000123"],
}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def timed(fn: Callable[[], object], repeats: int = 1) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(pct(samples, 0.95), 3),
        "max_ms": round(max(samples), 3),
        "n": len(samples),
    }


def catalog_for(size: str, seed: int, workdir: Path) -> Path:
    path = workdir / f"catalog-{size}-{seed}"
    if not (path / ".complete").exists():
        generate(SIZES[size], seed, path)
        (path / ".complete").write_text("ok")
    return path


def load_in_child(catalog: Path, backend: str, where: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_child", str(catalog), backend, where],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} load failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def roots(n_metrics: int, seed: int) -> tuple[list[NodeRef], list[NodeRef]]:
    rng = random.Random(seed)
    sample = [
        NodeRef.parse(f"m{i:06d}")
        for i in rng.sample(range(n_metrics), min(SAMPLE_ROOTS, n_metrics))
    ]
    heavy = [NodeRef.parse(f"Field:sys00.t00000.f{i:02d}") for i in range(5)]
    return sample, heavy


def warm_up(store: GraphStore, sample: list[NodeRef], heavy: list[NodeRef]) -> None:
    """One untimed call of every query shape: a server plans each query text once per
    lifetime, and the first call of each would otherwise land in the percentiles."""
    for depth in (1, 3, 6):
        for direction in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            for r in (sample[0], heavy[0]):
                lineage(store, r, direction, depth)
    impact(store, heavy[0])
    for r in (sample[0], heavy[0]):
        store.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, None)
    for terms in SEARCH_TERMS.values():
        for term in terms:
            store.search(SearchQuery(text=term))


def query_benchmarks(store: GraphStore, n_metrics: int, seed: int) -> dict[str, Any]:
    sample, heavy = roots(n_metrics, seed)
    warm_up(store, sample, heavy)
    out: dict[str, Any] = {}
    for depth in (1, 3, 6):
        for direction in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            samples = [
                t
                for r in sample
                for t in timed(lambda r=r, w=direction, d=depth: lineage(store, r, w, d))
            ]
            heavy_samples = [
                t
                for r in heavy
                for t in timed(lambda r=r, w=direction, d=depth: lineage(store, r, w, d))
            ]
            out[f"lineage_d{depth}_{direction.value}"] = stats(samples)
            out[f"lineage_d{depth}_{direction.value}_heavy"] = stats(heavy_samples)
    sizes = [len(impact(store, r).metrics) for r in heavy]
    out["impact_heavy"] = stats([t for r in heavy for t in timed(lambda r=r: impact(store, r), 3)])
    out["impact_heavy"]["affected_metrics_max"] = max(sizes)
    closure_sizes = [len(store.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, None)) for r in heavy]
    out["closure_heavy"] = stats(
        [
            t
            for r in heavy
            for t in timed(lambda r=r: store.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, None), 3)
        ]
    )
    out["closure_heavy"]["nodes_max"] = max(closure_sizes)
    out["closure_sample"] = stats(
        [
            t
            for r in sample
            for t in timed(lambda r=r: store.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, None))
        ]
    )
    for lang, terms in SEARCH_TERMS.items():
        out[f"search_{lang}"] = stats(
            [
                t
                for term in terms
                for t in timed(lambda term=term: store.search(SearchQuery(text=term)), 10)
            ]
        )
    return out


def csr_floor(
    store_db: Path | None, catalog_graph: Any, n_metrics: int, seed: int
) -> dict[str, Any]:
    """BFS over a CSR adjacency of the same lineage edges: the floor for traversals."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    index: dict[str, int] = {}
    for node in catalog_graph.nodes:
        index[str(node.ref)] = len(index)
    src, dst = [], []
    for e in catalog_graph.edges:
        if e.type in LINEAGE_RELATIONS:
            src.append(index[str(e.source)])
            dst.append(index[str(e.target)])
    n = len(index)
    matrix = csr_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    sample, heavy = roots(n_metrics, seed)

    def bfs(ref: NodeRef) -> int:
        return (
            len(
                breadth_first_order(
                    matrix, index[str(ref)], directed=True, return_predecessors=False
                )
            )
            - 1
        )

    return {
        "closure_heavy": stats([t for r in heavy for t in timed(lambda r=r: bfs(r), 3)]),
        "closure_sample": stats([t for r in sample for t in timed(lambda r=r: bfs(r))]),
    }


@contextlib.contextmanager
def serving(backend: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A real ``kpigraph serve`` process (base URL, pid): requests cross a process boundary,
    as a user's do, and the client's own Python work does not compete for the server's GIL."""
    port = launcher.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--backend", backend, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"kpigraph serve --backend {backend} did not come up")
            time.sleep(0.5)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def api_overhead(
    base: str, store: GraphStore, n_metrics: int, seed: int, raw: Callable[[NodeRef], object]
) -> dict[str, Any]:
    """The HTTP lineage endpoint (depth 3, both directions) against a direct ``lineage()``
    call and the raw store work under it, over the same sampled roots."""
    sample, _ = roots(n_metrics, seed)
    with httpx.Client(base_url=base, timeout=120) as client:
        for r in sample[:10]:
            client.get(f"/api/nodes/{r}/lineage")
        http = [
            t
            for r in sample
            for t in timed(lambda r=r: client.get(f"/api/nodes/{r}/lineage", params={"depth": 3}))
        ]
    direct = [t for r in sample for t in timed(lambda r=r: lineage(store, r, Direction.BOTH, 3))]
    raw_t = [t for r in sample for t in timed(lambda r=r: raw(r))]
    out = {"http": stats(http), "direct": stats(direct), "raw": stats(raw_t)}
    out["ratio_api_to_raw_p50"] = round(out["http"]["p50_ms"] / out["raw"]["p50_ms"], 2)
    out["ratio_api_to_direct_p50"] = round(out["http"]["p50_ms"] / out["direct"]["p50_ms"], 2)
    return out


def serving_rss(base: str, pid: int, n_metrics: int, seed: int) -> float:
    """RSS of the serving process after lineage and impact of 50 roots, the heavy roots and a
    search (which builds the search index)."""
    import psutil

    sample, heavy = roots(n_metrics, seed)
    with httpx.Client(base_url=base, timeout=120) as client:
        for r in sample[:50] + heavy:
            client.get(f"/api/nodes/{r}/lineage")
            client.get(f"/api/nodes/{r}/impact")
        client.get("/api/metrics", params={"q": "营收"})
    return round(psutil.Process(pid).memory_info().rss / 1_048_576, 1)


def _open(
    backend: str, where: str
) -> tuple[GraphStore, Callable[[NodeRef], object], dict[str, str]]:
    """A store, the raw traversal to compare the API with, and the env to serve it."""
    if backend == "embedded":
        from store.embedded import EmbeddedStore

        embedded = EmbeddedStore(where)

        def raw_embedded(r: NodeRef) -> object:
            # the store's primitives the endpoint needs, without building the answer
            up = embedded.traverse(r, Walk.BACKWARD, LINEAGE_RELATIONS, 3)
            down = embedded.traverse(r, Walk.FORWARD, LINEAGE_RELATIONS, 3)
            members = [r, *up, *down]
            return embedded.labels(members), embedded.edges_among(members, LINEAGE_RELATIONS)

        return embedded, raw_embedded, {"KPIGRAPH_DB": where}
    from store import neo4j_cypher as cy
    from store.neo4j import Neo4jStore, connect

    neo = Neo4jStore(connect(where, "neo4j", "kpigraph", timeout=60), uri=where)

    def raw_cypher(r: NodeRef) -> object:
        # the same Cypher the endpoint runs (both walks, the nodes, the edges among them),
        # straight through the driver: records only, no models
        def q(text: str, **params: object) -> list[Any]:
            with neo.driver.session(database="neo4j") as session:  # auto-commit, as the store
                return list(session.run(text, params))

        root = str(r)
        found = {root}
        for walk in (Walk.BACKWARD, Walk.FORWARD):
            levels = q(cy.expand_query(walk, LINEAGE_RELATIONS, 3), frontier=[root], seen=[root])[
                0
            ]["levels"]
            found.update(ref for level in levels for ref in level)
        refs = sorted(found)
        nodes = q(cy.GET_LABELS, refs=refs)
        edges = q(cy.edges_among_query(LINEAGE_RELATIONS), refs=refs, dense=cy.DENSE_DEGREE)
        return nodes, edges

    return neo, raw_cypher, {"KPIGRAPH_NEO4J_URI": where}


def run(
    size: str,
    seed: int = 1,
    workdir: Path | None = None,
    backends: tuple[str, ...] = ("embedded", "neo4j"),
    neo4j_uri: str | None = None,
    naive: bool | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every measurement for ``size`` and return the results (also written as JSON)."""
    from loaders.catalog import load_catalog

    workdir = workdir or Path(tempfile.gettempdir()) / "kpigraph-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    n_metrics = SIZES[size]
    started = time.perf_counter()
    catalog = catalog_for(size, seed, workdir)
    log(f"[{size}] catalog ready in {time.perf_counter() - started:.1f}s: {catalog}")
    graph = load_catalog(catalog)
    results: dict[str, Any] = {
        "size": size,
        "seed": seed,
        "metrics": n_metrics,
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        },
        "date": time.strftime("%Y-%m-%d"),
    }
    results["floor"] = csr_floor(None, graph, n_metrics, seed)
    log(f"[{size}] floor: {results['floor']}")
    server = None
    if "neo4j" in backends and neo4j_uri is None:
        server = launcher.start(
            port=launcher.free_port(), data_dir=workdir / "neo4j", heap="8g", pagecache_mb=2048
        )
        neo4j_uri = server.uri
    try:
        for backend in backends:
            where = (
                str(workdir / f"{size}-{seed}.sqlite") if backend == "embedded" else str(neo4j_uri)
            )
            res: dict[str, Any] = {"load": load_in_child(catalog, backend, where)}
            log(f"[{size}] {backend} load: {res['load']}")
            store, raw, env = _open(backend, where)
            if backend == "embedded":
                res["open_ms"] = timed(store.info)[0]
            res["queries"] = query_benchmarks(store, n_metrics, seed)
            log(f"[{size}] {backend} queries done")
            with serving(backend, env) as (base, pid):
                res["api"] = api_overhead(base, store, n_metrics, seed, raw)
                ratio = res["api"]["ratio_api_to_raw_p50"]
                log(f"[{size}] {backend} api: {res['api']['http']} ratio {ratio}")
                res["serving_rss_mb"] = serving_rss(base, pid, n_metrics, seed)
            log(f"[{size}] {backend} serving RSS {res['serving_rss_mb']} MB")
            floor = results["floor"]
            res["vs_floor"] = {
                k: round(res["queries"][k]["p50_ms"] / max(floor[k]["p50_ms"], 1e-6), 1)
                for k in ("closure_heavy", "closure_sample")
            }
            if backend == "neo4j" and (naive if naive is not None else size in ("S", "M")):
                from benchmarks.naive import naive_load

                naive_s = naive_load(store.driver, graph)  # type: ignore[attr-defined]
                res["naive_load_s"] = round(naive_s, 1)
                reload = load_in_child(catalog, backend, where)
                res["batched_speedup"] = round(naive_s / reload["load_s"], 1)
                log(f"[{size}] naive {naive_s:.1f}s vs batched {reload['load_s']}s")
            store.close()
            results[backend] = res
    finally:
        if server is not None:
            launcher.stop(workdir / "neo4j")
    out = workdir / f"results-{size}-{seed}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    log(f"[{size}] results written to {out}")
    return results
