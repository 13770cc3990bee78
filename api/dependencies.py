"""FastAPI dependencies, as ``Annotated`` aliases.

They are ``async`` because they never block: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from analysis.resolve import resolve_ref
from core.settings import Settings
from graph_schema.errors import InvalidRefError
from graph_schema.ids import NodeRef
from store.base import GraphStore


async def get_store(request: Request) -> GraphStore:
    store: GraphStore = request.app.state.store
    return store


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


StoreDep = Annotated[GraphStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RefDep = Annotated[NodeRef, Depends(node_ref)]
