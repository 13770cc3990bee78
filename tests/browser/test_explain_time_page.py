"""The explain page drilling time as a hierarchy (``by=time`` over a quarter; seed 002
时间维度: 年份、季度、月度、日) in real Chromium, in Chinese and in English.

The data of ``tests/unit/test_explain_time.py``: 10 a day from January to June 2026 and three
planted days of May at 110. Hand-computed: Q1 = 90 days = 900, Q2 = 91 days + 300 = 1,210; the
quarter's months against Q1's by position rank May first (+330), then May's days against
February's rank the 10th first (+100). Screenshots: test-artifacts/explain-time-<lang>.png."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.helpers import write_catalog
from tests.i18n_text import cjk_left, data_strings, english_left, visible_text, without_data

pytestmark = pytest.mark.browser

PLANTED = {dt.date(2026, 5, 10), dt.date(2026, 5, 11), dt.date(2026, 5, 12)}


def _store(tmp_path: Path) -> tuple[EmbeddedStore, set[str]]:
    """The store, and the catalog's own words (names, ids: data, not UI)."""
    lines = ["metric,period,value"]
    day = dt.date(2026, 1, 1)
    while day <= dt.date(2026, 6, 30):
        lines.append(f"revenue,{day.isoformat()},{110 if day in PLANTED else 10}")
        day += dt.timedelta(days=1)
    root = write_catalog(tmp_path / "catalog", {"values/v.csv": "\n".join(lines) + "\n"})
    graph = load_catalog(root)
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.load(graph)
    words: list[object] = [n.model_dump(mode="json") for n in graph.nodes]
    words += [str(n.ref) for n in graph.nodes] + [graph.meta]
    return store, data_strings(words)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_quarter_drilled_by_time(
    browser: Any,
    serve: Callable[[GraphStore], str],
    artifacts: Path,
    tmp_path: Path,
    lang: str,
) -> None:
    store, words = _store(tmp_path)
    base = serve(store)
    context = browser.new_context(
        viewport={"width": 1300, "height": 900}, locale="en-US" if lang == "en" else "zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    try:
        page.goto(f"{base}/explain/revenue?period=2026-Q2&base=qoq&by=time")
        page.screenshot(path=str(artifacts / f"explain-time-{lang}.png"), full_page=True)
        assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
        table = page.locator("table.dimension[data-dimension='time']")
        assert table.count() == 1
        first = table.locator("tbody tr").first.inner_text()
        assert "+330" in first, first
        against = "2026-05（对比 2026-02）" if lang == "zh" else "2026-05 (against 2026-02)"
        assert against in first, first  # which month of the base quarter it is set against
        path = page.locator("ol.hierarchy-path[data-dimension='time'] li")
        assert path.count() == 2
        assert path.nth(0).get_attribute("data-level") == "month"
        assert path.nth(0).get_attribute("data-member") == "2026-05"
        assert path.nth(1).get_attribute("data-level") == "day"
        assert path.nth(1).get_attribute("data-member") == "2026-05-10"
        steps = [path.nth(i).inner_text() for i in range(2)]
        if lang == "zh":
            assert steps[0].startswith("月") and steps[1].startswith("日"), steps
        else:
            assert re.match(r"(?i)month\b", steps[0]) and re.match(r"(?i)day\b", steps[1]), steps
        assert "+330" in steps[0] and "+100" in steps[1], steps
        assert "2026-02-10" in steps[1], steps  # May 10th against February 10th
        left = without_data(visible_text(page.content()), words)
        other = cjk_left(left) if lang == "en" else english_left(left)
        assert other == [], other
        assert all(url.startswith(base) for url in seen), [
            u for u in seen if not u.startswith(base)
        ]
    finally:
        context.close()


def _retail_store(tmp_path: Path) -> tuple[EmbeddedStore, set[str]]:
    """10 a day from October 2025 to August 2026, Wednesday 2026-05-13 at 100 (+90); the
    fiscal year starts in April (tests/unit/test_explain_time.py, the other calendars)."""
    lines = ["metric,period,value"]
    day = dt.date(2025, 10, 1)
    while day <= dt.date(2026, 8, 31):
        lines.append(f"revenue,{day.isoformat()},{100 if day == dt.date(2026, 5, 13) else 10}")
        day += dt.timedelta(days=1)
    root = write_catalog(
        tmp_path / "catalog",
        {
            "kpigraph.yaml": "name: test catalog\ncalendar: {fiscal_year_start: 4}\n",
            "values/v.csv": "\n".join(lines) + "\n",
        },
    )
    graph = load_catalog(root)
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.load(graph)
    words: list[object] = [n.model_dump(mode="json") for n in graph.nodes]
    words += [str(n.ref) for n in graph.nodes] + [graph.meta]
    return store, data_strings(words)


#: period, base, the path's (level, member, its name in zh, in en, against)
CALENDARS = {
    "retail": (
        "R2026-Q2",
        [
            ("retail_month", "R2026-M04", "零售期", "retail period", "R2026-M01"),
            ("retail_week", "R2026-W15", "零售周", "retail week", "R2026-W02"),
            ("day", "2026-05-13", "日", "day", "2026-02-11"),
        ],
    ),
    "fiscal": (
        "FY2027-Q1",
        [
            ("month", "2026-05", "月", "month", "2026-02"),
            ("day", "2026-05-13", "日", "day", "2026-02-13"),
        ],
    ),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("calendar", ["retail", "fiscal"])
def test_retail_and_fiscal_quarters_drilled_by_time(
    browser: Any,
    serve: Callable[[GraphStore], str],
    artifacts: Path,
    tmp_path: Path,
    lang: str,
    calendar: str,
) -> None:
    """R2026-Q2 against R2026-Q1: 4-5-4 period M04 against M01 (+90), its second week against
    M01's second week, Wednesday against Wednesday; FY2027-Q1 against FY2026-Q4: May against
    February (+120), the 13th against the 13th (+90). Screenshots:
    test-artifacts/explain-time-<calendar>-<lang>.png."""
    period, steps = CALENDARS[calendar]
    store, words = _retail_store(tmp_path)
    base = serve(store)
    context = browser.new_context(
        viewport={"width": 1300, "height": 900}, locale="en-US" if lang == "en" else "zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/explain/revenue?period={period}&base=qoq&by=time")
        page.screenshot(path=str(artifacts / f"explain-time-{calendar}-{lang}.png"), full_page=True)
        table = page.locator("table.dimension[data-dimension='time']")
        assert table.count() == 1
        first = table.locator("tbody tr").first.inner_text()
        member, against = steps[0][1], steps[0][4]
        shown = f"{member}（对比 {against}）" if lang == "zh" else f"{member} (against {against})"
        assert shown in first, first
        path = page.locator("ol.hierarchy-path[data-dimension='time'] li")
        assert path.count() == len(steps)
        for i, (level, sub, zh, en, base_sub) in enumerate(steps):
            assert path.nth(i).get_attribute("data-level") == level
            assert path.nth(i).get_attribute("data-member") == sub
            text = path.nth(i).inner_text()
            name = zh if lang == "zh" else en
            assert text.lower().startswith(name), text
            assert sub in text and base_sub in text, text
        left = without_data(visible_text(page.content()), words)
        other = cjk_left(left) if lang == "en" else english_left(left)
        assert other == [], other
    finally:
        context.close()
