"""Run by test_interrupted_load in a child process: start a big load, report, get killed.

usage: python -m tests.contract.load_child embedded PATH N
       python -m tests.contract.load_child neo4j URI USER PASSWORD N
"""

from __future__ import annotations

import sys

from tests.helpers import synthetic_graph


def main(argv: list[str]) -> None:
    if argv[0] == "embedded":
        from store.embedded import EmbeddedStore

        store = EmbeddedStore(argv[1])
        n = int(argv[2])
    else:
        from store.neo4j import Neo4jStore, connect

        store = Neo4jStore(connect(argv[1], argv[2], argv[3]), uri=argv[1])
        n = int(argv[4])
    graph = synthetic_graph(n, name="half-loaded")
    reported = False

    def progress(done: int, total: int) -> None:
        nonlocal reported
        if not reported and done > 0:
            print("writing", flush=True)
            reported = True

    store.load(graph, progress=progress)
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
