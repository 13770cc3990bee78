"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analysis import localize_gate
from api import governance
from api.body_limit import BodyLimitMiddleware
from api.bots import routes as bot_routes
from api.docs import install_docs
from api.embed import routes as embed_routes
from api.embed.framing import FramingMiddleware
from api.errors import install_error_handlers
from api.generation import GenerationMiddleware
from api.hosts import TrustedHostsMiddleware, allowed_hosts
from api.language import LanguageMiddleware
from api.mcp_server import http as mcp_http
from api.routes import ask, catalog, health, metrics, nodes, pages, paths
from api.routes import compare as compare_routes
from api.routes import history_pages as history_page_routes
from api.routes import lint as lint_routes
from api.routes import programme as programme_routes
from api.routes import revisions as revision_routes
from api.routes import values as values_routes
from core.settings import Settings
from core.wiring import build_store
from store.base import GraphStore
from store.pinned import PinnedStore

DESCRIPTION = """
kpigraph serves a company's metric dictionary (指标字典) as a graph: search and definition
cards, upstream/downstream lineage, impact reports for metrics, fields, tables and systems,
and paths between nodes. A `ref` is `Kind:id` (`Metric:atp`,
`Field:dms.dms_orders.total_amount`); a bare id means a metric. Every error has the shape
`{"error": {"code", "message", "details"}}`.
"""


def create_app(
    settings: Settings | None = None,
    store: GraphStore | None = None,
    users: GraphStore | None = None,
) -> FastAPI:
    """Build the app. Tests pass ``store``; otherwise one is built from ``settings``.
    ``users``: the store whose users sign in, when not the served one (``serve --demo``
    serves the demo file but signs in the users of the configured store).

    The app never runs caller-supplied Cypher; the store it is handed is closed on shutdown
    only when the app built it.
    """
    settings = settings or Settings()
    owned = store is None
    the_store = store if store is not None else build_store(settings)
    if isinstance(the_store, PinnedStore):  # a command's store: serve the live one
        the_store = the_store.store

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        governance.start(_app)
        async with _app.state.mcp.run():  # /mcp: the MCP servers' session managers
            yield
        governance.stop(_app)
        if owned:
            the_store.close()

    app = FastAPI(
        title="kpigraph",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs from local assets (api/docs.py), not a CDN
        redoc_url=None,  # ReDoc loads its logo from a CDN: /docs only
    )
    app.state.settings = settings
    localize_gate.configure(settings.localize_slots)  # huge-cube searches at once (#25)
    app.state.store = the_store
    install_error_handlers(app)
    install_docs(app)
    mcp_http.install(app, settings, the_store)  # /mcp, inside the host check and body limit
    app.add_middleware(FramingMiddleware)  # frame-ancestors: 'self', + KPIGRAPH_EMBED_ORIGINS
    app.add_middleware(GenerationMiddleware)  # one graph per request: headers, retry
    app.add_middleware(BodyLimitMiddleware)  # 413 over MAX_BODY_BYTES (api/body_limit.py)
    if settings.trusted_hosts:  # kpigraph serve always sets it (api/hosts.py)
        hosts = allowed_hosts("", 0, settings.base_url, settings.trusted_hosts)
        app.add_middleware(TrustedHostsMiddleware, hosts=hosts)
    app.add_middleware(LanguageMiddleware)  # ?lang= / Accept-Language / the catalog's language
    governance.install(
        app, settings, the_store, users
    )  # before the routers: its read gate covers all
    for module in (metrics, nodes, paths, catalog, ask, health, pages):
        app.include_router(module.router)
    app.include_router(values_routes.router)
    for module in (revision_routes, compare_routes, history_page_routes):  # #13: history, diff
        app.include_router(module.router)
    app.include_router(values_routes.pages)
    app.include_router(lint_routes.router)
    bot_routes.install(app)  # /bots/{platform}: chat callbacks (#27)
    app.include_router(embed_routes.router)  # /embed/..., /embed.js, /oembed (#27)
    for router in programme_routes.ROUTERS:  # #28: inventory, onboarding, reports, review
        app.include_router(router)
    return app
