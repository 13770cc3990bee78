"""``kpigraph load`` of a directory where a few files changed is a delta (issue #23,
core/reload.py), on both backends: after every load of a random edit sequence — formulas
changed, metrics added, removed and moved between files, a file deleted, a department renamed,
a reference broken and fixed — the store loaded by deltas holds what a store loaded whole at
every step holds: the same graph digests, the same revision records, the same answers. A
broken edit is refused with its file and line and changes nothing."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from graph_schema.diff import graph_digest
from graph_schema.errors import CatalogError
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.contract import delta_catalog as dc


@pytest.mark.parametrize("seed", [1, 2])
def test_delta_loads_equal_full_loads(
    make_store: Callable[[], GraphStore], tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    catalog, metrics = dc.base_catalog(tmp_path)
    # the reference is loaded whole into an embedded store (Neo4j has one database; the
    # backends' answers agree, tests/contract/test_backends_agree.py)
    by_delta, whole = make_store(), EmbeddedStore(tmp_path / "whole.sqlite")
    first = dc.load(catalog, by_delta, delta=True)
    assert not first.delta and first.how is not None and "first load" in first.how
    dc.load(catalog, whole, delta=False)
    kinds: list[str] = []
    deltas = 0
    for step in range(10):
        kinds.append(dc.edit(rng, metrics, catalog, step))
        a = dc.load(catalog, by_delta, delta=True)
        b = dc.load(catalog, whole, delta=False)
        assert not b.delta
        deltas += a.delta
        assert (a.revision, a.auto_versions) == (b.revision, b.auto_versions), kinds
        assert dc.state(by_delta) == dc.state(whole), kinds
        # the files' graph, whatever the history: as a full read of them says
        graph = load_catalog(catalog)
        assert by_delta.info().meta["source_digest"] == graph_digest(graph.nodes, graph.edges)
    assert deltas >= 6, kinds  # most one- and two-file edits were deltas


def test_broken_reference_is_refused_and_changes_nothing(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    before = dc.state(store)

    # a formula refers to a metric that does not exist
    metrics["metrics/group3.yaml"][0]["formula"] = "m1 + nosuch"
    dc.write(catalog, metrics)
    with pytest.raises(CatalogError) as caught:
        dc.load(catalog, store, delta=True)
    issue = caught.value.issues[0]
    assert issue.file == "metrics/group3.yaml" and issue.line == 5, caught.value.issues
    assert "nosuch" in issue.message
    assert dc.state(store) == before

    # a metric another file's formula refers to is removed: reported where it is referred to
    metrics["metrics/group3.yaml"][0]["formula"] = "m1 + m2"
    metrics["metrics/group1.yaml"] = [m for m in metrics["metrics/group1.yaml"] if m["id"] != "m1"]
    dc.write(catalog, metrics)
    with pytest.raises(CatalogError) as caught:
        dc.load(catalog, store, delta=True)
    assert {(i.file, "'m1'" in i.message) for i in caught.value.issues} >= {
        ("metrics/group3.yaml", True)
    }
    assert dc.state(store) == before

    # fixed: the delta loads
    metrics["metrics/group3.yaml"][0]["formula"] = "m2 + m0"
    metrics["metrics/group2.yaml"][0]["formula"] = "m0 * 2"  # m2 used m1
    metrics["metrics/group1.yaml"].append({"id": "m13", "name": "指标13", "formula": "m0"})
    dc.write(catalog, metrics)
    fixed = dc.load(catalog, store, delta=True)
    assert fixed.delta and fixed.revision == before["head"] + 1, fixed.how
    changes = {(c.ref, c.op.value) for c in store.revision(fixed.revision).node_changes}
    assert ("Metric:m1", "removed") in changes and ("Metric:m13", "added") in changes


def test_named_cases_load_whole(make_store: Callable[[], GraphStore], tmp_path: Path) -> None:
    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    for items in list(metrics.values())[:4]:  # six files of fourteen changed: a lot
        items[0]["definition"] = "改"
    dc.write(catalog, metrics)
    (catalog / "dimensions.yaml").write_text("- {id: time, name: 时间维}\n", encoding="utf-8")
    (catalog / "dashboards.yaml").write_text("- {id: board, name: 大屏, kind: pc}\n")
    result = dc.load(catalog, store, delta=True)
    assert not result.delta and result.how == "full load: 6 of 14 files changed", result.how
    (catalog / "kpigraph.yaml").write_text("name: test catalog\nowner: ops\n", encoding="utf-8")
    metrics["metrics/group0.yaml"][0]["definition"] = "又改"
    dc.write(catalog, metrics)
    result = dc.load(catalog, store, delta=True)
    assert not result.delta and result.how and "kpigraph.yaml" in result.how
    assert result.revision == 3
    metrics["metrics/group0.yaml"][0]["definition"] = "再改"
    dc.write(catalog, metrics)
    result = dc.load(catalog, store, delta=True)
    assert result.delta and result.how == "delta: 1 file, 1 metric changed", result.how
    assert dc.load(catalog, store, delta=True).files_unchanged
