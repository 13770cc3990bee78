"""FastAPI dependencies, as ``Annotated`` aliases.

They are ``async`` because they never block: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from analysis.resolve import resolve_ref
from api.generation import READ_METHODS, RequestStore, request_reader
from core.settings import Settings
from graph_schema.errors import BackendUnavailableError, EmptyStoreError, InvalidRefError
from graph_schema.ids import NodeRef
from store.base import GraphReader, GraphStore


def query_ref(store: GraphReader, param: str, text: str) -> NodeRef:
    """The node a query parameter names (``?a=atp``): an unknown name there is a bad request
    (422, ``unknown_name``) with the close matches, CJK names by characters and pinyin, as the
    command line answers it; an unknown node in the *path* stays a 404 (a resource that does
    not exist)."""
    from graph_schema.errors import NodeNotFoundError
    from values.errors import UnknownNameError

    try:
        return resolve_ref(store, text)
    except NodeNotFoundError as exc:
        raise UnknownNameError(
            f"{param}: {exc.message}",
            {"param": param, "ref": exc.ref, "suggestions": exc.suggestions},
        ) from None


async def get_store(request: Request) -> GraphStore:
    """The store as this request sees it. A GET/HEAD reads one published generation from
    start to end (:class:`api.generation.RequestStore` over the request's one snapshot); other
    methods get the store itself (a write reads its own writes)."""
    store: GraphStore = request.app.state.store
    if request.method not in READ_METHODS:
        return store
    return cast(GraphStore, RequestStore(store, request_reader(request.scope, store)))


async def get_reader(request: Request) -> GraphReader:
    """The request's one reader (the same snapshot :func:`get_store` reads through)."""
    return request_reader(request.scope, request.app.state.store)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def node_ref(
    store: Annotated[GraphStore, Depends(get_store)],
    ref: Annotated[
        str,
        Path(
            description="Kind:id (Metric:atp, Field:dms.dms_orders.total_amount), a bare "
            "metric id, or a name / English name / abbreviation (客单价, ATP)",
            examples=["Metric:atp"],
            max_length=300,
        ),
    ],
) -> NodeRef:
    try:
        return NodeRef.parse(ref)
    except InvalidRefError:
        # a name people know: resolving searches the store, off the event loop
        return await run_in_threadpool(resolve_ref, store, ref)


def catalog_name(store: GraphStore) -> str | None:
    """The served catalog's name for a page's header (``None`` before anything is loaded: the
    header then says the generic 指标字典; nor does a backend that is down fail a page that
    does not read the graph, such as the sign-in form)."""
    try:
        return store.info().catalog
    except (EmptyStoreError, BackendUnavailableError):
        return None


StoreDep = Annotated[GraphStore, Depends(get_store)]
ReaderDep = Annotated[GraphReader, Depends(get_reader)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RefDep = Annotated[NodeRef, Depends(node_ref)]
