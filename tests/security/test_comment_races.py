"""A comment's edit, deletion and FAQ mark each read the comment, then wrote the whole of it
back (review): an author's edit made from a read taken before an admin's deletion — in another
server process, or a moment earlier in this one — put the comment back, ``deleted: false``
with its new text, after the admin had been told "deleted"; an owner's FAQ mark did the same
(and showed a removed answer as FAQ). Now the write is a compare-and-set in the ledger: the
late writer reads again and is refused. Both backends; the interfering write goes through a
second, independent handle on the store (as another process's would)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from governance import comments as svc
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import Comment, PermissionDeniedError
from store.base import GraphStore
from store.ledger import Ledger, ledger_for
from tests.governance_helpers import fresh_ledger, make_people


class ReadThenInterfere:
    """The ledger, except that the first read of a comment is followed — before the caller
    writes — by ``interfere()`` (another process's write)."""

    def __init__(self, ledger: Ledger, interfere: Callable[[], object]) -> None:
        self._ledger, self._interfere = ledger, interfere
        self._done = False

    def comment(self, comment_id: int) -> Comment | None:
        found = self._ledger.comment(comment_id)
        if not self._done:
            self._done = True
            self._interfere()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


@pytest.fixture
def setting(
    make_store: Any, reopen_store: Any, demo_graph: Any
) -> tuple[GraphStore, Ledger, Ledger, dict[str, Any]]:
    store: GraphStore = make_store()
    store.load(demo_graph)
    ledger = fresh_ledger(store)
    users, _tokens = make_people(ledger)
    other = ledger_for(reopen_store(store))  # "another server process"
    return store, ledger, other, users


def test_an_edit_does_not_undo_a_deletion(
    setting: tuple[GraphStore, Ledger, Ledger, dict[str, Any]],
) -> None:
    store, ledger, other, users = setting
    question = svc.add(store, ledger, users["zhang"], "atp", "口径包含税吗？", None)

    def admin_deletes() -> None:
        svc.delete(other, users["root"], question.id)

    racing = ReadThenInterfere(ledger, admin_deletes)
    with pytest.raises(PermissionDeniedError):
        svc.edit(racing, users["zhang"], question.id, "spam that moderation removed")  # type: ignore[arg-type]
    for handle in (ledger, other):
        stored = handle.comment(question.id)
        assert stored is not None and stored.deleted
        assert svc.public(stored)["body"] == ""


def test_an_faq_mark_does_not_bring_back_a_deleted_answer(
    setting: tuple[GraphStore, Ledger, Ledger, dict[str, Any]],
) -> None:
    store, ledger, other, users = setting
    question = svc.add(store, ledger, users["zhang"], "atp", "口径包含税吗？", None)
    answer = svc.add(store, ledger, users["li"], "atp", "含税。", question.id)

    def admin_deletes() -> None:
        svc.delete(other, users["root"], answer.id)

    racing = ReadThenInterfere(ledger, admin_deletes)
    with pytest.raises(InvalidQueryError):
        svc.mark_faq(store, racing, users["li"], answer.id, True)  # type: ignore[arg-type]
    stored = other.comment(answer.id)
    assert stored is not None and stored.deleted and not stored.faq
    assert svc.faq(ledger, "atp") == []


def test_an_edit_without_interference_still_lands(
    setting: tuple[GraphStore, Ledger, Ledger, dict[str, Any]],
) -> None:
    store, ledger, _other, users = setting
    question = svc.add(store, ledger, users["zhang"], "atp", "口径包含税吗？", None)
    edited = svc.edit(ledger, users["zhang"], question.id, "口径含税吗？")
    assert ledger.comment(question.id) == edited and edited.body == "口径含税吗？"
