"""An empty store is an error for queries, not "0 matches" (issue #12, item 4)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from store.embedded import EmbeddedStore
from tests.api.test_damaged_db import kpigraph


def test_queries_on_an_empty_store_are_503_saying_what_to_do(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "empty.sqlite")
    client = TestClient(create_app(Settings(backend="embedded"), store=store))
    for url in ("/api/metrics", "/api/metrics?q=atp", "/api/departments", "/api/ask?q=atp"):
        r = client.get(url)
        assert r.status_code == 503, (url, r.text)
        assert r.json()["error"]["code"] == "empty_store"
        assert "kpigraph load" in r.json()["error"]["message"]
    page = client.get("/search?q=atp")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")


def test_cli_search_on_an_empty_store_fails(tmp_path: Path) -> None:
    """In the CLI's language (zh unless asked: an empty store has no catalog language)."""
    r = kpigraph("search", "atp", "--db", tmp_path / "empty.sqlite")
    assert r.returncode == 1
    assert "尚未加载任何目录" in r.stderr and "kpigraph load CATALOG_DIR" in r.stderr
    en = kpigraph("--lang", "en", "search", "atp", "--db", tmp_path / "empty.sqlite")
    assert en.returncode == 1
    assert "no catalog loaded" in en.stderr and "match(es)" not in en.stdout
