"""API, CLI and the /explain page give the same numbers, on both backends (the graph comes from
the store; the values from the catalog directory the store records)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from analysis.definition_marks import metric_marks, with_definition_changes
from store.base import GraphStore
from tests.helpers import DEMO, ROOT
from values.service import engine_for, explain_report
from viz.charts import fmt, signed

QUERY = "period=2026-06&base=mom&by=store,order_type&depth=3"


def test_api_matches_the_shared_service(client: TestClient, store: GraphStore) -> None:
    api = client.get(f"/api/metrics/revenue/explain?{QUERY}")
    assert api.status_code == 200, api.text
    direct = explain_report(
        store, engine_for(store), "revenue", "2026-06", "mom", ["store", "order_type"], 3
    )
    direct = with_definition_changes(direct, metric_marks(store, "revenue"))  # #27: none here
    assert api.json() == json.loads(json.dumps(direct))
    body = api.json()
    assert body["tree"][0]["ref"] == "Metric:visits"
    assert body["dimensions"][0]["members"][0]["member"] == "南山店"


def test_page_shows_the_api_numbers(client: TestClient) -> None:
    data = client.get(f"/api/metrics/revenue/explain?{QUERY}").json()
    page = client.get(f"/explain/revenue?{QUERY}")
    assert page.status_code == 200
    html = page.text.replace("−", "-")  # the page writes a real minus sign
    assert re.search(r'id="value">([^<]+)<', html).group(1) == fmt(data["value"])  # type: ignore[union-attr]
    assert re.search(r'id="change"[^>]*>([^<]+)<', html).group(1) == signed(data["change"])  # type: ignore[union-attr]
    top = data["dimensions"][0]["members"][0]
    assert f"<td>{top['member']}</td>" in html
    assert signed(top["contribution"]) in html
    for node in data["tree"]:
        assert signed(node["contribution"]) in html
    assert "<svg" in html and "cdn" not in html.lower()


def test_values_and_eval_endpoints(client: TestClient) -> None:
    values = client.get("/api/metrics/营收/values?by=store&from=2026-06&to=2026-06").json()
    assert {r["store"] for r in values["rows"]} >= {"南山店", "福田店"}
    ev = client.get("/api/metrics/atp/eval?period=2026-06&by=store").json()
    assert ev["members"][0]["rank"] == 1 and ev["members"][0]["member"] == "南山店"
    assert ev["status"]["position"] == "within"
    bad = client.get("/api/metrics/revenue/explain?period=2026-13")
    assert bad.status_code == 422
    quality = client.get("/api/stats/quality?metric=revenue").json()
    assert quality["counts"]["identity"] >= 1


def test_cli_prints_the_api_numbers(tmp_path: Path) -> None:
    """The CLI (a real process on an embedded store) prints what the API returns."""
    from api.app import create_app
    from core.settings import Settings
    from tests.helpers import demo_store

    client = TestClient(create_app(Settings(), store=demo_store()))
    db = tmp_path / "cli.sqlite"
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}

    def cli(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=180,
        )
        return proc.stdout

    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore

    EmbeddedStore(db).load(load_catalog(DEMO))
    out = cli("explain", "revenue", "--period", "2026-06", "--by", "store,order_type", "--json")
    api = client.get(f"/api/metrics/revenue/explain?{QUERY}").json()
    assert json.loads(out) == api
    out = cli("eval", "atp", "--period", "2026-06", "--by", "store", "--json")
    assert json.loads(out) == client.get("/api/metrics/atp/eval?period=2026-06&by=store").json()


def test_localize_returns_the_root_cause_set_and_the_page_shows_it(client: TestClient) -> None:
    api = client.get(f"/api/metrics/revenue/explain?{QUERY}&localize=true")
    assert api.status_code == 200, api.text
    causes = api.json()["root_causes"]
    assert causes[0]["members"] == {"store": "南山店", "order_type": "maintenance"}
    assert set(causes[0]) == {"members", "contribution", "base_value", "value", "confidence"}
    assert "root_causes" not in client.get(f"/api/metrics/revenue/explain?{QUERY}").json()
    html = client.get(f"/explain/revenue?{QUERY}").text
    # the page names dimensions and members as the catalog does (门店=南山店 ∧ 工单类型=保养)
    panel = html[html.index('id="root-causes"') :]
    assert "南山店" in panel and "保养" in panel.split("</table>")[0]
    assert signed(causes[0]["contribution"]) in panel.replace("−", "-")


def test_values_by_quarter_and_explain_by_quarter(client: TestClient) -> None:
    months = client.get("/api/metrics/revenue/values?from=2026-04&to=2026-06").json()["rows"]
    quarters = client.get("/api/metrics/revenue/values?grain=quarter&from=2026-Q1").json()
    got = {r["period"]: r["value"] for r in quarters["rows"]}
    assert set(got) == {"2026-Q1", "2026-Q2"} and "partial" not in quarters
    assert abs(got["2026-Q2"] - sum(r["value"] for r in months)) < 1e-6
    explained = client.get("/api/metrics/revenue/explain?period=2026-Q2&base=qoq&by=store")
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["base_period"] == "2026-Q1" and body["value"] == got["2026-Q2"]
    wrong = client.get("/api/metrics/revenue/explain?period=2026-Q2&base=2026-05")
    assert wrong.status_code == 422 and "同一粒度、同一日历" in wrong.text
    bad = client.get("/api/metrics/revenue/values?grain=fortnight")
    assert bad.status_code == 422
