"""The store's conflict-key index (issue #23, ``GraphReader.metrics_keyed``): on both backends,
after a first load, an applied change request, a reload of edited files read as a delta and a
full reload, a keyed lookup answers what reading every metric answers; a proposal reads no
list of every metric; an embedded file written before the index answers the same (from the
metrics held in memory) until a load writes the whole index."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from governance.proposal import propose
from graph_schema.governance import Action
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Metric
from graph_schema.rules.conflict import WITH_SQL, lookup_keys, stored_keys
from store import embedded_reader, neo4j_reader
from store.base import GraphReader, GraphStore, SearchQuery, keyed
from store.embedded import EmbeddedStore
from tests.contract import delta_catalog as dc
from tests.contract.test_writeback import apply_change


def _metrics(reader: GraphReader) -> list[Metric]:
    page = reader.search(SearchQuery(kinds=frozenset({NodeKind.METRIC}), limit=10**9))
    return [m for m in page.items if isinstance(m, Metric)]


def _agrees(reader: GraphReader) -> int:
    """Every metric's keys (and a few sets of them) looked up ≡ found by reading them all."""
    metrics = _metrics(reader)
    asked = [stored_keys(m) for m in metrics] + [(WITH_SQL,), ("inputs:",), ("nope:x",)]
    asked.append(tuple(k for m in metrics[:5] for k in lookup_keys(m)))
    for keys in asked:
        assert reader.metrics_keyed(keys) == keyed(metrics, keys), keys
    return len(metrics)


def test_lookups_agree_after_loads_and_applies(store: GraphStore) -> None:
    assert _agrees(store.snapshot()) > 10
    ref = NodeRef(NodeKind.METRIC, "atp")
    old_name = store.get_nodes([ref])[ref].name
    apply_change(store, lambda d: d.update(name="客单价（新）", abbr="ATPN"))
    reader = store.snapshot()
    _agrees(reader)
    assert ref in {m.ref for m in reader.metrics_keyed(["abbr:atpn"])}
    assert ref not in {m.ref for m in reader.metrics_keyed([f"name:{old_name.lower()}"])}


def test_lookups_agree_after_delta_and_full_reloads(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    _agrees(store.snapshot())
    metrics["metrics/group2.yaml"][0]["name"] = "改名后的指标"
    dc.write(catalog, metrics)
    assert dc.load(catalog, store, delta=True).delta
    reader = store.snapshot()
    _agrees(reader)
    assert [m.id for m in reader.metrics_keyed(["name:改名后的指标"])] == [
        metrics["metrics/group2.yaml"][0]["id"]
    ]
    metrics["metrics/group3.yaml"][0]["name"] = "又一个名字"
    dc.write(catalog, metrics)
    assert not dc.load(catalog, store, delta=False).delta
    _agrees(store.snapshot())


def test_a_proposal_reads_no_list_of_every_metric(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name scope is keyed lookups: no search for every metric, and no metric goes
    through the fallback that reads them all."""
    reader_type = type(store.snapshot())
    search = reader_type.search

    def no_metric_list(self: Any, query: SearchQuery) -> Any:
        assert NodeKind.METRIC not in query.kinds, "every metric was read"
        return search(self, query)

    def no_scan(metrics: Any, keys: Any) -> list[Metric]:
        scanned = list(metrics)
        assert not scanned, f"{len(scanned)} metrics read to find their keys"
        return []

    monkeypatch.setattr(reader_type, "search", no_metric_list)
    monkeypatch.setattr(embedded_reader, "keyed", no_scan)
    monkeypatch.setattr(neo4j_reader, "keyed", no_scan)
    ref = NodeRef(NodeKind.METRIC, "atp")
    node: BaseNode = store.get_nodes([ref])[ref]
    definition = {k: v for k, v in node.props().items() if k not in ("version", "history")}
    definition["name"] = "平均客单价"
    found = propose(store, Action.UPDATE, ref, definition, None)
    assert found.change_class is not None


def test_an_embedded_file_without_the_index(tmp_path: Path) -> None:
    """A file written before the index: lookups read the metrics held in memory (same
    answers), and a delta keeps it so; the next load that writes the graph writes it whole."""
    from loaders.catalog import load_catalog
    from tests.helpers import DEMO

    path = tmp_path / "old.sqlite"
    target = EmbeddedStore(path)
    graph = load_catalog(DEMO)
    target.load(graph)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'conflict_keys'")
        conn.execute("DELETE FROM metric_keys")
    _agrees(target.snapshot())
    apply_change(target, lambda d: d.update(abbr="ATPX"))
    _agrees(target.snapshot())
    with sqlite3.connect(path) as conn:
        kept = conn.execute("SELECT count(*) FROM meta WHERE key = 'conflict_keys'").fetchone()
    assert kept[0] == 0  # a delta does not make a partial index complete
    target.load(graph)  # the graph as files say: atp's abbr back, a revision, the index whole
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT count(DISTINCT id) FROM metric_keys").fetchone()[0]
        marked = conn.execute("SELECT count(*) FROM meta WHERE key = 'conflict_keys'").fetchone()
    assert rows == graph.counts()["Metric"] and marked[0] == 1
    _agrees(target.snapshot())
