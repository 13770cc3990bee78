"""Issue 24 (walk5 item 5): pages of an applied change request in the catalog's language —
/history and /inventory name the revision's source as a change request in words, /history/N
gives the change class in words (not ``major × 1``), the change page's caliber diff names its
keys (不含, not ``excludes:``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import make_people
from tests.helpers import DEMO


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("pages") / "kg.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(ledger_for(store))
    app = create_app(Settings(db=Path(db), notify=False), store=store)
    with TestClient(app) as c:
        metric = c.get("/api/metrics/revenue").json()["metric"]
        definition: dict[str, Any] = {
            k: v for k, v in metric.items() if k not in ("kind", "ref", "version")
        }
        caliber = definition["caliber"]
        part = next(iter(caliber))
        caliber[part] = {
            **caliber[part],
            "excludes": [*caliber[part].get("excludes", []), "测试项"],
        }
        body = {
            "action": "update",
            "ref": "Metric:revenue",
            "definition": definition,
            "reason": "排除测试项",
        }
        auth = {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}
        r = c.post("/api/changes", json=body, headers=auth["zhang"])
        assert r.status_code == 201, r.text
        for name in ("li", "qian", "wang"):
            c.post("/api/changes/1/approve", json={}, headers=auth[name])
        applied = c.post("/api/changes/1/apply", headers=auth["root"])
        assert applied.json()["status"] == "applied", applied.text
        yield c
    store.close()


@pytest.mark.parametrize("url", ["/history", "/inventory"])
def test_the_revision_source_is_a_change_request_in_words(client: TestClient, url: str) -> None:
    zh = client.get(url + "?lang=zh").text
    assert "change request #1" not in zh and "变更申请 #1：排除测试项" in zh
    en = client.get(url + "?lang=en").text
    assert "change request #1: 排除测试项" in en


def test_a_revision_names_its_change_classes_in_words(client: TestClient) -> None:
    zh = client.get("/history/2?lang=zh").text
    assert "major ×" not in zh and "重大变更 × 1" in zh
    assert "major change × 1" in client.get("/history/2?lang=en").text


def test_the_change_page_names_the_calibers_keys(client: TestClient) -> None:
    zh = client.get("/changes/1?lang=zh").text
    assert "excludes:" not in zh and "+ 不含：测试项" in zh, zh[:3000]
    assert "+ Excludes: 测试项" in client.get("/changes/1?lang=en").text


def test_a_home_page_without_dated_versions_does_not_say_none_were_recorded(
    tmp_path: Path,
) -> None:
    """walk5 item 17: revision 1 versioned every metric automatically, yet the home page said
    "No versions recorded"; it now says no metric has a dated version and links the history."""
    from tests.helpers import write_catalog

    root = write_catalog(tmp_path / "cat", {"kpigraph.yaml": "name: shop\nlanguage: en\n"})
    store = EmbeddedStore(tmp_path / "en.sqlite")
    store.load(load_catalog(root))
    with TestClient(create_app(store=store)) as c:
        home = c.get("/").text
    store.close()
    assert "No versions recorded" not in home
    assert "No metric has a dated version in its history yet" in home
