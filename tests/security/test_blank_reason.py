"""A change request must say why (seed 001: 变更申请 with its 理由; issue 22: the reason becomes
the commit message). A reason of spaces passed the API's ``min_length=1`` — over HTTP, the
form and MCP alike — and the request went to the committee saying nothing (review)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people, running_server
from tests.helpers import DEMO


@pytest.mark.parametrize("reason", ["   ", "\n\t", "\u3000"])
def test_a_blank_reason_is_refused(tmp_path: Path, reason: str) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(backend="embedded", notify=False), store=store)
    editor = {"Authorization": f"Bearer {tokens['zhang']}"}
    with running_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        metric = client.get("/api/metrics/atp").json()["metric"]
        definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
        definition["caveats"] = ["不含延保代收款"]
        body = {
            "action": "update",
            "ref": "Metric:atp",
            "base_version": metric["version"],
            "definition": definition,
            "reason": reason,
        }
        r = client.post("/api/changes", json=body, headers=editor)
        assert r.status_code == 422, r.text
        assert "reason" in r.text
        assert client.get("/api/changes").json()["total"] == 0
    store.close()
