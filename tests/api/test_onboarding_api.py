"""Onboarding (issue 28) over HTTP: the reading list of 运营部, marking read, a seeded quiz
scored and kept, the team view, and reads counted per department."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people


def test_reading_list_marks_quiz_and_team(tmp_path: Path, demo_graph: CatalogGraph) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(demo_graph)
    ledger = fresh_ledger(store)
    from governance.users import add_user

    _user, newbie = add_user(ledger, "xiaoming", "viewer", "ops")
    _users, tokens = make_people(ledger)
    me = {"Authorization": f"Bearer {newbie}"}
    with TestClient(create_app(Settings(backend="embedded"), store=store)) as client:
        data = client.get("/api/onboarding", headers=me).json()
        items = data["items"]
        assert data["department"] == "ops" and 20 <= len(items) <= 30
        levels = [i["level"] or "L9" for i in items]
        assert levels == sorted(levels)  # L0 down
        assert {"atp", "visits"} <= {i["id"] for i in items}  # owned by 运营部
        assert not any(i["read"] for i in items)
        # reads by 运营部 people are counted for the department, apart from anonymous ones
        assert client.get("/api/metrics/atp", headers=me).status_code == 200
        client.app.state.usage.flush()  # type: ignore[attr-defined]
        kinds = {k for _d, m, k, _n in ledger.usage("") if m == "atp"}
        assert {"api", "api@ops"} <= kinds

        done = client.post("/api/onboarding/read", json={"metrics": ["atp", "visits"]}, headers=me)
        assert done.json()["read"] == ["atp", "visits"]
        again = client.get("/api/onboarding/ops", headers=me).json()["items"]
        assert {i["id"] for i in again if i["read"]} == {"atp", "visits"}

        quiz = client.get("/api/quiz", params={"department": "ops", "seed": 11}).json()
        assert quiz == client.get("/api/quiz", params={"department": "ops", "seed": 11}).json()
        assert len(quiz["questions"]) == 10
        assert all(len(q["options"]) == 4 and "answer" not in q for q in quiz["questions"])
        answers = {q["id"]: 0 for q in quiz["questions"]}
        scored = client.post(
            "/api/quiz", json={"department": "ops", "seed": 11, "answers": answers}, headers=me
        ).json()
        assert scored["total"] == 10 and 0 <= scored["score"] <= 10

        assert client.get("/api/onboarding/ops/team", headers=me).status_code == 403
        other = {"Authorization": f"Bearer {tokens['qian']}"}  # owner of finance
        assert client.get("/api/onboarding/ops/team", headers=other).status_code == 403
        boss = {"Authorization": f"Bearer {tokens['li']}"}  # owner of ops
        team = client.get("/api/onboarding/ops/team", headers=boss).json()["users"]
        row = next(r for r in team if r["user"] == "xiaoming")
        assert row["read"] == 2 and row["best_total"] == 10
        assert client.get("/api/onboarding/nowhere").status_code == 404
