"""History, revision diff, version timeline and compare pages in real headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.publish import publish
from graph_schema.revisions import RevisionDraft
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import CATALOGS, DEMO

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def with_history(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    """The demo, then atp's unit changed (major, bumped to 2.0.0) by a hostile-named author."""
    root = tmp_path_factory.mktemp("rev") / "catalog"
    shutil.copytree(DEMO, root)
    store = EmbeddedStore(tmp_path_factory.mktemp("db") / "rev.sqlite")
    publish(store, load_catalog(root), RevisionDraft(author="运营部 张经理", message="初始导入"))
    atp = root / "metrics" / "revenue" / "atp.yaml"
    text = atp.read_text(encoding="utf-8")
    assert "unit: CNY" in text and "version: 1.1.0" in text
    atp.write_text(
        text.replace("unit: CNY", "unit: 千元").replace("\nversion: 1.1.0", "\nversion: 2.0.0"),
        encoding="utf-8",
    )
    publish(store, load_catalog(root), RevisionDraft(author=XSS, message="单位改为千元 " + XSS))
    return store


@pytest.fixture(scope="module")
def five_stores(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("five") / "five.sqlite")
    store.load(load_catalog(CATALOGS / "five_stores_atp"))
    return store


def test_history_to_revision_to_metric_timeline(
    page: Any, serve: Callable[..., str], with_history: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(with_history)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "/history")
    rows = page.locator("#revisions tbody tr")
    assert rows.count() == 2
    assert XSS in rows.first.inner_text()  # shown as text
    page.screenshot(path=str(artifacts / "history.png"), full_page=True)
    page.get_by_role("link", name="r2").click()
    page.wait_for_url("**/history/2")
    changes = page.locator("#metric-changes").inner_text()
    assert "atp" in changes and "重大变更" in changes and "千元" in changes
    assert "CNY" in page.locator("#metric-changes del").first.inner_text()
    assert "营收" in page.locator("#impact-influence").inner_text()
    assert "数据治理委员会" in page.locator("#approvals").inner_text()
    page.screenshot(path=str(artifacts / "revision.png"), full_page=True)
    page.goto(base + "/metrics/atp")
    timeline = page.locator("#version-timeline tbody tr")
    assert timeline.count() >= 2
    first = timeline.first.inner_text()
    assert "V2.0.0" in first and "重大变更" in first and "unit" in first
    assert "明确排除保险代收款" in page.locator("#version-timeline").inner_text()  # hand-written
    page.locator("#version-timeline").screenshot(path=str(artifacts / "version-timeline.png"))
    assert dialogs == []


def test_five_stores_atp_side_by_side(
    page: Any, serve: Callable[..., str], five_stores: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(five_stores)
    page.goto(base + "/compare")
    page.fill("input[name=a]", "atp_guangzhou")
    page.fill("input[name=b]", "atp_shanghai")
    page.get_by_role("button", name="对比").last.click()
    page.wait_for_url("**/compare?a=atp_guangzhou&b=atp_shanghai")
    assert "重大变更" in page.locator("#verdict").inner_text()
    numerator = page.locator("tr[data-field='caliber.numerator']")
    assert "differs" in (numerator.get_attribute("class") or "")
    assert "保险理赔" in numerator.locator(".only").inner_text()
    assert "same" in (page.locator("tr[data-field='unit']").get_attribute("class") or "")
    background = numerator.locator("td.diff").first.evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert background == "rgb(255, 243, 205)"  # highlighted
    page.screenshot(path=str(artifacts / "compare-five-stores.png"), full_page=True)


def test_impact_page_shows_recomputed_apart_from_influenced(
    page: Any, serve: Callable[..., str], with_history: EmbeddedStore, artifacts: Path
) -> None:
    base = serve(with_history)
    page.goto(base + "/impact/Metric:atp")
    assert page.locator("#metrics-definition tbody").inner_text().strip() == "无"
    influenced = page.locator("#metrics-influence").inner_text()
    assert "营收" in influenced and "客单价 → 营收" in influenced
    assert "不会重新计算 L0" in page.locator("#l0-warning").inner_text()
    page.goto(base + "/impact/Field:dms.dms_orders.total_amount")
    assert "⚠" in page.locator("#l0-warning").inner_text()
    page.screenshot(path=str(artifacts / "impact-split.png"), full_page=True)
