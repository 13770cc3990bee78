"""The map's layout and collapsing as pure functions (viz.layout, viz.map_model, viz.graph_view)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.results import Direction, EdgeOut, LineageNode, LineageResult
from graph_schema.models import BaseNode, FieldNode, Metric, System, Table
from viz.graph_view import GraphView, MapOptions, network_data
from viz.layout import DUMMY_GAP, DUMMY_HEIGHT, ROW_GAP, layered_layout
from viz.map_model import MAX_TABLES, build_map
from viz.tree import tree_layout

NODES = [f"n{i}" for i in range(12)]
edge_lists = st.lists(
    st.tuples(st.sampled_from(NODES), st.sampled_from(NODES), st.integers(0, 3)), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(edge_lists)
def test_every_kept_edge_points_right_and_rows_never_overlap(
    raw: list[tuple[str, str, int]],
) -> None:
    edges = [(s, t) for s, t, _ in raw]
    rank = [r for _, _, r in raw]
    lay = layered_layout(NODES, edges, rank)
    for i, (s, t) in enumerate(edges):
        if s == t:
            continue
        chain = lay.routes[i]
        assert (chain[0], chain[-1]) == (s, t)
        steps = [lay.x[v] for v in chain]
        if i in lay.broken:  # drawn right to left, one column per step
            assert steps == list(range(steps[0], steps[0] - len(steps), -1))
        else:
            assert steps == list(range(steps[0], steps[0] + len(steps)))
    # stacked nodes and routing points keep their minimum gaps (no overlaps)
    height = {v: DUMMY_HEIGHT if v in lay.points else 1.0 for v in lay.x}
    columns: dict[float, list[str]] = {}
    for v, x in lay.x.items():
        columns.setdefault(x, []).append(v)
    for vs in columns.values():
        vs.sort(key=lay.y.__getitem__)
        for a, b in pairwise(vs):
            real = a not in lay.points and b not in lay.points
            gap = (height[a] + height[b]) / 2 + (ROW_GAP if real else DUMMY_GAP)
            assert lay.y[b] - lay.y[a] >= gap - 0.01


def test_formula_edges_win_over_driver_edges_in_a_cycle() -> None:
    # atp = revenue / visits (INPUT_TO, rank 0); revenue ≡ visits × atp (DRIVES, rank 2)
    edges = [("revenue", "atp"), ("visits", "atp"), ("visits", "revenue"), ("atp", "revenue")]
    lay = layered_layout(["revenue", "atp", "visits"], edges, [0, 0, 2, 2])
    assert lay.broken == {3}
    assert lay.x["visits"] < lay.x["revenue"] < lay.x["atp"]


def test_long_edges_pass_between_nodes() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    lay = layered_layout("abcd", edges)
    points = lay.routes[3][1:-1]
    assert len(points) == 2 and all(p in lay.points for p in points)
    assert [lay.x[p] for p in points] == [1, 2]
    assert all(abs(lay.y[p] - lay.y[n]) > 0.5 for p, n in zip(points, "bc", strict=True))


def test_tree_from_the_focus() -> None:
    sides = {
        "gross": ("upstream", 1),
        "cost": ("upstream", 1),
        "rev": ("upstream", 2),
        "margin": ("downstream", 1),
        "loop": ("both", 1),
    }
    edges = [
        ("gross", "net"),
        ("cost", "net"),
        ("rev", "gross"),
        ("net", "margin"),
        ("loop", "net"),
        ("net", "loop"),
        ("rev", "margin"),
    ]
    lay = tree_layout("net", sides, edges)
    assert lay.x["rev"] < lay.x["gross"] < lay.x["net"] < lay.x["margin"]
    assert lay.copies == {"loop#down": "loop"} and lay.x["loop"] == -1 and lay.x["loop#down"] == 1
    assert sorted(i for i, _, _ in lay.drawn) == [0, 1, 2, 3, 4, 5]
    assert lay.hidden == {6}
    # a parent sits between its children's rows
    assert lay.y["gross"] == lay.y["rev"]


def _lineage(root: str, refs: list[str], edges: list[tuple[str, str, str]]) -> LineageResult:
    return LineageResult(
        root=root,
        direction=Direction.UPSTREAM,
        depth=3,
        nodes=[
            LineageNode(
                ref=r, kind=r.split(":")[0], id=r.split(":")[1], name=r, depth=1, side="upstream"
            )
            for r in refs
        ],
        edges=[EdgeOut(source=s, target=t, type=rel) for s, t, rel in edges],
    )


def _sources(tables: int) -> tuple[dict[str, BaseNode], list[str], list[tuple[str, str, str]]]:
    nodes: dict[str, BaseNode] = {"Metric:m": Metric(id="m", name="指标")}
    refs, edges = [], []
    for system in ("a", "b"):
        nodes[f"System:{system}"] = System(id=system, name=f"系统{system}")
        for t in range(tables):
            table = Table(id=f"{system}.t{t}", name=f"表{t}", system=system)
            nodes[table.ref.__str__()] = table
            for f in range(3):
                field = FieldNode(id=f"{system}.t{t}.f{f}", name=f"字段{f}", table=table.id)
                nodes[str(field.ref)] = field
                refs.append(str(field.ref))
                edges.append((str(field.ref), "Metric:m", "FEEDS"))
                edges.append((str(table.ref), str(field.ref), "HAS_FIELD"))
            refs.append(str(table.ref))
            edges.append((f"System:{system}", str(table.ref), "HAS_TABLE"))
        refs.append(f"System:{system}")
    return nodes, refs, edges


def test_fields_collapse_into_tables_and_tables_into_systems_when_many() -> None:
    nodes, refs, edges = _sources(2)
    graph = build_map(_lineage("Metric:m", refs, edges), nodes)
    assert sorted(graph.nodes) == [
        "Metric:m",
        "System:a",
        "System:b",
        "Table:a.t0",
        "Table:a.t1",
        "Table:b.t0",
        "Table:b.t1",
    ]
    orders = graph.nodes["Table:a.t0"]
    assert orders.fields == ["字段0", "字段1", "字段2"]
    feeds = [e for e in graph.edges if e.relation.value == "FEEDS"]
    assert len(feeds) == 4 and all(len(e.stands_for) == 3 for e in feeds)
    # expanded: that table's fields come back
    graph = build_map(_lineage("Metric:m", refs, edges), nodes, expand={"Table:a.t0"})
    assert "Field:a.t0.f1" in graph.nodes and "Field:a.t1.f1" not in graph.nodes

    nodes, refs, edges = _sources(MAX_TABLES)  # 2 × MAX_TABLES tables: into their systems
    graph = build_map(_lineage("Metric:m", refs, edges), nodes)
    assert sorted(graph.nodes) == ["Metric:m", "System:a", "System:b"]
    system = graph.nodes["System:a"]
    assert len(system.tables) == MAX_TABLES and len(system.fields) == 3 * MAX_TABLES
    data = network_data(GraphView(lineage=_lineage("Metric:m", refs, edges), nodes=nodes))
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels["System:a"] == f"系统a\n({MAX_TABLES} 张表 · {3 * MAX_TABLES} 个字段)"
    # everything expanded, or tables filtered out: fields one by one
    graph = build_map(_lineage("Metric:m", refs, edges), nodes, expand={"*"})
    assert len(graph.nodes) == len(refs) + 1
    assert (
        "Field:a.t0.f0"
        in build_map(
            _lineage("Metric:m", refs, edges),
            nodes,
            kinds={m.kind for m in nodes.values()} - {Table.kind},
        ).nodes
    )


def test_causal_polarity_and_lag_label_the_edge() -> None:
    nodes: dict[str, BaseNode] = {
        "Metric:sat": Metric(id="sat", name="满意度"),
        "Metric:ret": Metric(id="ret", name="留存率"),
        "Metric:cost": Metric(id="cost", name="成本率"),
    }
    lineage = LineageResult(
        root="Metric:ret",
        direction=Direction.UPSTREAM,
        depth=1,
        nodes=[
            LineageNode(
                ref="Metric:sat", kind="Metric", id="sat", name="满意度", depth=1, side="upstream"
            ),
            LineageNode(
                ref="Metric:cost", kind="Metric", id="cost", name="成本率", depth=1, side="upstream"
            ),
        ],
        edges=[
            EdgeOut(
                source="Metric:sat",
                target="Metric:ret",
                type="CAUSES",
                props={"polarity": "+", "lag": "3个月"},
            ),
            EdgeOut(
                source="Metric:cost", target="Metric:ret", type="CAUSES", props={"polarity": "-"}
            ),
        ],
    )
    for mode in ("map", "tree"):
        data = network_data(GraphView(lineage=lineage, nodes=nodes), MapOptions(mode=mode))
        labels = {e["from"]: e["label"] for e in data["edges"]}
        assert labels == {"Metric:sat": "+ 滞后 3个月", "Metric:cost": "−"}
