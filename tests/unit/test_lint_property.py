"""Property: on any catalog, every rule runs to the end (no lint.rule-crashed), and every issue
names nodes that exist."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.lint import lint_definition, lint_graph
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Dashboard, Edge, FieldNode, Metric, System, Table
from graph_schema.relations import Relation

IDS = [f"m{i}" for i in range(6)]
SQLS = [
    None,
    "SELECT SUM(a) FROM t",
    "SELECT COUNT(DISTINCT b) FROM t WHERE a > 0",
    "SELECT x FROM nowhere",
    "SELECT SUM(a FROM t",
    "WITH c AS (SELECT a FROM t) SELECT SUM(a) FROM c",
    "SELECT a FROM v",
    "",
]
BASE = [
    System(id="s", name="系统"),
    Table(id="s.t", name="表", system="s"),
    Table(id="s.v", name="视图", system="s", sql="SELECT a FROM t WHERE b = 1"),
    FieldNode(id="s.t.a", name="a", table="s.t"),
    FieldNode(id="s.t.b", name="b", table="s.t"),
    Dashboard(id="d", name="看板"),
]


@st.composite
def metrics(draw: st.DrawFn) -> list[Metric]:
    out = []
    for mid in draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True)):
        others = [i for i in IDS if i != mid]
        inputs = draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
        out.append(
            Metric(
                id=mid,
                name=draw(st.sampled_from(["客单价", "营收", "客单价（A店）", "订单数", "x"])),
                name_en=draw(st.sampled_from([None, "ATP", "atp"])),
                level=draw(st.sampled_from([None, "L0", "L1", "L2", "L3"])),
                status=draw(st.sampled_from(["draft", "active", "deprecated"])),
                formula=" + ".join(inputs) or None,
                sql=draw(st.sampled_from(SQLS)) or None,
                fields=draw(st.lists(st.sampled_from(["s.t.a", "s.t.b"]), unique=True)),
                atomic=draw(st.sampled_from([None, "订单数", "m0", "nope"])),
                qualifiers=draw(st.lists(st.sampled_from(["新增", "线上"]), max_size=2)),
                dashboards=draw(st.lists(st.just("d"), max_size=1)),
                rolls_up_to=draw(st.sampled_from([None, *others])),
            )
        )
    return out


def graph_of(ms: list[Metric], lint_config: dict[str, object]) -> CatalogGraph:
    ids = {m.id for m in ms}
    edges = []
    for m in ms:
        for f in m.fields:
            edges.append(Edge(source=NodeRef(NodeKind.FIELD, f), target=m.ref, type=Relation.FEEDS))
        if m.rolls_up_to in ids:
            target = NodeRef(NodeKind.METRIC, m.rolls_up_to)
            edges.append(Edge(source=m.ref, target=target, type=Relation.ROLLS_UP_TO))
        for i in (m.formula or "").split(" + "):
            if i in ids:
                src = NodeRef(NodeKind.METRIC, i)
                edges.append(Edge(source=src, target=m.ref, type=Relation.INPUT_TO))
        for d in m.dashboards:
            target = NodeRef(NodeKind.DASHBOARD, d)
            edges.append(Edge(source=m.ref, target=target, type=Relation.SHOWN_ON))
    meta = {"lint": lint_config, "dialect": "duckdb"}
    return CatalogGraph(name="p", nodes=(*BASE, *ms), edges=tuple(edges), meta=meta)


CONFIGS = st.sampled_from([{}, {"naming": {"atomic": ["订单数", "营收"]}}, {"disable": ["sql"]}])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metrics(), CONFIGS)
def test_no_rule_crashes_and_refs_exist(ms: list[Metric], config: dict[str, object]) -> None:
    graph = graph_of(ms, config)
    report = lint_graph(graph)
    assert not [i for i in report.issues if i.rule == "lint.rule-crashed"], report.issues
    known = {str(n.ref) for n in graph.nodes}
    for issue in report.issues:
        assert set(issue.refs) <= known
    # a definition linted on its own sees the same issues about it as the whole catalog does
    first = ms[0]
    alone = {(i.rule, i.message) for i in lint_definition(graph, first)}
    whole = {(i.rule, i.message) for i in report.issues if str(first.ref) in i.refs}
    assert whole <= alone
