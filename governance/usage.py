"""Use counts per metric and day (page views, API reads), buffered in memory and added to the
ledger in one write every few seconds, so counting never adds a database write to a read.
No personal data: only (day, metric, kind) → count."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from typing import Any

from store.ledger import Ledger

log = logging.getLogger("kpigraph.usage")
KINDS = ("view", "api", "ask", "question")


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


class UsageCounter:
    def __init__(self, ledger: Ledger, interval: float = 5.0) -> None:
        self.ledger = ledger
        self.interval = interval
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # a flush waits for one in flight (read-your-counts)
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hit(self, metric: str, kind: str) -> None:
        with self._lock:
            self._counts[(today(), metric, kind)] += 1

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                counts, self._counts = self._counts, Counter()
            for (day, metric, kind), n in counts.items():
                try:
                    self.ledger.count_use(day, metric, kind, n)
                except Exception:
                    log.warning("usage counts for %s lost (store unavailable)", metric)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.flush()

        self._thread = threading.Thread(target=loop, name="kpigraph-usage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.flush()


class UsageMiddleware:
    """Pure ASGI: counts successful GETs of ``/metrics/{id}`` (view) and
    ``/api/metrics/{id}`` (api) after the response, at the cost of a string test."""

    def __init__(self, app: Any, counter: UsageCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        hit = _metric_hit(path)
        if hit is None:
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status["code"] == 200:
            self.counter.hit(*hit)
            # a signed-in reader's department, counted beside the total (never the person):
            # the monthly report per department (governance.department_usage, #28)
            user = (scope.get("state") or {}).get("user")
            if user is not None:
                self.counter.hit(hit[0], by_department(hit[1], user.department))


def by_department(kind: str, department: str | None) -> str:
    """The usage kind of a read by a signed-in user of ``department`` (``-``: none).

    >>> by_department("view", "ops"), by_department("api", None)
    ('view@ops', 'api@-')
    """
    return f"{kind}@{department or '-'}"


def _metric_hit(path: str) -> tuple[str, str] | None:
    """``(metric, kind)`` for a metric read, else ``None``.

    Examples
    --------
    >>> _metric_hit("/metrics/atp"), _metric_hit("/api/metrics/atp"), _metric_hit("/api/x")
    (('atp', 'view'), ('atp', 'api'), None)
    """
    for prefix, kind in (("/metrics/", "view"), ("/api/metrics/", "api")):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if rest and "/" not in rest:
                return rest, kind
    return None
