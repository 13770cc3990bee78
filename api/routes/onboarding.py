"""Onboarding (seed 001 第五步 推广和培训): ``/onboarding`` (a department's reading list, cards
marked read), ``/quiz`` (a quiz from the definitions, scored and kept per user), and
``/onboarding/{department}/team`` (the manager's page) — pages and ``/api/...`` JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from analysis.onboarding import ReadingList, reading_list
from analysis.quiz import PASS_SHARE, Quiz, make_quiz
from api.auth import CsrfToken, CurrentUser, OptionalUser, require_roles
from api.dependencies import StoreDep
from core.i18n import _
from governance import onboarding as svc
from governance.department_usage import reads_of_department
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import PermissionDeniedError, Role, User
from graph_schema.models import Department
from store.base import GraphStore
from viz.pages import render_page

router = APIRouter(tags=["programme"])

DeptPath = Annotated[str, Path(max_length=100, examples=["ops"])]
SeedQ = Annotated[int, Query(ge=0, le=svc.MAX_SEED, description="the same seed, the same quiz")]
Manager = Annotated[User, Depends(require_roles(Role.OWNER, Role.COMMITTEE, Role.ADMIN))]
TEXT = {
    "no_department": "sign in as a user with a department, or open /onboarding/{department}",
    "not_yours": "an owner sees the team page of their own department only",
}


def _may_see_team(user: User, department: str) -> None:
    if user.role is Role.OWNER and user.department != department:
        raise PermissionDeniedError(TEXT["not_yours"])


def _list(request: Request, store: GraphStore, department: str) -> ReadingList:
    graph = store.catalog()
    reads = reads_of_department(request.app.state.ledger, department)
    return reading_list(graph, department, reads)


def _quiz(request: Request, store: GraphStore, department: str, seed: int) -> Quiz:
    reading = _list(request, store, department)
    return make_quiz(store.catalog(), [i.id for i in reading.items], seed, reading.department)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(min_length=1, max_length=100)


class QuizIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(max_length=100)
    seed: int = Field(ge=0, le=svc.MAX_SEED)
    answers: dict[str, int] = Field(max_length=100)


# -- JSON ------------------------------------------------------------------------------------


@router.get("/api/onboarding", summary="My department's reading list")
def my_list_json(request: Request, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    if not user.department:
        raise InvalidQueryError(TEXT["no_department"])
    return list_json(request, store, user.department, user)


@router.get("/api/onboarding/{department}", summary="A department's reading list (20–30)")
def list_json(
    request: Request, store: StoreDep, department: DeptPath, user: OptionalUser = None
) -> dict[str, Any]:
    """The metrics that matter to the department (owned, reviewed, on its dashboards, most read
    by it, their direct inputs), L0 first; ``read`` when the signed-in user marked them."""
    reading = _list(request, store, department)
    data = reading.to_json()
    done = svc.read_by(request.app.state.ledger, user) if user else set()
    for item in data["items"]:
        item["read"] = item["id"] in done
    return data


@router.post("/api/onboarding/read", summary="Mark metric cards read")
def mark_read_json(request: Request, body: ReadIn, user: CurrentUser) -> dict[str, Any]:
    svc.mark_read(request.app.state.ledger, user, body.metrics)
    return {"user": user.name, "read": sorted(svc.read_by(request.app.state.ledger, user))}


@router.get("/api/quiz", summary="A quiz on a department's reading list")
def quiz_json(
    request: Request,
    store: StoreDep,
    department: Annotated[str, Query(max_length=100)],
    seed: SeedQ = 0,
) -> dict[str, Any]:
    return _quiz(request, store, department, seed).public()


@router.post("/api/quiz", summary="Answer a quiz: scored and kept")
def answer_quiz_json(
    request: Request, store: StoreDep, body: QuizIn, user: CurrentUser
) -> dict[str, Any]:
    quiz = _quiz(request, store, body.department, body.seed)
    result = svc.record_quiz(request.app.state.ledger, user, quiz, body.answers)
    return {"user": user.name, "seed": body.seed, **result.to_json()}


@router.get("/api/onboarding/{department}/team", summary="Who has read and passed")
def team_json(
    request: Request, store: StoreDep, department: DeptPath, user: Manager
) -> dict[str, Any]:
    reading = _list(request, store, department)
    _may_see_team(user, reading.department)
    ledger = request.app.state.ledger
    rows = svc.team(ledger, request.app.state.people.users(), reading)  # who signs in here
    return {"department": reading.department, "users": [r.to_json() for r in rows]}


# -- pages -----------------------------------------------------------------------------------


def _page(template: str, user: User | None, csrf: str | None, **context: Any) -> HTMLResponse:
    return HTMLResponse(render_page(template, user=user, csrf=csrf, **context))


@router.get("/onboarding", response_class=HTMLResponse, include_in_schema=False)
def onboarding_home(store: StoreDep, user: OptionalUser, csrf: CsrfToken) -> Any:
    if user is not None and user.department:
        return RedirectResponse(f"/onboarding/{user.department}", status_code=303)
    departments = [n for n in store.catalog().nodes if isinstance(n, Department)]
    return _page(
        "onboarding_home.html",
        user,
        csrf,
        catalog_name=store.info().catalog,
        departments=sorted(departments, key=lambda d: d.id),
    )


@router.get("/onboarding/{department}", response_class=HTMLResponse, include_in_schema=False)
def onboarding_page(
    request: Request, store: StoreDep, department: DeptPath, user: OptionalUser, csrf: CsrfToken
) -> HTMLResponse:
    reading = _list(request, store, department)
    done = svc.read_by(request.app.state.ledger, user) if user else set()
    return _page(
        "onboarding.html",
        user,
        csrf,
        catalog_name=store.info().catalog,
        reading=reading,
        done=done,
        read_count=sum(1 for i in reading.items if i.id in done),
    )


@router.post("/onboarding/{department}/read", include_in_schema=False)
def onboarding_mark(
    request: Request,
    department: DeptPath,
    user: CurrentUser,
    metric: Annotated[str, Form(max_length=200)],
) -> RedirectResponse:
    svc.mark_read(request.app.state.ledger, user, [metric])
    return RedirectResponse(f"/onboarding/{department}#m-{metric}", status_code=303)


@router.get("/quiz", response_class=HTMLResponse, include_in_schema=False)
def quiz_page(
    request: Request,
    store: StoreDep,
    user: OptionalUser,
    csrf: CsrfToken,
    department: Annotated[str | None, Query(max_length=100)] = None,
    seed: SeedQ = 0,
) -> HTMLResponse:
    dept = department or (user.department if user else None)
    if not dept:
        raise InvalidQueryError(TEXT["no_department"])
    quiz = _quiz(request, store, dept, seed)
    return _page(
        "quiz.html",
        user,
        csrf,
        catalog_name=store.info().catalog,
        quiz=quiz,
        result=None,
        pass_share=PASS_SHARE,
    )


@router.post("/quiz", response_class=HTMLResponse, include_in_schema=False)
async def quiz_answer_page(
    request: Request, store: StoreDep, user: CurrentUser, csrf: CsrfToken
) -> HTMLResponse:
    form = await request.form()
    department = str(form.get("department") or "")[:100]
    try:
        seed = int(str(form.get("seed") or "0"))
    except ValueError:
        raise InvalidQueryError(_("seed: a whole number")) from None
    if not 0 <= seed <= svc.MAX_SEED:
        raise InvalidQueryError(_("seed: out of range"))
    quiz = _quiz(request, store, department, seed)
    answers: dict[str, int] = {}
    for q in quiz.questions:
        value = form.get(q.id)
        if isinstance(value, str) and value.isdigit() and len(value) < 3:
            answers[q.id] = int(value)
    result = svc.record_quiz(request.app.state.ledger, user, quiz, answers)
    return _page(
        "quiz.html",
        user,
        csrf,
        catalog_name=store.info().catalog,
        quiz=quiz,
        result=result,
        answers=answers,
        pass_share=PASS_SHARE,
    )


@router.get("/onboarding/{department}/team", response_class=HTMLResponse, include_in_schema=False)
def team_page(
    request: Request, store: StoreDep, department: DeptPath, user: Manager, csrf: CsrfToken
) -> HTMLResponse:
    reading = _list(request, store, department)
    _may_see_team(user, reading.department)
    ledger = request.app.state.ledger
    rows = svc.team(ledger, request.app.state.people.users(), reading)  # who signs in here
    return _page(
        "onboarding_team.html",
        user,
        csrf,
        catalog_name=store.info().catalog,
        reading=reading,
        rows=rows,
    )
