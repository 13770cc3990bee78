"""HTML pages of revisions and comparisons: ``/history``, ``/history/{n}`` (a revision's diff)
and ``/compare``. The version timeline of a metric is on its card (``api/routes/pages.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from analysis.compare import compare_refs
from analysis.diff import diff_catalogs
from analysis.resolve import resolve_ref
from api.dependencies import StoreDep, catalog_name
from store.base import GraphStore
from viz.pages import render_page

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse, include_in_schema=False)
PAGE_SIZE = 50


def _catalog_name(store: GraphStore) -> dict[str, Any]:
    return {"catalog_name": catalog_name(store)}


@router.get("/history")
def history_page(
    store: StoreDep, before: Annotated[int | None, Query(ge=1, le=2**62)] = None
) -> HTMLResponse:
    revisions = store.revisions(None, limit=PAGE_SIZE + 1, before=before)
    older = revisions[PAGE_SIZE - 1].number if len(revisions) > PAGE_SIZE else None
    return HTMLResponse(
        render_page(
            "history.html",
            **_catalog_name(store),
            revisions=revisions[:PAGE_SIZE],
            older=older,
        )
    )


@router.get("/history/{number}")
def revision_page(store: StoreDep, number: Annotated[int, Path(ge=1, le=2**62)]) -> HTMLResponse:
    """One revision: who, when, why, and its diff against the revision before, with impact."""
    rev = store.revision(number)
    old = store.catalog(at=number - 1) if number > 1 else None
    report = diff_catalogs(old, store.catalog(at=number), f"r{number - 1}", f"r{number}")
    return HTMLResponse(
        render_page("revision.html", **_catalog_name(store), rev=rev, report=report)
    )


@router.get("/compare")
def compare_page(
    store: StoreDep,
    a: Annotated[str | None, Query(max_length=300)] = None,
    b: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """Two metrics side by side; without both, the form alone."""
    comparison = None
    if a and b:
        comparison = compare_refs(store, resolve_ref(store, a), resolve_ref(store, b))
    return HTMLResponse(render_page("compare.html", **_catalog_name(store), c=comparison, a=a, b=b))
