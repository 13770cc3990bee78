"""The ledger's programme pair (put_progress / progress, issue 28) on both backends."""

from __future__ import annotations

from collections.abc import Callable

from graph_schema.programme import ProgressKind, ProgressRecord
from store.base import GraphStore
from store.ledger import ledger_for
from tests.governance_helpers import fresh_ledger


def test_progress_is_kept_per_user_kind_and_key(make_store: Callable[[], GraphStore]) -> None:
    store = make_store()
    ledger = fresh_ledger(store)
    read = ProgressKind.READ
    ledger.put_progress(ProgressRecord(user="xiao", kind=read, key="atp", at="2026-01-01"))
    ledger.put_progress(ProgressRecord(user="xiao", kind=read, key="revenue", at="2026-01-01"))
    ledger.put_progress(ProgressRecord(user="li", kind=read, key="atp", at="2026-01-02"))
    quiz = ProgressRecord(
        user="xiao", kind=ProgressKind.QUIZ, key="7", at="2026-01-03", data={"score": 4}
    )
    ledger.put_progress(quiz)
    ledger.put_progress(quiz.model_copy(update={"data": {"score": 5}}))  # replaces
    assert [(r.user, r.key) for r in ledger.progress("read")] == [
        ("li", "atp"),
        ("xiao", "atp"),
        ("xiao", "revenue"),
    ]
    assert [r.key for r in ledger.progress("read", "li")] == ["atp"]
    assert [r.data for r in ledger.progress("quiz")] == [{"score": 5}]
    assert ledger.progress("quiz", "nobody") == []
    again = ledger_for(store)  # a second handle sees the same records
    assert len(again.progress("read")) == 3


def test_enqueue_adds_each_key_once(make_store: Callable[[], GraphStore]) -> None:
    from graph_schema.governance import OutboxItem, now_iso

    ledger = fresh_ledger(make_store())
    at = now_iso()
    items = [
        OutboxItem(
            key=f"report:x:{d}",
            url=f"https://h.example/{d}",
            format="json",
            event="report.monthly",
            body={"d": d},
            next_at=at,
            created_at=at,
        )
        for d in ("ops", "finance")
    ]
    assert ledger.enqueue(items) == 2
    assert ledger.enqueue(items) == 0
    stored = ledger.outbox()
    assert sorted(i.key for i in stored) == ["report:x:finance", "report:x:ops"]
    assert all(i.id > 0 and i.change_id is None for i in stored)
