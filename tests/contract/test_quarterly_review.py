"""The quarterly review (issue 28) on both backends: the four lists; three ticked decisions
become three change requests through the normal submit path; after their approval, closing the
review queues one change notice per department (to each department webhook)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from governance.changes import Governance
from governance.review import (
    Decision,
    close_review,
    default_window,
    review_lists,
    review_record,
    submit_decisions,
)
from governance.users import add_user
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import ChangeStatus, User
from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from tests.governance_helpers import fresh_ledger, make_people, with_webhooks

HOOKS = {
    "ops": [{"url": "https://hooks.example/ops", "format": "wecom"}],
    "finance": [{"url": "https://hooks.example/finance", "format": "json"}],
    "it": [{"url": "https://hooks.example/it", "format": "slack"}],
}


def _approve(gov: Governance, users: dict[str, User], change_id: int) -> None:
    """Every stage the request needs, by a user who may give it."""
    for stage in gov.get(change_id).approvals_required:
        if stage.department:
            name = f"owner_{stage.department}"
            if name not in users:
                users[name], _ = add_user(gov.ledger, name, "owner", stage.department)
        else:
            name = "wang"  # committee
        gov.approve(users[name], change_id, "季度审查同意")


def test_three_decisions_three_requests_one_notice_per_department(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(with_webhooks(demo_graph, HOOKS))
    ledger = fresh_ledger(store)
    users, _tokens = make_people(ledger)
    gov = Governance(store, ledger)

    lists = review_lists(store.catalog(), ledger, default_window())
    assert "bay_turnover" in {m["id"] for m in lists.unused}  # nobody read it this quarter
    assert [m["id"] for m in lists.stale_benchmarks] == ["atp"]  # 中国汽车流通协会 2023

    decisions = [
        Decision(metric="bay_turnover", action="deprecate"),
        Decision(metric="visits", action="rework", note="洗车台次是否计入"),
        Decision(metric="atp", action="update_benchmark", source="中国汽车流通协会 2026年度报告"),
    ]
    ids = submit_decisions(gov, users["zhao"], "2026-Q3", decisions)  # committee
    assert len(ids) == 3 and len(set(ids)) == 3
    changes = [gov.get(i) for i in ids]
    assert all(c.status is ChangeStatus.SUBMITTED for c in changes)
    assert changes[0].action.value == "deprecate"
    assert any("洗车台次是否计入" in c for c in changes[1].definition["caveats"])  # type: ignore[index]
    assert "2026" in str(changes[2].definition["benchmarks"])  # type: ignore[index]

    with pytest.raises(InvalidQueryError, match="still open"):
        close_review(gov, "2026-Q3")  # nothing is published before the decisions are
    for change_id in ids:
        _approve(gov, users, change_id)
    assert all(gov.get(i).status is ChangeStatus.APPROVED for i in ids)

    before = {i.key for i in ledger.outbox(limit=1000)}
    items = close_review(gov, "2026-Q3")
    notices = [i for i in ledger.outbox(limit=1000) if i.key not in before]
    assert notices and {i.event for i in notices} == {"review.notice"}
    per_department = [i.url for i in notices]
    assert len(per_department) == len(set(per_department))  # one notice per department
    owners = {
        d
        for c in changes
        for d in ((c.definition or {}).get(k) for k in ("owner", "reviewer"))
        if d
    }
    involved = {"ops", "finance", "it"} & owners
    assert {u.rsplit("/", 1)[1] for u in per_department} == involved
    assert len(items) == len(notices)
    assert review_record(ledger, "2026-Q3")["closed_at"]  # type: ignore[index]
    close_review(gov, "2026-Q3")  # closing again queues nothing twice
    assert len(ledger.outbox(limit=1000)) == len(before) + len(notices)
