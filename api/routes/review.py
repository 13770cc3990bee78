"""``/review`` (seed 001 第六步 定期审查（每季度）): the four lists of a window, the committee's
decisions as change requests in one batch (through the governance service's submit), and
closing the review (one change notice per department); ``/api/review...`` the same in JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CsrfToken, OptionalUser, require_roles
from api.dependencies import SettingsDep, StoreDep
from api.routes.change_pages import STATUS_LABELS
from core.i18n import _
from governance import review as svc
from graph_schema.errors import InvalidQueryError, KpigraphError
from graph_schema.governance import Role, User
from store.base import GraphStore
from viz.pages import render_page

router = APIRouter(tags=["programme"])

Committee = Annotated[User, Depends(require_roles(Role.COMMITTEE, Role.ADMIN))]
ReviewId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", examples=["2026-Q3"])]
DayQ = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
ACTIONS = ("deprecate", "rework", "update_benchmark")


class DecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[svc.Decision] = Field(min_length=1, max_length=200)


def _findings(request: Request, settings: Any) -> dict[str, list[str]]:
    """check-values findings per metric (异常率), when the catalog has values; else none."""
    try:
        from values.service import engine_for, quality_report

        engine = engine_for(request.app.state.store, settings.values_dir)
        report = quality_report(engine)
    except (KpigraphError, OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    for f in report.get("findings", []):
        out.setdefault(str(f.get("metric")), []).append(str(f.get("check")))
    return out


def _lists(
    request: Request, store: GraphStore, settings: Any, start: str | None, end: str | None
) -> svc.ReviewLists:
    window = svc.default_window()
    window = (start or window[0], end or window[1])
    if window[0] >= window[1]:
        raise InvalidQueryError(_("start must be before end"))
    findings = _findings(request, settings)
    return svc.review_lists(store.catalog(), request.app.state.ledger, window, findings=findings)


def _review_id(window: tuple[str, str]) -> str:
    y, m = int(window[0][:4]), int(window[0][5:7])
    return f"{y}-Q{(m - 1) // 3 + 1}"


@router.get("/api/review", summary="The four lists of a quarterly review")
def review_json(
    request: Request, store: StoreDep, settings: SettingsDep, start: DayQ = None, end: DayQ = None
) -> dict[str, Any]:
    lists = _lists(request, store, settings, start, end)
    data = lists.to_json()
    data["review"] = _review_id(lists.window)
    data["record"] = svc.review_record(request.app.state.ledger, data["review"])
    return data


@router.post("/api/review/{review}/decisions", summary="Decisions → change requests")
def decide_json(
    request: Request, review: ReviewId, body: DecisionsIn, user: Committee
) -> dict[str, Any]:
    ids = svc.submit_decisions(request.app.state.gov, user, review, body.decisions)
    return {"review": review, "changes": ids}


@router.post("/api/review/{review}/close", summary="Close: one change notice per department")
def close_json(request: Request, review: ReviewId, user: Committee) -> dict[str, Any]:
    items = svc.close_review(request.app.state.gov, review)
    request.app.state.deliverer.poke()
    return {"review": review, "notices": len(items)}


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def review_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    csrf: CsrfToken,
    start: DayQ = None,
    end: DayQ = None,
) -> HTMLResponse:
    lists = _lists(request, store, settings, start, end)
    review = _review_id(lists.window)
    record = svc.review_record(request.app.state.ledger, review)
    gov = request.app.state.gov
    decided = []
    for d in (record or {}).get("decisions", []):
        change = gov.get(d["change"])
        decided.append({**d, "status": change.status.value})
    html = render_page(
        "review.html",
        user=user,
        csrf=csrf,
        catalog_name=store.info().catalog,
        lists=lists.to_json(),
        review=review,
        record=record,
        decided=decided,
        status_labels={k: _(v) for k, v in STATUS_LABELS.items()},
        may_decide=user is not None and user.role in (Role.COMMITTEE, Role.ADMIN),
    )
    return HTMLResponse(html)


@router.post("/review/{review}", include_in_schema=False)
async def review_decide_page(request: Request, review: ReviewId, user: Committee) -> Any:
    form = await request.form()
    decisions = []
    for key in form:
        if not key.startswith("pick:"):
            continue
        _pick, action, metric = key.split(":", 2)
        if action not in ACTIONS:
            raise InvalidQueryError(_("unknown action {action}", action=repr(action)))
        source = form.get(f"source:{metric}")
        note = form.get("note")
        decisions.append(
            svc.Decision(
                metric=metric,
                action=action,
                source=source if isinstance(source, str) and source else None,
                note=note if isinstance(note, str) else "",
            )
        )
    if decisions:
        svc.submit_decisions(request.app.state.gov, user, review, decisions)
    return RedirectResponse("/review#decided", status_code=303)


@router.post("/review/{review}/close", include_in_schema=False)
def review_close_page(request: Request, review: ReviewId, user: Committee) -> RedirectResponse:
    svc.close_review(request.app.state.gov, review)
    request.app.state.deliverer.poke()
    return RedirectResponse("/review#decided", status_code=303)
