"""Run by test_incremental_reload in a child process: reload a catalog through the per-file
cache, report when the store starts writing, then wait to be killed (before the commit).

usage: python -m tests.contract.reload_child CATALOG CACHE embedded PATH
       python -m tests.contract.reload_child CATALOG CACHE neo4j URI USER PASSWORD
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    from core.publish import publish
    from loaders.catalog import load_catalog
    from loaders.catalog_cache import FileCache
    from store.base import GraphStore

    catalog, cache_root, backend = argv[0], Path(argv[1]), argv[2]
    store: GraphStore
    if backend == "embedded":
        from store.embedded import EmbeddedStore

        store = EmbeddedStore(argv[3])
    else:
        from store.neo4j import Neo4jStore, connect

        store = Neo4jStore(connect(argv[3], argv[4], argv[5]), uri=argv[3])
    graph = load_catalog(catalog, cache=FileCache.for_catalog(catalog, cache_root))

    def progress(done: int, total: int) -> None:
        print("writing", flush=True)
        time.sleep(120)  # killed here, inside the load's transaction

    publish(store, graph, progress=progress)
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
