"""Signing in and out (session cookie from a token), and who am I."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from api.auth import (
    SESSION_COOKIE,
    CurrentUser,
    OptionalUser,
    auth_state,
    check_token,
    client_key,
)
from api.dependencies import catalog_name
from core.i18n import _
from core.security import same_secret
from graph_schema.governance import AuthenticationRequiredError, PermissionDeniedError
from viz.pages import render_page

router = APIRouter(tags=["auth"])
PRE_COOKIE = "kpigraph_signin"


class Me(BaseModel):
    name: str
    role: str
    department: str | None = None


@router.get("/api/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(name=user.name, role=user.role.value, department=user.department)


def _safe_next(target: str | None) -> str:
    r"""Only a path of this site (``/\\evil`` and ``//evil`` are other sites to a browser).

    Examples
    --------
    >>> [_safe_next(t) for t in ("/stats", "//evil", "/\\evil", "https://evil", None)]
    ['/stats', '/changes', '/changes', '/changes', '/changes']
    """
    bad = not target or not target.startswith("/") or target[1:2] in ("/", "\\")
    return "/changes" if bad or target is None or "\\" in target else target


@router.get("/signin", response_class=HTMLResponse, include_in_schema=False)
def signin_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    pre = secrets.token_urlsafe(24)
    body = render_page(
        "signin.html",
        catalog_name=catalog_name(request.app.state.store),
        csrf=pre,
        user=user,
        next=_safe_next(next),
        error=None,
    )
    response = HTMLResponse(body)
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", max_age=600)
    return response


@router.post("/signin", include_in_schema=False)
def signin(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    state = auth_state(request)
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise PermissionDeniedError(_("cross-site sign-in refused (CSRF)"))
    if not same_secret(csrf, request.cookies.get(PRE_COOKIE)):
        raise PermissionDeniedError(_("the sign-in form expired; reload /signin and retry"))
    try:
        user = check_token(state, token, client_key(request))
    except AuthenticationRequiredError:
        pre = secrets.token_urlsafe(24)
        page = render_page(
            "signin.html",
            catalog_name=catalog_name(request.app.state.store),
            csrf=pre,
            user=None,
            next=_safe_next(next),
            error=_("Invalid token."),
        )
        response = HTMLResponse(page, status_code=401)
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", max_age=600)
        return response
    done = RedirectResponse(_safe_next(next), status_code=303)
    done.set_cookie(
        SESSION_COOKIE,
        state.signer.dump(user.token_id, user.session_epoch),
        httponly=True,
        samesite="strict",
        secure=_https(request),
        max_age=state.signer.max_age,
    )
    done.delete_cookie(PRE_COOKIE)
    return done


@router.post("/signout", include_in_schema=False)
def signout(request: Request, user: CurrentUser) -> Response:
    """Signing out needs the session's CSRF token like every other form. It ends every session
    of this user (a copy of the cookie is refused too, by every server: the epoch is in the
    ledger), not only this browser's cookie."""
    auth_state(request).ledger.end_sessions(user.token_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _https(request: Request) -> bool:
    """The session cookie is ``Secure`` when this request came over HTTPS, or when the
    configured ``KPIGRAPH_BASE_URL`` is https (behind a proxy that terminates TLS and does
    not say so, the request itself looks like plain http)."""
    base_url = str(getattr(request.app.state.settings, "base_url", ""))
    return request.url.scheme == "https" or base_url.lower().startswith("https://")


def page_context(user: Any, csrf: str | None) -> dict[str, Any]:
    return {"user": user, "csrf": csrf}
