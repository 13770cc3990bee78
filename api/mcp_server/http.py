"""``/mcp``: the MCP server over streamable HTTP inside ``kpigraph serve``.

Every request needs ``Authorization: Bearer TOKEN`` of an active kpigraph user (the same tokens
as the API; failures count towards the same per-client limit). A viewer is served the read-only
tools; an editor, owner, committee member or admin is served them plus ``propose_change``, which
submits as that user. Stateless (no MCP session is kept between requests) with JSON answers, so
any number of API processes can serve it. Host names are checked by the app's
:class:`~api.hosts.TrustedHostsMiddleware`, body sizes by its body limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import AuthState, check_token
from api.errors import error_json
from api.mcp_server.server import build_server
from core.client_address import client_address
from core.settings import Settings
from graph_schema.errors import KpigraphError
from graph_schema.governance import WRITERS, TooManyAttemptsError, User
from store.base import GraphStore

PATH = "/mcp"
USER_KEY = "kpigraph.mcp_user"


def user_of(ctx: Context) -> User | None:
    """The user the HTTP request behind ``ctx`` was authenticated as."""
    request = getattr(ctx.request_context, "request", None)
    scope = getattr(request, "scope", None) or {}
    user = scope.get(USER_KEY)
    return user if isinstance(user, User) else None


@dataclass
class McpHttp:
    """The two servers (read-only and writer) and their session managers."""

    reader: MCPServer
    writer: MCPServer

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run both session managers for the app's lifespan (fresh ones each time: a manager
        runs once, and an app may be started again, as tests do)."""
        async with AsyncExitStack() as stack:
            for server in (self.reader, self.writer):
                _transport(server)
                await stack.enter_async_context(server.session_manager.run())
            yield


def _transport(server: MCPServer) -> None:
    """(Re)make the server's streamable HTTP session manager."""
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        # the app checks Host itself (KPIGRAPH_TRUSTED_HOSTS); the SDK's own check would
        # allow only localhost names
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def build(settings: Settings, store: GraphStore, governance: Callable[[], Any]) -> McpHttp:
    common: dict[str, Any] = {"values_dir": settings.values_dir, "base_url": settings.base_url}
    reader = build_server(store, **common)
    writer = build_server(store, **common, writer=True, user_of=user_of, governance=governance)
    for server in (reader, writer):
        _transport(server)
    return McpHttp(reader, writer)


class McpMiddleware:
    """Answers ``/mcp`` (authenticated, dispatched by role); passes everything else on."""

    def __init__(self, app: ASGIApp, mcp: McpHttp, auth: Callable[[], AuthState]) -> None:
        self.app = app
        self.mcp = mcp
        self.auth = auth  # the app's AuthState, made by governance.install after this

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != PATH:
            await self.app(scope, receive, send)
            return
        state: AuthState = self.auth()
        header = _header(scope, b"authorization")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _refuse(
                scope, receive, send, "send 'Authorization: Bearer TOKEN' of a kpigraph user"
            )
            return
        client = _client(scope, state)
        try:
            user = await run_in_threadpool(check_token, state, token.strip(), client)
        except TooManyAttemptsError as exc:
            response = error_json(429, exc.code, exc.message, exc.details)
            response.headers["Retry-After"] = str(exc.details.get("retry_after", 60))
            await response(scope, receive, send)
            return
        except KpigraphError as exc:
            await _refuse(scope, receive, send, exc.message, exc.code)
            return
        server = self.mcp.writer if user.role in WRITERS else self.mcp.reader
        await server.session_manager.handle_request({**scope, USER_KEY: user}, receive, send)


def _client(scope: Scope, state: AuthState) -> str:
    """The client failures count against, named as the rest of the API names it: the peer, or
    behind a trusted proxy the last hop it forwarded (one limiter key for every MCP client
    behind the proxy let one of them lock all of them out)."""
    peer = scope["client"][0] if scope.get("client") else None
    forwarded = [
        value.decode("latin-1")
        for key, value in scope.get("headers", [])
        if key.lower() == b"x-forwarded-for"
    ]
    return client_address(peer, forwarded, state.trusted_proxies)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


async def _refuse(
    scope: Scope, receive: Receive, send: Send, message: str, code: str = "unauthenticated"
) -> None:
    response = error_json(401, code, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="kpigraph"'
    await response(scope, receive, send)


def install(app: Any, settings: Settings, store: GraphStore) -> McpHttp:
    """Serve ``/mcp`` in ``app``: call before the app's other middleware is added (so host
    checks and body limits wrap it); run :meth:`McpHttp.run` in the app's lifespan."""
    mcp = build(settings, store, lambda: app.state.gov)
    app.add_middleware(McpMiddleware, mcp=mcp, auth=lambda: app.state.auth)
    app.state.mcp = mcp
    return mcp
