"""#24: the change page's impact box for a wording-only change (a patch) says what such a change
does to the metrics built on it — nothing is recomputed — in the page's language, instead of
"Recomputed (6)" for a change that recomputes nothing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO


def _box(page: str) -> str:
    start = page.index('id="recomputed"')
    return page[start : page.index("</div>", start)]


def test_a_wording_change_says_it_recomputes_nothing(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "k.sqlite")
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(backend=store.backend, notify=False), store=store)
    with TestClient(app, base_url="http://testserver") as client:
        auth = {"Authorization": f"Bearer {tokens['zhang']}"}

        def propose(mid: str, changed: dict[str, str]) -> dict[str, object]:
            metric = client.get(f"/api/metrics/{mid}").json()["metric"]
            definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
            body = {
                "action": "update",
                "ref": f"Metric:{mid}",
                "base_version": metric["version"],
                "definition": {**definition, **changed},
                "reason": "措辞",
            }
            r = client.post("/api/changes", json=body, headers=auth)
            assert r.status_code == 201, r.text
            created: dict[str, object] = r.json()
            return created

        wording = propose("visits", {"meaning": "进厂台次的业务含义，写得更清楚。"})
        assert wording["change_class"] == "patch"
        zh = _box(client.get(f"/changes/{wording['id']}?lang=zh").text)
        assert "需重算" not in zh and "数值不变" in zh and "不会重算" in zh, zh
        assert zh.count("/metrics/") == 3  # the metrics built on it are still listed
        en = _box(client.get(f"/changes/{wording['id']}?lang=en").text)
        assert "Recomputed" not in en and "values unchanged" in en, en
        assert "recomputes nothing" in en
        # the field by field table names the field as the card does, in the page's language
        assert (
            "<td>Business meaning (meaning)" in client.get(f"/changes/{wording['id']}?lang=en").text
        )
        assert "<td>业务含义 (meaning)" in client.get(f"/changes/{wording['id']}?lang=zh").text

        # a change of the calculation still says what is recomputed
        formula = propose("atp", {"formula": "revenue / visits * 1"})
        assert formula["change_class"] == "major", formula
        box = _box(client.get(f"/changes/{formula['id']}?lang=en").text)
        assert "Recomputed" in box and "values unchanged" not in box
