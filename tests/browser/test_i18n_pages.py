"""Every page a committee member or a new colleague opens, in real Chromium, in Chinese and in
English (#24): no string of the other language outside the catalog's own words, and a
screenshot of each (test-artifacts/i18n-<lang>-<page>.png) for a person to look at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.i18n_text import cjk_left, english_left, visible_text, without_data
from tests.unit.test_i18n import demo_data  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "metric": "/metrics/atp",
    "map": "/view/graph?focus=Metric:atp",
    "tree": "/view/graph?focus=Metric:revenue&mode=tree&depth=2",
    "explain": "/explain/revenue?period=2026-06&base=mom&by=store,order_type",
    "explain-yoy": "/explain/atp?period=2026-06&base=yoy&by=store",
    "change": "/changes/{change}",
    "propose": "/changes/new?ref=Metric:atp",
    "lint": "/lint",
    "stats": "/stats",
    "history": "/history",
    "revision": "/history/1",
    "compare": "/compare?a=atp&b=revenue",
    "inventory": "/inventory",
    "review": "/review",
    "discussion": "/metrics/atp/discussion",
    "onboarding": "/onboarding/ops",
}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_graph: CatalogGraph
) -> tuple[EmbeddedStore, int]:
    """The demo with one change request on it (the change page needs one)."""
    store = EmbeddedStore(tmp_path_factory.mktemp("i18n") / "gov.sqlite")
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    with TestClient(create_app(store=store)) as client:
        metric = client.get("/api/metrics/atp").json()["metric"]
        definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
        definition["formula"] = "revenue / visits * 1"
        r = client.post(
            "/api/changes",
            json={
                "action": "update",
                "ref": "Metric:atp",
                "base_version": metric["version"],
                "definition": definition,
                "reason": "明确口径",
            },
            headers={"Authorization": f"Bearer {tokens['zhang']}"},
        )
        assert r.status_code == 201, r.text
        return store, int(r.json()["id"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_in_one_language(
    browser: Any,
    serve: Callable[[GraphStore], str],
    site: tuple[EmbeddedStore, int],
    demo_data: set[str],  # noqa: F811
    artifacts: Path,
    lang: str,
) -> None:
    store, change = site
    base = serve(store)
    # zh by the catalog's own language (the browser asks for nothing in particular), en by the
    # browser's Accept-Language
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        locale="en-US" if lang == "en" else "zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: dict[str, list[str]] = {}
    try:
        for name, path in PAGES.items():
            page.goto(base + path.format(change=change))
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(artifacts / f"i18n-{lang}-{name}.png"), full_page=True)
            assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
            data = demo_data | {"zhang", "明确口径"}  # the requester and the reason
            left = without_data(visible_text(page.content()), data)
            bad = cjk_left(left) if lang == "en" else english_left(left)
            if bad:
                problems[name] = bad[:10]
    finally:
        context.close()
    assert problems == {}
