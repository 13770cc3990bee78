"""Values requests keep being answered while the graph is replaced under them (issue 21, item
5): a reload (``kpigraph load``, an applied change request) makes a new values engine; the old
one is closed only when the last request using it is done, never under it. Real HTTP, many
concurrent readers, 0 errors."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import running_server
from tests.helpers import DEMO
from values.service import engine_for

#: scale it up for a longer run: KPIGRAPH_SECURITY_RELOADS=100 (the issue's 4,600 reads)
READERS = 6
RELOADS = int(os.environ.get("KPIGRAPH_SECURITY_RELOADS", "6"))
PATHS = [
    "/api/metrics/revenue/values?by=store",
    "/api/metrics/atp/eval?period=2026-06&by=store",
    "/api/metrics/revenue/explain?period=2026-06&base=mom&by=store&depth=2",
    "/api/metrics/atp/values",
]


def variant(graph: CatalogGraph, n: int) -> CatalogGraph:
    """``graph`` with the definition text of 营收 changed (as an applied request changes it)."""
    nodes = []
    for node in graph.nodes:
        if isinstance(node, Metric) and node.id == "revenue":
            node = node.model_copy(update={"definition": f"{node.definition} (修订 {n})"})
        nodes.append(node)
    return CatalogGraph(name=graph.name, nodes=tuple(nodes), edges=graph.edges, meta=graph.meta)


def test_values_reads_during_reloads_never_fail(tmp_path: Path) -> None:
    db = tmp_path / "v.sqlite"
    store = EmbeddedStore(db)
    graph = load_catalog(DEMO)
    store.load(graph)
    app = create_app(Settings(backend="embedded", db=db, notify=False), store=store)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    done = threading.Event()
    lock = threading.Lock()
    with running_server(app) as base:

        def reader(n: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                i = n
                while not done.is_set():
                    path = PATHS[i % len(PATHS)]
                    i += 1
                    try:
                        r = client.get(path)
                        key = str(r.status_code)
                        if r.status_code != 200:
                            failures.append(f"{path}: {r.status_code} {r.text[:200]}")
                    except httpx.HTTPError as exc:
                        key = type(exc).__name__
                        failures.append(f"{path}: {exc!r}")
                    with lock:
                        outcomes[key] += 1

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
        for t in threads:
            t.start()
        engines = []
        try:
            for n in range(RELOADS):
                seen = sum(outcomes.values())
                deadline = time.monotonic() + 60
                while sum(outcomes.values()) < seen + READERS and time.monotonic() < deadline:
                    time.sleep(0.05)  # requests are in flight on the current engine
                store.load(variant(graph, n))  # the next request builds a new engine
                engines.append(engine_for(store))
        finally:
            time.sleep(0.5)
            done.set()
            for t in threads:
                t.join(timeout=120)
    store.close()
    print(f"{sum(outcomes.values())} reads, {RELOADS} engine replacements: {dict(outcomes)}")
    assert not failures, failures[:5]
    assert len({id(e) for e in engines}) == RELOADS, "the engine was not replaced each time"
    assert outcomes["200"] >= READERS * RELOADS, outcomes
