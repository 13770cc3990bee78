"""The /explain page and the metric page's values panel in real Chromium: charts drawn as
inline SVG, the planted story at the top, nothing loaded from another host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.base import GraphStore
from tests.helpers import demo_store

pytestmark = pytest.mark.browser


def _requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def test_explain_page_draws_waterfall_tree_and_tables(
    page: Any, serve: Callable[[GraphStore], str], artifacts: Path
) -> None:
    base = serve(demo_store())
    seen = _requests(page)
    page.goto(f"{base}/explain/revenue?period=2026-06&base=mom&by=store,order_type")
    assert page.locator("#explain-title").inner_text().startswith("营收")
    assert page.locator("#waterfall svg rect").count() == 4  # base, 进厂台次, 客单价, new value
    tree = page.locator("#tree svg")
    assert tree.locator("rect").count() >= 6
    box = tree.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200
    first = page.locator("table.dimension").first
    assert first.get_attribute("data-dimension") == "store"
    assert first.locator("tbody tr").first.locator("td").first.inner_text() == "南山店"
    drill = page.locator("table.drill tbody tr").first.inner_text()
    assert "南山店 · 保养" in drill  # the dimension's members by their display names
    assert page.locator("#change").inner_text().startswith("−26.2万")  # a real minus
    page.screenshot(path=str(artifacts / "explain-revenue.png"), full_page=True)
    assert all(url.startswith(base) for url in seen), [u for u in seen if not u.startswith(base)]


def test_ratio_page_shows_rate_and_mix(
    page: Any, serve: Callable[[GraphStore], str], artifacts: Path
) -> None:
    base = serve(demo_store())
    page.goto(f"{base}/explain/atp?period=2026-06&base=mom&by=order_type")
    header = page.locator("table.dimension thead").first.inner_text()
    assert "率效应" in header and "结构效应" in header
    page.screenshot(path=str(artifacts / "explain-atp.png"), full_page=True)


def test_metric_page_values_panel(
    page: Any, serve: Callable[[GraphStore], str], artifacts: Path
) -> None:
    base = serve(demo_store())
    page.goto(f"{base}/metrics/revenue")
    panel = page.locator("#values-panel")
    assert panel.locator("#latest-value").inner_text() == "250.8万"
    assert panel.locator("svg.trend path").count() == 1
    assert "90.5%" in panel.inner_text()  # target attainment
    panel.screenshot(path=str(artifacts / "metric-values-panel.png"))
    page.locator("#values-panel a", has_text="为什么变化").click()
    page.wait_for_url("**/explain/revenue**")
    assert page.locator("#waterfall svg").count() == 1
