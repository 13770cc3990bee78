"""The relationship map is legible at first sight (issue #11), checked in real Chromium at
1400×900 on the after-sales demo: edges point right, labels >= 12 px, the drawing fills the
canvas, no edge runs through a node, fields collapse into tables, the metric tree, checkbox
filters, causal polarity and lag, and the metric page's small map."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.graph_render import neighbourhood
from store.embedded import EmbeddedStore
from tests.helpers import demo_store
from viz.style import EDGE_STYLE

pytestmark = pytest.mark.browser

ATP = "/view/graph?focus=Metric:atp&depth=2"
NET_PROFIT = "/view/graph?focus=Metric:net_profit&direction=upstream&depth=4"
LINEAGE = {
    "HAS_TABLE",
    "HAS_FIELD",
    "FEEDS",
    "INPUT_TO",
    "DRIVES",
    "CAUSES",
    "ROLLS_UP_TO",
    "SHOWN_ON",
}
MIN_LABEL_PX = 12

GEOMETRY = """() => {
  const k = window.kpigraph, net = k.network;
  const canvas = document.querySelector('#graph canvas').getBoundingClientRect();
  const nodes = k.nodes.get().map(n => {
    const b = net.getBoundingBox(n.id);
    const tl = net.canvasToDOM({x: b.left, y: b.top});
    const br = net.canvasToDOM({x: b.right, y: b.bottom});
    return {id: n.id, kind: n.kind, label: n.label, title: n.tip || '',
            group_of: n.group_of || 0, x: net.getPositions([n.id])[n.id].x,
            dom: {left: tl.x, top: tl.y, right: br.x, bottom: br.y},
            font: net.body.nodes[n.id].options.font.size};
  });
  return {scale: net.getScale(), canvas: {width: canvas.width, height: canvas.height},
          nodes: nodes, edges: k.edges.get()};
}"""

#: Points along every drawn edge that fall inside a node other than the edge's own ends.
THROUGH_NODES = """() => {
  const net = window.kpigraph.network;
  const boxes = window.kpigraph.nodes.getIds().map(id => [id, net.getBoundingBox(id)]);
  const out = [];
  for (const id of net.body.edgeIndices) {
    const e = net.body.edges[id];
    if (e.options.hidden) continue;
    for (let i = 1; i < 40; i++) {
      const p = e.edgeType.getPoint(i / 40);
      for (const [nid, b] of boxes) {
        if (nid === e.fromId || nid === e.toId) continue;
        if (p.x > b.left + 2 && p.x < b.right - 2 && p.y > b.top + 2 && p.y < b.bottom - 2) {
          out.push(id + ' through ' + nid);
          break;
        }
      }
    }
  }
  return [...new Set(out)];
}"""


#: The embedded map's legend, in the canvas's coordinates (as GEOMETRY gives the nodes').
MINI_LEGEND = """() => {
  const mini = document.querySelector('#mini');
  if (!mini) return null;
  const c = document.querySelector('#graph canvas').getBoundingClientRect();
  const r = mini.getBoundingClientRect();
  return {left: r.left - c.left, right: r.right - c.left, top: r.top - c.top,
          bottom: r.bottom - c.top, width: r.width};
}"""


@pytest.fixture
def wide(browser: Any) -> Iterator[Any]:
    """A 1400×900 page, the size the issue's screenshots were taken at."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def demo() -> EmbeddedStore:
    return demo_store()


def open_map(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_function("window.kpigraph && window.kpigraph.ready === true")
    return page.evaluate(GEOMETRY)  # type: ignore[no-any-return]


def by_id(geo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in geo["nodes"]}


@pytest.mark.parametrize(("name", "url"), [("atp", ATP), ("net-profit", NET_PROFIT)])
def test_lineage_edges_point_left_to_right(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path, name: str, url: str
) -> None:
    geo = open_map(wide, serve(demo) + url)
    wide.screenshot(path=str(artifacts / f"map-{name}.png"))
    x = {n["id"]: n["x"] for n in geo["nodes"]}
    lineage = [e for e in geo["edges"] if e["relation"] in LINEAGE]
    assert len(lineage) > 20
    backwards = [e for e in lineage if x[e["from"]] >= x[e["to"]]]
    # only an analysis edge (driver, causal, hierarchy) closing a cycle with the computation
    # may run right to left, and it says so; formula, binding and containment never do
    breakable = {"DRIVES", "CAUSES", "ROLLS_UP_TO"}
    assert all(e.get("broken") and e["relation"] in breakable for e in backwards), [
        (e["from"], e["relation"], e["to"]) for e in backwards
    ]
    assert len(backwards) <= 3
    assert wide.evaluate(THROUGH_NODES) == []


@pytest.mark.parametrize(("name", "url"), [("atp", ATP), ("net-profit", NET_PROFIT)])
def test_labels_readable_and_drawing_fills_canvas(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, name: str, url: str
) -> None:
    geo = open_map(wide, serve(demo) + url)
    small = [
        (n["id"], n["font"] * geo["scale"])
        for n in geo["nodes"]
        if n["font"] * geo["scale"] < MIN_LABEL_PX
    ]
    assert small == []
    canvas = geo["canvas"]
    left = min(n["dom"]["left"] for n in geo["nodes"])
    right = max(n["dom"]["right"] for n in geo["nodes"])
    top = min(n["dom"]["top"] for n in geo["nodes"])
    bottom = max(n["dom"]["bottom"] for n in geo["nodes"])
    assert left >= 0 and top >= 0 and right <= canvas["width"] and bottom <= canvas["height"]
    assert right - left >= 0.85 * canvas["width"], (left, right, canvas)


def test_fields_collapse_into_their_table_and_expand(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo)
    geo = open_map(wide, base + NET_PROFIT)
    assert [n["id"] for n in geo["nodes"] if n["kind"] == "Field"] == []
    orders = by_id(geo)["Table:dms.dms_orders"]
    count = orders["group_of"]
    assert f"dms_orders ({count} 个字段)" in orders["label"].replace("\n", " ")
    assert "工单总金额" in orders["title"]
    # a click on the group expands it in place
    wide.evaluate(
        "window.kpigraph.network.focus('Table:dms.dms_orders', {scale: 1.2, animation: false})"
    )
    point = wide.evaluate(
        """() => { const net = window.kpigraph.network, id = 'Table:dms.dms_orders';
          const p = net.canvasToDOM(net.getPositions([id])[id]);
          const box = document.querySelector('#graph canvas').getBoundingClientRect();
          return [box.left + p.x, box.top + p.y]; }"""
    )
    wide.mouse.click(*point)
    wide.wait_for_url("**expand=Table%3Adms.dms_orders*")
    wide.wait_for_function("window.kpigraph && window.kpigraph.ready === true")
    geo = wide.evaluate(GEOMETRY)
    fields = [n for n in geo["nodes"] if n["kind"] == "Field"]
    assert len(fields) == count and all(n["id"].startswith("Field:dms.dms_orders.") for n in fields)
    x = {n["id"]: n["x"] for n in geo["nodes"]}
    assert all(x[e["from"]] < x[e["to"]] for e in geo["edges"] if not e.get("broken"))
    wide.screenshot(path=str(artifacts / "map-net-profit-expanded.png"))


@pytest.mark.parametrize(
    ("name", "url"),
    [("net-profit", NET_PROFIT + "&mode=tree"), ("atp", ATP + "&mode=tree")],
)
def test_metric_tree_mode(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path, name: str, url: str
) -> None:
    geo = open_map(wide, serve(demo) + url)
    wide.screenshot(path=str(artifacts / f"map-tree-{name}.png"))
    assert {n["kind"] for n in geo["nodes"]} == {"Metric"}
    assert {e["relation"] for e in geo["edges"]} <= {"INPUT_TO", "DRIVES", "CAUSES", "ROLLS_UP_TO"}
    x = {n["id"]: n["x"] for n in geo["nodes"]}
    tree = [e for e in geo["edges"] if not e.get("cross") and not e.get("parallel")]
    assert len(tree) == len(geo["nodes"]) - 1  # a tree: one edge up to each node's parent
    joined = {frozenset((e["from"], e["to"])) for e in tree}
    twins = [e for e in geo["edges"] if e.get("parallel")]  # e.g. DRIVES beside the formula
    assert all(frozenset((e["from"], e["to"])) in joined for e in twins)
    assert all(x[e["from"]] < x[e["to"]] for e in tree)  # upstream left, downstream right
    focus = "Metric:" + name.replace("-", "_")
    far = sorted(e["from"] if x[e["from"]] < x[focus] else e["to"] for e in tree)
    assert far == sorted(set(x) - {focus})  # every node but the focus hangs exactly once
    assert all(n["font"] * geo["scale"] >= MIN_LABEL_PX for n in geo["nodes"])
    assert wide.evaluate(THROUGH_NODES) == []
    cross = [e["id"] for e in geo["edges"] if e.get("cross")]
    if cross:  # cross links are there on demand
        # a cross link routed around nodes is drawn as one segment per bend
        pieces = (
            "(ids) => window.kpigraph.segments.get({filter: s => ids.includes(s.edge || s.id)})"
        )
        assert wide.evaluate(f"(ids) => ({pieces})(ids).every(s => s.hidden)", cross)
        wide.check("#show-cross")
        assert wide.evaluate(f"(ids) => ({pieces})(ids).every(s => !s.hidden)", cross)
        wide.screenshot(path=str(artifacts / f"map-tree-{name}-cross.png"))
        assert wide.evaluate(THROUGH_NODES) == []  # cross links go around nodes, not through


def test_filters_are_checkboxes_in_the_legend_colours(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo)
    open_map(wide, base + ATP)
    for rel in ("INPUT_TO", "CAUSES", "FEEDS"):
        box = wide.locator(f"#legend input[name=relations][value={rel}]")
        assert box.is_checked()
        line = box.locator("xpath=following-sibling::span[1]")
        color = line.evaluate("e => getComputedStyle(e).borderTopColor")
        hex_color = EDGE_STYLE[next(r for r in EDGE_STYLE if r.value == rel)]["color"]
        rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
        assert color == f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    assert wide.locator("#legend input[name=kinds]").count() >= 5
    assert wide.locator("input[name=relations][type=text]").count() == 0
    # unticking a relation redraws without it; depth and direction are kept
    geo = submitted(wide, lambda: wide.uncheck("#legend input[name=relations][value=SHOWN_ON]"))
    assert "SHOWN_ON" not in {e["relation"] for e in geo["edges"]}
    assert "Dashboard" not in {n["kind"] for n in geo["nodes"]}
    assert "depth=2" in wide.url
    assert not wide.locator("#legend input[name=relations][value=SHOWN_ON]").is_checked()
    geo = submitted(wide, lambda: wide.uncheck("#legend input[name=kinds][value=Table]"))
    assert "Table" not in {n["kind"] for n in geo["nodes"]}
    assert "SHOWN_ON" not in {e["relation"] for e in geo["edges"]}
    wide.screenshot(path=str(artifacts / "map-filtered.png"))
    # direction still works: upstream only, everything left of the focus
    wide.select_option("select[name=direction]", "upstream")
    geo = submitted(wide, lambda: wide.click("#controls button[type=submit]"))
    assert "direction=upstream" in wide.url
    x = {n["id"]: n["x"] for n in geo["nodes"]}
    assert len(x) > 5 and all(x[r] < x["Metric:atp"] for r in x if r != "Metric:atp")


def submitted(page: Any, action: Callable[[], None]) -> dict[str, Any]:
    """Do what submits the filter form; the map it leads to."""
    with page.expect_navigation():
        action()
    page.wait_for_function("window.kpigraph && window.kpigraph.ready === true")
    return page.evaluate(GEOMETRY)  # type: ignore[no-any-return]


def test_causal_polarity_and_lag_on_the_map(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo)
    for url in (NET_PROFIT, NET_PROFIT + "&mode=tree"):
        geo = open_map(wide, base + url)
        causes = {(e["from"], e["to"]): e for e in geo["edges"] if e["relation"] == "CAUSES"}
        lagged = causes[("Metric:customer_satisfaction", "Metric:retention_rate")]
        assert lagged["label"].startswith("+") and "3个月" in lagged["label"]
        negative = causes[("Metric:parts_cost_rate", "Metric:gross_margin")]
        assert negative["label"].startswith("−") and negative["color"] == "#e63946"
        drawn = wide.evaluate(
            "(id) => window.kpigraph.segments.get({filter: s => (s.edge || s.id) === id})"
            ".map(s => s.label).filter(Boolean)",
            lagged["id"],
        )
        assert drawn == [lagged["label"]]
    wide.screenshot(path=str(artifacts / "map-tree-causal.png"))


def test_metric_page_map_is_readable(
    wide: Any, serve: Callable[..., str], demo: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo)
    wide.goto(base + "/metrics/atp")
    frame = wide.frame_locator("#metric-graph")
    frame.locator("body[data-ready='1']").wait_for()
    wide.locator("#metric-graph").scroll_into_view_if_needed()
    wide.screenshot(path=str(artifacts / "map-metric-page.png"))
    inner = wide.frame(url=lambda u: "/view/graph" in u)
    assert inner is not None
    geo = inner.evaluate(GEOMETRY)
    assert {n["kind"] for n in geo["nodes"]} == {"Metric"}
    assert all(n["font"] * geo["scale"] >= MIN_LABEL_PX for n in geo["nodes"])
    canvas = geo["canvas"]
    for n in geo["nodes"]:  # all of it in view
        assert n["dom"]["left"] >= 0 and n["dom"]["right"] <= canvas["width"], n["id"]
        assert n["dom"]["top"] >= 0 and n["dom"]["bottom"] <= canvas["height"], n["id"]
    assert wide.get_by_role("link", name="在关系图谱中打开").count() == 1
    # the embedded map's legend covers no node (#24: it covered one)
    legend = inner.evaluate(MINI_LEGEND)
    assert legend is not None and legend["width"] > 0
    for n in geo["nodes"]:
        box = n["dom"]
        apart = (
            box["right"] <= legend["left"]
            or box["left"] >= legend["right"]
            or box["bottom"] <= legend["top"]
            or box["top"] >= legend["bottom"]
        )
        assert apart, (n["id"], box, legend)


def test_labels_readable_up_to_150_nodes(
    wide: Any, serve: Callable[..., str], tmp_path: Path, artifacts: Path
) -> None:
    store = EmbeddedStore(tmp_path / "hub.sqlite")
    store.load(neighbourhood(150))
    geo = open_map(
        wide,
        serve(store) + "/view/graph?focus=Field:s.t.hot&direction=downstream&depth=1&max_nodes=150",
    )
    assert len(geo["nodes"]) == 150
    assert all(n["font"] * geo["scale"] >= MIN_LABEL_PX for n in geo["nodes"])
    focus = by_id(geo)["Field:s.t.hot"]["dom"]
    assert focus["left"] >= 0 and focus["right"] <= geo["canvas"]["width"]
    x = {n["id"]: n["x"] for n in geo["nodes"]}
    assert all(x[e["from"]] < x[e["to"]] for e in geo["edges"])
    wide.screenshot(path=str(artifacts / "map-150.png"))
