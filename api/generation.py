"""One graph per request: the request's store view, the generation headers, whole-request retry.

Every GET/HEAD request reads one published generation of the graph from start to end: the
store its routes are handed (:func:`api.dependencies.get_store`) is a :class:`RequestStore`,
whose reads all go through one :meth:`~store.base.GraphStore.snapshot` taken for the request.
Other methods (writes, which must read their own writes) get the store itself.

:class:`GenerationMiddleware` then

- names the generation an answer came from: ``X-Kpigraph-Generation`` on every response
  that read the graph, and a weak ``ETag`` on the graph API's answers (:data:`ETAG_PATHS`:
  lineage, impact, search, metric cards, paths, the catalog lists), which depend on nothing
  else; a
  ``GET`` whose ``If-None-Match`` names it is answered ``304 Not Modified``;
- retries a GET/HEAD whole when its reader refused because the generation was replaced
  mid-request (:class:`~store.base.GraphReplacedError`, Neo4j), up to :data:`ATTEMPTS` times;
  the last refusal is a ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.base import GraphReader, GraphStore
from store.pinned import PinnedStore

#: The store as one request sees it (reads from one snapshot): see :mod:`store.pinned`.
RequestStore = PinnedStore

#: Where the middleware keeps a request's reader (one per attempt).
SCOPE_KEY = "kpigraph.graph"
#: Header an error response carries to ask the middleware for a retry (never sent out).
RETRY_HEADER = "x-kpigraph-retry"
GENERATION_HEADER = "X-Kpigraph-Generation"
ATTEMPTS = 3
READ_METHODS = ("GET", "HEAD")
#: Answers that depend on the graph alone (not on values, comments, users or the ledger):
#: ETag-able. Exact shapes: ``/api/metrics/{id}/comments`` (say) is not one of them.
ETAG_PATHS = re.compile(
    r"/api/(metrics(/[^/]+)?|nodes/[^/]+/(lineage|impact)|paths"
    r"|departments|dimensions|dashboards|systems)\Z"
)


def request_reader(scope: Scope, store: GraphStore) -> GraphReader:
    """The request's reader: made on first use (taking it does no I/O), then the same one."""
    box: dict[str, Any] | None = scope.get(SCOPE_KEY)
    if box is None:  # no middleware (an app assembled by hand): one reader per call
        return store.snapshot()
    reader: GraphReader | None = box.get("reader")
    if reader is None:
        reader = store.snapshot()
        box["reader"] = reader
    return reader


def etag_for(generation: str) -> str:
    return f'W/"{generation}"'


class GenerationMiddleware:
    """See the module docstring: generation headers, ETag / 304, whole-request retry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        attempts = ATTEMPTS if scope["method"] in READ_METHODS else 1
        for attempt in range(1, attempts + 1):
            if not await self._attempt(scope, receive, send, last=attempt == attempts):
                return

    async def _attempt(self, scope: Scope, receive: Receive, send: Send, *, last: bool) -> bool:
        """Run the request once with a reader of its own; ``True`` when it is to be retried
        (nothing of this attempt was sent)."""
        box: dict[str, Any] = {}
        state = {"retry": False, "not_modified": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if RETRY_HEADER in headers:
                    del headers[RETRY_HEADER]
                    if not last:
                        state["retry"] = True
                        return
                generation = _pinned(box.get("reader"))
                if generation:
                    headers[GENERATION_HEADER] = generation
                    if message["status"] == 200 and _etag_able(scope):
                        etag = etag_for(generation)
                        headers["ETag"] = etag
                        if _matches(Headers(scope=scope).get("if-none-match"), etag):
                            state["not_modified"] = True
                            for name in ("content-length", "content-type"):
                                if name in headers:
                                    del headers[name]
                            message["status"] = 304
                await send(message)
            elif message["type"] == "http.response.body" and (
                state["retry"] or state["not_modified"]
            ):
                if state["not_modified"] and not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
            else:
                await send(message)

        await self.app({**scope, SCOPE_KEY: box}, receive, send_wrapper)
        return state["retry"]


def _pinned(reader: GraphReader | None) -> str | None:
    """The reader's generation if it has read anything (asking would read now)."""
    if reader is None:
        return None
    pinned: str | None = getattr(reader, "pinned_generation", None)
    return pinned


def _etag_able(scope: Scope) -> bool:
    """Whether the answer to ``scope`` depends on the graph alone.

    >>> [_etag_able({"method": "GET", "path": p}) for p in
    ...  ("/api/metrics/atp", "/api/metrics/atp/comments", "/api/nodes/atp/impact")]
    [True, False, True]
    """
    return scope["method"] in READ_METHODS and bool(ETAG_PATHS.match(str(scope["path"])))


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    wanted = {tag.strip() for tag in if_none_match.split(",")}
    bare = etag.removeprefix("W/")
    return "*" in wanted or etag in wanted or bare in wanted
