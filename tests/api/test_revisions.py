"""/api/revisions, /api/nodes/{ref}/history, /api/diff, /api/compare and their pages, on both
backends (issue #13)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from graph_schema.graph import CatalogGraph
from graph_schema.models import Metric
from store.base import GraphStore


def _change_atp(store: GraphStore, demo_graph: CatalogGraph) -> None:
    """Revision 2: atp's unit and version change (major, bumped)."""
    atp = next(n for n in demo_graph.nodes if n.id == "atp")
    assert isinstance(atp, Metric)
    new = atp.model_copy(update={"unit": "千元", "version": "2.0.0"})
    nodes = tuple(new if n is atp else n for n in demo_graph.nodes)
    store.load(CatalogGraph(demo_graph.name, nodes, demo_graph.edges, demo_graph.meta))


def test_revisions_list_and_detail(client: TestClient) -> None:
    listed = client.get("/api/revisions").json()
    assert [r["number"] for r in listed] == [1]
    assert listed[0]["nodes"]["added"] > 90 and listed[0]["nodes"]["removed"] == 0
    one = client.get("/api/revisions/1").json()
    assert one["number"] == 1 and len(one["node_changes"]) == listed[0]["nodes"]["added"]
    assert "new" not in one["node_changes"][0]  # whole properties only with full=true
    full = client.get("/api/revisions/1?full=true").json()
    assert full["node_changes"][0]["new"]["id"]


def test_node_history_and_diff_after_a_change(
    client: TestClient, store: GraphStore, demo_graph: CatalogGraph
) -> None:
    _change_atp(store, demo_graph)
    history = client.get("/api/nodes/Metric:atp/history").json()
    assert [(h["revision"]["number"], h["change"]["op"]) for h in history] == [
        (1, "added"),
        (2, "modified"),
    ]
    assert history[1]["change"]["change_class"] == "major"
    diff = client.get("/api/diff", params={"old": "1", "new": "store"}).json()
    [change] = diff["nodes"]
    assert change["ref"] == "Metric:atp" and change["required_version"] == "2.0.0"
    assert diff["problems"] == []
    vias = {m["ref"]: m["via"] for m in diff["impact"]["metrics"]}
    assert vias["Metric:revenue"] == "influence"  # revenue = visits × atp: a driver link
    assert client.get("/api/diff", params={"old": "store"}).json()["nodes"] == []


def test_compare_two_metrics(client: TestClient) -> None:
    body = client.get("/api/compare", params={"a": "atp", "b": "营收"}).json()
    assert body["a"] == "Metric:atp" and body["b"] == "Metric:revenue"
    assert "formula" in body["differing"] and body["change_class"] == "major"
    assert {"revenue": "营收", "visits": "进厂台次"}.items() <= body["names"].items()  # inputs


def test_bad_input_is_a_clear_error(client: TestClient) -> None:
    r = client.get("/api/revisions/99")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "revision_not_found",
        "message": "没有修订 99；修订号为 1 到 1",  # the demo catalog's language (zh)
        "details": {"number": 99, "head": 1},
    }
    assert client.get("/api/revisions/0").status_code == 422
    r = client.get("/api/nodes/Metric:nosuch/history")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/api/diff", params={"old": "git:HEAD"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_source"
    assert client.get("/api/diff", params={"old": "5"}).status_code == 404
    r = client.get("/api/compare", params={"a": "atp", "b": "Field:dms.dms_orders.total_amount"})
    assert r.status_code == 422 and "不是指标" in r.json()["error"]["message"]  # zh: the demo's


def test_pages(client: TestClient, store: GraphStore, demo_graph: CatalogGraph) -> None:
    _change_atp(store, demo_graph)
    page = client.get("/history")
    assert page.status_code == 200 and 'href="/history/2"' in page.text
    rev = client.get("/history/2")
    assert rev.status_code == 200 and "千元" in rev.text and "major" in rev.text
    assert client.get("/history/9").status_code == 404
    card = client.get("/metrics/atp")
    assert card.status_code == 200 and 'id="version-timeline"' in card.text
    cmp = client.get("/compare", params={"a": "atp", "b": "revenue"})
    assert cmp.status_code == 200 and 'id="compare-table"' in cmp.text
    assert "营收 / 进厂台次" in cmp.text and "revenue / visits" not in cmp.text  # in names
    assert client.get("/compare").status_code == 200
