"""/health: which backend, and whether it answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.dependencies import StoreDep
from api.errors import RETRY_AFTER_SECONDS
from api.schemas import Health
from graph_schema.errors import EmptyStoreError, KpigraphError

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(store: StoreDep) -> Health | JSONResponse:
    """200 when the backend answers and a catalog is loaded; 503 (with Retry-After) if not."""
    try:
        store.ping()
        info = store.info()
    except EmptyStoreError as exc:
        body = Health(status="empty", backend=store.backend, detail=exc.message)
        return _unavailable(body)
    except KpigraphError as exc:
        body = Health(status="unavailable", backend=store.backend, detail=exc.message)
        return _unavailable(body)
    return Health(
        status="ok",
        backend=info.backend,
        catalog=info.catalog,
        loaded_at=info.loaded_at,
        counts=info.counts,
    )


def _unavailable(body: Health) -> JSONResponse:
    return JSONResponse(
        body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
