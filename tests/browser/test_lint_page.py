"""The /lint page in real headless Chromium: counts, filters, links to the metrics involved."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO

pytestmark = pytest.mark.browser

# the five stores' five 客单价, dropped into the after-sales demo
FIVE = "".join(
    f"- {{id: atp_store_{s}, name: 客单价, level: L1, owner: ops, "
    f"formula: revenue / visits{extra}, rolls_up_to: revenue}}\n"
    for s, extra in [("a", ""), ("b", " * 1"), ("c", " + 0"), ("d", " - 0"), ("e", " / 1")]
)


def test_lint_page(page: Any, serve: Callable[..., str], tmp_path: Path, artifacts: Path) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(DEMO, root)
    (root / "metrics" / "five_stores.yaml").write_text(FIVE, encoding="utf-8")
    store = EmbeddedStore(tmp_path / "db.sqlite")
    store.load(load_catalog(root))
    base = serve(store)
    page.goto(base + "/")
    page.click("header.top >> text=检查")
    page.wait_for_url("**/lint")
    assert int(page.locator("#count-error").inner_text()) >= 1
    assert page.locator("#has-errors").is_visible()
    row = page.locator("#issues tr.issue", has_text="conflict.name").first
    assert "6 个指标的名称相同 '客单价'" in row.inner_text()  # the demo's atp too (zh catalog)
    assert row.locator(".where").inner_text().startswith("metrics/five_stores.yaml:")
    page.screenshot(path=str(artifacts / "lint.png"), full_page=True)
    page.screenshot(path=str(artifacts / "lint-top.png"))  # what one sees first
    page.click("#lint-counts >> text=错误")
    page.wait_for_url("**/lint?severity=error")
    rows = page.locator("#issues tr.issue")
    assert rows.count() >= 1
    assert all("错误" in rows.nth(i).locator("td").first.inner_text() for i in range(rows.count()))
    page.screenshot(path=str(artifacts / "lint-errors.png"), full_page=True)
    rows.first.locator("td").last.locator("a", has_text="atp_store_c").click()
    page.wait_for_url("**/metrics/atp_store_c")
    assert "客单价" in page.locator("h1").inner_text()
    # served where the catalog directory is not: the loaded graph is linted, without file:line
    shutil.rmtree(root)
    page.goto(base + "/lint?severity=error")
    assert page.locator("#lint-note").is_visible()
    assert page.locator("#issues tr.issue .where").first.inner_text() == "—"
    assert "conflict.name" in page.locator("#issues").inner_text()
    page.screenshot(path=str(artifacts / "lint-from-graph.png"))
    store.close()
