"""Names people know, directed paths and Chinese pages over HTTP, on both backends."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("typed", ["客单价", "ATP", "Average%20Ticket%20Price", "Metric:atp"])
def test_node_routes_resolve_names(client: Any, typed: str) -> None:
    r = client.get(f"/api/nodes/{typed}/lineage?direction=upstream&depth=1")
    assert r.status_code == 200, r.text
    assert r.json()["root"] == "Metric:atp"


def test_metric_card_and_page_by_name(client: Any) -> None:
    assert client.get("/api/metrics/客单价").json()["ref"] == "Metric:atp"
    page = client.get("/metrics/客单价")
    assert page.status_code == 200 and "客单价" in page.text


def test_unknown_name_is_404_with_suggestions(client: Any) -> None:
    r = client.get("/api/nodes/dms_orders.total_amount/impact")
    assert r.status_code == 404
    assert "Field:dms.dms_orders.total_amount" in r.json()["error"]["details"]["suggestions"]


def test_paths_are_directed_by_default(client: Any) -> None:
    r = client.get("/api/paths", params={"from": "客户满意度", "to": "净利润"})
    data = r.json()
    assert r.status_code == 200 and data["mode"] == "directed" and data["paths"]
    assert all(e["forward"] for p in data["paths"] for e in p["edges"])
    either = client.get(
        "/api/paths", params={"from": "revenue", "to": "net_profit_margin", "any_direction": True}
    ).json()
    assert either["mode"] == "any-direction"


def test_chinese_pages_speak_chinese(client: Any) -> None:
    home = client.get("/").text
    assert "个指标" in home and " Metric<" not in home and " Metric " not in home
    page = client.get("/metrics/atp").text
    assert "启用" in page and ">active<" not in page
    for emoji in ("✅", "❌"):
        assert emoji not in page  # marks that need no emoji font
