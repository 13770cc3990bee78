"""Change requests: submit, approve, reject, withdraw, apply — each a transition declared in
:mod:`governance.workflow`, written with its timeline event and notifications in one ledger
transaction (compare-and-set on the request's ``seq``, so of two concurrent approvals exactly
one is committed; the other is re-evaluated against the new state).

Applying writes the metric with its new version and 版本记录 entry as a delta — its row, the
edge rows that changed and the revision of exactly those changes — together with the request's
"applied", in one store transaction (:mod:`governance.delta`): of two processes applying one
request, one writes everything and the other nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from core.i18n import N_, _
from governance import workflow
from governance.apply import already_applied, conflict_of, head_of
from governance.delta import metric_delta
from governance.proposal import (
    Proposal,
    history_entry,
    propose,
)
from governance.transition_writer import TransitionWriter
from graph_schema.errors import (
    CatalogError,
    CatalogIssue,
    ConflictError,
    KpigraphError,
    VersionError,
)
from graph_schema.governance import (
    WRITERS,
    Action,
    AlreadyProposedError,
    Approval,
    ChangeEvent,
    ChangeNotFoundError,
    ChangeRaceError,
    ChangeRequest,
    ChangeStateError,
    ChangeStatus,
    PermissionDeniedError,
    Role,
    User,
    now_iso,
)
from graph_schema.ids import NodeRef
from graph_schema.revisions import RevisionDraft
from store.base import GraphStore
from store.history import now as history_now
from store.ledger import Ledger

#: what an action makes of a request, for "it cannot be … now" (message ids)
DONE = {
    "approve": N_("action done: approved"),
    "reject": N_("action done: rejected"),
    "withdraw": N_("action done: withdrawn"),
}

ATTEMPTS = 5
log = logging.getLogger("kpigraph.governance")
#: a failed write-back's note when the write-back gave no plain reason (shown translated)
WRITEBACK_FAILED = N_(
    "The write-back into the catalog files failed; an admin finds why in the server log."
)


class Governance(TransitionWriter):
    """The change-request service over one graph store and its ledger (each transition
    written as :class:`governance.transition_writer.TransitionWriter` writes it)."""

    def __init__(
        self,
        store: GraphStore,
        ledger: Ledger,
        *,
        base_url: str = "http://127.0.0.1:8000",
        auto_apply: bool = False,
        on_commit: Any = None,
        writeback: Callable[[ChangeRequest], str] | None = None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.base_url = base_url
        self.auto_apply = auto_apply
        self.on_commit = on_commit  # called after a commit that queued notifications
        #: after an apply: writes the change into the catalog files, returns what it wrote
        self.writeback = writeback
        self._apply_lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------

    def get(self, change_id: int) -> ChangeRequest:
        change = self.ledger.change(change_id)
        if change is None:
            raise ChangeNotFoundError(_("no change request #{id}", id=change_id), {"id": change_id})
        return change

    def with_live_conflict(self, change: ChangeRequest) -> ChangeRequest:
        """An open request whose metric changed since it was made (by a load from git, or
        another request) shows the conflict now, not only when someone tries to apply it."""
        if change.status not in workflow.OPEN or change.conflict:
            return change
        ref = NodeRef.parse(change.ref)
        node = self.store.get_nodes([ref]).get(ref)
        current = node.props() if node is not None else None
        if already_applied(change, current):
            return change
        conflict = conflict_of(change, current)
        return change.model_copy(update={"conflict": conflict}) if conflict else change

    def timeline(self, change_id: int) -> list[ChangeEvent]:
        return self.ledger.events(change_id)

    # -- transitions --------------------------------------------------------------------------

    def submit(
        self,
        user: User,
        action: Action,
        ref: NodeRef,
        definition: dict[str, Any] | None,
        base_version: str | None,
        reason: str,
    ) -> ChangeRequest:
        if user.role not in WRITERS:
            raise PermissionDeniedError(_("a {role} may not propose changes", role=user.role.value))
        if not reason.strip():  # spaces pass every min_length; the committee reads the reason
            raise CatalogError(
                [
                    CatalogIssue(
                        "reason",
                        None,
                        _("reason: say why the change is needed"),
                        field="reason",
                    )
                ]
            )
        self._require_current_base(ref, base_version)
        proposal = propose(self.store, action, ref, definition, base_version)

        def same(stored: ChangeRequest) -> bool:
            return stored.status in workflow.OPEN and same_proposal(stored, proposal)

        for stored in self.ledger.changes(None, str(proposal.ref)):  # before taking an id
            if same(stored):
                raise already_proposed(stored)
        at = now_iso()
        change = ChangeRequest(
            id=self.ledger.next_change_id(),
            action=action,
            ref=str(proposal.ref),
            base_version=(proposal.old or {}).get("version"),
            base_revision=head_of(self.store),
            definition=proposal.new,
            reason=reason,
            requester=user.name,
            requester_id=user.id,
            diff=proposal.diff,
            change_class=proposal.change_class,
            new_version=proposal.new_version,
            impact=proposal.impact,
            approvals_required=proposal.approvals_required,
            lint=proposal.lint,
            created_at=at,
            updated_at=at,
            seq=1,
        )
        owners = [s.department for s in change.approvals_required if s.department]
        commit = self._prepare(
            change, None, user, "submit", None, None, None, owners, proposal.graph
        )
        # checked again in the write's transaction: two servers submitting it at once
        existing = self.ledger.submit_change(commit, same)
        if existing is not None:
            raise already_proposed(existing)
        self._committed(commit)
        return change

    def approve(self, user: User, change_id: int, comment: str | None) -> ChangeRequest:
        for _attempt in range(ATTEMPTS):
            change = self.get(change_id)
            self._require_open(change, "approve")
            stage = workflow.stage_for(user, change)
            if stage is None:
                raise PermissionDeniedError(_why_not(user, change, self._department_names(change)))
            approval = Approval(
                stage=stage.stage,
                department=stage.department,
                by=user.name,
                by_id=user.id,
                at=now_iso(),
                comment=comment,
            )
            status = workflow.status_after_approval(change, approval)
            new = change.model_copy(
                update={"approvals": [*change.approvals, approval], "status": status}
            )
            event = "approved" if status is ChangeStatus.APPROVED else "approve"
            tell = self._departments(change)
            if self._commit(new, change, user, event, comment, stage.stage, stage.department, tell):
                if status is ChangeStatus.APPROVED and self.auto_apply:
                    return self.apply(None, change_id)
                return self.get(change_id)
        raise ChangeStateError(_("change request #{id} is busy; try again", id=change_id))

    def reject(self, user: User, change_id: int, comment: str | None) -> ChangeRequest:
        for _attempt in range(ATTEMPTS):
            change = self.get(change_id)
            self._require_open(change, "reject")
            if not workflow.may_reject(user, change):
                raise PermissionDeniedError(_why_not(user, change, self._department_names(change)))
            stage = workflow.stage_for(user, change)
            new = change.model_copy(update={"status": ChangeStatus.REJECTED})
            if self._commit(
                new,
                change,
                user,
                "reject",
                comment,
                stage.stage if stage else None,
                stage.department if stage else None,
                self._departments(change),
            ):
                return new
        raise ChangeStateError(_("change request #{id} is busy; try again", id=change_id))

    def _require_current_base(self, ref: NodeRef, base_version: str | None) -> None:
        """A proposal made from a definition behind the store's (a catalog file not pulled
        since a change request was applied) would silently undo that change: 409, naming it."""
        if base_version is None:
            return
        node = self.store.get_nodes([ref]).get(ref)
        stored = node.props().get("version") if node is not None else None
        if node is None or stored == base_version:
            return
        applied = [
            c
            for c in self.ledger.changes(status=ChangeStatus.APPLIED.value, ref=str(ref))
            if c.new_version == stored
        ]
        at = stored or _("(none)")
        if applied:
            at = _("{version} (change request #{id})", version=at, id=applied[0].id)
        raise ChangeStateError(
            _(
                "your definition of {metric} is at {base}, the store at {stored}; run kpigraph "
                "pull first (or propose from the current definition)",
                metric=ref.id,
                base=base_version,
                stored=at,
            ),
            {"base_version": base_version, "stored": stored, "ref": str(ref)},
        )

    def withdraw(self, user: User, change_id: int, comment: str | None) -> ChangeRequest:
        change = self.get(change_id)
        self._require_open(change, "withdraw")
        if not workflow.may_withdraw(user, change):
            raise PermissionDeniedError(_("only the requester (or an admin) may withdraw it"))
        new = change.model_copy(update={"status": ChangeStatus.WITHDRAWN})
        if not self._commit(new, change, user, "withdraw", comment, None, None, []):
            raise ChangeStateError(
                _("change request #{id} changed meanwhile; reload it", id=change_id)
            )
        return new

    def apply(self, user: User | None, change_id: int) -> ChangeRequest:
        """Write the approved change as a new revision (admin, or ``user=None`` for the
        automatic apply on final approval).

        One decision across processes: the revision and the request's "applied" are written in
        one store transaction, compare-and-set on the request. Of two processes applying the
        same request, one writes both; the other writes nothing and answers 409 naming the
        revision. A graph moved by an unrelated load meanwhile is read again and re-checked."""
        if user is not None and not workflow.may_apply(user):
            raise PermissionDeniedError(_("only an admin may apply a change request"))
        actor = user.name if user else "kpigraph"
        with self._apply_lock:
            for attempt in range(ATTEMPTS):
                change = self.get(change_id)
                self._require_approved(change)
                try:
                    return self._written_back(self._apply_once(change, actor), actor)
                except ChangeRaceError:
                    continue  # the request moved: read it again (applied → 409 above)
                except ConflictError as exc:  # the graph moved since it was read
                    if attempt < ATTEMPTS - 1:
                        continue
                    self._record_conflict(change, actor, exc.message)
                    raise ChangeStateError(exc.message, {"id": change_id}) from exc
            raise ChangeStateError(
                _(
                    "change request #{id} kept changing while it was being applied; nothing "
                    "was written; try again",
                    id=change_id,
                ),
                {"id": change_id},
            )

    def _written_back(self, applied: ChangeRequest, actor: str) -> ChangeRequest:
        """The server's write-back (``serve --writeback``), after the apply: its outcome is a
        timeline event. A failure leaves the files as they were and the request applied; the
        next apply's write-back, or ``kpigraph pull``, writes what the files still lack."""
        if self.writeback is None:
            return applied
        try:
            note, event = self.writeback(applied), "writeback"
        except Exception as exc:  # any failure is recorded, never hidden
            # anyone may read the timeline: a plain reason there, the detail (server paths,
            # git's output) only in the server log
            event = "writeback_failed"
            if isinstance(exc, KpigraphError) and exc.code == "writeback_failed":
                note = exc.message
            else:
                log.warning("change request #%s: write-back failed", applied.id, exc_info=exc)
                note = WRITEBACK_FAILED
        new = applied.model_copy()
        self._commit(new, applied, _actor(actor), event, note, None, None, [])
        return self.get(applied.id)

    def _require_approved(self, change: ChangeRequest) -> None:
        if change.status is ChangeStatus.APPLIED:
            raise ChangeStateError(
                _(
                    "change request #{id} is already applied, as revision {revision}",
                    id=change.id,
                    revision=change.applied_revision,
                ),
                {"status": "applied", "revision": change.applied_revision},
            )
        if change.status is not ChangeStatus.APPROVED:
            raise ChangeStateError(
                _(
                    "change request #{id} is {status}; only an approved request can be applied",
                    id=change.id,
                    status=_(change.status.value),
                ),
                {"status": change.status.value},
            )

    def _apply_once(self, change: ChangeRequest, actor: str) -> ChangeRequest:
        """One attempt: the change as a delta (:mod:`governance.delta`) against the published
        graph at the head read first, written with the request's "applied" in one store
        transaction."""
        ref = NodeRef.parse(change.ref)
        head = self.store.head()  # first: a load after it makes the apply's head check fail
        reader = self.store.snapshot()
        current = reader.get_nodes([ref]).get(ref)
        current_props = current.props() if current is not None else None
        tell = self._departments(change, impacted=True)
        done = {"status": ChangeStatus.APPLIED, "conflict": None}
        if already_applied(change, current_props):  # recorded before, by an older apply
            new = change.model_copy(update={**done, "applied_revision": head})
            commit = self._prepare(new, change, _actor(actor), "apply", None, None, None, tell)
            if not self.ledger.commit_change(
                commit.change, commit.expected_seq, commit.event, commit.outbox
            ):
                raise ChangeRaceError("moved", {"id": change.id})
            self._committed(commit)
            return commit.change
        conflict = conflict_of(change, current_props)
        if conflict:
            if not self._record_conflict(change, actor, conflict):
                raise ChangeRaceError("moved", {"id": change.id})  # read it again
            raise ChangeStateError(conflict, {"id": change.id, "conflict": conflict})
        entry = history_entry(change.new_version or "", change.reason, change.requester)
        props = {**change.definition}
        props["history"] = [*(props.get("history") or []), entry]
        draft = RevisionDraft(
            author=change.requester,
            message=f"change request #{change.id}: {change.reason}"[:500],
            source={"change_request": change.id, "applied_by": actor},
        )
        try:
            delta = metric_delta(
                reader, ref, props, head=head, draft=draft, created_at=history_now()
            )
            if delta.planned.diff.problems:
                raise VersionError(delta.planned.diff.problems)
        except (CatalogError, VersionError) as exc:  # the graph around it moved meanwhile
            self._record_conflict(change, actor, exc.message)
            raise ChangeStateError(exc.message, {"id": change.id}) from exc
        new = change.model_copy(update={**done, "applied_revision": head + 1})
        commit = self._prepare(new, change, _actor(actor), "apply", None, None, None, tell)
        self.store.apply(
            delta.planned,
            expect_head=head,
            counts=delta.counts,
            digest=delta.digest,
            commit=commit,
        )
        self._committed(commit)
        return commit.change

    # -- internals ----------------------------------------------------------------------------

    def _require_open(self, change: ChangeRequest, what: str) -> None:
        allowed = workflow.REVIEWABLE if what == "approve" else workflow.OPEN
        if change.status not in allowed:
            raise ChangeStateError(
                _(
                    "change request #{id} is {status}; it cannot be {done} now",
                    id=change.id,
                    status=_(change.status.value),
                    done=_(DONE.get(what, what)),
                ),
                {"status": change.status.value},
            )

    def _record_conflict(self, change: ChangeRequest, actor: str, conflict: str) -> bool:
        new = change.model_copy(update={"conflict": conflict})
        return self._commit(new, change, _actor(actor), "conflict", conflict, None, None, [])


def _actor(name: str) -> User:
    return User(name=name, role=Role.ADMIN, token_id="system", created_at="")


def same_proposal(stored: ChangeRequest, proposal: Proposal) -> bool:
    """Whether ``stored`` asks for exactly what ``proposal`` asks: the same action on the same
    metric, from the same version, to the same definition (who asks, and why, aside)."""
    return (
        stored.action is proposal.action
        and stored.ref == str(proposal.ref)
        and stored.base_version == (proposal.old or {}).get("version")
        and _canonical(stored.definition) == _canonical(proposal.new)
    )


def _canonical(value: Any) -> str:
    """A definition as the ledger keeps it (JSON), to compare one read back with a new one."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def already_proposed(existing: ChangeRequest) -> AlreadyProposedError:
    """The refusal of a proposal an open request already makes (issue: ``propose`` run twice
    made two identical requests, each to be approved on its own)."""
    return AlreadyProposedError(
        _(
            "already proposed as #{id} by {who} ({status}); no second request made — "
            "comment on or approve #{id}, or its requester withdraws it first",
            id=existing.id,
            who=existing.requester,
            status=_(existing.status.value),
        ),
        {
            "id": existing.id,
            "ref": existing.ref,
            "status": existing.status.value,
            "requester": existing.requester,
        },
    )


def _why_not(user: User, change: ChangeRequest, names: dict[str, str] | None = None) -> str:
    """Why ``user`` may not approve or reject ``change`` now (in the request's language;
    departments by name when ``names`` has them)."""
    if workflow.is_requester(user, change):
        return _("the requester may not approve or reject their own request")
    if any(workflow.approved_by(user, a) for a in change.approvals):
        return _("you approved an earlier stage of this request; another person acts for the next")
    stages = workflow.current_stages(change)
    wanted = _(", ").join(
        _("owner of {department}", department=(names or {}).get(s.department, s.department))
        if s.department
        else _("the committee")
        for s in stages
    )
    return _("waiting for: {who}; you may not act on it now", who=wanted or _("nobody"))


__all__ = ["Governance", "Proposal"]
