"""A load killed midway (SIGKILL, no cleanup) leaves the previous graph whole and readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from graph_schema.graph import CatalogGraph
from store.base import GraphStore, SearchQuery
from tests.helpers import ROOT, synthetic_graph


def test_killed_load_leaves_previous_graph(
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    store = make_store()
    store.load(demo_graph)
    before = store.info()
    if backend == "embedded":
        args = ["embedded", str(store.path), "150000"]  # type: ignore[attr-defined]
    else:
        conn = request.getfixturevalue("neo4j_connection")
        args = ["neo4j", conn.uri, conn.user, conn.password, "150000"]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.contract.load_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "writing", child.stderr.read() if child.stderr else line
        time.sleep(0.3)  # let it write some more
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    # a fresh reader (new connection, new process state) sees the previous graph, whole
    fresh = reopen_store(store)
    try:
        after = fresh.info()
        assert after.catalog == before.catalog
        assert after.counts == before.counts
        assert fresh.get_nodes([n.ref for n in demo_graph.nodes]) == {
            n.ref: n for n in demo_graph.nodes
        }
    finally:
        fresh.close()


def test_search_follows_a_load_made_by_another_handle(
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
) -> None:
    """A reader's search index is built once per load: when another process publishes a new
    graph, the reader's next search ranks the new graph, never a mix of the two."""
    writer = make_store()
    writer.load(demo_graph)
    reader = reopen_store(writer)
    try:
        assert reader.search(SearchQuery(text="客单价")).items[0].id == "atp"
        writer.load(synthetic_graph(40, name="small"))
        assert reader.search(SearchQuery(text="客单价")).total == 0
        page = reader.search(SearchQuery(text="m1"))
        assert [n.id for n in page.items] == ["m1", *(f"m{i}" for i in range(10, 20))]
        writer.load(demo_graph)
        assert reader.search(SearchQuery(text="客单价")).items[0].id == "atp"
    finally:
        reader.close()
