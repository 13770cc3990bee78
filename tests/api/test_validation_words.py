"""A request the API's models refuse is answered in the request's language, naming the field:
pydantic's own words are English ("ref: Field required", "0: JSON decode error" on a zh server,
found following the README)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO, demo_store


def demo_graph() -> CatalogGraph:
    return load_catalog(DEMO)


def _client() -> TestClient:
    return TestClient(create_app(Settings(backend="embedded"), store=demo_store()))


def test_query_parameters_refused_in_the_catalogs_language() -> None:
    client = _client()
    cases = {
        "/api/metrics?limit=abc": ("limit：必须是整数", "limit: must be a whole number"),
        "/api/metrics?limit=0": ("limit：至少为 1", "limit: at least 1"),
        "/api/metrics?level=L9": ("level：必须是 'L0', 'L1', 'L2' 或 'L3' 之一", "level: one of"),
    }
    for url, (zh, en) in cases.items():
        r = client.get(url)  # the demo catalog is zh
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_query"
        message = r.json()["error"]["message"]
        assert message.startswith(zh.split("必须是 '")[0]), (url, message)
        english = client.get(url, headers={"Accept-Language": "en"}).json()["error"]["message"]
        assert english.startswith(en), (url, english)
        assert (
            r.json()["error"]["details"]["problems"][0]["loc"][-1]
            == url.split("?")[1].split("=")[0]
        )


def test_a_body_the_models_refuse_is_said_in_words(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(demo_graph())
    _users, tokens = make_people(fresh_ledger(store))
    client = TestClient(create_app(Settings(backend="embedded", notify=False), store=store))
    auth = {"Authorization": f"Bearer {tokens['zhang']}", "Content-Type": "application/json"}
    r = client.post("/api/changes", content=b"not json", headers=auth)
    assert r.status_code == 422 and r.json()["error"]["message"] == "请求体：不是有效的 JSON"
    r = client.post("/api/changes", content=b"{}", headers=auth)
    assert r.status_code == 422 and r.json()["error"]["message"] == "ref：必填"
    en = client.post("/api/changes", content=b"{}", headers={**auth, "Accept-Language": "en"})
    assert en.json()["error"]["message"] == "ref: required"
