"""GET /api/nodes/{ref}/summary: the graph view's hover card, fetched when the pointer rests
on a node (issue #17), on both backends."""

from __future__ import annotations

from typing import Any


def test_summary_of_a_metric_names_it_and_gives_its_definition(client: Any) -> None:
    r = client.get("/api/nodes/Metric%3Aatp/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ref"] == "Metric:atp" and body["kind"] == "Metric" and body["name"] == "客单价"
    lines = body["text"].split("\n")
    assert lines[0] == "客单价  (Metric:atp)"
    assert "负责：运营部" in lines  # the owner's name, not its id
    assert "公式：营收 / 进厂台次" in lines  # the inputs by name, as people read it
    assert lines[-1] == "单个客户单次进厂消费的平均金额。"


def test_summary_of_other_kinds_and_bare_ids(client: Any) -> None:
    table = client.get("/api/nodes/Table:dms.dms_orders/summary").json()
    assert table["kind"] == "Table" and table["text"].startswith("工单表  (Table:dms.dms_orders)")
    assert client.get("/api/nodes/atp/summary").json()["ref"] == "Metric:atp"


def test_summary_errors(client: Any) -> None:
    missing = client.get("/api/nodes/Metric:revenu/summary")
    assert missing.status_code == 404
    assert missing.json()["error"]["details"]["suggestions"][0] == "Metric:revenue"
    bad = client.get("/api/nodes/Gadget:x/summary")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_ref"
