"""/inventory, /api/inventory and /api/inventory.xlsx on the five-客单价 catalog."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import CATALOGS


def test_inventory_json_page_and_xlsx(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(CATALOGS / "five_stores_atp"))
    with TestClient(create_app(Settings(backend="embedded"), store=store)) as client:
        data = client.get("/api/inventory").json()
        atps = [r for r in data["rows"] if r["name"] == "客单价"]
        assert len(atps) == 5 and {r["state"] for r in atps} == {"❌ 定义不统一"}
        assert data["rows"][0]["priority"] == "P0" and len(data["history"]) == 1
        page = client.get("/inventory").text
        assert "指标梳理清单" in page and page.count("❌ 定义不统一") >= 5
        book = load_workbook(io.BytesIO(client.get("/api/inventory.xlsx").content))
        ws = book["指标梳理清单"]
        header = [c.value for c in next(ws.iter_rows(max_row=1))]
        assert header[:5] == ["指标级别", "指标名称", "所属领域", "优先级", "当前是否有定义"]
        assert ws.max_row == len(data["rows"]) + 1
