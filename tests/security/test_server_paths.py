"""A reader, signed in or not, never learns where the server keeps the catalog: revisions name
the catalog directory, not its absolute path (review of #21/#22: ``GET /api/revisions`` showed
``/home/…/catalogs/…``)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.publish import publish
from core.settings import Settings
from graph_schema.revisions import RevisionDraft
from loaders.catalog import load_catalog
from loaders.git_source import source_info
from store.embedded import EmbeddedStore
from tests.helpers import DEMO


def test_revisions_name_the_catalog_not_its_path(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    store = EmbeddedStore(db)
    publish(store, load_catalog(DEMO), RevisionDraft(source=source_info(DEMO)))
    stored = store.revisions(None, limit=1)[0]
    assert stored.source["path"] == str(DEMO.resolve())  # the store keeps it (values, sync)
    client = TestClient(create_app(Settings(backend="embedded", db=db, notify=False), store=store))
    listing = client.get("/api/revisions")
    one = client.get(f"/api/revisions/{stored.number}?full=true")
    for response in (listing, one):
        assert response.status_code == 200
        assert str(DEMO.resolve()) not in response.text
        assert str(DEMO.resolve().parent) not in response.text
    assert listing.json()[0]["source"]["path"] == DEMO.name
    store.close()
