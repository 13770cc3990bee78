"""/api/changes: change requests with their frozen diff, class, version, impact and approvals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Writer
from api.schemas import ErrorResponse
from core import i18n
from governance.changes import Governance
from graph_schema.governance import Action, ChangeEvent, ChangeRequest
from graph_schema.ids import NodeRef


def speak() -> None:
    """Settle the request's language (the catalog's unless one was asked for): the response
    says it in ``Content-Language``, and the CLI speaks it."""
    i18n.current()


router = APIRouter(prefix="/api/changes", tags=["changes"], dependencies=[Depends(speak)])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or bad credentials"},
    403: {"model": ErrorResponse, "description": "this role may not do this"},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse, "description": "wrong state, or the metric changed since"},
    422: {"model": ErrorResponse, "description": "invalid definition (the field is named)"},
}
ChangeId = Annotated[int, Path(ge=1, le=2**31)]


class ProposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action = Action.UPDATE
    ref: str = Field(max_length=300, examples=["Metric:atp"])
    base_version: str | None = Field(default=None, max_length=50, examples=["1.1.0"])
    definition: dict[str, Any] = Field(
        default_factory=dict, description="the metric as in the catalog YAML"
    )
    reason: str = Field(min_length=1, max_length=4000)


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=4000)


class ChangeOut(ChangeRequest):
    timeline: list[ChangeEvent] = Field(default_factory=list)
    waiting_for: list[dict[str, Any]] = Field(default_factory=list)


class ChangeList(BaseModel):
    total: int
    items: list[ChangeRequest]


def gov(request: Request) -> Governance:
    service: Governance = request.app.state.gov
    return service


def full(service: Governance, change: ChangeRequest) -> ChangeOut:
    from governance.workflow import current_stages

    change = service.with_live_conflict(change)
    return ChangeOut(
        **change.model_dump(),
        timeline=service.timeline(change.id),
        waiting_for=[s.model_dump(exclude_none=True) for s in current_stages(change)],
    )


@router.post("", status_code=201, response_model=ChangeOut, responses=ERRORS)
def propose_change(body: ProposeIn, user: Writer, request: Request) -> ChangeOut:
    """Propose a change to one metric (editor, owner, committee or admin). The answer carries
    the field-level diff, the change class, the version it will get, the impact report and the
    approvals required."""
    service = gov(request)
    change = service.submit(
        user, body.action, NodeRef.parse(body.ref), body.definition, body.base_version, body.reason
    )
    return full(service, change)


@router.get("", response_model=ChangeList, responses=ERRORS)
def list_changes(
    request: Request,
    status: Literal["submitted", "owner_approved", "approved", "applied", "rejected", "withdrawn"]
    | None = None,
    ref: Annotated[str | None, Query(max_length=300)] = None,
) -> ChangeList:
    """Change requests, newest first."""
    refstr = str(NodeRef.parse(ref)) if ref else None
    items = gov(request).ledger.changes(status, refstr)
    return ChangeList(total=len(items), items=items)


@router.get("/{change_id}", response_model=ChangeOut, responses=ERRORS)
def get_change(change_id: ChangeId, request: Request) -> ChangeOut:
    """One request with its full timeline."""
    service = gov(request)
    return full(service, service.get(change_id))


@router.post("/{change_id}/approve", response_model=ChangeOut, responses=ERRORS)
def approve(change_id: ChangeId, body: ActIn, user: Writer, request: Request) -> ChangeOut:
    """Approve the current stage (an owner of the department, the committee, or an admin;
    never the requester)."""
    service = gov(request)
    return full(service, service.approve(user, change_id, body.comment))


@router.post("/{change_id}/reject", response_model=ChangeOut, responses=ERRORS)
def reject(change_id: ChangeId, body: ActIn, user: Writer, request: Request) -> ChangeOut:
    service = gov(request)
    return full(service, service.reject(user, change_id, body.comment))


@router.post("/{change_id}/withdraw", response_model=ChangeOut, responses=ERRORS)
def withdraw(change_id: ChangeId, body: ActIn, user: Writer, request: Request) -> ChangeOut:
    service = gov(request)
    return full(service, service.withdraw(user, change_id, body.comment))


@router.post("/{change_id}/apply", response_model=ChangeOut, responses=ERRORS)
def apply(change_id: ChangeId, user: Admin, request: Request) -> ChangeOut:
    """Write the approved change as a new revision and version (admin). 409 when the metric
    changed since the request was made."""
    service = gov(request)
    return full(service, service.apply(user, change_id))
