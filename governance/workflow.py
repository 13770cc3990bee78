"""The change-request state machine, declared in one place, and who may act at each stage.

States and transitions (seed 001: "任何人都可以提交指标修改申请 - 指标负责人初审 -
数据治理委员会终审 - IT部门更新系统 - 发布变更通知")::

    submitted ──owner review done──▶ owner_approved ──committee──▶ approved ──apply──▶ applied
        │  └──owner review done, no committee needed──────────────▶ approved
        ├──reject (submitted / owner_approved)──▶ rejected
        └──withdraw by the requester (submitted / owner_approved / approved)──▶ withdrawn

A request needs one ``owner`` stage per department that owns or reviews the metric, and a
``committee`` stage whenever an L0/L1 metric is changed or recomputed. ``approved`` is final
approval; ``applied`` means the change is in the graph as a new revision.

Examples
--------
>>> can_move(ChangeStatus.SUBMITTED, ChangeStatus.OWNER_APPROVED)
True
>>> can_move(ChangeStatus.APPLIED, ChangeStatus.REJECTED)
False
>>> sorted(s.value for s in OPEN)
['approved', 'owner_approved', 'submitted']
"""

from __future__ import annotations

from graph_schema.governance import (
    Approval,
    ChangeRequest,
    ChangeStatus,
    Role,
    Stage,
    User,
    same_user,
)

S = ChangeStatus

#: Every allowed (from, to) with the event that makes it. Nothing else may happen.
TRANSITIONS: dict[tuple[ChangeStatus, ChangeStatus], str] = {
    (S.SUBMITTED, S.SUBMITTED): "approve",  # one of several owner-stage approvals
    (S.SUBMITTED, S.OWNER_APPROVED): "approve",
    (S.SUBMITTED, S.APPROVED): "approve",  # owner review done, no committee stage
    (S.OWNER_APPROVED, S.APPROVED): "approve",
    (S.APPROVED, S.APPLIED): "apply",
    (S.SUBMITTED, S.REJECTED): "reject",
    (S.OWNER_APPROVED, S.REJECTED): "reject",
    (S.APPROVED, S.REJECTED): "reject",  # an apply conflict may end in rejection
    (S.SUBMITTED, S.WITHDRAWN): "withdraw",
    (S.OWNER_APPROVED, S.WITHDRAWN): "withdraw",
    (S.APPROVED, S.WITHDRAWN): "withdraw",
}

OPEN = frozenset({S.SUBMITTED, S.OWNER_APPROVED, S.APPROVED})
#: States in which approvals are given.
REVIEWABLE = frozenset({S.SUBMITTED, S.OWNER_APPROVED})
FINAL = frozenset({S.APPLIED, S.REJECTED, S.WITHDRAWN})


def can_move(old: ChangeStatus, new: ChangeStatus) -> bool:
    return (old, new) in TRANSITIONS


def pending_stages(change: ChangeRequest) -> list[Stage]:
    """The approvals still missing, in order: owner stages first, then the committee.

    Examples
    --------
    >>> cr = _example([Stage(stage="owner", department="ops"), Stage(stage="committee")])
    >>> [s.stage for s in pending_stages(cr)]
    ['owner', 'committee']
    """
    done = {(a.stage, a.department) for a in change.approvals}
    return [s for s in change.approvals_required if (s.stage, s.department) not in done]


def current_stages(change: ChangeRequest) -> list[Stage]:
    """Stages that may act now: the missing owner stages; the committee once they are in."""
    if change.status not in (S.SUBMITTED, S.OWNER_APPROVED):
        return []
    pending = pending_stages(change)
    owners = [s for s in pending if s.stage == "owner"]
    return owners or pending


def stage_for(user: User, change: ChangeRequest) -> Stage | None:
    """The current stage ``user`` may approve or reject, or ``None``.

    Owners act for their department; the committee for the committee stage; an admin for any
    current stage. Nobody acts on their own request, and nobody acts for two stages of one
    request (an admin who approved the owner stage does not also give the committee's).

    Examples
    --------
    >>> cr = _example([Stage(stage="owner", department="ops"), Stage(stage="committee")])
    >>> ops = User(name="li", role=Role.OWNER, department="ops", token_id="x", created_at="t")
    >>> stage_for(ops, cr).department
    'ops'
    >>> com = User(name="wang", role=Role.COMMITTEE, token_id="y", created_at="t")
    >>> stage_for(com, cr) is None   # owners first
    True
    >>> root = User(name="root", role=Role.ADMIN, token_id="z", created_at="t")
    >>> done = Approval(stage="owner", department="ops", by="root", at="t")
    >>> stage_for(root, cr.model_copy(update={"approvals": [done]})) is None
    True
    """
    if not user.active or is_requester(user, change):
        return None
    if any(approved_by(user, a) for a in change.approvals):
        return None
    for stage in current_stages(change):
        if user.role is Role.ADMIN:
            return stage
        owner = user.role is Role.OWNER and user.department == stage.department
        if stage.stage == "owner" and owner:
            return stage
        if stage.stage == "committee" and user.role is Role.COMMITTEE:
            return stage
    return None


def status_after_approval(change: ChangeRequest, approval: Approval) -> ChangeStatus:
    """Where an approval takes the request."""
    after = change.model_copy(update={"approvals": [*change.approvals, approval]})
    pending = pending_stages(after)
    if not pending:
        return S.APPROVED
    if all(s.stage != "owner" for s in pending):
        return S.OWNER_APPROVED
    return S.SUBMITTED


def may_reject(user: User, change: ChangeRequest) -> bool:
    """Whoever may approve the current stage may reject; an approved request not yet applied
    (say, conflicted) may be rejected by the committee or an admin. Never the requester."""
    if not user.active or is_requester(user, change):
        return False
    if change.status is S.APPROVED:
        return user.role in (Role.COMMITTEE, Role.ADMIN)
    return stage_for(user, change) is not None


def may_withdraw(user: User, change: ChangeRequest) -> bool:
    return change.status in OPEN and (is_requester(user, change) or user.role is Role.ADMIN)


def is_requester(user: User, change: ChangeRequest) -> bool:
    """``user`` made ``change`` (by id: a name revoked and re-added is someone else)."""
    return same_user(user, change.requester, change.requester_id, change.created_at)


def approved_by(user: User, approval: Approval) -> bool:
    return same_user(user, approval.by, approval.by_id, approval.at)


def may_apply(user: User) -> bool:
    return user.active and user.role is Role.ADMIN


def _example(stages: list[Stage]) -> ChangeRequest:
    from graph_schema.governance import Action

    return ChangeRequest(
        id=1,
        action=Action.UPDATE,
        ref="Metric:atp",
        reason="r",
        requester="zhang",
        approvals_required=stages,
        created_at="t",
        updated_at="t",
    )
