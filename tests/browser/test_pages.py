"""The HTML side in real headless Chromium: graph view, navigation, search, XSS, offline export."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.lineage import lineage
from analysis.results import Direction
from benchmarks.graph_render import neighbourhood
from graph_schema.ids import NodeRef
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO, ROOT

XSS = "<img src=x onerror=alert(1)>"
XSS_DEFINITION = '<a href="javascript:alert(2)">点我</a><script>alert(3)</script>'

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_with_xss(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    """The demo catalog plus a metric whose name and definition are hostile."""
    root = tmp_path_factory.mktemp("xss") / "catalog"
    shutil.copytree(DEMO, root)
    (root / "metrics" / "xss.yaml").write_text(
        f"id: xss_metric\nname: '{XSS}'\nabbr: 'x\" onmouseover=\"alert(4)'\n"
        f"definition: '{XSS_DEFINITION}'\nlevel: L2\nowner: ops\n"
        "causes: [{metric: atp, polarity: '-'}]\n"
        "history: [{version: 9.9.9, date: 2030-01-01, change: '<b>bold</b>'}]\n",
        encoding="utf-8",
    )
    store = EmbeddedStore(tmp_path_factory.mktemp("db") / "xss.sqlite")
    store.load(load_catalog(root))
    return store


def wait_graph(page: Any) -> None:
    page.wait_for_function("window.kpigraph && window.kpigraph.ready === true")


def node_point(page: Any, ref: str) -> tuple[float, float]:
    """The page coordinates of a node's centre in the vis canvas."""
    return tuple(  # type: ignore[return-value]
        page.evaluate(
            """(ref) => {
              const net = window.kpigraph.network;
              net.focus(ref, {scale: 1.2, animation: false});
              const p = net.canvasToDOM(net.getPositions([ref])[ref]);
              const box = document.querySelector('#graph canvas').getBoundingClientRect();
              return [box.left + p.x, box.top + p.y];
            }""",
            ref,
        )
    )


def assert_drawn(page: Any, expected: Any) -> None:
    """Every lineage node is drawn, fields collapsed into their tables (one node each)."""
    drawn = dict(page.evaluate("window.kpigraph.nodes.get().map(n => [n.id, n.group_of || 0])"))
    fields = [n for n in expected.nodes if n.kind == "Field"]
    assert {n.ref for n in expected.nodes if n.kind != "Field"} | {expected.root} <= set(drawn)
    assert sum(drawn.values()) == len(fields) and fields
    ends = page.evaluate("window.kpigraph.edges.get().flatMap(e => [e.from, e.to])")
    assert ends and set(ends) <= set(drawn)


def test_graph_view_draws_expected_nodes(
    page: Any, serve: Callable[..., str], demo_with_xss: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo_with_xss)
    expected = lineage(demo_with_xss, NodeRef.parse("atp"), Direction.BOTH, 2)
    page.goto(f"{base}/view/graph?focus=Metric:atp&depth=2")
    wait_graph(page)
    assert_drawn(page, expected)
    positions = page.evaluate("Object.values(window.kpigraph.network.getPositions())")
    assert all(abs(p["x"]) < 1e6 and abs(p["y"]) < 1e6 for p in positions)
    # upstream on the left, downstream on the right
    pos = page.evaluate(
        "window.kpigraph.network.getPositions("
        "['Metric:atp', 'Metric:visits', 'Dashboard:store_ops_pc'])"
    )
    # (gross_profit is downstream only through the DRIVES edge atp→revenue, which closes a
    # cycle with revenue→atp and is drawn backwards; the map's columns follow the data flow)
    assert pos["Metric:visits"]["x"] < pos["Metric:atp"]["x"] < pos["Dashboard:store_ops_pc"]["x"]
    assert page.locator("#legend").inner_text().count("公式") == 1
    page.screenshot(path=str(artifacts / "graph.png"))


def test_click_opens_page_and_double_click_recentres(
    page: Any, serve: Callable[..., str], demo_with_xss: EmbeddedStore
) -> None:
    base = serve(demo_with_xss)
    page.goto(f"{base}/view/graph?focus=Metric:atp&depth=1")
    wait_graph(page)
    x, y = node_point(page, "Metric:revenue")
    page.mouse.dblclick(x, y)
    page.wait_for_url("**/view/graph?focus=Metric%3Arevenue*")
    wait_graph(page)
    assert "营收" in page.locator(".bar strong").inner_text()
    x, y = node_point(page, "Metric:net_profit")
    page.mouse.click(x, y)
    page.wait_for_url("**/metrics/net_profit")
    assert page.locator("h1").inner_text().startswith("净利润")


def test_search_by_chinese_and_abbreviation(
    page: Any, serve: Callable[..., str], demo_with_xss: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo_with_xss)
    for query in ("客单价", "ATP"):
        page.goto(base + "/")
        page.fill("#home-search", query)
        page.press("#home-search", "Enter")
        page.wait_for_url("**/search?q=*")
        first = page.locator("#results tbody tr").first
        assert first.locator("a").inner_text() == "客单价", query
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)


def test_home_to_card_and_map_in_two_clicks(
    page: Any, serve: Callable[..., str], artifacts: Path, tmp_path: Path
) -> None:
    store = EmbeddedStore(tmp_path / "demo.sqlite")
    store.load(load_catalog(DEMO))
    base = serve(store)
    page.goto(base + "/")
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    page.get_by_role("link", name="客单价").first.click()  # click 1: the card
    page.wait_for_url("**/metrics/atp")
    assert page.locator("#metric-name").inner_text().startswith("客单价")
    for section in (
        "基本信息",
        "指标定义",
        "统计口径",
        "数据来源",
        "使用场景",
        "行业基准",
        "注意事项",
        "关联指标",
        "版本",
        "咨询联系",
    ):
        assert section in page.locator("main").inner_text(), section
    page.frame_locator("#metric-graph").locator("#graph canvas").wait_for()
    page.screenshot(path=str(artifacts / "metric.png"), full_page=True)
    page.get_by_role("link", name="关系图谱").first.click()  # click 2: the map
    page.wait_for_url("**/view/graph?focus=Metric%3Aatp*")
    wait_graph(page)
    page.goto(base + "/impact/Metric:atp")
    assert "L0" in page.locator("#l0-warning").inner_text()
    assert "财务部" in page.locator("#departments").inner_text()
    page.screenshot(path=str(artifacts / "impact.png"), full_page=True)


def test_hostile_names_render_as_text(
    page: Any, serve: Callable[..., str], demo_with_xss: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(demo_with_xss)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/metrics/xss_metric")
    assert page.locator("#metric-name").inner_text().startswith(XSS)
    assert XSS_DEFINITION in page.locator("main").inner_text()
    page.goto(f"{base}/search?q=img")
    assert XSS in page.locator("#results").inner_text()
    page.goto(f"{base}/impact/Metric:xss_metric")
    page.goto(f"{base}/view/graph?focus=Metric:xss_metric&depth=1")
    wait_graph(page)
    x, y = node_point(page, "Metric:xss_metric")
    page.mouse.move(x, y)
    page.wait_for_selector("div.vis-tooltip", state="visible")
    tooltip = page.locator("div.vis-tooltip")
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img, a, script").count() == 0
    page.mouse.click(x, y)  # shows the title in the side panel, then navigates
    page.wait_for_url("**/metrics/xss_metric")
    page.goto(f"{base}/view/graph?focus=Metric:atp&depth=1")
    wait_graph(page)
    page.screenshot(path=str(artifacts / "graph-xss.png"))
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_exported_file_renders_offline(
    browser: Any, demo_with_xss: EmbeddedStore, tmp_path: Path, artifacts: Path
) -> None:
    out = tmp_path / "map.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "render",
            "atp",
            "-o",
            str(out),
            "--depth",
            "2",
            "--db",
            str(demo_with_xss.path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.route(
        "**/*",
        lambda route: (
            (requests.append(route.request.url), route.abort())
            if not route.request.url.startswith(("file:", "data:"))
            else route.continue_()
        ),
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(out.as_uri())
    wait_graph(page)
    expected = lineage(demo_with_xss, NodeRef.parse("atp"), Direction.BOTH, 2)
    assert_drawn(page, expected)
    x, y = node_point(page, "Metric:revenue")
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    assert page.url == out.as_uri()  # static export: a click shows details, no navigation
    assert "营收" in page.locator("#details").inner_text()
    page.screenshot(path=str(artifacts / "export.png"))
    assert requests == [] and dialogs == []
    context.close()


def hub_store(path: Path, fan_out: int) -> EmbeddedStore:
    """A hot field feeding ``fan_out`` metrics (the render benchmark's neighbourhood)."""
    store = EmbeddedStore(path)
    store.load(neighbourhood(fan_out + 1))
    return store


def test_big_neighbourhood_is_capped_with_a_notice(
    page: Any, serve: Callable[..., str], tmp_path: Path
) -> None:
    base = serve(hub_store(tmp_path / "hub.sqlite", 700))
    page.goto(f"{base}/view/graph?focus=Field:s.t.hot&direction=downstream&depth=1&max_nodes=200")
    wait_graph(page)
    assert page.evaluate("window.kpigraph.nodes.length") == 201
    notice = page.locator("#notice").inner_text()
    assert "还有 500 个节点未显示" in notice and "请缩小范围" in notice  # the catalog's zh
    assert page.evaluate("window.kpigraph.network.physics.options.enabled") is False
    # the tab stays responsive
    assert page.evaluate("1 + 1") == 2
