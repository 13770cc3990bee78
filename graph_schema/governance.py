"""Models of the governance ledger: users and roles, change requests and their timeline,
comments, notification outbox items. Plain data; the rules live in :mod:`governance`."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def now_iso() -> str:
    """UTC now, ISO 8601 to the microsecond (sortable as text).

    Examples
    --------
    >>> now_iso().endswith("+00:00")
    True
    """
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Role(StrEnum):
    """What a user may do. Each role may do what the ones before it may (bar ``owner``'s
    department scope): viewer reads; editor proposes and comments; owner reviews requests for
    metrics its department owns or reviews; committee gives final approval; admin does all."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"
    COMMITTEE = "committee"
    ADMIN = "admin"


#: Roles allowed to write anything (propose, comment).
WRITERS = frozenset({Role.EDITOR, Role.OWNER, Role.COMMITTEE, Role.ADMIN})


def user_id(token_id: str) -> str:
    """A user's id from the token id issued with the user (a digest: the token id is half of
    what a forged session would need, so it is not published).

    Examples
    --------
    >>> user_id("abc") == user_id("abc") != user_id("abd")
    True
    """
    return hashlib.sha256(f"kpigraph-user:{token_id}".encode()).hexdigest()[:20]


def same_user(user: User, name: str, uid: str | None, at: str) -> bool:
    """Whether ``user`` is who made a record (``name``, ``uid`` at time ``at``). Records with an
    id compare ids; older records without one match by name only a user created by then — a
    name re-added later is someone else.

    Examples
    --------
    >>> old = User(name="root", role=Role.ADMIN, token_id="t1", created_at="2026-01-01")
    >>> new = User(name="root", role=Role.ADMIN, token_id="t2", created_at="2026-06-01")
    >>> same_user(old, "root", old.id, "2026-02-01"), same_user(new, "root", old.id, "2026-07-01")
    (True, False)
    >>> same_user(old, "root", None, "2026-02-01"), same_user(new, "root", None, "2026-02-01")
    (True, False)
    """
    if uid is not None:
        return user.id == uid
    return user.name == name and user.created_at <= at


class User(_Record):
    name: str
    role: Role
    department: str | None = None
    token_id: str
    created_at: str
    revoked_at: str | None = None
    #: bumped by signing out: session cookies carry the epoch they were issued in, and one of
    #: an older epoch is refused (a copied cookie dies with the sign-out, on every server)
    session_epoch: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def id(self) -> str:
        """The user's immutable id: made from the token id issued when the user was created
        (never shown: a digest of it). A name revoked and added again is a new user with a new
        id, who does not inherit the old one's requests, approvals or comments."""
        return user_id(self.token_id)


class ChangeStatus(StrEnum):
    SUBMITTED = "submitted"
    OWNER_APPROVED = "owner_approved"
    APPROVED = "approved"
    APPLIED = "applied"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEPRECATE = "deprecate"


class Stage(_Record):
    """One approval a request needs: an owner-stage review by ``department``, or the committee."""

    stage: str  # "owner" | "committee"
    department: str | None = None


class Approval(_Record):
    stage: str
    department: str | None = None
    by: str
    by_id: str | None = None  # User.id (None in records made before ids)
    at: str
    comment: str | None = None


class ChangeRequest(_Record):
    """A proposed change to one metric, frozen with its diff, class, version and impact."""

    id: int
    action: Action
    ref: str
    base_version: str | None = None
    base_revision: int | None = None
    definition: dict[str, Any] = Field(default_factory=dict)
    reason: str
    requester: str
    requester_id: str | None = None  # User.id (None in records made before ids)
    status: ChangeStatus = ChangeStatus.SUBMITTED
    diff: list[dict[str, Any]] = Field(default_factory=list)
    change_class: str | None = None
    new_version: str | None = None
    impact: dict[str, Any] = Field(default_factory=dict)
    approvals_required: list[Stage] = Field(default_factory=list)
    lint: list[dict[str, Any]] = Field(default_factory=list)  # warnings shown to reviewers
    approvals: list[Approval] = Field(default_factory=list)
    conflict: str | None = None
    applied_revision: int | None = None
    created_at: str
    updated_at: str
    seq: int = 0  # bumped by every committed transition (optimistic concurrency)

    @property
    def metric_id(self) -> str:
        return self.ref.split(":", 1)[1]


class ChangeEvent(_Record):
    """One line of a request's timeline: every transition, approval, rejection, conflict."""

    change_id: int
    seq: int
    at: str
    actor: str
    event: str  # submit | approve | reject | withdraw | apply | conflict
    from_status: str | None = None
    to_status: str
    stage: str | None = None
    department: str | None = None
    comment: str | None = None


class Comment(_Record):
    """A question or an answer (threaded one level) on a metric. Text, never HTML."""

    id: int
    metric: str
    parent: int | None = None
    author: str
    author_id: str | None = None  # User.id (None in records made before ids)
    body: str
    faq: bool = False
    deleted: bool = False
    created_at: str
    edited_at: str | None = None


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxItem(_Record):
    """One notification to deliver to one webhook, written with the event that caused it."""

    id: int = 0
    key: str  # unique: change id, event seq, url — a retried transition never sends twice
    url: str
    format: str
    event: str
    change_id: int | None = None
    body: dict[str, Any]
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_at: str
    #: why the last attempt failed, as the sender worded it (for logs)
    last_error: str | None = None
    #: the same as a message to word in its reader's language (:meth:`core.i18n.Said.to_json`;
    #: ``None`` for a failure the system words, such as a refused connection)
    last_error_said: dict[str, Any] | None = None
    created_at: str
    delivered_at: str | None = None


# -- errors --------------------------------------------------------------------------------------

from graph_schema.errors import ConflictError, KpigraphError  # noqa: E402


class AuthenticationRequiredError(KpigraphError):
    """No credentials, or credentials that do not check out (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(KpigraphError):
    """Authenticated, but this role may not do this (HTTP 403)."""

    code = "forbidden"


class TooManyAttemptsError(KpigraphError):
    """Too many failed sign-ins from one client (HTTP 429)."""

    code = "rate_limited"


class ChangeNotFoundError(KpigraphError, LookupError):
    code = "not_found"


class ChangeStateError(KpigraphError):
    """The request is not in a state that allows this, or another writer got there first,
    or the metric changed since the request was made (HTTP 409)."""

    code = "conflict"


@dataclass(frozen=True)
class LedgerCommit:
    """A change request's new state, its timeline event and its outbox items, to be written
    compare-and-set on ``expected_seq`` — by the ledger alone, or by the graph store in the
    same transaction as a revision (an apply: the revision and "applied" land together or not
    at all)."""

    change: ChangeRequest
    expected_seq: int | None
    event: ChangeEvent
    outbox: list[OutboxItem] = field(default_factory=list)


class AlreadyProposedError(ConflictError):
    """An open request already proposes exactly this (same metric, action, base version and
    definition, from anyone): no second one is made. ``details``: its ``id``, ``status`` and
    ``requester``."""

    code = "already_proposed"


class ChangeRaceError(ConflictError):
    """The request moved (another process applied, rejected or withdrew it) while this
    process was writing: nothing was written."""

    code = "change_moved"
