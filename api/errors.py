"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from analysis.localize_gate import LocalizeBusyError
from api.generation import RETRY_HEADER
from core.i18n import N_, _
from graph_schema.errors import (
    AmbiguousRefError,
    BackendUnavailableError,
    ConflictError,
    EmptyStoreError,
    InvalidQueryError,
    InvalidRefError,
    KpigraphError,
    NodeNotFoundError,
    RevisionNotFoundError,
    SourceSpecError,
    VersionError,
)
from store.base import GraphReplacedError

log = logging.getLogger("kpigraph.api")
RETRY_AFTER_SECONDS = 5

STATUS_BY_ERROR: list[tuple[type[KpigraphError], int]] = [
    (NodeNotFoundError, 404),
    (RevisionNotFoundError, 404),
    (ConflictError, 409),
    (VersionError, 422),
    (SourceSpecError, 422),
    (AmbiguousRefError, 409),
    (InvalidRefError, 422),
    (InvalidQueryError, 422),
    (EmptyStoreError, 503),
    (BackendUnavailableError, 503),
    (LocalizeBusyError, 503),
]


def error_json(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


MACHINE_PREFIXES = ("/api", "/health", "/openapi.json", "/docs", "/redoc")
TITLES = {404: N_("Not found"), 422: N_("Bad request"), 503: N_("Unavailable")}


def wants_html(request: Request) -> bool:
    """Pages get HTML errors; the API, health and docs get the JSON shape."""
    return not request.url.path.startswith(MACHINE_PREFIXES)


def error_html(status: int, message: str, suggestions: list[str] | None = None) -> HTMLResponse:
    from viz.pages import render_page
    from viz.style import node_url

    body = render_page(
        "error.html",
        status=status,
        title=_(TITLES.get(status, N_("Error"))),
        message=message,
        suggestions=[{"ref": s, "url": node_url(s)} for s in suggestions or []],
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return HTMLResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KpigraphError)
    async def kpigraph_error(request: Request, exc: KpigraphError) -> Response:
        status = next((s for t, s in STATUS_BY_ERROR if isinstance(exc, t)), 500)
        if status == 500:
            log.error("store failure: %s", exc.message)
        response: Response
        if wants_html(request):
            suggestions = exc.details.get("suggestions") if exc.details else None
            response = error_html(
                status, exc.message, suggestions if isinstance(suggestions, list) else None
            )
        else:
            response = error_json(status, exc.code, exc.message, exc.details)
        if isinstance(exc, GraphReplacedError):  # read again whole (api.generation)
            response.headers[RETRY_HEADER] = "1"
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(sqlite3.Error)
    async def storage_error(request: Request, exc: sqlite3.Error) -> Response:
        """A storage failure outside the graph store's own mapping (a damaged file under the
        ledger, say): 503 naming it, not a 500."""
        log.error("storage failure: %s", exc)
        message = f"the database cannot be read ({exc}); see /health"
        if wants_html(request):
            return error_html(503, message)
        return error_json(503, BackendUnavailableError.code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": validation_words(e)}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"loc": [], "msg": _("invalid request")}
        where = ".".join(first["loc"][1:])
        if not where or (first["loc"][:1] == ["body"] and where == "0"):  # the body as a whole
            where = _("request body") if first["loc"][:1] == ["body"] else _("request")
        message = _("{field}: {problem}", field=where, problem=first["msg"])
        if wants_html(request):
            return error_html(422, message)
        return error_json(422, "invalid_query", message, {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if wants_html(request) and exc.status_code in TITLES:
            return error_html(exc.status_code, str(exc.detail))
        return error_json(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        message = f"internal error: {type(exc).__name__}"
        if wants_html(request):
            return error_html(500, message)
        return error_json(500, "internal_error", message)


#: pydantic's error types a request can meet, worded in the language of the request (its own
#: messages are English); others keep pydantic's message
VALIDATION_WORDS = {
    "missing": N_("required"),
    "json_invalid": N_("not valid JSON"),
    "json_type": N_("not valid JSON"),
    "model_attributes_type": N_("must be an object"),
    "dict_type": N_("must be an object"),
    "list_type": N_("must be a list"),
    "string_type": N_("must be text"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "extra_forbidden": N_("is not a known field"),
    "string_too_long": N_("at most {max_length} characters"),
    "string_too_short": N_("at least {min_length} characters"),
    "too_long": N_("at most {max_length} items"),
    "greater_than_equal": N_("at least {ge}"),
    "less_than_equal": N_("at most {le}"),
    "greater_than": N_("more than {gt}"),
    "less_than": N_("less than {lt}"),
    "literal_error": N_("one of {expected}"),
    "enum": N_("one of {expected}"),
}


def validation_words(error: Mapping[str, Any]) -> str:
    """One pydantic error of a request in the language in use (:data:`VALIDATION_WORDS`),
    else pydantic's own message."""
    words = VALIDATION_WORDS.get(str(error.get("type", "")))
    if words is None:
        return str(error.get("msg", ""))
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return _(words, **ctx)
    except (KeyError, IndexError):  # a context pydantic words differently: its message
        return str(error.get("msg", ""))
