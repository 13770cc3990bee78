"""Governance over HTTP, on both backends: the whole cycle, roles (401/403 on every write),
read auth, sessions with CSRF, token brute force, comments/FAQ and usage statistics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import core.security
from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from tests.governance_helpers import Receiver, fresh_ledger, make_people, receiver, with_webhooks


@pytest.fixture
def rec() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def gov_app(
    make_store: Any, demo_graph: CatalogGraph, rec: Receiver
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store: GraphStore = make_store()
    hooks = {
        "ops": [{"url": rec.url("/ops"), "format": "dingtalk"}],
        "finance": [{"url": rec.url("/finance"), "format": "feishu"}],
    }
    store.load(with_webhooks(demo_graph, hooks))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(backend=store.backend, notify=False), store=store)
    with TestClient(app, base_url="http://testserver") as client:
        yield client, tokens


def bearer(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def proposal(client: TestClient, formula: str) -> dict[str, Any]:
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["formula"] = formula
    return {
        "action": "update",
        "ref": "Metric:atp",
        "base_version": metric["version"],
        "definition": definition,
        "reason": "明确口径",
    }


def test_cycle_over_http(gov_app: Any, rec: Receiver) -> None:
    client, tokens = gov_app
    r = client.post(
        "/api/changes",
        json=proposal(client, "revenue / visits * 1"),
        headers=bearer(tokens, "zhang"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "submitted" and body["new_version"] == "2.0.0"
    assert body["change_class"] == "major"
    assert body["approvals_required"] == [
        {"stage": "owner", "department": "finance"},
        {"stage": "owner", "department": "ops"},
        {"stage": "committee", "department": None},
    ]
    assert {"metrics", "dashboards", "departments"} <= set(body["impact"])
    assert {m["via"] for m in body["impact"]["metrics"]} <= {"definition", "influence"}
    cid = body["id"]
    own = client.post(f"/api/changes/{cid}/approve", json={}, headers=bearer(tokens, "zhang"))
    assert own.status_code == 403 and own.json()["error"]["code"] == "forbidden"
    for name, status in (("li", "submitted"), ("qian", "owner_approved"), ("wang", "approved")):
        r = client.post(
            f"/api/changes/{cid}/approve", json={"comment": "同意"}, headers=bearer(tokens, name)
        )
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    again = client.post(f"/api/changes/{cid}/approve", json={}, headers=bearer(tokens, "zhao"))
    assert again.status_code == 409
    r = client.post(f"/api/changes/{cid}/apply", headers=bearer(tokens, "root"))
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert [e["event"] for e in r.json()["timeline"]][-1] == "apply"
    assert client.get("/api/metrics/atp").json()["metric"]["version"] == "2.0.0"
    listed = client.get("/api/changes", params={"status": "applied", "ref": "atp"}).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    client.app.state.deliverer.deliver_due(limit=100)  # type: ignore[attr-defined]
    dingtalk = rec.bodies("/ops")
    assert dingtalk[-1]["msgtype"] == "markdown" and "2.0.0" in dingtalk[-1]["markdown"]["text"]
    feishu = rec.bodies("/finance")
    assert feishu[-1]["msg_type"] == "interactive"


def test_invalid_definition_names_the_field(gov_app: Any) -> None:
    client, tokens = gov_app
    r = client.post(
        "/api/changes", json=proposal(client, "revenue / vists"), headers=bearer(tokens, "zhang")
    )
    assert r.status_code == 422
    # the catalog's language (zh), or the one the request asks for (#24)
    assert "formula 引用了不存在的指标 'vists'" in r.json()["error"]["message"]
    assert "是否想写 'visits'" in r.json()["error"]["message"]
    r = client.post(
        "/api/changes",
        json=proposal(client, "revenue / vists"),
        headers={**bearer(tokens, "zhang"), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert r.status_code == 422
    assert "formula refers to unknown metric 'vists'" in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["issues"][0]["field"] == "formula"
    body = proposal(client, "revenue / visits")
    body["definition"]["levle"] = "L1"
    r = client.post("/api/changes", json=body, headers=bearer(tokens, "zhang"))
    assert r.status_code == 422 and "levle" in r.json()["error"]["message"]


#: /bots/{platform}: chat platforms sign their callbacks (tests/api/test_bots.py), no user
WRITE_EXEMPT = {"/signin", "/signout", "/bots/{platform}"}
#: writes of a user's own onboarding record (#28: cards read, quiz answers): any signed-in user,
#: a viewer (a new colleague) included — anonymous is still 401
OWN_RECORD = {"/api/onboarding/read", "/api/quiz", "/quiz", "/onboarding/{department}/read"}


def all_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (FastAPI keeps those as wrappers)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def write_routes(client: TestClient) -> list[tuple[str, str]]:
    out = []
    for route in all_routes(client.app.routes):  # type: ignore[attr-defined]
        if route.path in WRITE_EXEMPT:
            continue
        for method in route.methods - {"GET", "HEAD"}:
            path = re.sub(r"\{[^}]*id\}", "1", route.path)
            out.append((method, path.replace("{metric_id}", "atp")))
    return sorted(out)


def test_viewer_token_on_every_write_is_403(gov_app: Any) -> None:
    client, tokens = gov_app
    r = client.post(
        "/api/changes",
        json=proposal(client, "revenue / visits * 1"),
        headers=bearer(tokens, "zhang"),
    )
    client.post("/api/metrics/atp/comments", json={"body": "q"}, headers=bearer(tokens, "zhang"))
    routes = write_routes(client)
    assert len(routes) >= 11, routes
    payloads = {"json": {"body": "x", "comment": "x", "faq": True}}
    form = {
        "body": "x",
        "action": "approve",
        "ref": "Metric:atp",
        "definition": "id: atp",
        "reason": "x",
    }
    for method, path in routes:
        is_form = not path.startswith("/api/")
        kwargs: dict[str, Any] = {"data": form} if is_form else dict(payloads)
        anon = client.request(method, path, **kwargs)
        assert anon.status_code == 401, (method, path, anon.text)
        assert anon.headers["www-authenticate"].startswith("Bearer")
        if path in OWN_RECORD:
            continue
        r = client.request(method, path, headers=bearer(tokens, "guest"), **kwargs)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
        if not is_form:
            assert r.json()["error"]["code"] == "forbidden"


def test_read_auth_required(make_store: Any, demo_graph: CatalogGraph) -> None:
    store = make_store()
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(
        Settings(backend=store.backend, notify=False, read_auth="required"), store=store
    )
    with TestClient(app) as client:
        r = client.get("/api/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        page = client.get("/metrics/atp", follow_redirects=False)  # a page: to the sign-in
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=/metrics/atp"
        assert client.get("/signin").status_code == 200
        assert client.get("/health").status_code != 401  # open (it may say 'warming up')
        assert client.get("/api/metrics", headers=bearer(tokens, "guest")).status_code == 200


def sign_in(client: TestClient, token: str) -> str:
    page = client.get("/signin").text
    pre = re.search(r'name="csrf" value="([^"]+)"', page)
    assert pre
    r = client.post(
        "/signin",
        data={"token": token, "csrf": pre.group(1), "next": "/changes"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/changes").text)
    assert found
    return found.group(1)


def test_session_forms_need_csrf(gov_app: Any) -> None:
    client, tokens = gov_app
    cid = client.post(
        "/api/changes",
        json=proposal(client, "revenue / visits * 1"),
        headers=bearer(tokens, "zhang"),
    ).json()["id"]
    csrf = sign_in(client, tokens["li"])
    assert "li (owner · ops)" in client.get("/changes").text
    url = f"/changes/{cid}/act"
    r = client.post(url, data={"action": "approve"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(url, data={"action": "approve", "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    evil = {"Origin": "http://evil.example"}
    r = client.post(
        url, data={"action": "approve", "csrf": csrf}, headers=evil, follow_redirects=False
    )
    assert r.status_code == 403 and "跨站" in r.text  # the demo speaks zh
    r = client.post(url, data={"action": "approve", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/changes/{cid}").json()["approvals"][0]["by"] == "li"
    # issue 22: the page confirms the action and names departments by name (运营部, not ops)
    page = client.get(r.headers["location"]).text
    assert r.headers["location"] == f"/changes/{cid}?done=approve" and 'id="done"' in page
    assert "<td>运营部</td>" in page and "<td>ops</td>" not in page
    r = client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "li (owner" not in client.get("/changes").text


def test_token_brute_force_is_rate_limited_and_without_oracle(
    gov_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, tokens = gov_app
    calls: list[str] = []
    real = core.security.verify_secret

    def spy(secret_hash: str | None, secret: str) -> bool:
        calls.append("known" if secret_hash else "unknown")
        return real(secret_hash, secret)

    monkeypatch.setattr(core.security, "verify_secret", spy)
    good = tokens["li"]
    token_id = good.split("_")[1]
    wrong_secret = f"kpg_{token_id}_{'x' * 43}"
    unknown_id = f"kpg_{'0' * 12}_{'x' * 43}"
    for token in (wrong_secret, unknown_id):
        r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    # an unknown id costs one Argon2 verification too (against a dummy hash): no oracle
    assert calls == ["known", "unknown"]
    for _ in range(8):
        client.get("/api/me", headers={"Authorization": f"Bearer {unknown_id}"})
    r = client.get("/api/me", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) > 0


def test_revoked_token_is_refused(gov_app: Any) -> None:
    client, tokens = gov_app
    assert client.get("/api/me", headers=bearer(tokens, "li")).json()["role"] == "owner"
    client.app.state.ledger.revoke_user("li", "now")  # type: ignore[attr-defined]
    assert client.get("/api/me", headers=bearer(tokens, "li")).status_code == 401


def test_comments_faq_and_stats(gov_app: Any) -> None:
    client, tokens = gov_app
    q = client.post(
        "/api/metrics/atp/comments",
        json={"body": "<script>x</script>含税吗？"},
        headers=bearer(tokens, "zhang"),
    )
    assert q.status_code == 201
    a = client.post(
        "/api/metrics/atp/comments",
        json={"body": "不含税", "parent": q.json()["id"]},
        headers=bearer(tokens, "li"),
    )
    assert a.status_code == 201
    nested = client.post(
        "/api/metrics/atp/comments",
        json={"body": "x", "parent": a.json()["id"]},
        headers=bearer(tokens, "zhang"),
    )
    assert nested.status_code == 422  # one level of threading
    aid = a.json()["id"]
    assert (
        client.post(
            f"/api/comments/{aid}/faq", json={}, headers=bearer(tokens, "zhang")
        ).status_code
        == 403
    )
    assert (
        client.post(f"/api/comments/{aid}/faq", json={}, headers=bearer(tokens, "li")).json()["faq"]
        is True
    )
    listed = client.get("/api/metrics/atp/comments").json()
    assert listed["faq"][0]["question"] == "<script>x</script>含税吗？"
    assert (
        client.put(
            f"/api/comments/{aid}", json={"body": "edited"}, headers=bearer(tokens, "zhang")
        ).status_code
        == 403
    )
    assert client.put(
        f"/api/comments/{aid}", json={"body": "不含税（已确认）"}, headers=bearer(tokens, "li")
    ).json()["edited_at"]
    page = client.get("/metrics/atp/discussion").text
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    for _ in range(3):
        client.get("/metrics/atp")
    client.get("/api/metrics/atp")
    stats = client.get("/api/stats/metrics").json()
    atp = next(m for m in stats["metrics"] if m["id"] == "atp")
    assert (atp["views"], atp["questions"]) == (3, 1)
    assert atp["api"] >= 1
    assert stats["most_questioned"][0]["id"] == "atp"
    assert any(m["archive_candidate"] for m in stats["metrics"])
    assert stats["provisional"] is True  # counting began today
    card = client.get("/metrics/atp").text
    assert 'id="faq"' in card and "&lt;script&gt;x&lt;/script&gt;含税吗？" in card
    assert "/changes/new?ref=Metric%3Aatp" in card
    assert 'id="faq"' in client.get("/nodes/Metric:atp").text  # the same card by ref
    ask = client.get("/api/ask", params={"q": "客单价"}).text
    assert "常见问题：<script>x</script>含税吗？ —— 不含税（已确认）" in ask
    client.app.state.usage.flush()  # type: ignore[attr-defined]
    stats = client.get("/api/stats/metrics").json()
    assert next(m for m in stats["metrics"] if m["id"] == "atp")["ask"] == 1
    mod = client.delete(f"/api/comments/{q.json()['id']}", headers=bearer(tokens, "root"))
    assert mod.status_code == 200 and mod.json()["deleted"] and mod.json()["body"] == ""
    assert client.get("/stats").status_code == 200


def test_auto_apply_on_final_approval(make_store: Any, demo_graph: CatalogGraph) -> None:
    store = make_store()
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    settings = Settings(backend=store.backend, notify=False, auto_apply=True)
    with TestClient(create_app(settings, store=store)) as client:
        cid = client.post(
            "/api/changes",
            json=proposal(client, "revenue / visits * 1"),
            headers=bearer(tokens, "zhang"),
        ).json()["id"]
        for name in ("li", "qian", "wang"):
            last = client.post(f"/api/changes/{cid}/approve", json={}, headers=bearer(tokens, name))
        assert last.json()["status"] == "applied"
        assert [e["actor"] for e in last.json()["timeline"]][-1] == "kpigraph"
        assert client.get("/api/metrics/atp").json()["metric"]["version"] == "2.0.0"


def test_create_carries_lint_for_reviewers(gov_app: Any) -> None:
    client, tokens = gov_app
    body = {
        "action": "create",
        "ref": "Metric:atp_store5",
        "definition": {
            "name": "客单价",
            "level": "L3",
            "owner": "ops",
            "formula": "revenue / visits",
        },
        "reason": "第五家门店的客单价口径",
    }
    r = client.post("/api/changes", json=body, headers=bearer(tokens, "zhang"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["new_version"] == "1.0.0"
    assert [d["field"] for d in created["diff"]] == ["formula", "level", "name", "owner", "status"]
    assert "conflict.name" in {i["rule"] for i in created["lint"]}  # five stores, five 客单价
    assert [s["department"] for s in created["approvals_required"]] == ["ops"]
    page = client.get(f"/changes/{created['id']}").text
    assert "conflict.name" in page


def test_delivery_never_blocks_the_request(
    make_store: Any, demo_graph: CatalogGraph, rec: Receiver
) -> None:
    import threading
    import time

    store = make_store()
    store.load(with_webhooks(demo_graph, {"ops": [{"url": rec.url("/ops")}]}))
    _users, tokens = make_people(fresh_ledger(store))
    rec.hold = threading.Event()  # the webhook hangs until released
    app = create_app(Settings(backend=store.backend, notify=True), store=store)
    with TestClient(app) as client:  # the lifespan starts the background deliverer
        r = client.post(
            "/api/changes",
            json=proposal(client, "revenue / visits * 1"),
            headers=bearer(tokens, "zhang"),
        )
        assert r.status_code == 201  # answered although the webhook has not answered
        assert rec.entered.wait(30)  # the deliverer is inside the webhook call now
        assert rec.received == []
        rec.hold.set()
        deadline = time.monotonic() + 30
        while not rec.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [b["event"] for b in rec.bodies("/ops")] == ["submit"]


def test_discussion_page_forms(gov_app: Any) -> None:
    client, tokens = gov_app
    csrf = sign_in(client, tokens["zhang"])
    url = "/metrics/atp/discussion"
    r = client.post(url, data={"csrf": csrf, "body": "口径含税吗？"}, follow_redirects=False)
    assert r.status_code == 303
    qid = client.get("/api/metrics/atp/comments").json()["items"][0]["id"]
    page = client.get(url).text
    assert "口径含税吗？" in page and 'name="delete"' in page
    r = client.post(
        url, data={"csrf": csrf, "body": "delete", "delete": str(qid)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get("/api/metrics/atp/comments").json()["items"][0]["deleted"] is True
    r = client.post(url, data={"body": "no token"}, follow_redirects=False)
    assert r.status_code == 403  # CSRF


def test_signing_out_ends_copies_of_the_session_cookie(gov_app: Any) -> None:
    """Before: sign-out only deleted the browser's cookie; a copy stayed valid for 12 h."""
    from api.auth import SESSION_COOKIE

    client, tokens = gov_app
    csrf = sign_in(client, tokens["li"])
    copied = client.cookies.get(SESSION_COOKIE)
    assert copied and client.get("/api/me").json()["name"] == "li"
    r = client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copied)  # the stolen copy, presented again
    assert client.get("/api/me").status_code == 401
    assert "li (owner" not in client.get("/changes").text
    # signing in again gives a session of the new epoch; the old copy stays dead
    client.cookies.clear()
    sign_in(client, tokens["li"])
    assert client.get("/api/me").json()["name"] == "li"
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copied)
    assert client.get("/api/me").status_code == 401
    # a Bearer token is not a session: it keeps working after a sign-out
    assert client.get("/api/me", headers=bearer(tokens, "li")).status_code == 200
