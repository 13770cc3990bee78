"""/api/metrics/{id}/comments and /api/comments/{id}: questions, answers, FAQ, moderation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Reviewer, Writer
from api.dependencies import StoreDep
from api.routes.changes import ERRORS
from governance import comments as svc

router = APIRouter(tags=["comments"])
MetricId = Annotated[str, Path(max_length=200, examples=["atp"])]
CommentId = Annotated[int, Path(ge=1, le=2**31)]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=svc.MAX_BODY)
    parent: int | None = Field(default=None, ge=1, le=2**31)


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=svc.MAX_BODY)


class FaqIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faq: bool = True


class CommentOut(BaseModel):
    id: int
    metric: str
    parent: int | None
    author: str
    body: str
    faq: bool
    deleted: bool
    created_at: str
    edited_at: str | None = None


class CommentList(BaseModel):
    items: list[CommentOut]
    faq: list[dict[str, Any]]


@router.get("/api/metrics/{metric_id}/comments", response_model=CommentList)
def list_comments(metric_id: MetricId, request: Request) -> CommentList:
    ledger = request.app.state.ledger
    items = [CommentOut(**svc.public(c)) for c in ledger.comments(metric_id)]
    return CommentList(items=items, faq=svc.faq(ledger, metric_id))


@router.post(
    "/api/metrics/{metric_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=ERRORS,
)
def add_comment(
    metric_id: MetricId, body: CommentIn, user: Writer, store: StoreDep, request: Request
) -> CommentOut:
    """Ask a question (no ``parent``) or answer one. Editor and above."""
    comment = svc.add(store, request.app.state.ledger, user, metric_id, body.body, body.parent)
    if comment.parent is None:
        request.app.state.usage.hit(metric_id, "question")
    return CommentOut(**svc.public(comment))


@router.put("/api/comments/{comment_id}", response_model=CommentOut, responses=ERRORS)
def edit_comment(comment_id: CommentId, body: EditIn, user: Writer, request: Request) -> CommentOut:
    return CommentOut(**svc.public(svc.edit(request.app.state.ledger, user, comment_id, body.body)))


@router.delete("/api/comments/{comment_id}", response_model=CommentOut, responses=ERRORS)
def delete_comment(comment_id: CommentId, user: Writer, request: Request) -> CommentOut:
    """The author, or an admin (moderation)."""
    return CommentOut(**svc.public(svc.delete(request.app.state.ledger, user, comment_id)))


@router.post("/api/comments/{comment_id}/faq", response_model=CommentOut, responses=ERRORS)
def mark_faq(
    comment_id: CommentId, body: FaqIn, user: Reviewer, store: StoreDep, request: Request
) -> CommentOut:
    """Mark (or unmark) an answer as FAQ: an owner of the metric's department, or an admin."""
    ledger = request.app.state.ledger
    return CommentOut(**svc.public(svc.mark_faq(store, ledger, user, comment_id, body.faq)))
