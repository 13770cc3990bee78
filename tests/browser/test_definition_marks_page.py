"""The trend chart of 客单价 on its page, after a change request is applied: the new
definition's version is marked (drawn at the right edge: the change came after the last month
shown)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.publish import publish
from governance.changes import Governance
from graph_schema.governance import Action
from graph_schema.ids import NodeRef
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO

pytestmark = pytest.mark.browser
ATP = NodeRef.parse("Metric:atp")


def test_trend_marks_an_applied_change(
    page: Any, serve: Callable[[GraphStore], str], artifacts: Path, tmp_path: Path
) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    publish(store, load_catalog(DEMO))
    ledger = fresh_ledger(store)
    users, _tokens = make_people(ledger)
    gov = Governance(store, ledger)
    props = store.get_nodes([ATP])[ATP].props()
    definition = {k: v for k, v in props.items() if k != "version"}
    definition["formula"] = "revenue / visits * 1"
    zhang = users["zhang"]
    change = gov.submit(zhang, Action.UPDATE, ATP, definition, props["version"], "口径调整")
    for name in ("li", "qian", "wang"):
        gov.approve(users[name], change.id, "ok")
    gov.apply(users["root"], change.id)

    base = serve(store)
    page.goto(f"{base}/metrics/atp")
    mark = page.locator("svg.trend g.def-mark[data-version='2.0.0']")
    assert mark.count() == 1
    assert mark.get_attribute("data-class") == "major"
    assert "formula" in mark.locator("title").text_content()
    page.locator("svg.trend").scroll_into_view_if_needed()
    page.locator("svg.trend").screenshot(path=str(artifacts / "trend-definition-mark.png"))
    store.close()
