"""Who may show kpigraph's pages in a frame.

The embeddable card (``/embed/metrics/...``) may be framed by this server's own pages and by the
origins listed in ``KPIGRAPH_EMBED_ORIGINS`` (comma-separated ``scheme://host[:port]``; anything
else in the list is ignored, so the setting cannot add other CSP directives). Every other page
may be framed by this server's own pages only (the metric page frames the map):
``Content-Security-Policy: frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN``, unless
the response already says otherwise. Every response also says ``X-Content-Type-Options:
nosniff`` (a JSON error that echoes a query is never read as HTML).

Examples
--------
>>> embed_origins("https://bi.example.com, http://127.0.0.1:3000 ,*, https://x.com; script-src *")
['https://bi.example.com', 'http://127.0.0.1:3000']
>>> frame_ancestors(["https://bi.example.com"])
"frame-ancestors 'self' https://bi.example.com"
"""

from __future__ import annotations

import re

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EMBED_PREFIX = "/embed/"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class EmbedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KPIGRAPH_", extra="ignore")

    embed_origins: str | None = None


def embed_origins(configured: str | None) -> list[str]:
    """The well-formed origins of a ``KPIGRAPH_EMBED_ORIGINS`` value, in order."""
    found = [o.strip().rstrip("/") for o in (configured or "").split(",")]
    return [o for o in found if _ORIGIN.fullmatch(o)]


def frame_ancestors(origins: list[str]) -> str:
    return " ".join(["frame-ancestors 'self'", *origins])


class FramingMiddleware:
    """Sets the framing headers described in the module docstring on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        embed = str(scope["path"]).startswith(EMBED_PREFIX)
        policy = frame_ancestors(embed_origins(EmbedSettings().embed_origins) if embed else [])

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = policy
                if not embed and "x-frame-options" not in headers:
                    headers["X-Frame-Options"] = "SAMEORIGIN"
                if "x-content-type-options" not in headers:  # JSON errors echo input
                    headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_wrapper)
