"""Definition changes on value charts: the API's values carry them with ``?annotations=true``,
the metric page's trend draws them, and explain warns when its two months straddle a major
change (the demo catalog reloaded with 客单价's numerator changed as of 2026-06)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO

ATP = Path("metrics/revenue/atp.yaml")


def changed_demo(root: Path) -> Path:
    """The demo with 客单价 2.0.0: its numerator now includes 保险理赔 from 2026-06-01."""
    shutil.copytree(DEMO, root)
    path = root / ATP
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "includes: [工时收入, 配件收入, 增值服务收入（美容、精品等）]",
        "includes: [工时收入, 配件收入, 增值服务收入（美容、精品等）, 保险理赔]",
    ).replace("version: 1.1.0\n", "version: 2.0.0\n")
    text = text.replace(
        "  - {version: 1.1.0, date: 2024-03-01, change: 明确排除保险代收款}\n",
        "  - {version: 1.1.0, date: 2024-03-01, change: 明确排除保险代收款}\n"
        "  - {version: 2.0.0, date: 2026-06-01, change: 分子计入保险理赔}\n",
    )
    path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    root = changed_demo(tmp_path / "demo")
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(DEMO))
    store.load(load_catalog(root))
    app = create_app(Settings(backend="embedded", notify=False), store=store)
    with TestClient(app) as c:
        yield c
    store.close()


def test_values_with_annotations_mark_the_major_change(client: TestClient) -> None:
    plain = client.get("/api/metrics/atp/values").json()
    assert "annotations" not in plain
    body = client.get("/api/metrics/atp/values?annotations=true").json()
    assert body["rows"] == plain["rows"]
    older, mark = body["annotations"]  # oldest first; 1.0.0, the first version, is no change
    assert (older["version"], older["change_class"], older["period"]) == (
        "1.1.0",
        "minor",
        "2024-03",
    )
    assert mark["version"] == "2.0.0" and mark["change_class"] == "major"
    assert mark["date"] == "2026-06-01" and mark["period"] == "2026-06"
    assert any(f.startswith("caliber") for f in mark["fields"])
    assert mark["revision"] == 2 and mark["link"].endswith("/history/2")


def test_explain_warns_across_a_major_change(client: TestClient) -> None:
    across = client.get("/api/metrics/atp/explain?period=2026-06&base=mom&lang=en").json()
    warning = across["definition_warning"]
    zh = client.get("/api/metrics/atp/explain?period=2026-06&base=mom").json()
    assert zh["definition_warning"].startswith("2026-05 与 2026-06 按不同的口径计算：2.0.0")
    assert warning.startswith(
        "2026-05 and 2026-06 were computed under different definitions: 2.0.0 (2026-06-01) "
        "changed caliber"
    ), warning
    assert [c["version"] for c in across["definition_changes"]] == ["2.0.0"]
    before = client.get("/api/metrics/atp/explain?period=2026-05&base=mom").json()
    assert before["definition_warning"] is None and before["definition_changes"] == []
    page = client.get("/explain/atp?period=2026-06&base=mom")
    assert (
        'id="definition-warning"' in page.text
        and "2026-05 与 2026-06 按不同的口径计算" in page.text
    )


def test_the_metric_page_trend_draws_the_mark(client: TestClient) -> None:
    html = client.get("/metrics/atp").text
    assert 'class="def-mark" data-version="2.0.0" data-class="major" data-period="2026-06"' in html
