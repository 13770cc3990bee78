"""/review and /api/review (issue 28): lists, decisions by the committee only, closing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people


def test_review_over_http(tmp_path: Path, demo_graph: CatalogGraph) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    committee = {"Authorization": f"Bearer {tokens['zhao']}"}
    editor = {"Authorization": f"Bearer {tokens['zhang']}"}
    with TestClient(create_app(Settings(backend="embedded"), store=store)) as client:
        data = client.get("/api/review").json()
        assert {"unused", "disputed", "anomalous", "stale_benchmarks"} <= set(data)
        review = data["review"]
        page = client.get("/review").text
        assert "不再使用（可以归档）" in page and "行业基准需要更新" in page
        body = {"decisions": [{"metric": "bay_turnover", "action": "deprecate"}]}
        refused = client.post(f"/api/review/{review}/decisions", json=body, headers=editor)
        assert refused.status_code == 403
        done = client.post(
            f"/review/{review}",
            data={"pick:update_benchmark:atp": "1", "source:atp": "中国汽车流通协会 2026"},
            headers=committee,
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert client.get("/api/review").json()["record"]["decisions"][0]["metric"] == "atp"
        still = client.post(f"/api/review/{review}/close", headers=committee)
        assert still.status_code == 422 and "still open" in still.text
        bad = client.post("/api/review/x y/close", headers=committee)
        assert bad.status_code in (404, 422)
