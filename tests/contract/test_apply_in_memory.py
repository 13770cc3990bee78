"""A serving process that applies a change request keeps its in-memory graph: the delta's rows
are patched into a new generation of it (store.embedded_graph.patched, issue #23), not read
again from the file — and that graph is exactly what reading the file gives. A write of the
ledger's tables only (an approval, by the ledger's own connection) does not make it read the
graph again either. A second server holding the graph from before sees every applied change
on its next read. Embedded store (the in-memory graph is the embedded store's)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import store.embedded as embedded_module
from core.publish import publish
from governance.changes import Governance
from graph_schema.governance import Action, ChangeStatus
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import Relation
from store.base import SearchQuery, Walk
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from store.search_index import SearchIndexBuilder
from tests.governance_helpers import make_people

ATP = NodeRef.parse("Metric:atp")
NEW = NodeRef.parse("Metric:atp_store9")
QUERIES = [
    SearchQuery(text="客单价"),
    SearchQuery(text="第九店"),
    SearchQuery(text="措辞", limit=50),
    SearchQuery(department="ops", limit=100),
    SearchQuery(level="L1", limit=100),
    SearchQuery(limit=1000),
]


@pytest.fixture
def served(tmp_path: Path, demo_graph: CatalogGraph) -> Iterator[tuple[EmbeddedStore, Any]]:
    """The demo in a store read as a server reads it (graph and search index in memory, a
    second thread alive: no fork), with a Governance over it."""
    busy = threading.Event()
    threading.Thread(target=busy.wait, daemon=True).start()
    store = EmbeddedStore(tmp_path / "s.sqlite")
    publish(store, demo_graph)
    store.search(SearchQuery(text="客单价"))  # the graph and its search index read
    try:
        yield store, Governance(store, ledger_for(store))
    finally:
        busy.set()
        store.close()


def _approved(gov: Governance, users: dict[str, Any], change: Any) -> Any:
    for _ in range(5):
        change = gov.get(change.id)
        if change.status is ChangeStatus.APPROVED:
            return change
        for name in ("li", "qian", "wang", "root"):
            try:
                gov.approve(users[name], change.id, "ok")
                break
            except Exception:  # not this user's stage
                continue
    raise AssertionError(f"not approved: {change.status}")


def _definition(store: EmbeddedStore, ref: NodeRef) -> dict[str, Any]:
    props = store.get_nodes([ref])[ref].props()
    return {k: v for k, v in props.items() if k not in ("version", "history")}


def _same_as_file(store: EmbeddedStore) -> None:
    """The store's graph in memory is what a fresh read of its file gives."""
    held = store.snapshot()._index
    fresh = EmbeddedStore(store.path)
    try:
        read = fresh.snapshot()._index
        assert held.generation == read.generation
        assert held.props == read.props
        assert held.succ == read.succ
        assert held.pred == read.pred
        assert held.info == read.info
        assert held.meta == read.meta
    finally:
        fresh.close()


def test_applies_patch_the_held_graph_as_the_file_reads(
    served: tuple[EmbeddedStore, Governance], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, gov = served
    users, _ = make_people(gov.ledger)
    second = EmbeddedStore(store.path)  # another server on the same file, graph read before
    second.snapshot().info()
    reads: list[int] = []
    watching = [True]  # only this store's reads count (not the second's, nor a fresh one's)
    real = embedded_module.build_index

    def counted(*args: Any) -> Any:
        if watching[0]:
            reads.append(1)
        return real(*args)

    monkeypatch.setattr(embedded_module, "build_index", counted)
    steps: list[tuple[Action, NodeRef, dict[str, Any] | None]] = []
    atp = _definition(store, ATP)
    steps.append((Action.UPDATE, ATP, {**atp, "formula": "revenue / visits * 1"}))  # edges
    steps.append((Action.UPDATE, ATP, {**atp, "definition": "客单价（新措辞）"}))
    new = {"name": "第九店客单价", "level": "L3", "owner": "ops", "formula": "revenue / visits"}
    steps.append((Action.CREATE, NEW, new))
    steps.append((Action.UPDATE, NEW, {**new, "formula": "revenue", "rolls_up_to": "atp"}))
    steps.append((Action.DEPRECATE, NEW, None))
    try:
        for i, (action, ref, definition) in enumerate(steps):
            before = store.get_nodes([ref]).get(ref)
            version = before.props().get("version") if before is not None else None
            if definition is not None and before is not None:
                definition = {**_definition(store, ref), **definition}
            change = gov.submit(users["zhang"], action, ref, definition, version, f"step {i}")
            _approved(gov, users, change)
            store.get_nodes([ref])  # the approvals were the ledger's writes: no re-read
            assert reads == [], f"step {i}: the graph was read again after the approvals"
            assert gov.apply(users["root"], change.id).status is ChangeStatus.APPLIED
            got = store.get_nodes([ref])[ref]
            assert reads == [], f"step {i}: the graph was read again after the apply"
            watching[0] = False
            _same_as_file(store)
            # the second server sees the change on its next read
            assert second.get_nodes([ref])[ref].props() == got.props()
            assert second.snapshot().generation == store.snapshot().generation
            watching[0] = True
        inputs = store.edges_of([NEW], Walk.BACKWARD, [Relation.INPUT_TO])
        assert [str(e.source) for e in inputs] == ["Metric:revenue"]
        parents = store.edges_of([NEW], Walk.FORWARD, [Relation.ROLLS_UP_TO])
        assert [str(e.target) for e in parents] == ["Metric:atp"]
        assert NEW in store.traverse(ATP, Walk.BACKWARD, [Relation.ROLLS_UP_TO], None)
        # the search index in memory was patched: it answers as one built from the stored nodes
        built = SearchIndexBuilder()
        for ref_text, props in store.catalog_data().nodes.items():
            built.add(NodeKind(ref_text.split(":", 1)[0]), ref_text, props)
        index = built.build()
        monkeypatch.setattr(SearchIndexBuilder, "build", _refuse)
        for query in QUERIES:
            for kinds in (query.kinds, frozenset({NodeKind.METRIC, NodeKind.DEPARTMENT})):
                q = dataclasses.replace(query, kinds=kinds)
                page = store.search(q)
                assert [str(n.ref) for n in page.items] == index.page(q)[1], q
                assert page.total == index.page(q)[0], q
    finally:
        second.close()


def test_a_load_by_another_process_is_read_again(
    served: tuple[EmbeddedStore, Governance], demo_graph: CatalogGraph
) -> None:
    """Equal meta rows are what keeps the graph: a load through another handle (a new
    generation) is read again, as before."""
    store, _gov = served
    generation = store.snapshot().generation
    other = EmbeddedStore(store.path)
    try:
        nodes = tuple(
            n.model_copy(update={"definition": "别处加载"}) if n.ref == ATP else n
            for n in demo_graph.nodes
        )
        other.load(CatalogGraph(demo_graph.name, nodes, demo_graph.edges, demo_graph.meta))
    finally:
        other.close()
    assert store.snapshot().generation != generation
    assert store.get_nodes([ATP])[ATP].props()["definition"] == "别处加载"
    _same_as_file(store)


def _refuse(*_: Any) -> Any:
    raise AssertionError("the search index was built again, not patched in memory")
