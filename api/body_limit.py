"""A cap on request bodies (``MAX_BODY_BYTES``): the largest thing a client sends is one metric's
definition in a change request, a few KiB; without a cap an editor could store a 30 MB request
in the ledger per POST. A body announced larger (``Content-Length``) is refused before it is
read; a chunked body is counted as it arrives. Both answer ``413`` in the error shape.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_json

MAX_BODY_BYTES = 1024 * 1024


def _message(limit: int) -> str:
    return f"request body over {limit // 1024} KiB; send one metric's definition per request"


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with ``413``."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.limit):
            response = error_json(413, "payload_too_large", _message(self.limit))
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(status_code=413, detail=_message(self.limit))
            return message

        await self.app(scope, counted, send)
