"""Trusted host names, links from configuration, /api/ask errors in the JSON shape
(issue #12, item 4)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from cli.serve import served_settings
from core.settings import Settings
from tests.helpers import demo_store


def served(**overrides: str) -> TestClient:
    settings = served_settings(Settings(backend="embedded", **overrides), "127.0.0.1", 8765)
    app = create_app(settings, store=demo_store())
    return TestClient(app, base_url="http://127.0.0.1:8765")


def test_serve_defaults_trust_the_bound_host_and_local_names() -> None:
    settings = served_settings(Settings(backend="embedded"), "127.0.0.1", 8765)
    assert settings.base_url == "http://127.0.0.1:8765"
    assert settings.trusted_hosts == "127.0.0.1,::1,localhost"


def test_foreign_host_header_is_refused_in_the_error_shape() -> None:
    client = served()
    r = client.get("/api/ask", params={"q": "xss"}, headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "untrusted_host"
    assert "evil.example" not in r.headers.get("location", "")
    for host in ("localhost:8765", "127.0.0.1:8765", "[::1]:8765", "LOCALHOST"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host


def test_links_come_from_configuration_not_from_the_host_header() -> None:
    client = served(base_url="https://kpi.example.com/")
    r = client.get("/api/ask", params={"q": "客单价"}, headers={"Host": "localhost:9999"})
    assert r.status_code == 200
    assert "详情：https://kpi.example.com/metrics/atp" in r.text
    assert "9999" not in r.text
    # the base URL's host is trusted too
    trusted = client.get("/health", headers={"Host": "kpi.example.com"})
    assert trusted.status_code == 200, trusted.text


def test_configured_trusted_hosts_replace_the_defaults() -> None:
    client = served(trusted_hosts="kpi.internal, 10.0.0.5")
    assert client.get("/health", headers={"Host": "kpi.internal"}).status_code == 200
    assert client.get("/health", headers={"Host": "localhost"}).status_code == 400


def test_ask_without_a_match_is_a_json_404() -> None:
    client = served()
    r = client.get("/api/ask", params={"q": "nomatchxyz"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "not_found"
    assert "nomatchxyz" in r.json()["error"]["message"]
    ok = client.get("/api/ask", params={"q": "客单价"})
    assert ok.headers["content-type"].startswith("text/plain")  # answers stay plain for bots
