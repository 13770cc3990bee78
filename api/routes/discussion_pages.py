"""A metric's discussion page: questions, answers, its FAQ and the change requests about it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CsrfToken, OptionalUser, Writer
from api.dependencies import StoreDep
from api.routes.change_pages import page
from governance import comments as comment_svc
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric

router = APIRouter(include_in_schema=False)


@router.get("/metrics/{metric_id}/discussion", response_class=HTMLResponse)
def discussion(
    metric_id: Annotated[str, Path(max_length=200)],
    store: StoreDep,
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
) -> HTMLResponse:
    ref = NodeRef(NodeKind.METRIC, metric_id)
    node = store.get_nodes([ref]).get(ref)
    ledger = request.app.state.ledger
    comments = [comment_svc.public(c) for c in ledger.comments(metric_id)]
    questions = [c for c in comments if c["parent"] is None]
    answers: dict[int, list[dict[str, Any]]] = {}
    for c in comments:
        if c["parent"] is not None:
            answers.setdefault(c["parent"], []).append(c)
    may_faq = bool(
        user
        and isinstance(node, Metric)
        and (
            user.role.value == "admin"
            or (user.role.value == "owner" and user.department in (node.owner, node.reviewer))
        )
    )
    return page(
        "discussion.html",
        store,
        user,
        csrf,
        metric=node,
        metric_id=metric_id,
        questions=questions,
        answers=answers,
        faq=comment_svc.faq(ledger, metric_id),
        may_faq=may_faq,
        changes=ledger.changes(None, str(ref))[:20],
    )


@router.post("/metrics/{metric_id}/discussion")
def discuss(
    metric_id: Annotated[str, Path(max_length=200)],
    store: StoreDep,
    request: Request,
    user: Writer,
    body: Annotated[str, Form(min_length=1, max_length=comment_svc.MAX_BODY)],
    parent: Annotated[int | None, Form(ge=1, le=2**31)] = None,
    faq: Annotated[int | None, Form(ge=1, le=2**31)] = None,
    delete: Annotated[int | None, Form(ge=1, le=2**31)] = None,
) -> Response:
    ledger = request.app.state.ledger
    if delete is not None:
        comment_svc.delete(ledger, user, delete)  # the author, or an admin moderating
    elif faq is not None:
        comment_svc.mark_faq(store, ledger, user, faq, True)
    else:
        comment_svc.add(store, ledger, user, metric_id, body, parent)
        if parent is None:
            request.app.state.usage.hit(metric_id, "question")
    return RedirectResponse(f"/metrics/{metric_id}/discussion", status_code=303)
