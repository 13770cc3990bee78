"""Both stores keep each generation's search index in a file (store.search_file, issue #17):
a server started after a load on the same machine answers its first search from that file
without building anything; a damaged file is ignored and searches stay correct; a new load
is searched through its own file, never the old one. Neo4j: the index read from a file ranks
exactly as the Cypher search does.

"A server started later" is a second handle on the same data (``reopen_store``): a new
driver / connection and no index in memory, as in a new process. The cache directory is the
session's (tests/conftest.py sets ``KPIGRAPH_CACHE_DIR``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest

from graph_schema.graph import CatalogGraph
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery
from store.search_index import SearchIndexBuilder
from tests.contract.test_search_warm import QUERIES
from tests.helpers import CATALOGS


def _no_build(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """From here on, building an index (or, on Neo4j, ranking in Cypher) fails the test."""

    def refuse(*_: Any) -> Any:
        raise AssertionError("built or ranked without the index file")

    monkeypatch.setattr(SearchIndexBuilder, "build", refuse)
    if backend == "neo4j":
        from store.neo4j_reader import Neo4jReader

        monkeypatch.setattr(Neo4jReader, "_search_cypher", refuse)
        monkeypatch.setattr(Neo4jReader, "_build_index", refuse)


def _written(store: Any) -> Any:
    """The index file of the store's graph, once the load's detached writer wrote it (not
    timed: a load returns before its file is written)."""
    file = store.snapshot().index_file()
    for _ in range(600):
        if file.path.exists():
            return file
        time.sleep(0.1)
    raise AssertionError("the load's index file was never written")


def _ready(store: Any) -> Any:
    """A reader whose search index is ready: waits for a background build (not timed)."""
    for _ in range(600):
        reader = store.snapshot()
        reader.warm()
        if reader.search_index_source is not None:
            return reader
        time.sleep(0.1)
    raise AssertionError("the search index was never ready")


def test_a_server_started_after_a_load_searches_from_the_file(
    backend: str,
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = make_store()
    loaded.load(demo_graph)
    _written(loaded)  # written after the load, from the loaded nodes
    expected = [loaded.search(q) for q in QUERIES]

    _no_build(monkeypatch, backend)
    fresh = reopen_store(loaded)
    try:
        reader = fresh.snapshot()
        assert reader.search_index_source is None  # type: ignore[attr-defined]
        reader.warm()  # type: ignore[attr-defined]  # what `serve` does at start-up
        assert reader.search_index_source == "file"  # type: ignore[attr-defined]
        assert [reader.search(q) for q in QUERIES] == expected
        # a first search without warm() takes the file too (a server that missed it)
        other = reopen_store(loaded)
        try:
            assert other.search(QUERIES[0]) == expected[0]
            assert other.snapshot().search_index_source == "file"  # type: ignore[attr-defined]
        finally:
            other.close()
    finally:
        fresh.close()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "another generation's"])
def test_a_damaged_index_file_is_ignored_and_rebuilt(
    backend: str,
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    damage: str,
) -> None:
    loaded = make_store()
    loaded.load(demo_graph)
    file = _written(loaded)
    expected = [loaded.search(q) for q in QUERIES]
    good = file.path.read_bytes()
    if damage == "truncated":
        file.path.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        file.path.write_bytes(b"\x93NUMPY" + bytes(range(256)) * 64)
    else:  # a valid file of another generation under this generation's name
        other = dataclasses.replace(file, generation=file.generation + "-other")
        assert other.save(SearchIndexBuilder.of_nodes(load_catalog(CATALOGS / "nev_sales").nodes))
        file.path.write_bytes(other.path.read_bytes())
    fresh = reopen_store(loaded)
    try:
        assert [fresh.search(q) for q in QUERIES] == expected  # Cypher / built meanwhile
        reader = _ready(fresh)
        assert reader.search_index_source == "built"
        assert [reader.search(q) for q in QUERIES] == expected
        for _ in range(100):  # the builder writes the file after the build (background)
            if file.load() is not None:
                break
            time.sleep(0.1)
        assert file.load() is not None  # written again, whole
    finally:
        fresh.close()


def test_a_new_load_is_searched_through_its_own_file(
    backend: str,
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = make_store()
    loaded.load(demo_graph)
    first = _written(loaded)
    nev = load_catalog(CATALOGS / "nev_sales")
    loaded.load(nev)
    second = _written(loaded)
    assert second.generation != first.generation and second.path != first.path
    expected = [loaded.search(q) for q in QUERIES]
    _no_build(monkeypatch, backend)
    fresh = reopen_store(loaded)
    try:
        reader = fresh.snapshot()
        reader.warm()  # type: ignore[attr-defined]
        assert reader.search_index_source == "file"  # type: ignore[attr-defined]
        assert reader.index_file().path == second.path  # type: ignore[attr-defined]
        assert [reader.search(q) for q in QUERIES] == expected
        metrics = {n.id for n in nev.nodes if n.kind.value == "Metric"}
        every = reader.search(SearchQuery(text="", limit=1000))
        assert every.total == len(metrics) and {n.id for n in every.items} == metrics
    finally:
        fresh.close()


def test_the_index_from_a_file_ranks_as_cypher_does(
    neo4j_store_factory: Callable[[], Any],
    neo4j_reopen: Callable[[object], Any],
) -> None:
    loaded = neo4j_store_factory()
    loaded.load(load_catalog(CATALOGS / "nev_sales"))
    _written(loaded)
    fresh = neo4j_reopen(loaded)
    try:
        reader = fresh.snapshot()
        reader.warm()
        assert reader.search_index_source == "file"
        index = fresh._indexes.ready(reader.generation)
        matched = 0
        for query in QUERIES:
            assert reader._search_cypher(query) == index.page(query), query
            matched += bool(index.page(query)[0])
        assert matched >= 10
    finally:
        fresh.close()


def test_with_the_cache_off_nothing_is_written_and_search_works(
    backend: str,
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", "off")
    loaded = make_store()
    loaded.load(demo_graph)
    assert loaded.snapshot().index_file() is None  # type: ignore[attr-defined]
    fresh = reopen_store(loaded)
    try:
        assert fresh.search(SearchQuery(text="客单价")).items[0].id == "atp"
        assert _ready(fresh).search_index_source == "built"
    finally:
        fresh.close()
