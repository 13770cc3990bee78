"""What the structured change form stands on (#22): the pickers' node search over any kind
(both backends), and the YAML view's conversion — which converts only; the submit validates."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people


@pytest.mark.parametrize(
    ("q", "kinds", "first"),
    [
        ("财务", "Department", ("Department:finance", "财务部")),
        ("insurance_claim", "Field", ("Field:dms.dms_orders.insurance_claim_amount", None)),
        ("门店", "Dimension", ("Dimension:store", "门店")),
        ("revenue", "Metric", ("Metric:revenue", "营收")),
    ],
)
def test_node_search_for_the_pickers(
    client: TestClient, q: str, kinds: str, first: tuple[str, str | None]
) -> None:
    r = client.get("/api/nodes", params={"q": q, "kinds": kinds, "limit": 5})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and items[0]["ref"] == first[0]
    assert all(i["kind"] == kinds for i in items)
    if first[1]:
        assert items[0]["name"] == first[1]


def test_node_search_refuses_an_unknown_kind(client: TestClient) -> None:
    r = client.get("/api/nodes", params={"q": "x", "kinds": "Nope", "lang": "en"})
    assert r.status_code == 422 and "unknown node kind" in r.json()["error"]["message"]
    r = client.get("/api/nodes", params={"q": "x", "kinds": "Nope"})  # the demo speaks zh
    assert r.status_code == 422 and "节点类型 'Nope' 未知" in r.json()["error"]["message"]


@pytest.fixture
def editor(tmp_path: Any, demo_graph: CatalogGraph) -> tuple[TestClient, str]:
    store = EmbeddedStore(tmp_path / "form.sqlite")
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    return TestClient(create_app(Settings(), store=store)), tokens["zhang"]


def test_yaml_view_converts_both_ways_and_names_the_references(
    editor: tuple[TestClient, str],
) -> None:
    client, token = editor
    auth = {"Authorization": f"Bearer {token}"}
    data = {"id": "atp", "name": "客单价", "owner": "ops", "fields": ["dms.dms_orders.order_id"]}
    text = client.post("/changes/form/yaml", json={"data": data}, headers=auth).json()["text"]
    assert text.startswith("id: atp\nname: 客单价\nowner: ops\n")  # the template's key order
    back = client.post("/changes/form/yaml", json={"text": text}, headers=auth).json()
    assert back["data"] == data
    assert back["names"] == {"Department:ops": "运营部", "Field:dms.dms_orders.order_id": "工单号"}
    bad = client.post("/changes/form/yaml", json={"text": "a: [1,"}, headers=auth)
    assert bad.status_code == 422 and "line" in bad.json()["error"]
    assert client.post("/changes/form/yaml", json={"text": "a: 1"}).status_code == 401


def test_a_refused_form_comes_back_with_the_message_at_its_field(
    editor: tuple[TestClient, str],
) -> None:
    client, token = editor
    pre = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert pre
    signed = client.post(
        "/signin", data={"token": token, "csrf": pre.group(1)}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    form = client.get("/changes/new?ref=Metric:atp").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    r = client.post(
        "/changes",
        data={
            "csrf": csrf.group(1),
            "ref": "Metric:atp",
            "action": "update",
            "base_version": "1.1.0",
            "mode": "form",
            "definition": '{"id":"atp","name":"客单价","level":"L9","formula":"revenue / visits"}',
            "reason": "x",
        },
    )
    assert r.status_code == 422
    config = re.search(r'<script type="application/json" id="form-config">(.*?)</script>', r.text)
    assert config and '"errors":{"level":[' in config.group(1)
    assert "level: L9" in r.text  # the YAML view shows the form's mapping as YAML


def test_the_form_sent_twice_names_the_request_it_made(editor: tuple[TestClient, str]) -> None:
    """A second submit of the same proposal (a double click, a second tab) makes no second
    request: the form comes back (409) naming the one the first submit made."""
    client, token = editor
    pre = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert pre
    client.post("/signin", data={"token": token, "csrf": pre.group(1)}, follow_redirects=False)
    form = client.get("/changes/new?ref=Metric:atp").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    data = {
        "csrf": csrf.group(1),
        "ref": "Metric:atp",
        "action": "update",
        "base_version": "1.1.0",
        "mode": "yaml",
        "definition": "id: atp\nname: 客单价\nlevel: L2\nformula: revenue / visits\nunit: 元\n",
        "reason": "单位",
    }
    first = client.post("/changes", data=data, follow_redirects=False)
    assert first.status_code == 303, first.text
    made = first.headers["location"].rsplit("/", 1)[1]
    second = client.post("/changes", data=data, follow_redirects=False)
    assert second.status_code == 409
    assert f"已有相同的申请 #{made}" in second.text
