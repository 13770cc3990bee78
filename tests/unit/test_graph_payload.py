"""What the graph page carries (issue #17): node tooltips left out of served pages (fetched on
hover), kept in static exports; big maps sized for the light renderer and without
vis-network; compact JSON that cannot close its ``<script>``."""

from __future__ import annotations

import json
import re

from analysis.lineage import lineage
from analysis.results import Direction
from api.views import graph_view
from benchmarks.graph_render import neighbourhood
from graph_schema.ids import NodeRef
from store.embedded import EmbeddedStore
from tests.helpers import demo_store
from viz.graph_view import (
    ROUTE_MAX_NODES,
    GraphView,
    MapOptions,
    inline_vis_assets,
    network_data,
)
from viz.pages import render_graph_page, script_json

HOT = NodeRef.parse("Field:s.t.hot")


def _payload(html: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_served_pages_leave_node_tooltips_out_exports_keep_them() -> None:
    store = demo_store()
    view = graph_view(store, NodeRef.parse("atp"), Direction.BOTH, 2, tooltips=False)
    served = network_data(view, MapOptions(), tips=False)
    assert served["layout"]["renderer"] == "vis"
    groups = [n for n in served["nodes"] if n.get("group_of")]
    assert groups and all("字段" in n["tip"] for n in groups)  # a group's tip describes the map
    assert all("tip" not in n for n in served["nodes"] if not n.get("group_of"))
    assert all("title" not in n for n in served["nodes"])  # vis would show its own popup
    full = graph_view(store, NodeRef.parse("atp"), Direction.BOTH, 2)
    static = network_data(full, MapOptions(), tips=True)
    tips = {n["id"]: n["tip"] for n in static["nodes"]}
    assert "单个客户单次进厂消费的平均金额" in tips["Metric:atp"]
    assert "负责：运营部" in tips["Metric:atp"]  # department names for exports
    assert "公式：营收 / 进厂台次" in tips["Metric:atp"]  # and the formula in names
    # an edge says more than its relation's name only when it has something to add
    relations = served["layout"]["relations"]
    for e in served["edges"]:
        assert e.get("tip", relations[e["relation"]]).startswith(relations[e["relation"]])
    assert any("tip" in e for e in served["edges"])  # roles, polarity, fields it stands for


def test_big_maps_are_sized_for_the_light_renderer(tmp_path: object) -> None:
    store = EmbeddedStore(tmp_path / "hub.sqlite")  # type: ignore[operator]
    store.load(neighbourhood(400))
    result = lineage(store, HOT, Direction.DOWNSTREAM, 1)
    nodes = {
        str(r): n
        for r, n in store.get_nodes([HOT, *(NodeRef.parse(n.ref) for n in result.nodes)]).items()
    }
    data = network_data(GraphView(lineage=result, nodes=nodes), tips=False)
    assert len(data["nodes"]) == 400 > ROUTE_MAX_NODES
    assert data["layout"]["renderer"] == "light" and data["layout"]["readable"] is False
    assert all(n["w"] >= 32 and n["h"] >= 38 for n in data["nodes"])
    assert data["points"] == [] and not any("route" in e for e in data["edges"])
    html = render_graph_page(GraphView(lineage=result, nodes=nodes))
    assert "/assets/vis-network" not in html and "window.LightMap = LightMap" in html
    assert len(_payload(html)["nodes"]) == 400
    static = render_graph_page(GraphView(lineage=result, nodes=nodes), static=True)
    library = inline_vis_assets()[0]
    assert library[-300:] not in static and "window.LightMap = LightMap" in static
    assert not re.search(r'(src|href)="/', static)  # nothing to fetch: works from file://
    small = render_graph_page(graph_view(demo_store(), NodeRef.parse("atp"), depth=1))
    assert "/assets/vis-network" in small and "window.LightMap = LightMap" not in small


def test_script_json_is_compact_and_cannot_close_its_script() -> None:
    data = {"name": "</script><script>alert(1)</script>", "cn": "营收", "q": "'&"}
    text = str(script_json(data))
    assert "</" not in text and "<" not in text and "'" not in text and "&" not in text
    assert "营收" in text and ", " not in text
    assert json.loads(text) == data
