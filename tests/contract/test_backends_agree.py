"""Property test: random catalogs — cycles through DRIVES/CAUSES included — get the same
lineage, impact and path answers from the embedded store and from Neo4j, node for node."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.impact import impact
from analysis.lineage import lineage
from analysis.paths import find_paths
from analysis.results import Direction
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery
from store.embedded import EmbeddedStore

pytestmark = pytest.mark.neo4j

OPS = ["+", "-", "*", "/"]


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=2, max_value=12))
    ids = [f"m{i}" for i in range(n)]
    n_fields = draw(st.integers(min_value=1, max_value=5))
    fields = [f"f{i}" for i in range(n_fields)]
    metrics = []
    for i, mid in enumerate(ids):
        m: dict[str, Any] = {
            "id": mid,
            "name": draw(st.sampled_from(["营收", "客单价", "台次", "Revenue", "率"])) + str(i),
            "level": draw(st.sampled_from(["L0", "L1", "L2", "L3"])),
            "owner": draw(st.sampled_from(["ops", "finance"])),
        }
        # formula inputs only from earlier metrics: INPUT_TO stays acyclic
        if i and draw(st.booleans()):
            inputs = draw(st.lists(st.sampled_from(ids[:i]), min_size=1, max_size=3, unique=True))
            ops = [draw(st.sampled_from(OPS)) for _ in inputs[1:]]
            m["formula"] = inputs[0] + "".join(
                f" {o} {x}" for o, x in zip(ops, inputs[1:], strict=True)
            )
        others = [x for x in ids if x != mid]
        if draw(st.booleans()):
            drivers = draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            m["drivers"] = " * ".join(drivers)
        causes = draw(st.lists(st.sampled_from(others), max_size=3, unique=True))
        if causes:
            m["causes"] = [
                {"metric": c, "polarity": draw(st.sampled_from(["+", "-"]))} for c in causes
            ]
        if draw(st.booleans()):
            m["fields"] = draw(
                st.lists(st.sampled_from([f"s.t.{f}" for f in fields]), max_size=2, unique=True)
            )
        if draw(st.booleans()):
            m["dashboards"] = ["board"]
        if draw(st.booleans()):
            m["reviewer"] = "finance"
        metrics.append(m)
    return {"metrics": metrics, "fields": fields}


def write(tmp: Path, spec: dict[str, Any]) -> Path:
    (tmp / "metrics").mkdir(parents=True)
    files = {
        "kpigraph.yaml": {"name": "random"},
        "departments.yaml": [{"id": "ops", "name": "运营部"}, {"id": "finance", "name": "财务部"}],
        "dashboards.yaml": [{"id": "board", "name": "看板"}],
        "sources.yaml": [
            {
                "id": "s",
                "name": "S",
                "tables": [
                    {
                        "id": "t",
                        "name": "T",
                        "fields": [{"id": f, "name": f} for f in spec["fields"]],
                    }
                ],
            }
        ],
        "metrics/all.yaml": {"metrics": spec["metrics"]},
    }
    for rel, data in files.items():
        (tmp / rel).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp


def answers(store: GraphStore, refs: list[NodeRef], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ref in refs:
        for direction in Direction:
            out[f"lineage {ref} {direction} {depth}"] = lineage(
                store, ref, direction, depth
            ).model_dump()
        out[f"lineage-metric {ref}"] = lineage(
            store, ref, Direction.BOTH, depth, [Relation.DRIVES, Relation.CAUSES]
        ).model_dump()
        out[f"impact {ref}"] = impact(store, ref).model_dump()
    for term in ("营收", "率", "m1", "revenue", ""):
        page = store.search(SearchQuery(text=term, kinds=frozenset(NodeKind), limit=50))
        out[f"search {term}"] = (page.total, [str(n.ref) for n in page.items])
    level_page = store.search(SearchQuery(level="L1", limit=50))
    out["search level"] = (level_page.total, [str(n.ref) for n in level_page.items])
    if len(refs) > 1:
        out["paths"] = find_paths(store, refs[0], refs[-1], 4, 5, LINEAGE_RELATIONS).model_dump()
    return out


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=catalogs(), depth=st.integers(min_value=1, max_value=10))
def test_backends_agree_on_random_catalogs(
    neo4j_store_factory: Callable[[], GraphStore], spec: dict[str, Any], depth: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        graph = load_catalog(write(Path(tmp), spec))
        embedded = EmbeddedStore(Path(tmp) / "e.sqlite")
        embedded.load(graph)
        neo = neo4j_store_factory()
        neo.load(graph)
        refs = [NodeRef.parse(m["id"]) for m in spec["metrics"]]
        refs.append(NodeRef.parse("Field:s.t.f0"))
        assert answers(embedded, refs, depth) == answers(neo, refs, depth)
        embedded.close()
