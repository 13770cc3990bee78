"""User ids are immutable (issue 21 item 7): on the landed code a revoked user re-added under
the same name inherited the old one's comments and requests (records named users by name), and
``ROOT`` / ``root.`` could be created beside ``root``. Both ledger backends."""

from __future__ import annotations

from typing import Any

import pytest

from governance import comments as comment_svc
from governance import workflow
from governance.changes import Governance
from governance.users import add_user
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import Action, ChangeStatus, PermissionDeniedError, User
from graph_schema.ids import NodeRef
from store.base import GraphStore
from store.ledger import Ledger
from tests.governance_helpers import fresh_ledger


def revoke(ledger: Ledger, name: str) -> None:
    from graph_schema.governance import now_iso

    assert ledger.revoke_user(name, now_iso())


@pytest.fixture
def gov(make_store: Any, demo_graph: Any) -> tuple[GraphStore, Ledger]:
    store: GraphStore = make_store()
    store.load(demo_graph)
    return store, fresh_ledger(store)


def test_names_are_unique_ignoring_case_and_trimmed(
    gov: tuple[GraphStore, Ledger], english: None
) -> None:
    _store, ledger = gov
    add_user(ledger, "root", "admin")
    for clash in ("ROOT", "Root", " root ", "root\t"):
        with pytest.raises(InvalidQueryError, match=r"exists|clashes"):
            add_user(ledger, clash, "viewer")
    for lookalike in ("root.", ".root", "root-", "@root", "root_", "ro ot", "ｒｏｏｔ"):
        with pytest.raises(InvalidQueryError, match="user name"):
            add_user(ledger, lookalike, "viewer")
    user, _ = add_user(ledger, "  li.na-2@ops  ", "viewer")
    assert user.name == "li.na-2@ops"
    add_user(ledger, "张三", "viewer")


def test_the_ledger_itself_refuses_a_case_clash(gov: tuple[GraphStore, Ledger]) -> None:
    """Two add_user calls racing past the check still meet the ledger's own refusal."""
    _store, ledger = gov
    add_user(ledger, "wang", "committee")
    impostor = User(name="WANG", role="admin", token_id="x" * 12, created_at="2026-01-01")
    with pytest.raises(KeyError):
        ledger.add_user(impostor, "hash")


def test_a_re_added_name_is_a_new_user(gov: tuple[GraphStore, Ledger]) -> None:
    store, ledger = gov
    governance = Governance(store, ledger)
    old_zhang, _ = add_user(ledger, "zhang", "editor")
    add_user(ledger, "li", "owner", "ops")
    ref = NodeRef.parse("atp")
    atp = store.get_nodes([ref])[ref].props()
    definition = {k: v for k, v in atp.items() if k != "version"}
    definition["definition"] = "单个客户单次进厂消费的平均金额（含税）。"
    change = governance.submit(
        old_zhang, Action.UPDATE, ref, definition, atp.get("version"), "明确口径"
    )
    comment = comment_svc.add(store, ledger, old_zhang, "atp", "口径包含税吗？", None)

    revoke(ledger, "zhang")
    new_zhang, _ = add_user(ledger, "zhang", "committee")
    assert new_zhang.id != old_zhang.id

    change = ledger.change(change.id)
    assert change is not None and change.requester_id == old_zhang.id
    # the new zhang did not make the request: may not withdraw it, and is not "the requester"
    assert not workflow.may_withdraw(new_zhang, change)
    assert not workflow.is_requester(new_zhang, change)
    with pytest.raises(PermissionDeniedError):
        governance.withdraw(new_zhang, change.id, None)
    # nor write the old zhang's comment
    with pytest.raises(PermissionDeniedError):
        comment_svc.edit(ledger, new_zhang, comment.id, "改写别人的话")
    with pytest.raises(PermissionDeniedError):
        comment_svc.delete(ledger, new_zhang, comment.id)
    stored = ledger.comment(comment.id)
    assert stored is not None and stored.body == "口径包含税吗？" and not stored.deleted
    assert governance.get(change.id).status is ChangeStatus.SUBMITTED


def test_records_without_ids_match_only_users_created_before_them() -> None:
    from graph_schema.governance import Comment, same_user

    old = Comment(id=1, metric="atp", author="root", body="x", created_at="2026-03-01T00:00:00")
    earlier = User(name="root", role="admin", token_id="a", created_at="2026-01-01T00:00:00")
    later = User(name="root", role="admin", token_id="b", created_at="2026-06-01T00:00:00")
    assert same_user(earlier, old.author, old.author_id, old.created_at)
    assert not same_user(later, old.author, old.author_id, old.created_at)
