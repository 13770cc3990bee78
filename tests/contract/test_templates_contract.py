"""The NEV sales template on both backends: tags are searchable and the sales funnel feeds
实销量 — the same answers from the embedded store and from Neo4j."""

from __future__ import annotations

from collections.abc import Callable

from analysis.lineage import Direction, lineage
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery
from tests.helpers import CATALOGS


def test_nev_tags_search_and_funnel_lineage(make_store: Callable[[], GraphStore]) -> None:
    graph = load_catalog(CATALOGS / "nev_sales")
    tagged = {n.id for n in graph.nodes if isinstance(n, Metric) and n.tags}
    store = make_store()
    store.load(graph)

    every = store.search(SearchQuery(text="AARRR", limit=100))
    assert every.total == len(tagged) and {n.ref.id for n in every.items} == tagged
    retention = {str(n.ref) for n in store.search(SearchQuery(text="AARRR-Retention")).items}
    assert "Metric:maintenance_appointments" in retention  # the seed's 服务 column
    assert "Metric:dau" not in retention and "Metric:retail_sales" not in retention

    root = NodeRef(NodeKind.METRIC, "retail_sales")
    up = {str(n.ref) for n in lineage(store, root, Direction.UPSTREAM, 10).nodes}
    funnel = ("showroom_traffic", "first_visit_cards", "new_prospects", "converted_orders")
    assert {f"Metric:{m}" for m in funnel} <= up
