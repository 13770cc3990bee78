"""/api/revisions and /api/nodes/{ref}/history: what changed, when, by whom, why."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from analysis.resolve import not_found
from api.dependencies import RefDep, StoreDep
from api.schemas import ErrorResponse
from graph_schema.revisions import NodeHistoryEntry, Revision, RevisionSummary
from store.base import GraphStore

router = APIRouter(tags=["revisions"])

ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "no such revision, or unknown ref"},
    422: {"model": ErrorResponse, "description": "malformed parameter"},
    503: {"model": ErrorResponse, "description": "backend unavailable; see Retry-After"},
}
#: Whole before/after properties of every change: large; asked for with ``full=true``.
HEAVY = {"node_changes": {"__all__": {"old", "new"}}, "edge_changes": {"__all__": {"old", "new"}}}


def _json(text: str) -> Response:
    return Response(text, media_type="application/json")


R = TypeVar("R", bound=RevisionSummary)


def published(revision: R) -> R:
    """``revision`` as the API shows it: the catalog directory by its name, never the
    server's absolute path (a reader need not be signed in)."""
    path = revision.source.get("path")
    if not isinstance(path, str) or not path:
        return revision
    source = {**revision.source, "path": PurePath(path).name}
    return revision.model_copy(update={"source": source})


@router.get(
    "/api/revisions",
    response_model=list[RevisionSummary],
    responses=ERRORS,
    summary="Revisions, newest first",
)
def list_revisions(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="only revisions below this")
    ] = None,
) -> Response:
    """Who loaded what, when and why, with counts of node and edge changes."""
    items = store.revisions(None, limit=limit, before=before)
    return _json("[" + ",".join(published(r).model_dump_json() for r in items) + "]")


@router.get(
    "/api/revisions/{number}",
    response_model=Revision,
    responses=ERRORS,
    summary="One revision with its field-level changes",
)
def get_revision(
    store: StoreDep,
    number: Annotated[int, Path(ge=1, le=2**62)],
    full: Annotated[bool, Query(description="include whole properties before/after")] = False,
) -> Response:
    revision = published(store.revision(number))
    return _json(revision.model_dump_json(exclude=None if full else HEAVY))


@router.get(
    "/api/nodes/{ref}/history",
    response_model=list[NodeHistoryEntry],
    responses=ERRORS,
    summary="Every revision that changed a node, oldest first",
)
def node_history(store: StoreDep, ref: RefDep) -> Response:
    entries = history_of(store, ref)
    return _json("[" + ",".join(e.model_dump_json() for e in entries) + "]")


def history_of(store: GraphStore, ref: RefDep) -> list[NodeHistoryEntry]:
    """A node's history; 404 for a ref that is neither loaded nor in any revision."""
    entries = store.node_history(ref)
    if not entries and ref not in store.get_nodes([ref]):
        raise not_found(store, ref)
    return entries
