"""One default base for an explanation, whatever asks: the period before, of the period's own
grain (``mom`` for a month, ``qoq`` for a quarter, ``yoy`` for a year) — the API, the page, the
CLI and the MCP tool (issue #26 follow-up: a quarter without ``base`` was a 422 on the API while
the page adapted). Over HTTP, against a real uvicorn server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from graph_schema.calendar import Calendar
from tests.governance_helpers import running_server
from tests.helpers import DEMO, ROOT


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore

    db = tmp_path_factory.mktemp("default-base") / "kpi.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    app = create_app(Settings(backend="embedded", db=db, notify=False), store=store)
    with running_server(app) as url:
        yield url


def _explain(base_url: str, query: str) -> httpx.Response:
    return httpx.get(f"{base_url}/api/metrics/revenue/explain?{query}", timeout=120)


@pytest.mark.parametrize(
    ("period", "keyword", "expected_base"),
    [("2026-Q2", "qoq", "2026-Q1"), ("2026-06", "mom", "2026-05")],
)
def test_api_without_base_compares_with_the_period_before_of_its_grain(
    base_url: str, period: str, keyword: str, expected_base: str
) -> None:
    implicit = _explain(base_url, f"period={period}&by=store")
    assert implicit.status_code == 200, implicit.text
    body = implicit.json()
    assert body["base"] == keyword and body["base_period"] == expected_base
    explicit = _explain(base_url, f"period={period}&by=store&base={keyword}")
    assert explicit.status_code == 200 and explicit.json() == body


def test_a_year_defaults_to_the_year_before(base_url: str) -> None:
    implicit = _explain(base_url, "period=2026&by=store")
    explicit = _explain(base_url, "period=2026&by=store&base=yoy")
    # the demo's values start in 2025 or later: whatever yoy answers, the default answers
    assert implicit.status_code == explicit.status_code
    assert implicit.json() == explicit.json()
    if implicit.status_code == 200:
        assert implicit.json()["base_period"] == "2025"


def test_a_base_of_another_grain_is_still_refused(base_url: str) -> None:
    wrong = _explain(base_url, "period=2026-Q2&base=mom")
    assert wrong.status_code == 422 and "qoq" in wrong.text


def test_the_page_uses_the_same_default(base_url: str) -> None:
    page = httpx.get(f"{base_url}/explain/revenue?period=2026-Q2&by=store", timeout=120)
    assert page.status_code == 200
    api = _explain(base_url, "period=2026-Q2&by=store").json()
    assert "2026-Q1" in page.text and api["base_period"] == "2026-Q1"


def test_the_cli_uses_the_same_default(base_url: str, tmp_path: Path) -> None:
    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore

    db = tmp_path / "cli.sqlite"
    EmbeddedStore(db).load(load_catalog(DEMO))
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "explain", "revenue", "--period", "2026-Q2", "--by",
         "store", "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    api = _explain(base_url, "period=2026-Q2&by=store").json()
    assert cli["base_period"] == "2026-Q1"
    assert cli["value"] == api["value"] and cli["change"] == api["change"]
    assert cli["dimensions"] == api["dimensions"]


@pytest.mark.parametrize(
    ("period", "keyword"),
    [("2026-06", "mom"), ("2026-Q1", "qoq"), ("FY2026-Q3", "qoq"), ("2026-W05", "wow"),
     ("2026-06-30", "dod"), ("2026", "yoy"), ("FY2026", "yoy"), ("R2026-M03", "mom")],
)  # fmt: skip
def test_the_rule(period: str, keyword: str) -> None:
    cal = Calendar(fiscal_year_start=4)
    assert cal.step_base(period) == keyword
    # and the keyword is one the calendar accepts for that period
    base = cal.base(cal.parse(period), keyword)
    assert base is not None and base.grain == cal.parse(period).grain
