"""A definition's size is bounded (issue 21 item 7): on the landed code a 1,000,000-character
definition or 60,000 ``extra`` keys were accepted (~2 MB stored per request). Now: 64 KiB of text
per field, 256 KiB per definition, 2,000 ``extra`` keys — 422 naming the field on the API, a
clear error at load."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from core.settings import Settings
from graph_schema.errors import CatalogError
from graph_schema.limits import MAX_DEFINITION, MAX_EXTRA_KEYS, MAX_TEXT
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = EmbeddedStore(tmp_path_factory.mktemp("limits") / "store.sqlite")
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(backend="embedded", notify=False), store=store)
    with TestClient(app, base_url="http://testserver") as client:
        yield client, tokens
    store.close()


def propose(api: tuple[TestClient, dict[str, str]], **changes: Any) -> Any:
    client, tokens = api
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition.update(changes)
    body = {
        "action": "update",
        "ref": "Metric:atp",
        "base_version": metric["version"],
        "definition": definition,
        "reason": "size test",
    }
    return client.post(
        "/api/changes", json=body, headers={"Authorization": f"Bearer {tokens['zhang']}"}
    )


def test_a_huge_text_field_is_refused_naming_it(api: Any) -> None:
    r = propose(api, definition="口" * 300_000)  # ~900 KB of UTF-8: under the 1 MiB body cap
    assert r.status_code in (413, 422), r.text
    message = r.json()["error"]["message"]
    assert "definition" in message and str(MAX_TEXT) in message


def test_sixty_thousand_extra_keys_are_refused(api: Any) -> None:
    r = propose(api, extra={f"k{i}": 1 for i in range(60_000)})
    assert r.status_code in (413, 422), r.text
    message = r.json()["error"]["message"]
    assert "extra" in message and str(MAX_EXTRA_KEYS) in message


def test_many_fields_under_the_field_limit_still_bounded_per_definition(api: Any) -> None:
    chunk = "x" * (MAX_TEXT - 10)
    r = propose(api, use_cases=[chunk] * 6, caveats=[chunk] * 2)
    assert r.status_code in (413, 422), r.text
    assert str(MAX_DEFINITION) in r.json()["error"]["message"]


def test_an_ordinary_proposal_still_passes(api: Any) -> None:
    r = propose(api, definition="单个客户单次进厂消费的平均金额。" * 100)
    assert r.status_code == 201, r.text


def test_the_model_names_the_field(english: None) -> None:
    with pytest.raises(ValidationError) as caught:
        Metric.model_validate({"id": "m", "name": "m", "sql": "SELECT 1 " * 10_000})
    assert caught.value.errors()[0]["loc"] == ("sql",)
    many = {"dbt": {str(i): i for i in range(MAX_EXTRA_KEYS + 1)}}
    with pytest.raises(ValidationError, match="holds over 2000 keys") as keys:
        Metric.model_validate({"id": "m", "name": "m", "extra": many})
    assert keys.value.errors()[0]["loc"] == ("extra",)  # at the field: its line at load
    fewer = {"dbt": {str(i): i for i in range(MAX_EXTRA_KEYS - 1)}}
    Metric.model_validate({"id": "m", "name": "m", "extra": fewer})


def test_a_catalog_file_with_a_huge_field_does_not_load(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(DEMO, catalog)
    target = next(p for p in (catalog / "metrics").rglob("*.yaml") if "id: atp" in p.read_text())
    target.write_text(
        target.read_text(encoding="utf-8") + f"qualifiers: ['{'长' * (MAX_TEXT + 1)}']\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog)
    shown = str(caught.value)
    assert target.name in shown and "qualifiers" in shown and str(MAX_TEXT) in shown
