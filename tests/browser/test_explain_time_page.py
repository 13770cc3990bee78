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
