"""priority / role / horizon in the API (search filters and fields), on the card page and in
the map's node data (issue 28), on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_search_filters_and_fields(client: TestClient) -> None:
    body = client.get("/api/metrics", params={"role": "north_star", "limit": 100}).json()
    assert body["total"] >= 1
    assert all(i["role"] == "north_star" and i["level"] == "L0" for i in body["items"])
    assert all(i["priority"] == "P0" for i in body["items"])
    leading = client.get("/api/metrics", params={"horizon": "leading", "limit": 100}).json()
    assert leading["total"] >= 1 and {i["horizon"] for i in leading["items"]} == {"leading"}
    bad = client.get("/api/metrics", params={"role": "star"})
    assert bad.status_code == 422


def test_card_page_and_json_show_the_role(client: TestClient) -> None:
    atp = client.get("/api/metrics/atp").json()["metric"]
    assert (atp["priority"], atp["role"]) == ("P0", "key")
    page = client.get("/metrics/atp").text
    assert 'id="metric-programme"' in page and "关键指标" in page and "P0" in page


def test_the_map_marks_the_role(client: TestClient) -> None:
    page = client.get("/view/graph", params={"focus": "Metric:atp"}).text
    assert '"role": "key"' in page or '"role":"key"' in page
