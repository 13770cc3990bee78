"""A small catalog of metric files edited and loaded again, for the delta-load contract tests
(issue #23: tests/contract/test_load_delta.py, test_load_partial.py, test_delta_load_safety.py,
test_search_file_delta.py): the base catalog of :data:`tests.helpers.BASE_FILES` with twelve
metrics over six metric files (:func:`base_catalog`), random edits (:func:`edit`), a load as
``kpigraph load`` does it (:func:`load`) and what a store holds after it (:func:`state`)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from cli.catalog import publish_directory
from core.i18n import use
from core.publish import PublishResult
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import Relation
from store.base import GraphStore, SearchQuery, Walk
from tests.helpers import BASE_FILES

Metrics = dict[str, list[dict[str, Any]]]


def initial() -> Metrics:
    """Twelve metrics over six files, each formula over metrics of lower number."""
    files: Metrics = {}
    for i in range(12):
        metric: dict[str, Any] = {"id": f"m{i}", "name": f"指标{i}", "owner": "ops"}
        metric["formula"] = f"m{i - 1} + m{i - 2}" if i >= 2 else "revenue / visits"
        files.setdefault(f"metrics/group{i % 6}.yaml", []).append(metric)
    return files


def write(root: Path, metrics: Metrics) -> None:
    for path in (root / "metrics").glob("group*.yaml"):
        if f"metrics/{path.name}" not in metrics:
            path.unlink()
    for rel, items in metrics.items():
        text = yaml.safe_dump({"metrics": items}, allow_unicode=True, sort_keys=False)
        (root / rel).write_text(text, encoding="utf-8")


def ids_of(metrics: Metrics) -> list[str]:
    return [m["id"] for items in metrics.values() for m in items]


def used(metrics: Metrics) -> set[str]:
    """Metric ids some formula refers to."""
    out: set[str] = set()
    for items in metrics.values():
        for m in items:
            out |= set(str(m.get("formula", "")).replace("+", " ").replace("/", " ").split())
    return out


def edit(rng: random.Random, metrics: Metrics, root: Path, step: int) -> str:
    """One random valid edit of the catalog (in ``metrics`` or the files); what it was."""
    ids = ids_of(metrics)
    removable = [i for i in ids if i not in used(metrics)]
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
    write(root, metrics)
    return kind


def revision(store: GraphStore, number: int) -> dict[str, Any]:
    return store.revision(number).model_dump(mode="json", exclude={"created_at"})


def answers(store: GraphStore) -> dict[str, Any]:
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


def state(store: GraphStore) -> dict[str, Any]:
    info = store.info()
    head = store.head()
    return {
        "head": head,
        "digest": info.meta.get("digest"),
        "source_digest": info.meta.get("source_digest"),
        "files": info.meta.get("files"),
        "counts": info.counts,
        "revision": revision(store, head),
        "snapshot": store.catalog_data(),
        "answers": answers(store),
    }


def load(catalog: Path, store: GraphStore, *, delta: bool) -> PublishResult:
    with use("en"):
        return publish_directory(catalog, store, author="t", quiet=True, delta=delta)


def base_catalog(root: Path) -> tuple[Path, Metrics]:
    """``root/cat``: the base files and the metrics of :func:`initial`, written."""
    catalog = root / "cat"
    catalog.mkdir()
    for rel, text in BASE_FILES.items():
        (catalog / rel).parent.mkdir(parents=True, exist_ok=True)
        (catalog / rel).write_text(text, encoding="utf-8")
    metrics = initial()
    write(catalog, metrics)
    return catalog, metrics
