"""A progress record changed by two writers at once keeps both changes, on both backends: the
quarterly review's decisions (a record every committee member appends to) were read and written
back in two steps, so two members submitting at once from two servers lost one set."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from governance.changes import Governance
from governance.review import Decision, review_record, submit_decisions
from graph_schema.graph import CatalogGraph
from graph_schema.programme import ProgressKind, ProgressRecord
from store.base import GraphStore
from store.ledger import ledger_for
from tests.governance_helpers import fresh_ledger, make_people

WRITERS = 6
EACH = 5


def test_concurrent_changes_of_one_record_all_kept(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(demo_graph)
    fresh_ledger(store)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        ledger = ledger_for(store)  # its own ledger: another server's connection
        try:
            for i in range(EACH):

                def add(old: ProgressRecord | None, item: str = f"{n}-{i}") -> ProgressRecord:
                    items = [*(old.data["items"] if old else []), item]
                    return ProgressRecord(
                        user="committee",
                        kind=ProgressKind.REVIEW,
                        key="2026-Q4",
                        at="2026-12-07T00:00:00Z",
                        data={"items": items},
                    )

                ledger.change_progress("committee", ProgressKind.REVIEW, "2026-Q4", add)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    (record,) = ledger_for(store).progress(ProgressKind.REVIEW.value, "committee")
    assert sorted(record.data["items"]) == sorted(
        f"{n}-{i}" for n in range(WRITERS) for i in range(EACH)
    )


def test_a_callback_may_not_write_another_record(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(demo_graph)
    ledger = fresh_ledger(store)

    def other(_old: ProgressRecord | None) -> ProgressRecord:
        return ProgressRecord(
            user="mallory", kind=ProgressKind.READ, key="atp", at="2026-12-07T00:00:00Z", data={}
        )

    with pytest.raises(ValueError, match="returned the record of"):
        ledger.change_progress("committee", ProgressKind.REVIEW, "2026-Q4", other)
    assert ledger.progress(ProgressKind.READ.value) == []
    assert ledger.progress(ProgressKind.REVIEW.value) == []


class SlowReads:
    """A ledger whose reads of progress records take a while (a busy server): a read-then-write
    of a record then always overlaps the other member's."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def progress(self, kind: str, user: str | None = None) -> list[ProgressRecord]:
        found: list[ProgressRecord] = self._ledger.progress(kind, user)
        time.sleep(0.5)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def test_two_members_submitting_at_once_keep_both_decisions(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    """Two committee members, each through their own server's ledger, submit a decision of
    the same review at the same moment: the review keeps both (and both requests exist)."""
    store = make_store()
    store.load(demo_graph)
    users, _tokens = make_people(fresh_ledger(store))
    barrier = threading.Barrier(2)
    ids: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def member(metric: str) -> None:
        gov = Governance(store, SlowReads(ledger_for(store)))
        try:
            barrier.wait()
            ids[metric] = submit_decisions(
                gov,
                users["wang"],
                "2026-Q4",
                [Decision(metric=metric, action="rework", note=metric)],
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=member, args=(m,)) for m in ("atp", "bay_turnover")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    record = review_record(ledger_for(store), "2026-Q4")
    assert record is not None
    kept = {d["metric"]: d["change"] for d in record["decisions"]}
    assert kept == {"atp": ids["atp"][0], "bay_turnover": ids["bay_turnover"][0]}
