"""The change pages in one language (#24): the list, a request applied (major change), one
rejected (wording), one withdrawn (minor change) with their timelines, the change form, and
the metric card's version list, in real Chromium in zh and in en — no word of the other
language outside the catalog's own, change classes in words. Screenshots:
test-artifacts/changes-<lang>-<page>.png."""

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

#: what people typed into the requests (data, not UI)
TYPED = {"zhang", "li", "qian", "wang", "root", "明确口径", "措辞", "加标签", "同意", "不需要"}
TYPED |= {"算了", "当月全部工单金额之和（含税）", "新标签"}


@pytest.fixture(scope="module")
def changes_site(
    tmp_path_factory: pytest.TempPathFactory, demo_graph: CatalogGraph
) -> tuple[EmbeddedStore, dict[str, int]]:
    """The demo with three requests: applied (formula: major), rejected (definition text:
    wording), withdrawn (tags: minor)."""
    store = EmbeddedStore(tmp_path_factory.mktemp("changes-i18n") / "gov.sqlite")
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    with TestClient(create_app(store=store)) as client:

        def propose(metric_id: str, change: dict[str, Any], reason: str) -> int:
            metric = client.get(f"/api/metrics/{metric_id}").json()["metric"]
            definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
            r = client.post(
                "/api/changes",
                json={
                    "action": "update",
                    "ref": f"Metric:{metric_id}",
                    "base_version": metric["version"],
                    "definition": definition | change,
                    "reason": reason,
                },
                headers=as_("zhang"),
            )
            assert r.status_code == 201, r.text
            return int(r.json()["id"])

        applied = propose("atp", {"formula": "revenue / visits * 1"}, "明确口径")
        for who in ("li", "qian", "wang"):
            r = client.post(
                f"/api/changes/{applied}/approve", json={"comment": "同意"}, headers=as_(who)
            )
            assert r.status_code == 200, r.text
        r = client.post(f"/api/changes/{applied}/apply", json={}, headers=as_("root"))
        assert r.status_code == 200, r.text
        rejected = propose("revenue", {"definition": "当月全部工单金额之和（含税）"}, "措辞")
        r = client.post(
            f"/api/changes/{rejected}/reject", json={"comment": "不需要"}, headers=as_("qian")
        )
        assert r.status_code == 200, r.text
        withdrawn = propose("visits", {"tags": ["新标签"]}, "加标签")
        r = client.post(
            f"/api/changes/{withdrawn}/withdraw", json={"comment": "算了"}, headers=as_("zhang")
        )
        assert r.status_code == 200, r.text
    return store, {"applied": applied, "rejected": rejected, "withdrawn": withdrawn}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_change_pages_in_one_language(
    browser: Any,
    serve: Callable[[GraphStore], str],
    changes_site: tuple[EmbeddedStore, dict[str, int]],
    demo_data: set[str],  # noqa: F811
    artifacts: Path,
    lang: str,
) -> None:
    store, ids = changes_site
    base = serve(store)
    pages = {
        "list": "/changes",
        **{name: f"/changes/{cid}" for name, cid in ids.items()},
        "form": "/changes/new?ref=Metric:atp",
        "metric": "/metrics/atp",
    }
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: dict[str, list[str]] = {}
    words = {"zh": ("重大变更", "文字修订", "一般变更"), "en": ("major change", "wording")}
    seen = ""
    try:
        for name, path in pages.items():
            page.goto(base + path + ("&" if "?" in path else "?") + f"lang={lang}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(artifacts / f"changes-{lang}-{name}.png"), full_page=True)
            html = page.content()
            seen += html
            left = without_data(visible_text(html), demo_data | TYPED)
            bad = cjk_left(left) if lang == "en" else english_left(left)
            if bad:
                problems[name] = bad[:10]
    finally:
        context.close()
    assert problems == {}
    for w in words[lang]:  # the change classes are shown, in words
        assert w in seen, w
