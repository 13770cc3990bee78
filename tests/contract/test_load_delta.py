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
from typing import Any

import pytest
import yaml

from cli.catalog import publish_directory
from core.i18n import use
from core.publish import PublishResult
from graph_schema.diff import graph_digest
from graph_schema.errors import CatalogError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import Relation
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery, Walk
from store.embedded import EmbeddedStore
from tests.helpers import BASE_FILES

Metrics = dict[str, list[dict[str, Any]]]


def _initial() -> Metrics:
    """Twelve metrics over six files, each formula over metrics of lower number."""
    files: Metrics = {}
    for i in range(12):
        metric: dict[str, Any] = {"id": f"m{i}", "name": f"指标{i}", "owner": "ops"}
        metric["formula"] = f"m{i - 1} + m{i - 2}" if i >= 2 else "revenue / visits"
        files.setdefault(f"metrics/group{i % 6}.yaml", []).append(metric)
    return files


def _write(root: Path, metrics: Metrics) -> None:
    for path in (root / "metrics").glob("group*.yaml"):
        if f"metrics/{path.name}" not in metrics:
            path.unlink()
    for rel, items in metrics.items():
        text = yaml.safe_dump({"metrics": items}, allow_unicode=True, sort_keys=False)
        (root / rel).write_text(text, encoding="utf-8")


def _ids(metrics: Metrics) -> list[str]:
    return [m["id"] for items in metrics.values() for m in items]


def _used(metrics: Metrics) -> set[str]:
    """Metric ids some formula refers to."""
    out: set[str] = set()
    for items in metrics.values():
        for m in items:
            out |= set(str(m.get("formula", "")).replace("+", " ").replace("/", " ").split())
    return out


def _edit(rng: random.Random, metrics: Metrics, root: Path, step: int) -> str:
    """One random valid edit of the catalog (in ``metrics`` or the files); what it was."""
    ids = _ids(metrics)
    removable = [i for i in ids if i not in _used(metrics)]
    kind = rng.choice(["formula", "add", "remove", "move", "delete", "department", "text"])
    if kind == "formula":
        rel = rng.choice(sorted(metrics))
        metric = rng.choice(metrics[rel])
        metric["formula"] = f"revenue * {step + 2}"
    elif kind == "add":
        rel = rng.choice(sorted(metrics))
        metrics[rel].append(
            {"id": f"n{step}", "name": f"新指标{step}", "owner": "finance", "formula": "atp * 2"}
        )
    elif kind == "remove" and removable:
        gone = rng.choice(removable)
        for items in metrics.values():
            items[:] = [m for m in items if m["id"] != gone]
    elif kind == "move" and len(metrics) > 1:
        src, dst = rng.sample(sorted(metrics), 2)
        if metrics[src]:
            metrics[dst].append(metrics[src].pop(0))
    elif kind == "delete":
        for rel in sorted(metrics):
            if all(m["id"] in removable for m in metrics[rel]):
                del metrics[rel]
                break
    elif kind == "department":
        text = BASE_FILES["departments.yaml"].replace("运营部", f"运营部{step}")
        (root / "departments.yaml").write_text(text, encoding="utf-8")
    else:
        rel = rng.choice(sorted(metrics))
        for metric in metrics[rel]:
            metric["definition"] = f"第 {step} 次修订的口径"
    for rel in [r for r, items in metrics.items() if not items]:
        del metrics[rel]
    _write(root, metrics)
    return kind


def _revision(store: GraphStore, number: int) -> dict[str, Any]:
    return store.revision(number).model_dump(mode="json", exclude={"created_at"})


def _answers(store: GraphStore) -> dict[str, Any]:
    metrics = sorted(
        n.id for n in store.search(SearchQuery(kinds=frozenset({NodeKind.METRIC}), limit=500)).items
    )
    refs = [NodeRef(NodeKind.METRIC, m) for m in metrics]
    return {
        "metrics": metrics,
        "nodes": {str(r): n.props() for r, n in store.get_nodes(refs).items()},
        "edges": sorted(
            (str(e.source), e.type.value, str(e.target))
            for e in store.edges_of(refs, Walk.UNDIRECTED, list(Relation))
        ),
        "upstream": sorted(
            str(r) for r in store.traverse(refs[-1], Walk.BACKWARD, list(Relation), None)
        ),
        "search": [n.id for n in store.search(SearchQuery(text="指标", limit=5)).items],
    }


def _state(store: GraphStore) -> dict[str, Any]:
    info = store.info()
    head = store.head()
    return {
        "head": head,
        "digest": info.meta.get("digest"),
        "source_digest": info.meta.get("source_digest"),
        "files": info.meta.get("files"),
        "counts": info.counts,
        "revision": _revision(store, head),
        "snapshot": store.catalog_data(),
        "answers": _answers(store),
    }


def _load(catalog: Path, store: GraphStore, *, delta: bool) -> PublishResult:
    with use("en"):
        return publish_directory(catalog, store, author="t", quiet=True, delta=delta)


@pytest.mark.parametrize("seed", [1, 2])
def test_delta_loads_equal_full_loads(
    make_store: Callable[[], GraphStore], tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    catalog = tmp_path / "cat"
    catalog.mkdir()
    for rel, text in BASE_FILES.items():
        (catalog / rel).parent.mkdir(parents=True, exist_ok=True)
        (catalog / rel).write_text(text, encoding="utf-8")
    metrics = _initial()
    _write(catalog, metrics)
    # the reference is loaded whole into an embedded store (Neo4j has one database; the
    # backends' answers agree, tests/contract/test_backends_agree.py)
    by_delta, whole = make_store(), EmbeddedStore(tmp_path / "whole.sqlite")
    first = _load(catalog, by_delta, delta=True)
    assert not first.delta and first.how is not None and "first load" in first.how
    _load(catalog, whole, delta=False)
    kinds: list[str] = []
    deltas = 0
    for step in range(10):
        kinds.append(_edit(rng, metrics, catalog, step))
        a = _load(catalog, by_delta, delta=True)
        b = _load(catalog, whole, delta=False)
        assert not b.delta
        deltas += a.delta
        assert (a.revision, a.auto_versions) == (b.revision, b.auto_versions), kinds
        assert _state(by_delta) == _state(whole), kinds
        # the files' graph, whatever the history: as a full read of them says
        graph = load_catalog(catalog)
        assert by_delta.info().meta["source_digest"] == graph_digest(graph.nodes, graph.edges)
    assert deltas >= 6, kinds  # most one- and two-file edits were deltas


def test_broken_reference_is_refused_and_changes_nothing(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog = tmp_path / "cat"
    catalog.mkdir()
    for rel, text in BASE_FILES.items():
        (catalog / rel).parent.mkdir(parents=True, exist_ok=True)
        (catalog / rel).write_text(text, encoding="utf-8")
    metrics = _initial()
    _write(catalog, metrics)
    store = make_store()
    _load(catalog, store, delta=True)
    before = _state(store)

    # a formula refers to a metric that does not exist
    metrics["metrics/group3.yaml"][0]["formula"] = "m1 + nosuch"
    _write(catalog, metrics)
    with pytest.raises(CatalogError) as caught:
        _load(catalog, store, delta=True)
    issue = caught.value.issues[0]
    assert issue.file == "metrics/group3.yaml" and issue.line == 5, caught.value.issues
    assert "nosuch" in issue.message
    assert _state(store) == before

    # a metric another file's formula refers to is removed: reported where it is referred to
    metrics["metrics/group3.yaml"][0]["formula"] = "m1 + m2"
    metrics["metrics/group1.yaml"] = [m for m in metrics["metrics/group1.yaml"] if m["id"] != "m1"]
    _write(catalog, metrics)
    with pytest.raises(CatalogError) as caught:
        _load(catalog, store, delta=True)
    assert {(i.file, "'m1'" in i.message) for i in caught.value.issues} >= {
        ("metrics/group3.yaml", True)
    }
    assert _state(store) == before

    # fixed: the delta loads
    metrics["metrics/group3.yaml"][0]["formula"] = "m2 + m0"
    metrics["metrics/group2.yaml"][0]["formula"] = "m0 * 2"  # m2 used m1
    metrics["metrics/group1.yaml"].append({"id": "m13", "name": "指标13", "formula": "m0"})
    _write(catalog, metrics)
    fixed = _load(catalog, store, delta=True)
    assert fixed.delta and fixed.revision == before["head"] + 1, fixed.how
    changes = {(c.ref, c.op.value) for c in store.revision(fixed.revision).node_changes}
    assert ("Metric:m1", "removed") in changes and ("Metric:m13", "added") in changes


def test_named_cases_load_whole(make_store: Callable[[], GraphStore], tmp_path: Path) -> None:
    catalog = tmp_path / "cat"
    catalog.mkdir()
    for rel, text in BASE_FILES.items():
        (catalog / rel).parent.mkdir(parents=True, exist_ok=True)
        (catalog / rel).write_text(text, encoding="utf-8")
    metrics = _initial()
    _write(catalog, metrics)
    store = make_store()
    _load(catalog, store, delta=True)
    for items in list(metrics.values())[:4]:  # six files of fourteen changed: a lot
        items[0]["definition"] = "改"
    _write(catalog, metrics)
    (catalog / "dimensions.yaml").write_text("- {id: time, name: 时间维}\n", encoding="utf-8")
    (catalog / "dashboards.yaml").write_text("- {id: board, name: 大屏, kind: pc}\n")
    result = _load(catalog, store, delta=True)
    assert not result.delta and result.how == "full load: 6 of 14 files changed", result.how
    (catalog / "kpigraph.yaml").write_text("name: test catalog\nowner: ops\n", encoding="utf-8")
    metrics["metrics/group0.yaml"][0]["definition"] = "又改"
    _write(catalog, metrics)
    result = _load(catalog, store, delta=True)
    assert not result.delta and result.how and "kpigraph.yaml" in result.how
    assert result.revision == 3
    metrics["metrics/group0.yaml"][0]["definition"] = "再改"
    _write(catalog, metrics)
    result = _load(catalog, store, delta=True)
    assert result.delta and result.how == "delta: 1 file, 1 metric changed", result.how
    assert _load(catalog, store, delta=True).files_unchanged
