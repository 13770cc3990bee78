"""/health: which backend, whether it answers, and what is wrong when it does not.

Answers ``GET`` and ``HEAD`` (load balancers probe with either). The backend gets
:data:`HEALTH_TIMEOUT` seconds: a server that does not answer by then is reported
unavailable at once, not after the driver's own connection timeouts and retries.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import auth_state, optional_user
from api.dependencies import StoreDep
from api.errors import RETRY_AFTER_SECONDS
from api.schemas import Health
from graph_schema.errors import EmptyStoreError, KpigraphError
from store.base import GraphStore, StoreInfo

router = APIRouter(tags=["health"])
log = logging.getLogger("kpigraph.api")

#: Seconds the backend has to answer a health check.
HEALTH_TIMEOUT = 2.0


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
@router.head("/health", response_model=Health, include_in_schema=False)  # one operation id
async def health(request: Request, store: StoreDep) -> Health | JSONResponse:
    """200 when the backend answers and a catalog is loaded; 503 (with Retry-After) if not,
    with ``status`` (``unavailable`` or ``empty``) and a ``detail`` saying what is wrong.

    When reads require sign-in (``read_auth=required``) an anonymous probe gets the status and
    the backend only: the catalog's name and counts are for readers, and a ``detail`` may name
    the store's path or address (it goes to the server's log instead)."""
    closed = auth_state(request).read_required
    try:
        info = await asyncio.wait_for(run_in_threadpool(_check, store), HEALTH_TIMEOUT)
    except TimeoutError:
        where = getattr(store, "path", None) or getattr(store, "uri", None) or "?"
        detail = f"the {store.backend} backend ({where}) did not answer within {HEALTH_TIMEOUT:g} s"
        return _unavailable(
            Health(status="unavailable", backend=store.backend, detail=detail), closed
        )
    except EmptyStoreError as exc:
        body = Health(status="empty", backend=store.backend, detail=exc.message)
        return _unavailable(body, closed)
    except KpigraphError as exc:
        body = Health(status="unavailable", backend=store.backend, detail=exc.message)
        return _unavailable(body, closed)
    if closed and not await _signed_in(request):
        return Health(status="ok", backend=info.backend)
    return Health(
        status="ok",
        backend=info.backend,
        catalog=info.catalog,
        loaded_at=info.loaded_at,
        counts=info.counts,
    )


async def _signed_in(request: Request) -> bool:
    try:
        return await optional_user(request) is not None
    except KpigraphError:  # a bad token: a probe that is not signed in
        return False


def _check(store: GraphStore) -> StoreInfo:
    store.ping()
    return store.info()


def _unavailable(body: Health, closed: bool) -> JSONResponse:
    """503 with ``body``; without its ``detail`` (logged instead) when reads are closed — the
    backend cannot be asked who the caller is while it does not answer."""
    if closed and body.detail:
        log.warning("/health: %s", body.detail)
        body = body.model_copy(update={"detail": None})
    return JSONResponse(
        body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


@router.get("/api/ping")
@router.head("/api/ping", include_in_schema=False)
def ping() -> dict[str, bool]:
    """``{"ok": true}`` without touching the backend: the floor of a request through this
    server's stack (middleware, routing, a thread-pool hop, JSON), which benchmarks subtract
    to give the HTTP overhead of an endpoint (``benchmarks/scale.py``)."""
    return {"ok": True}
