"""Big maps (more than 150 nodes) are drawn by the page's light canvas renderer, and every
map fetches node tooltips on hover (issue #17): checked in real Chromium — the whole map at
fit, labels once zoomed in, hover cards with the node's name and definition (hostile text
shown as text), click, double-click, wheel zoom, drag, filters, the metric tree's cross links
and the offline export."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.graph_render import neighbourhood
from graph_schema.graph import CatalogGraph
from graph_schema.models import Edge, Metric
from graph_schema.relations import Relation
from store.embedded import EmbeddedStore
from tests.helpers import ROOT, demo_store

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
XSS_DEFINITION = '<a href="javascript:alert(2)">点我</a><script>alert(3)</script>'
HUB = "/view/graph?focus=Field:s.t.hot&direction=downstream&depth=1&max_nodes={n}"
READY = "window.kpigraph && window.kpigraph.ready === true"

#: Where a node is on the page (after centring it at ``scale``).
NODE_POINT = """([ref, scale]) => {
  const net = window.kpigraph.network;
  net.focus(ref, {scale: scale, animation: false});
  const p = net.canvasToDOM(net.getPositions([ref])[ref]);
  const box = document.querySelector('#graph canvas').getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}"""


def hub_with_hostile_metric(n: int) -> CatalogGraph:
    """The benchmark's hub (a field feeding ``n - 2`` metrics) plus a metric whose name and
    definition are HTML, fed by the same field."""
    hub = neighbourhood(n - 1)
    bad = Metric(id="xss_metric", name=XSS, definition=XSS_DEFINITION, level="L2")
    field = next(n for n in hub.nodes if str(n.ref) == "Field:s.t.hot")
    edge = Edge(source=field.ref, target=bad.ref, type=Relation.FEEDS)
    return CatalogGraph(name="hub-xss", nodes=(*hub.nodes, bad), edges=(*hub.edges, edge))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("hub") / "hub.sqlite")
    store.load(hub_with_hostile_metric(2000))
    return store


@pytest.fixture
def wide(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def watch(page: Any) -> tuple[list[str], list[str]]:
    """Dialogs (an alert would mean injected script ran) and summary requests made."""
    dialogs: list[str] = []
    fetched: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Any) -> None:
        if "/summary" in request.url:
            fetched.append(request.url)

    page.on("dialog", on_dialog)
    page.on("request", on_request)
    return dialogs, fetched


def open_map(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY)


def hover_card(page: Any, ref: str, scale: float = 1.0) -> str:
    x, y = page.evaluate(NODE_POINT, [ref, scale])
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)
    page.wait_for_selector("#card", state="visible")
    page.wait_for_function("document.getElementById('card').textContent.includes('(')")
    return str(page.locator("#card").inner_text())


def test_2000_nodes_light_map_whole_at_fit_labels_when_zoomed(
    wide: Any, serve: Callable[..., str], hub: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(hub)
    open_map(wide, base + HUB.format(n=2000))
    wide.screenshot(path=str(artifacts / "map-2000-fit.png"))
    info = wide.evaluate(
        """() => { const k = window.kpigraph, net = k.network;
          const canvas = document.querySelector('#graph canvas').getBoundingClientRect();
          const out = k.nodes.get().filter(n => { const b = net.getBoundingBox(n.id);
            const tl = net.canvasToDOM({x: b.left, y: b.top});
            const br = net.canvasToDOM({x: b.right, y: b.bottom});
            return tl.x < 0 || tl.y < 0 || br.x > canvas.width || br.y > canvas.height; });
          return {renderer: k.renderer, vis: typeof window.vis, n: k.nodes.length,
                  e: k.edges.length, outside: out.length, labels: net.labelsDrawn,
                  callouts: net.calloutsDrawn, tips: k.nodes.get().filter(n => n.tip).length,
                  physics: net.physics.options.enabled}; }"""
    )
    assert info["renderer"] == "light" and info["vis"] == "undefined"  # no vis-network loaded
    assert info["n"] == 2000 and info["e"] > 3000
    assert info["outside"] == 0  # the whole map in view
    assert info["labels"] == 0 and info["callouts"] == 1  # at fit: only the focus is named
    assert info["tips"] == 0  # node tooltips are not in the page
    assert info["physics"] is False
    # zoomed in: every node in view is labelled
    wide.evaluate("window.kpigraph.network.focus('Metric:m10', {scale: 1.0})")
    wide.wait_for_function("window.kpigraph.network.labelsDrawn > 10")
    wide.screenshot(path=str(artifacts / "map-2000-zoomed.png"))
    # the wheel zooms out again, around the pointer
    before = wide.evaluate("window.kpigraph.network.getScale()")
    wide.mouse.move(500, 450)
    wide.mouse.wheel(0, 600)
    wide.wait_for_function(f"window.kpigraph.network.getScale() < {before} * 0.7")
    wide.wait_for_function("window.kpigraph.network.labelsDrawn === 0")


def test_lazy_tooltip_shows_name_and_definition_on_a_small_map(
    wide: Any, serve: Callable[..., str], artifacts: Path
) -> None:
    base = serve(demo_store())
    dialogs, fetched = watch(wide)
    open_map(wide, base + "/view/graph?focus=Metric:atp&depth=1")
    assert wide.evaluate("window.kpigraph.renderer") == "vis"
    tipped = wide.evaluate("window.kpigraph.nodes.get().filter(n => n.tip && !n.group_of).length")
    assert tipped == 0
    text = hover_card(wide, "Metric:atp", 1.2)
    assert "客单价" in text and "Metric:atp" in text
    assert "单个客户单次进厂消费的平均金额" in text  # the definition
    assert any("/api/nodes/Metric%3Aatp/summary" in u for u in fetched)
    wide.screenshot(path=str(artifacts / "map-small-card.png"))
    # the same card in the side panel on click (before the click navigates)
    x, y = wide.evaluate(NODE_POINT, ["Metric:revenue", 1.2])
    wide.mouse.click(x, y)
    wide.wait_for_url("**/metrics/revenue")
    assert dialogs == []


def test_lazy_tooltip_hostile_text_is_text_on_a_big_map(
    wide: Any, serve: Callable[..., str], hub: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(hub)
    dialogs, fetched = watch(wide)
    open_map(wide, base + HUB.format(n=2000))
    text = hover_card(wide, "Metric:xss_metric")
    assert XSS in text and XSS_DEFINITION in text
    assert wide.locator("#card img, #card a, #card script").count() == 0
    assert wide.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert fetched == [base + "/api/nodes/Metric%3Axss_metric/summary"]
    wide.screenshot(path=str(artifacts / "map-2000-hostile-card.png"))
    # moving off the node hides the card; a second hover uses the card already fetched
    wide.mouse.move(3, 3)
    wide.wait_for_selector("#card", state="hidden")
    hover_card(wide, "Metric:xss_metric")
    assert len(fetched) == 1
    # a click shows the card in the side panel (as text), then opens the metric's page
    x, y = wide.evaluate(NODE_POINT, ["Metric:xss_metric", 1.0])
    wide.mouse.click(x, y)
    wide.wait_for_function("document.getElementById('details').textContent.includes('<img')")
    assert wide.locator("#details img, #details a, #details script").count() == 0
    wide.wait_for_url("**/metrics/xss_metric")
    wide.wait_for_timeout(300)
    assert dialogs == []


def test_big_map_double_click_recentres_and_filters_redraw(
    wide: Any, serve: Callable[..., str], hub: EmbeddedStore
) -> None:
    base = serve(hub)
    open_map(wide, base + HUB.format(n=400))
    assert wide.evaluate("window.kpigraph.renderer") == "light"
    # drag pans the view
    start = wide.evaluate("window.kpigraph.network.getViewPosition()")
    wide.mouse.move(300, 400)
    wide.mouse.down()
    wide.mouse.move(360, 460, steps=4)
    wide.mouse.up()
    moved = wide.evaluate("window.kpigraph.network.getViewPosition()")
    assert moved["x"] < start["x"] and moved["y"] < start["y"]
    # an edge under the pointer shows what it is
    x, y = wide.evaluate(
        """() => { const k = window.kpigraph, net = k.network;
          const e = k.edges.get().find(e => e.relation === 'CAUSES');
          net.focus(e.from, {scale: 1.0});
          const p = net.getPositions([e.from, e.to]);
          const m = net.canvasToDOM({x: (p[e.from].x + p[e.to].x) / 2 + 20,
                                     y: (p[e.from].y + p[e.to].y) / 2});
          const box = document.querySelector('#graph canvas').getBoundingClientRect();
          return [box.left + m.x, box.top + m.y]; }"""
    )
    wide.mouse.move(x, y)
    wide.wait_for_selector("#card", state="visible")
    assert "因果" in wide.locator("#card").inner_text()
    # unticking a relation redraws without it, still with the light renderer
    with wide.expect_navigation():
        wide.uncheck("#legend input[name=relations][value=CAUSES]")
    wide.wait_for_function(READY)
    relations = wide.evaluate("[...new Set(window.kpigraph.edges.get().map(e => e.relation))]")
    assert relations == ["FEEDS"]
    assert "max_nodes=400" in wide.url  # the cap the map was opened with is kept
    assert wide.evaluate("window.kpigraph.nodes.length") == 401  # and the focus
    # double-click on a metric re-centres the map on it
    assert wide.evaluate("window.kpigraph.renderer") == "light"
    x, y = wide.evaluate(NODE_POINT, ["Metric:m10", 1.0])
    wide.mouse.dblclick(x, y)
    wide.wait_for_url("**/view/graph?focus=Metric%3Am10*")
    wide.wait_for_function(READY)
    assert "max_nodes=400" in wide.url


def metric_tree(branches: int, leaves: int) -> CatalogGraph:
    """A metric computed from ``branches`` metrics, each from ``leaves`` metrics, and a few
    driver links across branches (drawn on demand in the tree)."""
    nodes = [Metric(id="root", name="总指标", level="L0")]
    edges = []
    for b in range(branches):
        branch = Metric(id=f"b{b}", name=f"分支{b}", level="L1")
        nodes.append(branch)
        edges.append(Edge(source=branch.ref, target=nodes[0].ref, type=Relation.INPUT_TO))
        for k in range(leaves):
            leaf = Metric(id=f"b{b}_l{k}", name=f"叶{b}-{k}", level="L2")
            nodes.append(leaf)
            edges.append(Edge(source=leaf.ref, target=branch.ref, type=Relation.INPUT_TO))
            if k == 0 and b:
                edges.append(Edge(source=leaf.ref, target=nodes[1].ref, type=Relation.DRIVES))
    return CatalogGraph(name="tree", nodes=tuple(nodes), edges=tuple(edges))


def test_big_metric_tree_cross_links_on_demand(
    wide: Any, serve: Callable[..., str], tmp_path: Path, artifacts: Path
) -> None:
    store = EmbeddedStore(tmp_path / "tree.sqlite")
    store.load(metric_tree(16, 14))
    base = serve(store)
    open_map(wide, base + "/view/graph?focus=Metric:root&depth=3&mode=tree&max_nodes=400")
    assert wide.evaluate("window.kpigraph.nodes.length") > 150
    assert wide.evaluate("window.kpigraph.renderer") == "light"
    cross = wide.evaluate("window.kpigraph.edges.get().filter(e => e.cross).map(e => e.id)")
    assert cross
    hidden = "(ids) => ids.every(id => window.kpigraph.segments.get(id).hidden)"
    assert wide.evaluate(hidden, cross)
    wide.check("#show-cross")
    assert wide.evaluate(
        "(ids) => ids.every(id => !window.kpigraph.segments.get(id).hidden)", cross
    )
    wide.screenshot(path=str(artifacts / "map-tree-big.png"))


def test_big_export_is_self_contained_with_tooltips(
    browser: Any, hub: EmbeddedStore, tmp_path: Path, artifacts: Path
) -> None:
    out = tmp_path / "big.html"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "cli", "render", "Field:s.t.hot", "-o", str(out)),
            *("--direction", "downstream", "--depth", "1", "--max-nodes", "300"),
            *("--db", str(hub.path)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    requests: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    dialogs, _ = watch(page)
    page.goto(out.as_uri())
    page.wait_for_function(READY)
    assert page.evaluate("window.kpigraph.renderer") == "light"
    assert page.evaluate("window.kpigraph.nodes.get().every(n => n.tip)")
    text = hover_card(page, "Metric:m10")
    assert "指标10" in text
    x, y = page.evaluate(NODE_POINT, ["Metric:m10", 1.0])
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    assert page.url == out.as_uri()  # static: a click shows details, no navigation
    assert "指标10" in page.locator("#details").inner_text()
    page.screenshot(path=str(artifacts / "export-big.png"))
    assert requests == [] and dialogs == []
    context.close()


def test_big_map_pinch_zooms_on_a_touch_screen(
    browser: Any, serve: Callable[..., str], hub: EmbeddedStore
) -> None:
    context = browser.new_context(viewport={"width": 900, "height": 700}, has_touch=True)
    page = context.new_page()
    open_map(page, serve(hub) + HUB.format(n=400))
    before = page.evaluate("window.kpigraph.network.getScale()")
    cdp = context.new_cdp_session(page)

    def touch(kind: str, spread: float) -> None:
        points = [{"x": 300 - spread, "y": 400, "id": 0}, {"x": 300 + spread, "y": 400, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 20)
    for spread in (40, 60, 80):
        touch("touchMove", spread)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function(f"window.kpigraph.network.getScale() > {before} * 3")
    assert page.url.endswith("max_nodes=400")  # a pinch is not a click: no navigation
    context.close()
