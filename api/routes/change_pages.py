"""Pages of the change workflow: the queue and one request (printable), and acting on it.
The propose form is :mod:`api.routes.change_form_pages`, a metric's discussion
:mod:`api.routes.discussion_pages`, a diff as the committee reads it :mod:`viz.change_diff`.
Forms carry the session's CSRF token (checked in :mod:`api.auth`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CsrfToken, OptionalUser, Writer
from api.dependencies import catalog_name
from core.i18n import N_, _
from governance import comments as comment_svc
from governance import workflow
from governance.changes import Governance
from graph_schema.governance import Action, ChangeStatus, User
from graph_schema.ids import NodeKind, NodeRef
from store.base import GraphStore
from viz import change_form
from viz.change_diff import diff_references, named, readable
from viz.pages import render_page

router = APIRouter(include_in_schema=False)
#: change-request statuses in words (ids extracted by pybabel; shown in the request's language)
STATUS_LABELS = {
    "submitted": N_("submitted, waiting for the owner's review"),
    "owner_approved": N_("owner approved, waiting for the committee"),
    "approved": N_("approved, waiting to be applied"),
    "applied": N_("applied"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
}


def field_label(field: str) -> str:
    """A changed field as people read it: ``Formula (formula)`` / ``计算公式 (formula)`` (the
    card's label of the field or of its nearest dotted parent, then the key)."""
    from analysis.compare import LABELS

    parts = field.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LABELS:
            return _(LABELS[key]) + f" ({field})"
    return field


def governance_of(request: Request) -> Governance:
    """The change workflow the app serves."""
    service: Governance = request.app.state.gov
    return service


def page(
    template: str, store: GraphStore, user: User | None, csrf: str | None, **context: Any
) -> HTMLResponse:
    """A page of the change workflow (statuses in words, the session's CSRF token, the served
    catalog's name in the header)."""
    return HTMLResponse(
        render_page(
            template,
            catalog_name=catalog_name(store),
            user=user,
            csrf=csrf,
            labels={k: _(v) for k, v in STATUS_LABELS.items()},
            **context,
        )
    )


@router.get("/changes", response_class=HTMLResponse)
def queue(
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
    status: Annotated[str | None, Query(max_length=30)] = None,
) -> HTMLResponse:
    changes = governance_of(request).ledger.changes(status if status in STATUS_LABELS else None)
    mine = [c for c in changes if user and workflow.stage_for(user, c)]
    if user and user.role.value == "admin":
        mine += [c for c in changes if c.status is ChangeStatus.APPROVED]
    groups = {s: [c for c in changes if c.status.value == s] for s in STATUS_LABELS}
    stages = {c.id: workflow.current_stages(c) for c in changes}
    wanted = {
        NodeRef(NodeKind.DEPARTMENT, s.department)
        for st in stages.values()
        for s in st
        if s.department
    }
    store = governance_of(request).store
    names = {  # who a request waits for, by name (运营部), not by id (ops)
        ref.id: node.name for ref, node in (store.get_nodes(list(wanted)) if wanted else {}).items()
    }
    waiting = {
        c.id: _(", ").join(
            _("{department} owner", department=names.get(s.department, s.department))
            if s.department
            else _("the committee")
            for s in stages[c.id]
        )
        or (_("an admin, to apply") if c.status is ChangeStatus.APPROVED else "")
        for c in changes
    }
    return page(
        "changes.html",
        governance_of(request).store,
        user,
        csrf,
        groups=groups,
        mine=mine,
        status=status,
        waiting=waiting,
    )


@router.get("/changes/{change_id}", response_class=HTMLResponse)
def changepage(
    change_id: Annotated[int, Path(ge=1, le=2**31)],
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
    done: Annotated[str | None, Query(pattern="^(approve|reject|withdraw|apply)$")] = None,
) -> HTMLResponse:
    service = governance_of(request)
    change = service.with_live_conflict(service.get(change_id))
    depts = [
        NodeRef(NodeKind.DEPARTMENT, s.department)
        for s in change.approvals_required
        if s.department
    ]
    dept_names = {  # approvals name departments by name (财务部), not by id
        ref.id: node.name for ref, node in service.store.get_nodes(depts).items()
    }
    stage = workflow.stage_for(user, change) if user else None
    settings = request.app.state.settings
    new_file = None  # a created metric: the file it will live in when written back
    if change.action is Action.CREATE and settings.catalog_dir is not None:
        from core.writeback import created_file  # None once the file exists (written back)

        new_file = created_file(settings.catalog_dir, {**change.definition, "id": change.metric_id})
    can = {
        "approve": stage is not None,
        "reject": bool(user and workflow.may_reject(user, change)),
        "withdraw": bool(user and workflow.may_withdraw(user, change)),
        "apply": bool(user and workflow.may_apply(user) and change.status is ChangeStatus.APPROVED),
    }
    impact = change.impact
    recomputed = [m for m in impact.get("metrics", []) if m.get("via") == "definition"]
    influenced = [m for m in impact.get("metrics", []) if m.get("via") != "definition"]
    comments = service.ledger.comments(change.metric_id) if change.metric_id else []
    ref_names = change_form.ref_names(  # 保险理赔代收金额, not only dms.dms_orders.…
        service.store, diff_references(change.diff)
    )
    return page(
        "change.html",
        service.store,
        user,
        csrf,
        c=change,
        diff=[named(readable(d), ref_names) for d in change.diff],
        timeline=service.timeline(change_id),
        verbs={"approved": "approve"},  # the final approval reads 批准 → 已批准
        waiting=workflow.current_stages(change),
        can=can,
        stage=stage,
        recomputed=recomputed,
        # a wording change (patch) recomputes nothing: the box says so (#24)
        wording_only=change.change_class == "patch",
        influenced=influenced,
        dashboards=impact.get("dashboards", []),
        departments=impact.get("departments", []),
        comments=[comment_svc.public(c) for c in comments],
        dept_names=dept_names,
        new_file=new_file,
        done=done,
        field_label=field_label,
    )


@router.post("/changes/{change_id}/act")
def act(
    change_id: Annotated[int, Path(ge=1, le=2**31)],
    request: Request,
    user: Writer,
    action: Annotated[str, Form(pattern="^(approve|reject|withdraw|apply)$")],
    comment: Annotated[str | None, Form(max_length=4000)] = None,
) -> Response:
    service = governance_of(request)
    if action == "approve":
        service.approve(user, change_id, comment or None)
    elif action == "reject":
        service.reject(user, change_id, comment or None)
    elif action == "withdraw":
        service.withdraw(user, change_id, comment or None)
    else:
        service.apply(user, change_id)
    # the page confirms what was done (?done=approve …)
    return RedirectResponse(f"/changes/{change_id}?done={action}", status_code=303)
