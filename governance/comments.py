"""Comments on metrics: questions, answers (threaded one level), FAQ marks, moderation.
Comments are plain text; pages escape them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.i18n import _
from graph_schema.errors import InvalidQueryError, NodeNotFoundError
from graph_schema.governance import (
    WRITERS,
    ChangeNotFoundError,
    ChangeStateError,
    Comment,
    PermissionDeniedError,
    Role,
    User,
    now_iso,
    same_user,
)
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from store.base import GraphStore
from store.ledger import Ledger

MAX_BODY = 4000
#: tries of a compare-and-set write before a comment is reported busy
ATTEMPTS = 5


def _clean(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidQueryError(_("body: write something"))
    if len(text) > MAX_BODY:
        raise InvalidQueryError(_("body: at most {n} characters", n=MAX_BODY))
    return text


def _metric(store: GraphStore, metric_id: str) -> Metric:
    ref = NodeRef(NodeKind.METRIC, metric_id)
    node = store.get_nodes([ref]).get(ref)
    if not isinstance(node, Metric):
        raise NodeNotFoundError(str(ref))
    return node


def _get(ledger: Ledger, comment_id: int) -> Comment:
    found = ledger.comment(comment_id)
    if found is None:
        raise ChangeNotFoundError(
            _("no comment #{comment_id}", comment_id=comment_id), {"id": comment_id}
        )
    return found


def add(
    store: GraphStore, ledger: Ledger, user: User, metric_id: str, body: str, parent: int | None
) -> Comment:
    if user.role not in WRITERS:
        raise PermissionDeniedError(_("a {role} may not comment", role=user.role.value))
    _metric(store, metric_id)
    if parent is not None:
        above = _get(ledger, parent)
        if above.metric != metric_id or above.parent is not None:
            raise InvalidQueryError(_("parent: answer a question of the same metric"))
    comment = Comment(
        id=ledger.next_comment_id(),
        metric=metric_id,
        parent=parent,
        author=user.name,
        author_id=user.id,
        body=_clean(body),
        created_at=now_iso(),
    )
    ledger.put_comment(comment)
    return comment


def _by(user: User, comment: Comment) -> bool:
    """``user`` wrote ``comment`` (by id: a name revoked and re-added is someone else)."""
    return same_user(user, comment.author, comment.author_id, comment.created_at)


def _update(ledger: Ledger, comment_id: int, change: Callable[[Comment], Comment]) -> Comment:
    """Read the comment, make its new version (``change`` checks who may, and raises), and
    store it unless another write came in between — then again from a fresh read: an edit made
    from the text as it was must not undo a deletion (or an FAQ mark) made meanwhile, in this
    process or another."""
    for _attempt in range(ATTEMPTS):
        comment = _get(ledger, comment_id)
        new = change(comment)
        if ledger.put_comment(new, expected=comment):
            return new
    raise ChangeStateError(_("comment #{comment_id} is busy; try again", comment_id=comment_id))


def edit(ledger: Ledger, user: User, comment_id: int, body: str) -> Comment:
    text = _clean(body)

    def change(comment: Comment) -> Comment:
        if not _by(user, comment) or comment.deleted:
            raise PermissionDeniedError(_("only the author may edit a comment"))
        return comment.model_copy(update={"body": text, "edited_at": now_iso()})

    return _update(ledger, comment_id, change)


def delete(ledger: Ledger, user: User, comment_id: int) -> Comment:
    def change(comment: Comment) -> Comment:
        if not _by(user, comment) and user.role is not Role.ADMIN:
            raise PermissionDeniedError(_("only the author or an admin may delete a comment"))
        return comment.model_copy(update={"deleted": True, "faq": False, "edited_at": now_iso()})

    return _update(ledger, comment_id, change)


def mark_faq(store: GraphStore, ledger: Ledger, user: User, comment_id: int, faq: bool) -> Comment:
    def change(comment: Comment) -> Comment:
        if comment.parent is None or comment.deleted:
            raise InvalidQueryError(_("only an answer can be marked as FAQ"))
        metric = _metric(store, comment.metric)
        owner = user.role is Role.OWNER and user.department in (metric.owner, metric.reviewer)
        if not (owner or user.role is Role.ADMIN):
            raise PermissionDeniedError(_("only an owner of the metric's department may mark FAQ"))
        return comment.model_copy(update={"faq": faq})

    return _update(ledger, comment_id, change)


def public(comment: Comment) -> dict[str, Any]:
    """What readers see: a deleted comment keeps its place, not its text."""
    out = comment.model_dump()
    if comment.deleted:
        out["body"] = ""
    return out


def faq(ledger: Ledger, metric_id: str) -> list[dict[str, Any]]:
    """Question/answer pairs marked FAQ, oldest first."""
    comments = {c.id: c for c in ledger.comments(metric_id)}
    out = []
    for c in comments.values():
        if c.faq and not c.deleted and c.parent in comments:
            q = comments[c.parent]
            out.append({"question": q.body, "answer": c.body, "id": c.id, "by": c.author})
    return out
