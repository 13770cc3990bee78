"""Every endpoint and every error, through HTTP, on both backends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from analysis.impact import impact
from graph_schema.ids import NodeRef
from store.base import GraphStore


def ok(client: Any, url: str, **params: Any) -> Any:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def error(client: Any, url: str, expect: int, /, **params: Any) -> dict[str, Any]:
    r = client.get(url, params=params)
    assert r.status_code == expect, r.text
    body = r.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


# -- health -----------------------------------------------------------------------------------


def test_health(client: Any, store: GraphStore) -> None:
    body = ok(client, "/health")
    assert body["status"] == "ok" and body["backend"] == store.backend
    assert body["counts"]["Metric"] == 38


# -- metrics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "first"),
    [
        ("客单价", "atp"),
        ("ATP", "atp"),
        ("Average Ticket", "atp"),
        ("营收", "revenue"),
        ("进厂台次", "visits"),
    ],
)
def test_search_chinese_and_english(client: Any, q: str, first: str) -> None:
    body = ok(client, "/api/metrics", q=q)
    assert body["items"][0]["id"] == first
    assert body["total"] >= 1 and body["limit"] == 20 and body["offset"] == 0


def test_search_filters_combine(client: Any) -> None:
    body = ok(client, "/api/metrics", domain="财务", level="L1", limit=100)
    assert {m["id"] for m in body["items"]} == {
        "revenue",
        "gross_profit",
        "gross_margin",
        "operating_cost",
        "cost_rate",
    }
    body = ok(client, "/api/metrics", department="ops", status="active", limit=100)
    assert body["items"] and all("ops" in (m["owner"], m["reviewer"]) for m in body["items"])
    assert ok(client, "/api/metrics", level="L0", q="利润")["total"] == 2


def test_pagination_edges(client: Any) -> None:
    everything = ok(client, "/api/metrics", limit=100)
    assert everything["total"] == 38 == len(everything["items"])
    seen = []
    for offset in range(0, 40, 7):
        seen += ok(client, "/api/metrics", limit=7, offset=offset)["items"]
    assert [m["id"] for m in seen] == [m["id"] for m in everything["items"]]
    last = ok(client, "/api/metrics", limit=7, offset=37)
    assert len(last["items"]) == 1 and last["total"] == 38
    assert ok(client, "/api/metrics", offset=38)["items"] == []
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"level": "L9"}, {"status": "gone"}):
        assert error(client, "/api/metrics", 422, **bad)["code"] == "invalid_query"


@pytest.mark.parametrize(
    "q", ["') DETACH DELETE n //", "'; MATCH (n) DETACH DELETE n; //", "\\u0000", "%"]
)
def test_injection_strings_are_search_text(client: Any, q: str, store: GraphStore) -> None:
    assert ok(client, "/api/metrics", q=q)["total"] == 0
    assert ok(client, "/health")["counts"]["Metric"] == 38


def test_metric_card(client: Any) -> None:
    body = ok(client, "/api/metrics/atp")
    card = body["metric"]
    for key in (
        "name_en",
        "abbr",
        "level",
        "domain",
        "owner",
        "reviewer",
        "definition",
        "meaning",
        "formula",
        "unit",
        "example",
        "caliber",
        "fields",
        "sql",
        "dimensions",
        "use_cases",
        "benchmarks",
        "caveats",
        "special_cases",
        "update_frequency",
        "review_policy",
        "version",
        "history",
        "contacts",
    ):
        assert key in card, key
    assert body["upstream"] == [
        "Metric:labor_rate",
        "Metric:parts_per_visit",
        "Metric:revenue",
        "Metric:value_added_penetration",
        "Metric:visits",
    ]
    assert body["downstream"] == ["Metric:revenue"]
    assert body["parallel"] == ["Metric:visits", "Metric:customer_annual_value"]
    groups = {g["relation"]: g for g in body["neighbours"]}
    assert [n["ref"] for n in groups["OWNS"]["incoming"]] == ["Department:ops"]
    e = error(client, "/api/metrics/revenu", 404)
    assert e["details"]["suggestions"][0] == "Metric:revenue"
    # not an id, so looked up as a name: not found, with a pointer to search
    assert "kpigraph search" in error(client, "/api/metrics/Bad-Id", 404)["message"]
    assert error(client, "/api/metrics/Metric:Bad-Id", 422)["code"] == "invalid_ref"


# -- lineage, impact, paths -------------------------------------------------------------------


def test_lineage(client: Any) -> None:
    body = ok(
        client, "/api/nodes/Metric:atp/lineage", direction="upstream", depth=1, relations="INPUT_TO"
    )
    assert [n["ref"] for n in body["nodes"]] == ["Metric:revenue", "Metric:visits"]
    assert body["edges"][0] == {
        "source": "Metric:revenue",
        "target": "Metric:atp",
        "type": "INPUT_TO",
        "props": {"role": "numerator"},
    }
    assert body["truncated"] is False
    field = ok(client, "/api/nodes/Field:dms.dms_orders.total_amount/lineage", kinds="Metric")
    assert {n["kind"] for n in field["nodes"]} == {"Metric"}
    bare = ok(client, "/api/nodes/atp/lineage")
    assert bare["root"] == "Metric:atp" and bare["direction"] == "both" and bare["depth"] == 3


def test_lineage_is_bounded(client: Any) -> None:
    full = ok(client, "/api/nodes/Metric:atp/lineage", depth=4)
    cut = ok(client, "/api/nodes/Metric:atp/lineage", depth=4, limit=10)
    assert cut["truncated"] is True and len(cut["nodes"]) <= 10
    assert max(n["depth"] for n in cut["nodes"]) < max(n["depth"] for n in full["nodes"])


@pytest.mark.parametrize(
    ("url", "params", "status", "code"),
    [
        ("/api/nodes/Metric:atp/lineage", {"depth": 0}, 422, "invalid_query"),
        ("/api/nodes/Metric:atp/lineage", {"depth": 11}, 422, "invalid_query"),
        ("/api/nodes/Metric:atp/lineage", {"depth": "x"}, 422, "invalid_query"),
        ("/api/nodes/Metric:atp/lineage", {"relations": "INPUT_TO,FOO"}, 422, "invalid_query"),
        ("/api/nodes/Metric:atp/lineage", {"kinds": "Gadget"}, 422, "invalid_query"),
        ("/api/nodes/Metric:atp/lineage", {"direction": "sideways"}, 422, "invalid_query"),
        ("/api/nodes/Bogus:atp/lineage", {}, 422, "invalid_ref"),
        ("/api/nodes/Field:dms/lineage", {}, 422, "invalid_ref"),
        ("/api/nodes/Metric:nope/lineage", {}, 404, "not_found"),
        ("/api/nodes/Metric:nope/impact", {}, 404, "not_found"),
        ("/api/paths", {"from": "atp"}, 422, "invalid_query"),
        ("/api/paths", {"from": "atp", "to": "revenue", "max_depth": 9}, 422, "invalid_query"),
        ("/api/paths", {"from": "atp", "to": "revenue", "k": 0}, 422, "invalid_query"),
        ("/api/paths", {"from": "atp", "to": "nope"}, 422, "unknown_name"),  # a query parameter
        ("/api/nope", {}, 404, "not_found"),
    ],
)
def test_errors(client: Any, url: str, params: dict[str, Any], status: int, code: str) -> None:
    assert error(client, url, status, **params)["code"] == code


def test_unknown_ref_lists_close_matches(client: Any) -> None:
    e = error(client, "/api/nodes/Metric:revenu/impact", 404)
    assert e["details"]["suggestions"][0] == "Metric:revenue"
    assert "是否想找" in e["message"]  # in the demo catalog's language (zh)


def test_impact_answers_as_the_analysis_does(client: Any, store: GraphStore) -> None:
    body = ok(client, "/api/nodes/Metric:atp/impact")
    assert body == impact(store, NodeRef.parse("atp")).model_dump(mode="json")
    assert {"Metric:revenue", "Metric:gross_profit", "Metric:net_profit"} <= {
        m["ref"] for m in body["metrics"]
    }
    table = ok(client, "/api/nodes/Table:dms.dms_orders/impact")
    field = ok(client, "/api/nodes/Field:dms.dms_orders.total_amount/impact")
    system = ok(client, "/api/nodes/System:dms/impact")
    refs = lambda b: {m["ref"] for m in b["metrics"]}  # noqa: E731
    assert refs(field) <= refs(table) <= refs(system)
    assert "Metric:parts_cost" in refs(system)


def test_paths(client: Any) -> None:
    body = ok(client, "/api/paths", **{"from": "visits", "to": "net_profit", "k": 2})
    assert [n["id"] for n in body["paths"][0]["nodes"]] == ["visits", "revenue", "net_profit"]
    assert len(body["paths"]) == 2


# -- catalog lists ----------------------------------------------------------------------------


def test_lists_with_counts(client: Any) -> None:
    depts = {d["id"]: d for d in ok(client, "/api/departments")["items"]}
    assert depts["ops"]["owns"] > 0 and depts["finance"]["reviews"] > 0
    assert depts["analytics"]["metrics"] == 0
    dims = {d["id"]: d for d in ok(client, "/api/dimensions")["items"]}
    assert dims["time"]["metrics"] > 10 and dims["time"]["name"] == "时间"
    boards = {d["id"]: d for d in ok(client, "/api/dashboards")["items"]}
    assert boards["decision_screen"]["metrics"] >= 5
    assert boards["mobile_board"]["props"]["type"] == "mobile"
    systems = {s["id"]: s for s in ok(client, "/api/systems")["items"]}
    assert set(systems) == {"dms", "erp", "crm"}
    orders = next(t for t in systems["dms"]["tables"] if t["id"] == "dms.dms_orders")
    total = next(f for f in orders["fields"] if f["id"] == "dms.dms_orders.total_amount")
    assert total["metrics"] == 5 and total["type"] == "decimal(12,2)"
    assert systems["dms"]["metrics"] > 10
    page = ok(client, "/api/systems", limit=1, offset=1)
    assert page["total"] == 3 and len(page["items"]) == 1


# -- ask --------------------------------------------------------------------------------------


def test_ask_exact(client: Any) -> None:
    r = client.get("/api/ask", params={"q": "客单价"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith("客单价（ATP, Average Ticket Price）")
    assert "定义：单个客户单次进厂消费的平均金额。" in text
    assert "公式：客单价 = 营收 / 进厂台次" in text
    assert "分母不含 单纯洗车" in text
    assert "负责：运营部（审核：财务部）" in text
    assert text.rstrip().endswith("/metrics/atp")
    assert client.get("/api/ask", params={"q": "@指标字典 ATP"}).text == text


def test_ask_did_you_mean_and_nothing(client: Any) -> None:
    r = client.get("/api/ask", params={"q": "客单"})
    assert r.status_code == 200 and "你是不是要找" in r.text and "客单价（atp）" in r.text
    r = client.get("/api/ask", params={"q": "完全不存在的东西"})
    assert r.status_code == 404 and "没有找到" in r.text
    assert error(client, "/api/ask", 422)["code"] == "invalid_query"


def test_openapi_and_docs(client: Any) -> None:
    spec = ok(client, "/openapi.json")
    for path in (
        "/api/metrics",
        "/api/metrics/{metric_id}",
        "/api/nodes/{ref}/lineage",
        "/api/nodes/{ref}/impact",
        "/api/paths",
        "/api/departments",
        "/api/dimensions",
        "/api/dashboards",
        "/api/systems",
        "/api/ask",
        "/health",
    ):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200


def test_graph_page_loads_vis_network_as_a_cached_asset(client: Any) -> None:
    page = client.get("/view/graph", params={"focus": "Metric:atp"})
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="(/assets/vis-network\.[0-9a-f]{12}\.(?:js|css))"', page.text)
    assert sorted(u.rsplit(".", 1)[-1] for u in urls) == ["css", "js"]
    assert len(page.text) < 100_000  # the 700 KB library is not inlined into every page
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200 and len(r.content) > 10_000
        assert "immutable" in r.headers["cache-control"]
    js = client.get(next(u for u in urls if u.endswith(".js")))
    assert js.headers["content-type"].startswith("text/javascript") and "vis" in js.text
    assert client.get("/assets/vis-network.000000000000.js").status_code == 404


def test_ask_speaks_an_english_catalogs_language(tmp_path: Any) -> None:
    """The chat answer's 'did you mean' and 'nothing found' are in the catalog's language, as
    its answers are (they were Chinese for every catalog)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.settings import Settings
    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore
    from tests.helpers import write_catalog

    files = {
        "kpigraph.yaml": "name: en shop\nlanguage: en\n",
        "metrics/atp.yaml": "id: atp\nname: Average ticket\nlevel: L1\nowner: ops\n"
        "formula: revenue / visits\n",
    }
    store = EmbeddedStore(tmp_path / "en.sqlite")
    store.load(load_catalog(write_catalog(tmp_path / "en", files)))
    with TestClient(create_app(Settings(), store=store)) as en:
        r = en.get("/api/ask", params={"q": "Average"})
        assert r.status_code == 200, r.text
        assert "no metric is exactly “Average”; did you mean:" in r.text
        assert "- Average ticket (atp)" in r.text
        r = en.get("/api/ask", params={"q": "完全不存在的东西"})
        assert r.status_code == 404
        assert r.json()["error"]["message"].startswith("no metric found for “完全不存在的东西”")
