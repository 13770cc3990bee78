"""Onboarding progress named users by name (as comments and requests did before issue 21 item
7): a revoked user re-added under the same name — someone else — inherited the old one's read
cards and quiz passes, and the manager's team view showed the newcomer as having read and
passed. Records now carry the user's immutable id. Real app over HTTP (TestClient)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from governance.users import add_user
from graph_schema.governance import now_iso
from graph_schema.graph import CatalogGraph
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people


def test_a_name_added_again_starts_from_nothing(tmp_path: Path, demo_graph: CatalogGraph) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(demo_graph)
    ledger = fresh_ledger(store)
    _users, tokens = make_people(ledger)
    _old, old_token = add_user(ledger, "xiaoming", "viewer", "ops")
    boss = {"Authorization": f"Bearer {tokens['li']}"}  # owner of ops
    with TestClient(create_app(Settings(backend="embedded"), store=store)) as client:
        old = {"Authorization": f"Bearer {old_token}"}
        read = client.post("/api/onboarding/read", json={"metrics": ["atp", "visits"]}, headers=old)
        assert read.json()["read"] == ["atp", "visits"]
        quiz = client.get("/api/quiz", params={"department": "ops", "seed": 5}).json()
        answers = {q["id"]: 0 for q in quiz["questions"]}
        body = {"department": "ops", "seed": 5, "answers": answers}
        assert client.post("/api/quiz", json=body, headers=old).status_code == 200

        assert ledger.revoke_user("xiaoming", now_iso())
        _new, new_token = add_user(ledger, "xiaoming", "viewer", "ops")
        new = {"Authorization": f"Bearer {new_token}"}
        items = client.get("/api/onboarding/ops", headers=new).json()["items"]
        assert not [i["id"] for i in items if i["read"]]  # the old one's reading is not theirs
        team = client.get("/api/onboarding/ops/team", headers=boss).json()["users"]
        row = next(r for r in team if r["user"] == "xiaoming")
        assert row["read"] == 0 and row["best_score"] is None and row["last_quiz_at"] is None

        # their own progress counts as before
        client.post("/api/onboarding/read", json={"metrics": ["atp"]}, headers=new)
        team = client.get("/api/onboarding/ops/team", headers=boss).json()["users"]
        assert next(r for r in team if r["user"] == "xiaoming")["read"] == 1
    store.close()
