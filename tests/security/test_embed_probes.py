"""Hover cards under hostile input: a malformed oEmbed URL (was a 500), another host's URL, a
format other than JSON; framing origins that try to smuggle CSP directives; /bots/ and /mcp
under required read auth."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.embed.framing import embed_origins, frame_ancestors
from core.settings import Settings
from tests.helpers import demo_store


def test_oembed_refuses_what_is_not_ours() -> None:
    with TestClient(create_app(Settings(), store=demo_store())) as client:
        for url in ("http://[", "http://evil.example/metrics/atp", "javascript:alert(1)", ""):
            r = client.get("/oembed", params={"url": url})
            assert r.status_code == 404, (url, r.text)
            assert r.json()["error"]["code"] == "not_found"
        r = client.get(
            "/oembed", params={"url": "http://127.0.0.1:8000/metrics/atp", "format": "xml"}
        )
        assert r.status_code == 422


def test_origins_cannot_add_csp_directives() -> None:
    hostile = "https://ok.example, https://x.example; script-src *, 'unsafe-inline', *, data:"
    assert frame_ancestors(embed_origins(hostile)) == "frame-ancestors 'self' https://ok.example"


def test_bots_and_mcp_under_required_read_auth() -> None:
    app = create_app(Settings(read_auth="required"), store=demo_store())
    with TestClient(app) as client:
        assert client.get("/api/metrics/atp").status_code == 401
        # a bot callback is not behind the read gate: an unconfigured platform is a plain 404
        assert client.post("/bots/slack", content=b"x").status_code == 404
        # /mcp needs its own Bearer token whatever the read setting
        assert client.post("/mcp", json={}).status_code == 401


def test_no_response_is_sniffed_into_html() -> None:
    """The oEmbed 404 and other JSON errors carry the query text (``"><script>``) as data:
    every response says ``X-Content-Type-Options: nosniff``, as it says which frames may
    hold it, so no browser reads such JSON — or the hover-card script — as anything else
    (review)."""
    with TestClient(create_app(Settings(), store=demo_store())) as client:
        for path in ("/oembed?url=%22%3E%3Cscript%3E", "/embed/metrics/atp", "/embed.js",
                     "/api/metrics/nope", "/metrics/atp"):  # fmt: skip
            r = client.get(path)
            assert r.headers.get("x-content-type-options") == "nosniff", path
