"""A delta load's generation gets its search index file from the previous generation's file
with the delta's nodes replaced (store.search_index.patched, issue #23), not built from every
node: after each load of a random edit sequence the new generation's file is there, a reader
takes it without building anything, and it answers every query as an index built from the
store's nodes does. Embedded store (a Neo4j delta's generation builds its index when first read).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from graph_schema.ids import NodeKind
from store.base import SearchQuery
from store.embedded import EmbeddedStore
from store.search_index import SearchIndexBuilder
from tests.contract import delta_catalog as dc

QUERIES = [
    SearchQuery(text="指标"),
    SearchQuery(text="指标1", limit=50),
    SearchQuery(text="新指标"),
    SearchQuery(text="口径", limit=50),
    SearchQuery(text="m1"),
    SearchQuery(text="运营"),
    SearchQuery(department="ops", limit=100),
    SearchQuery(department="finance", limit=100),
    SearchQuery(level="L1", limit=100),
    SearchQuery(kinds=frozenset({NodeKind.METRIC}), limit=100),
    SearchQuery(limit=1000),
    SearchQuery(limit=5, offset=3),
]


def _file_of(store: EmbeddedStore) -> Any:
    file = store.snapshot().index_file()
    for _ in range(300):  # written by a detached process after the load returned
        if file.path.exists():
            return file
        time.sleep(0.05)
    raise AssertionError("no index file for the delta's generation")


@pytest.mark.parametrize(("seed", "threads"), [(3, False), (4, True)])
def test_delta_generation_index_file_is_patched_and_answers_as_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, threads: bool
) -> None:
    """``threads``: another thread runs meanwhile (a server's), so this process may not fork:
    the file is patched by a thread instead (the full suite's own threads did this to the
    forking case: no file was written)."""
    rng = random.Random(seed)
    busy = threading.Event()
    if threads:
        threading.Thread(target=busy.wait, daemon=True).start()
    catalog, metrics = dc.base_catalog(tmp_path)
    store = EmbeddedStore(tmp_path / "s.sqlite")
    try:
        dc.load(catalog, store, delta=True)
        _file_of(store)  # the first load's file (built from the loaded nodes)
        patched = 0
        for step in range(8):
            dc.edit(rng, metrics, catalog, step)
            result = dc.load(catalog, store, delta=True)
            if not result.delta or result.revision is None:
                _file_of(store)
                continue
            file = _file_of(store)
            from_file = file.load()
            assert from_file is not None
            data = store.catalog_data()  # every stored node, as stored
            built = SearchIndexBuilder()
            for ref, props in data.nodes.items():
                built.add(NodeKind(ref.split(":", 1)[0]), ref, props)
            index = built.build()
            for query in QUERIES:
                for kinds in (query.kinds, frozenset({NodeKind.METRIC, NodeKind.DEPARTMENT})):
                    q = dataclasses.replace(query, kinds=kinds)
                    assert from_file.page(q) == index.page(q), (step, q)
            patched += 1
            # a reader (as a server started now) takes the file: building fails the test
            fresh = EmbeddedStore(store.path)
            with monkeypatch.context() as m:
                m.setattr(SearchIndexBuilder, "build", _refuse)
                got = fresh.search(SearchQuery(text="指标", limit=100))
            assert [n.id for n in got.items] == [
                r.split(":", 1)[1] for r in index.page(SearchQuery(text="指标", limit=100))[1]
            ]
            fresh.close()
        assert patched >= 4
    finally:
        busy.set()
        store.close()


def _refuse(*_: Any) -> Any:
    raise AssertionError("the index was built, not read from the delta's file")
