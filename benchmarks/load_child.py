"""Load a catalog into a backend in a fresh process, report times and peak RSS as JSON.

usage: python -m benchmarks.load_child CATALOG embedded DB_PATH
       python -m benchmarks.load_child CATALOG neo4j URI
"""

from __future__ import annotations

import json
import resource
import sys
import time

from loaders.catalog import load_catalog


def main(argv: list[str]) -> None:
    catalog, backend, where = argv
    started = time.perf_counter()
    graph = load_catalog(catalog)
    read_s = time.perf_counter() - started
    if backend == "embedded":
        from store.embedded import EmbeddedStore

        store = EmbeddedStore(where)
    else:
        from store.neo4j import Neo4jStore, connect

        store = Neo4jStore(connect(where, "neo4j", "kpigraph", timeout=60), uri=where)
    started = time.perf_counter()
    store.load(graph)
    load_s = time.perf_counter() - started
    store.close()
    items = len(graph.nodes) + len(graph.edges)
    print(
        json.dumps(
            {
                "read_s": round(read_s, 2),
                "load_s": round(load_s, 2),
                "nodes": len(graph.nodes),
                "edges": len(graph.edges),
                "items_per_s": round(items / load_s),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
