"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graph_schema.errors import (
    BackendUnavailableError,
    EmptyStoreError,
    InvalidQueryError,
    InvalidRefError,
    KpigraphError,
    NodeNotFoundError,
)

log = logging.getLogger("kpigraph.api")
RETRY_AFTER_SECONDS = 5

STATUS_BY_ERROR: list[tuple[type[KpigraphError], int]] = [
    (NodeNotFoundError, 404),
    (InvalidRefError, 422),
    (InvalidQueryError, 422),
    (EmptyStoreError, 503),
    (BackendUnavailableError, 503),
]


def error_json(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KpigraphError)
    async def kpigraph_error(_request: Request, exc: KpigraphError) -> JSONResponse:
        status = next((s for t, s in STATUS_BY_ERROR if isinstance(exc, t)), 500)
        if status == 500:
            log.error("store failure: %s", exc.message)
        return error_json(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        message = f"{'.'.join(first['loc'][1:]) or 'request'}: {first['msg']}"
        return error_json(422, "invalid_query", message, {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_json(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_json(500, "internal_error", f"internal error: {type(exc).__name__}")
