"""``stored_rows`` of a few refs (a delta's changed metrics) names them in the query instead of
going through a temporary table (#23): the same rows either way — nodes by key, every edge
from or to them, a ref the store does not hold left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.publish import publish
from loaders.catalog import load_catalog
from store import embedded_history
from store.embedded import EmbeddedStore
from tests.helpers import DEMO


def test_few_refs_read_the_rows_the_temporary_table_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load_catalog(DEMO)
    store = EmbeddedStore(tmp_path / "s.sqlite")
    publish(store, graph)
    metrics = sorted(str(n.ref) for n in graph.nodes if n.ref.kind.value == "Metric")
    refs = [metrics[0], metrics[len(metrics) // 2], metrics[-1]]
    others = sorted(str(n.ref) for n in graph.nodes if n.ref.kind.value != "Metric")[:2]
    from graph_schema.ids import NodeRef

    wanted = [NodeRef.parse(r) for r in [*refs, *others, "Metric:not_there"]]
    few, none = store.stored_rows(wanted), store.stored_rows([])
    monkeypatch.setattr(embedded_history, "_FEW_ROWS", 0)  # through the temporary table
    whole = store.stored_rows(wanted)
    assert few == whole and none == store.stored_rows([])
    assert not none.nodes and not none.edges
    assert set(few.nodes) == {*refs, *others} and few.edges
    assert all(s in few.nodes or t in few.nodes for s, _type, t in few.edges)
