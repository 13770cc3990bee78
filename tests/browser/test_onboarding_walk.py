"""A new colleague of 运营部 in real headless Chromium (issue 28): signs in, reads the reading
list, marks cards read, takes the quiz of a fixed seed; the department's owner opens the
team page and sees who has read and passed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.onboarding import reading_list
from analysis.quiz import make_quiz
from governance.users import add_user
from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.browser.test_governance_pages import sign_in, sign_out
from tests.governance_helpers import fresh_ledger, make_people

pytestmark = pytest.mark.browser
SEED = 2024


def test_new_colleague_of_ops(
    tmp_path: Path,
    demo_graph: CatalogGraph,
    serve: Callable[[GraphStore], str],
    page: Any,
    artifacts: Path,
) -> None:
    store = EmbeddedStore(tmp_path / "walk.sqlite")
    store.load(demo_graph)
    ledger = fresh_ledger(store)
    _users, tokens = make_people(ledger)
    _newbie, token = add_user(ledger, "xiaoming", "viewer", "ops")
    base = serve(store)

    sign_in(page, base, token)
    page.goto(f"{base}/onboarding")  # redirected to the colleague's own department
    assert page.url.endswith("/onboarding/ops")
    rows = page.locator("#reading-list tr.item")
    count = rows.count()
    assert 20 <= count <= 30
    assert page.locator("#read-progress").inner_text() == f"已读 0 / {count}"
    first_levels = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    assert first_levels[0] == "L0"
    page.screenshot(path=str(artifacts / "onboarding-list.png"), full_page=True)

    for _ in range(3):  # open a card, come back, mark it read
        page.locator("#reading-list tr.item:not(.done) a").first.click()
        page.wait_for_load_state()
        assert page.locator("#metric-name").count() == 1
        page.go_back()
        page.locator("button.mark-read").first.click()
        page.wait_for_load_state()
    assert page.locator("#read-progress").inner_text() == f"已读 3 / {count}"
    assert page.locator("tr.item.done").count() == 3
    page.screenshot(path=str(artifacts / "onboarding-marked.png"), full_page=True)

    page.click("#take-quiz")
    page.wait_for_load_state()
    page.goto(f"{base}/quiz?department=ops&seed={SEED}")
    questions = page.locator("fieldset.question")
    assert questions.count() == 10
    ids = [i.id for i in reading_list(demo_graph, "ops").items]
    key = make_quiz(demo_graph, ids, SEED, "ops")
    for q in key.questions:  # the colleague studied: every answer right but the last
        choice = q.answer if q is not key.questions[-1] else (q.answer + 1) % 4
        page.check(f"fieldset[data-id='{q.id}'] input[value='{choice}']")
    page.screenshot(path=str(artifacts / "onboarding-quiz.png"), full_page=True)
    page.click("#submit-quiz")
    page.wait_for_load_state()
    assert page.locator("#quiz-score").inner_text().startswith("得分 9 / 10")
    assert page.locator("#quiz-passed").count() == 1
    page.screenshot(path=str(artifacts / "onboarding-quiz-result.png"), full_page=True)
    sign_out(page)

    sign_in(page, base, tokens["li"])  # 运营部's owner
    page.goto(f"{base}/onboarding/ops/team")
    row = page.locator("#team tr.member[data-user='xiaoming']")
    cells = row.locator("td")
    assert cells.nth(1).inner_text().startswith(f"3 / {count}")
    assert cells.nth(2).inner_text() == "9 / 10"
    assert row.locator(".passed").count() == 1
    page.screenshot(path=str(artifacts / "onboarding-team.png"), full_page=True)
