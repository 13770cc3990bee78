"""One contract, every backend: the same questions get the same answers, ordering included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.card import node_card
from analysis.impact import impact
from analysis.lineage import lineage
from analysis.paths import find_paths
from analysis.results import Direction
from graph_schema.errors import CatalogError, EmptyStoreError, InvalidQueryError, NodeNotFoundError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from loaders.catalog import load_catalog
from store.base import GraphStore, NodeLabel, SearchQuery, Walk
from tests.helpers import write_catalog

R = NodeRef.parse


def refs(items) -> list[str]:
    return [i.ref for i in items]


# -- load, info, get ------------------------------------------------------------------------


def test_load_reports_counts(store: GraphStore, demo_graph: CatalogGraph) -> None:
    info = store.info()
    assert info.catalog == demo_graph.name
    assert info.counts == demo_graph.counts()
    assert info.loaded_at


def test_empty_store_says_what_to_do(make_store: Callable[[], GraphStore]) -> None:
    s = make_store()
    with pytest.raises(EmptyStoreError, match="kpigraph load"):
        s.info()
    assert s.get_nodes([R("atp")]) == {}
    with pytest.raises(EmptyStoreError):
        s.search(SearchQuery(text="atp"))  # an error, not "0 matches" (#12)
    with pytest.raises(EmptyStoreError):
        lineage(s, R("atp"))  # not "no node": the store is empty, say so


def test_get_nodes_round_trips_the_full_template(
    store: GraphStore, demo_graph: CatalogGraph
) -> None:
    wanted = [
        R("atp"),
        R("Field:dms.dms_orders.total_amount"),
        R("Dashboard:mobile_board"),
        R("nope"),
    ]
    got = store.get_nodes(wanted)
    assert set(got) == set(wanted[:3])
    original = {n.ref: n for n in demo_graph.nodes}
    for ref, node in got.items():
        assert node == original[ref]


def test_every_node_round_trips(store: GraphStore, demo_graph: CatalogGraph) -> None:
    got = store.get_nodes([n.ref for n in demo_graph.nodes])
    assert got == {n.ref: n for n in demo_graph.nodes}


def test_labels_are_each_node_s_name_and_level(store: GraphStore, demo_graph: CatalogGraph) -> None:
    refs = [n.ref for n in demo_graph.nodes]
    expected = {
        n.ref: NodeLabel(n.name, n.level.value if isinstance(n, Metric) and n.level else None)
        for n in demo_graph.nodes
    }
    assert store.labels([*refs, R("nope"), R("Field:no.such.field")]) == expected
    assert store.labels([]) == {}


def test_reload_replaces_everything(store: GraphStore, tmp_path: Path) -> None:
    small = load_catalog(write_catalog(tmp_path / "small"))
    store.load(small)
    assert store.info().counts == small.counts()
    assert store.get_nodes([R("gross_profit")]) == {}
    assert store.search(SearchQuery(text="毛利")).total == 0


def test_failed_load_leaves_previous_graph(
    store: GraphStore, demo_graph: CatalogGraph, tmp_path: Path
) -> None:
    before = store.info().counts
    small = load_catalog(write_catalog(tmp_path / "small"))

    def boom(done: int, total: int) -> None:
        if done > 0:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        store.load(small, progress=boom)
    assert store.info().counts == before
    assert R("gross_profit") in store.get_nodes([R("gross_profit")])
    assert impact(store, R("atp")).influences_l0


def test_invalid_catalog_never_reaches_the_store(store: GraphStore, tmp_path: Path) -> None:
    before = store.info().counts
    with pytest.raises(CatalogError):
        store.load(load_catalog(write_catalog(tmp_path / "bad", {"metrics/x.yaml": "id: X\n"})))
    assert store.info().counts == before


# -- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("客单价", "Metric:atp"),
        ("ATP", "Metric:atp"),
        ("atp", "Metric:atp"),
        ("average ticket", "Metric:atp"),
        ("营收", "Metric:revenue"),
        ("净利润", "Metric:net_profit"),
    ],
)
def test_search_ranks_exact_matches_first(store: GraphStore, text: str, first: str) -> None:
    page = store.search(SearchQuery(text=text))
    assert page.total >= 1
    assert str(page.items[0].ref) == first


def test_search_ranking_and_order(store: GraphStore) -> None:
    page = store.search(SearchQuery(text="台次", limit=50))
    got = [str(n.ref) for n in page.items]
    # names containing 台次 (rank 2) before definitions mentioning it (rank 3); L1 before L2
    assert got[0] == "Metric:visits"
    assert set(got[1:4]) == {
        "Metric:bodyshop_visits",
        "Metric:maintenance_visits",
        "Metric:repair_visits",
    }
    # value_added_penetration matches by definition (占进厂台次的比例): after every name match
    assert got.index("Metric:value_added_penetration") > got.index("Metric:value_added_visits")


def test_search_definition_text(store: GraphStore) -> None:
    page = store.search(SearchQuery(text="单次进厂消费"))
    assert [str(n.ref) for n in page.items] == ["Metric:atp"]


def test_search_filters_and_paging(store: GraphStore) -> None:
    l0 = store.search(SearchQuery(level="L0", limit=50))
    assert [str(n.ref) for n in l0.items] == [
        "Metric:net_profit",
        "Metric:net_profit_margin",
        "Metric:nps",
        "Metric:retention_rate",
    ]
    finance = store.search(SearchQuery(department="finance", limit=100))
    assert all(n.owner == "finance" or n.reviewer == "finance" for n in finance.items)  # type: ignore[attr-defined]
    assert finance.total == len(finance.items)
    combined = store.search(SearchQuery(domain="财务", level="L1", limit=100))
    assert {str(n.ref) for n in combined.items} == {
        "Metric:revenue",
        "Metric:gross_profit",
        "Metric:gross_margin",
        "Metric:operating_cost",
        "Metric:cost_rate",
    }
    everything = store.search(SearchQuery(limit=1000))
    assert everything.total == 38
    pages = [store.search(SearchQuery(limit=10, offset=o)).items for o in range(0, 40, 10)]
    assert [n.ref for p in pages for n in p] == [n.ref for n in everything.items]
    assert store.search(SearchQuery(limit=10, offset=1000)).items == []


def test_search_other_kinds(store: GraphStore) -> None:
    page = store.search(SearchQuery(text="total_amount", kinds=frozenset({NodeKind.FIELD})))
    assert [str(n.ref) for n in page.items] == ["Field:dms.dms_orders.total_amount"]
    page = store.search(SearchQuery(text="DMS", kinds=frozenset(NodeKind)))
    assert str(page.items[0].ref) == "System:dms"


@pytest.mark.parametrize("text", ["') DETACH DELETE n //", "*", "%", "\\", "'; MATCH (n) RETURN n"])
def test_search_injection_is_just_text(
    store: GraphStore, text: str, demo_graph: CatalogGraph
) -> None:
    assert store.search(SearchQuery(text=text)).total == 0
    assert store.info().counts == demo_graph.counts()


# -- traversal and lineage -----------------------------------------------------------------


def test_traverse_depth_and_relations(store: GraphStore) -> None:
    up1 = store.traverse(R("atp"), Walk.BACKWARD, [Relation.INPUT_TO], 1)
    assert up1 == {R("revenue"): 1, R("visits"): 1}
    up = store.traverse(R("atp"), Walk.BACKWARD, [Relation.INPUT_TO], None)
    assert up[R("labor_revenue")] == 2 and up[R("maintenance_visits")] == 2
    down = store.traverse(R("atp"), Walk.FORWARD, [Relation.DRIVES], 5)
    assert down == {R("revenue"): 1}
    assert store.traverse(R("nope"), Walk.FORWARD, LINEAGE_RELATIONS, 3) == {}


def test_traversal_terminates_on_cycles(store: GraphStore) -> None:
    # atp -DRIVES-> revenue -INPUT_TO-> atp is a cycle across relation types
    both = store.traverse(R("atp"), Walk.FORWARD, [Relation.DRIVES, Relation.INPUT_TO], None)
    assert R("revenue") in both and R("atp") not in both
    assert both[R("revenue")] == 1


def test_lineage_upstream(store: GraphStore) -> None:
    result = lineage(store, R("atp"), Direction.UPSTREAM, 1, [Relation.INPUT_TO])
    assert result.model_dump(mode="json") == {
        "root": "Metric:atp",
        "direction": "upstream",
        "depth": 1,
        "nodes": [
            {
                "ref": "Metric:revenue",
                "kind": "Metric",
                "id": "revenue",
                "name": "营收",
                "depth": 1,
                "side": "upstream",
                "level": "L1",
            },
            {
                "ref": "Metric:visits",
                "kind": "Metric",
                "id": "visits",
                "name": "进厂台次",
                "depth": 1,
                "side": "upstream",
                "level": "L1",
            },
        ],
        "edges": [
            {
                "source": "Metric:revenue",
                "target": "Metric:atp",
                "type": "INPUT_TO",
                "props": {"role": "numerator"},
            },
            {
                "source": "Metric:visits",
                "target": "Metric:atp",
                "type": "INPUT_TO",
                "props": {"role": "denominator"},
            },
        ],
        "truncated": False,
    }


def test_lineage_both_is_a_union_not_a_zigzag(store: GraphStore) -> None:
    up = lineage(store, R("visits"), Direction.UPSTREAM, 2)
    down = lineage(store, R("visits"), Direction.DOWNSTREAM, 2)
    both = lineage(store, R("visits"), Direction.BOTH, 2)
    assert set(refs(both.nodes)) == set(refs(up.nodes)) | set(refs(down.nodes))
    # atp is a sibling through revenue's drivers but also directly downstream (INPUT_TO)
    by_ref = {n.ref: n for n in both.nodes}
    assert by_ref["Metric:atp"].depth == 1
    # revenue is upstream (via atp's formula? no) — it is downstream via DRIVES and ROLLS_UP_TO
    assert by_ref["Metric:revenue"].side in ("downstream", "both")
    # depth is the shortest of the two directions
    for n in both.nodes:
        ds = [x.depth for x in (*up.nodes, *down.nodes) if x.ref == n.ref]
        assert n.depth == min(ds)


def test_lineage_kinds_filter_reports_but_walks_through(store: GraphStore) -> None:
    result = lineage(store, R("atp"), Direction.UPSTREAM, 2, kinds=[NodeKind.FIELD])
    assert {n.kind for n in result.nodes} == {"Field"}
    # dms_orders.labor_amount feeds labor_revenue, which is 2 hops up through revenue... 3 hops
    assert "Field:dms.dms_orders.total_amount" in refs(result.nodes)
    deeper = lineage(store, R("atp"), Direction.UPSTREAM, 3, kinds=[NodeKind.FIELD])
    assert "Field:dms.dms_orders.labor_amount" in refs(deeper.nodes)


def test_lineage_edges_are_those_among_answer(store: GraphStore) -> None:
    result = lineage(store, R("gross_profit"), Direction.BOTH, 2)
    members = {"Metric:gross_profit", *refs(result.nodes)}
    assert result.edges
    for e in result.edges:
        assert e.source in members and e.target in members
        assert Relation(e.type) in LINEAGE_RELATIONS
    assert result.edges == sorted(result.edges, key=lambda e: (e.source, e.target, e.type))


def test_lineage_ordering_rule(store: GraphStore) -> None:
    result = lineage(store, R("revenue"), Direction.BOTH, 4)
    keys = [(n.depth, n.ref) for n in result.nodes]
    assert keys == sorted(keys)


def test_lineage_limit_truncates_at_farthest_hop(store: GraphStore) -> None:
    full = lineage(store, R("atp"), Direction.BOTH, 3)
    cut = lineage(store, R("atp"), Direction.BOTH, 3, limit=len(full.nodes) - 1)
    assert cut.truncated
    assert max(n.depth for n in cut.nodes) < max(n.depth for n in full.nodes)
    assert not lineage(store, R("atp"), Direction.BOTH, 3, limit=len(full.nodes)).truncated


@pytest.mark.parametrize("depth", [0, 11, -1])
def test_lineage_depth_is_range_checked(store: GraphStore, depth: int) -> None:
    with pytest.raises(InvalidQueryError):
        lineage(store, R("atp"), Direction.UPSTREAM, depth)


def test_unknown_root_suggests(store: GraphStore) -> None:
    with pytest.raises(NodeNotFoundError) as info:
        lineage(store, R("revenu"), Direction.UPSTREAM, 2)
    assert info.value.suggestions[0] == "Metric:revenue"


def test_field_lineage(store: GraphStore) -> None:
    result = lineage(store, R("Field:dms.dms_orders.total_amount"), Direction.DOWNSTREAM, 1)
    assert refs(result.nodes) == [
        "Metric:atp",
        "Metric:cost_rate",
        "Metric:customer_annual_value",
        "Metric:gross_margin",
        "Metric:revenue",
    ]
    up = lineage(store, R("Field:dms.dms_orders.total_amount"), Direction.UPSTREAM, 3)
    assert refs(up.nodes) == ["Table:dms.dms_orders", "System:dms"]


# -- impact ---------------------------------------------------------------------------------


def test_impact_of_atp(store: GraphStore) -> None:
    report = impact(store, R("atp"))
    metrics = refs(report.metrics)
    assert {"Metric:revenue", "Metric:gross_profit", "Metric:net_profit"} <= set(metrics)
    assert "Metric:atp" not in metrics
    # atp reaches the L0 metrics through revenue's driver identity only: read, not recomputed
    assert not report.touches_l0 and report.influences_l0
    assert refs(report.dashboards) == [
        "Dashboard:mobile_board",
        "Dashboard:store_ops_pc",
        "Dashboard:decision_screen",
    ]
    depts = {d.ref: d for d in report.departments}
    assert set(depts) == {"Department:finance", "Department:ops"}
    assert depts["Department:ops"].owns == ["Metric:atp"]
    assert "Metric:atp" in depts["Department:finance"].reviews
    assert [(m.depth, m.ref) for m in report.metrics] == sorted(
        (m.depth, m.ref) for m in report.metrics
    )


def test_impact_of_a_field_table_and_system(store: GraphStore) -> None:
    field = impact(store, R("Field:dms.dms_orders.total_amount"))
    assert {"Metric:atp", "Metric:revenue", "Metric:net_profit"} <= set(refs(field.metrics))
    assert field.touches_l0
    table = impact(store, R("Table:dms.dms_orders"))
    assert set(refs(field.metrics)) <= set(refs(table.metrics))
    assert "Metric:labor_revenue" in refs(table.metrics)  # through another field of the table
    system = impact(store, R("System:dms"))
    assert set(refs(table.metrics)) <= set(refs(system.metrics))
    assert "Metric:parts_cost" in refs(system.metrics)  # through another table


def test_impact_of_a_leaf(store: GraphStore) -> None:
    report = impact(store, R("net_profit_margin"))
    assert report.metrics == [] and not report.touches_l0
    assert refs(report.dashboards) == ["Dashboard:decision_screen"]
    assert [d.ref for d in report.departments] == ["Department:finance"]


# -- paths and cards -----------------------------------------------------------------------


def test_paths(store: GraphStore) -> None:
    result = find_paths(store, R("visits"), R("net_profit"), 3, 3)
    assert next([n.id for n in p.nodes] for p in result.paths) == [
        "visits",
        "revenue",
        "net_profit",
    ]
    assert [p.length for p in result.paths] == sorted(p.length for p in result.paths)
    assert len(result.paths) == 3
    for p in result.paths:
        assert len({n.ref for n in p.nodes}) == len(p.nodes)  # simple
    none = find_paths(store, R("atp"), R("Dimension:time"), 4, 5)  # SLICED_BY is not lineage
    assert none.paths == []
    with pytest.raises(InvalidQueryError):
        find_paths(store, R("atp"), R("revenue"), 0, 5)
    with pytest.raises(InvalidQueryError):
        find_paths(store, R("atp"), R("revenue"), 3, 0)


def test_card_groups_neighbours(store: GraphStore) -> None:
    card = node_card(store, R("atp"))
    groups = {g.relation: g for g in card.neighbours}
    assert [n.ref for n in groups["INPUT_TO"].incoming] == ["Metric:revenue", "Metric:visits"]
    assert [n.ref for n in groups["OWNS"].incoming] == ["Department:ops"]
    assert next(n.ref for n in groups["SLICED_BY"].outgoing) == "Dimension:brand_type"
    assert card.node["caliber"]["denominator"]["includes"] == ["保养", "维修", "钣喷"]


def test_edges_of_and_among(store: GraphStore) -> None:
    out = store.edges_of([R("atp")], Walk.FORWARD, [Relation.DRIVES, Relation.SHOWN_ON])
    assert [(str(e.target), e.type.value) for e in out] == [
        ("Dashboard:mobile_board", "SHOWN_ON"),
        ("Dashboard:store_ops_pc", "SHOWN_ON"),
        ("Metric:revenue", "DRIVES"),
    ]
    among = store.edges_among(
        [R("atp"), R("revenue"), R("visits")], [Relation.INPUT_TO, Relation.DRIVES]
    )
    assert [(str(e.source), str(e.target), e.type.value) for e in among] == [
        ("Metric:atp", "Metric:revenue", "DRIVES"),
        ("Metric:revenue", "Metric:atp", "INPUT_TO"),
        ("Metric:visits", "Metric:atp", "INPUT_TO"),
        ("Metric:visits", "Metric:revenue", "DRIVES"),
    ]


def test_reloading_the_same_catalog_is_idempotent(
    store: GraphStore, demo_graph: CatalogGraph
) -> None:
    before = (store.info().counts, impact(store, R("atp")), store.search(SearchQuery(text="台次")))
    store.load(demo_graph)
    store.load(demo_graph)
    after = (store.info().counts, impact(store, R("atp")), store.search(SearchQuery(text="台次")))
    assert after == before
    assert len(store.edges_among([n.ref for n in demo_graph.nodes], list(Relation))) == len(
        demo_graph.edges
    )


# A graph on which one variable-length Cypher traversal ran for 18 minutes (a cached,
# path-enumerating plan meeting parallel cyclic edges); every backend must answer at once.
DENSE_CYCLIC_EDGES = [
    ("System:s", "HAS_TABLE", "Table:s.t"),
    ("Table:s.t", "HAS_FIELD", "Field:s.t.f0"),
    ("Department:finance", "OWNS", "Metric:m0"),
    ("Department:ops", "OWNS", "Metric:m1"),
    ("Department:finance", "OWNS", "Metric:m2"),
    ("Department:finance", "OWNS", "Metric:m3"),
    ("Department:finance", "OWNS", "Metric:m4"),
    ("Department:finance", "OWNS", "Metric:m5"),
    ("Department:ops", "OWNS", "Metric:m6"),
    ("Department:finance", "OWNS", "Metric:m7"),
    ("Metric:m0", "CAUSES", "Metric:m2"),
    ("Metric:m0", "CAUSES", "Metric:m3"),
    ("Metric:m0", "CAUSES", "Metric:m5"),
    ("Metric:m1", "CAUSES", "Metric:m5"),
    ("Metric:m1", "CAUSES", "Metric:m0"),
    ("Metric:m1", "CAUSES", "Metric:m3"),
    ("Metric:m2", "CAUSES", "Metric:m0"),
    ("Metric:m2", "CAUSES", "Metric:m5"),
    ("Metric:m2", "CAUSES", "Metric:m1"),
    ("Metric:m3", "CAUSES", "Metric:m5"),
    ("Metric:m3", "CAUSES", "Metric:m4"),
    ("Metric:m3", "CAUSES", "Metric:m0"),
    ("Metric:m4", "CAUSES", "Metric:m5"),
    ("Metric:m4", "CAUSES", "Metric:m0"),
    ("Metric:m5", "CAUSES", "Metric:m1"),
    ("Metric:m6", "CAUSES", "Metric:m5"),
    ("Metric:m7", "CAUSES", "Metric:m5"),
    ("Metric:m7", "CAUSES", "Metric:m4"),
    ("Metric:m7", "CAUSES", "Metric:m1"),
    ("Department:finance", "REVIEWS", "Metric:m1"),
    ("Department:finance", "REVIEWS", "Metric:m2"),
    ("Department:finance", "REVIEWS", "Metric:m4"),
    ("Department:finance", "REVIEWS", "Metric:m6"),
    ("Department:finance", "REVIEWS", "Metric:m7"),
    ("Metric:m1", "SHOWN_ON", "Dashboard:board"),
    ("Metric:m3", "SHOWN_ON", "Dashboard:board"),
    ("Metric:m6", "SHOWN_ON", "Dashboard:board"),
    ("Metric:m7", "SHOWN_ON", "Dashboard:board"),
    ("Metric:m0", "INPUT_TO", "Metric:m1"),
    ("Metric:m1", "INPUT_TO", "Metric:m2"),
    ("Metric:m0", "INPUT_TO", "Metric:m2"),
    ("Metric:m0", "INPUT_TO", "Metric:m3"),
    ("Metric:m2", "INPUT_TO", "Metric:m3"),
    ("Metric:m1", "INPUT_TO", "Metric:m3"),
    ("Metric:m1", "INPUT_TO", "Metric:m4"),
    ("Metric:m2", "INPUT_TO", "Metric:m5"),
    ("Metric:m3", "INPUT_TO", "Metric:m5"),
    ("Metric:m4", "INPUT_TO", "Metric:m6"),
    ("Metric:m2", "INPUT_TO", "Metric:m6"),
    ("Metric:m0", "INPUT_TO", "Metric:m7"),
    ("Metric:m0", "DRIVES", "Metric:m1"),
    ("Metric:m0", "DRIVES", "Metric:m6"),
    ("Metric:m6", "DRIVES", "Metric:m7"),
    ("Metric:m5", "DRIVES", "Metric:m7"),
]


def dense_cyclic_graph() -> CatalogGraph:
    from graph_schema.models import NODE_MODELS, Edge

    refs = sorted({r for s, _, t in DENSE_CYCLIC_EDGES for r in (s, t)})
    nodes = []
    for text in refs:
        ref = NodeRef.parse(text)
        extra = {"system": "s"} if ref.kind is NodeKind.TABLE else {}
        extra = {"table": "s.t"} if ref.kind is NodeKind.FIELD else extra
        nodes.append(NODE_MODELS[ref.kind](id=ref.id, name=ref.id, **extra))
    edges = tuple(
        Edge(source=NodeRef.parse(s), target=NodeRef.parse(t), type=Relation(r))
        for s, r, t in DENSE_CYCLIC_EDGES
    )
    return CatalogGraph(name="dense cyclic", nodes=tuple(nodes), edges=edges)


def test_dense_cyclic_graph_terminates(make_store: Callable[[], GraphStore]) -> None:
    import time

    store = make_store()
    store.load(dense_cyclic_graph())
    started = time.perf_counter()
    for i in range(8):
        ref = R(f"m{i}")
        assert len(impact(store, ref).metrics) == 7
        assert len(store.traverse(ref, Walk.UNDIRECTED, LINEAGE_RELATIONS, None)) >= 8
        lineage(store, ref, Direction.BOTH, 10)
    assert time.perf_counter() - started < 60  # generous; the bad plan never finished
