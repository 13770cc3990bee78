"""One answer, one graph: readers never mix two loads in one answer (issue #12, item 1).

A writer alternates loads of the demo catalog and a copy whose every name ends in ``·V2``,
through its own handle (as ``kpigraph load`` does beside a running server). Readers compute
answers that need several store calls each (impact, a node card, lineage, paths, a search
page with its departments) from one snapshot and check that every name in an answer comes
from one catalog. Bounded: a few loads, a few seconds, on both backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from analysis.card import node_card
from analysis.impact import impact
from analysis.lineage import lineage
from analysis.paths import find_paths
from analysis.results import Direction
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from store.base import GraphReader, GraphReplacedError, GraphStore, SearchQuery

pytestmark = pytest.mark.neo4j

V2 = "·V2"
LOADS = 8
READERS = 2


def renamed(graph: CatalogGraph, suffix: str = V2) -> CatalogGraph:
    """The same graph with every node's name (and the catalog's) ending in ``suffix``."""
    nodes = tuple(n.model_copy(update={"name": n.name + suffix}) for n in graph.nodes)
    return CatalogGraph(name=graph.name + suffix, nodes=nodes, edges=graph.edges, meta=graph.meta)


def names_in(value: Any) -> Iterator[str]:
    """Every ``name`` value anywhere in a JSON-like answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("name", "catalog") and isinstance(item, str):
                yield item
            else:
                yield from names_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from names_in(item)


def answers(reader: GraphReader) -> list[Any]:
    """Answers that each take several reads of the store."""
    field = NodeRef.parse("Field:dms.dms_orders.total_amount")
    atp = NodeRef.parse("atp")
    page = reader.search(SearchQuery(text="率", limit=5))
    depts = reader.get_nodes(NodeRef(NodeKind.DEPARTMENT, "finance") for _ in range(1))
    return [
        impact(reader, field).model_dump(),
        node_card(reader, atp).model_dump(),
        lineage(reader, atp, Direction.BOTH, 2).model_dump(),
        find_paths(reader, NodeRef.parse("visits"), atp, 3, 3).model_dump(),
        {
            "catalog": reader.info().catalog,
            "items": [{"name": n.name} for n in page.items],
            "depts": [{"name": n.name} for n in depts.values()],
        },
    ]


def mixed(answer: Any) -> bool:
    found = {name.endswith(V2) for name in names_in(answer)}
    return len(found) > 1


def run_readers_during_loads(
    writer: GraphStore, reader_store: GraphStore, graphs: list[CatalogGraph]
) -> tuple[int, int, int]:
    """(answers, mixed answers, retryable refusals) while ``writer`` loads ``graphs`` in turn."""
    done = threading.Event()
    lock = threading.Lock()
    counts = {"answers": 0, "mixed": 0, "replaced": 0}
    failures: list[BaseException] = []

    def read() -> None:
        try:
            while not done.is_set():
                try:
                    got = answers(reader_store.snapshot())
                except GraphReplacedError:
                    with lock:
                        counts["replaced"] += 1
                    continue
                with lock:
                    counts["answers"] += len(got)
                    counts["mixed"] += sum(mixed(a) for a in got)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    for t in threads:
        t.start()
    try:
        for i in range(LOADS):
            writer.load(graphs[i % 2])
            # readers get answers in between (Neo4j: ~0.1 s each): at least 0.25 s, and until
            # one more answer came (up to 20 s: on a busy machine a whole answer set may take
            # longer than 0.25 s, and the next load would refuse it as replaced every time)
            before = counts["answers"]
            time.sleep(0.25)
            deadline = time.monotonic() + 20
            while counts["answers"] == before and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)
    assert not failures, failures
    return counts["answers"], counts["mixed"], counts["replaced"]


def test_no_answer_mixes_two_loads(
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    writer = make_store()
    writer.load(demo_graph)
    reader_store = reopen_store(writer)
    try:
        total, bad, replaced = run_readers_during_loads(
            writer, reader_store, [renamed(demo_graph), demo_graph]
        )
    finally:
        reader_store.close()
    with capsys.disabled():
        print(f"\n[{backend}] answers={total} mixed={bad} refused-as-replaced={replaced}")
    assert total > 0
    assert bad == 0, f"{bad} of {total} answers mixed two loads"


def test_snapshot_names_its_generation(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(demo_graph)
    first = store.snapshot()
    assert first.generation
    assert store.snapshot().generation == first.generation  # nothing loaded since
    store.load(renamed(demo_graph))
    second = store.snapshot()
    assert second.generation != first.generation
    atp = NodeRef.parse("atp")
    assert second.get_nodes([atp])[atp].name.endswith(V2)
    assert second.info().catalog.endswith(V2)


def test_pinned_snapshot_keeps_reading_its_generation_in_process(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph, backend: str
) -> None:
    """A snapshot taken before a load, read after it: the old graph whole (embedded keeps the
    old index in memory), or a clear retryable refusal (Neo4j sweeps the old generation) —
    never the new graph's names under the old generation."""
    store = make_store()
    store.load(demo_graph)
    before = store.snapshot()
    assert before.generation  # a reader is pinned by its first read
    store.load(renamed(demo_graph))
    atp = NodeRef.parse("atp")
    if backend == "embedded":
        assert before.get_nodes([atp])[atp].name == "客单价"
        assert not mixed(node_card(before, atp).model_dump())
    else:
        with pytest.raises(GraphReplacedError):
            before.get_nodes([atp])
