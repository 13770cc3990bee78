"""FastAPI dependencies, as ``Annotated`` aliases.

They are ``async`` because they never block: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from core.settings import Settings
from graph_schema.ids import NodeRef
from store.base import GraphStore


async def get_store(request: Request) -> GraphStore:
    store: GraphStore = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def node_ref(
    ref: Annotated[
        str,
        Path(
            description="Kind:id, e.g. Metric:atp or Field:dms.dms_orders.total_amount; "
            "a bare id means a metric",
            examples=["Metric:atp"],
            max_length=300,
        ),
    ],
) -> NodeRef:
    return NodeRef.parse(ref)


StoreDep = Annotated[GraphStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RefDep = Annotated[NodeRef, Depends(node_ref)]
