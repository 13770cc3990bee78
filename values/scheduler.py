"""``kpigraph serve --refresh-every 1h``: the values cache refreshed on a schedule, in the server
process (a daemon thread; the first refresh runs at start).

Each run is ``kpigraph values refresh`` for every connected metric (only what is missing is
queried, :mod:`values.cache`); a run that fails (an unreachable warehouse) is logged and listed
in :data:`status`, the cache keeps serving what it had, and the next run tries again. Runs never
overlap: the next one starts ``interval`` seconds after the previous one ended.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.i18n import _
from graph_schema.errors import InvalidQueryError

log = logging.getLogger("kpigraph.values.refresh")

_INTERVAL = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d)?\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 31 * 86400.0


def parse_interval(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``1h``, ``1d`` (a bare number is seconds).

    Examples
    --------
    >>> parse_interval("1h"), parse_interval("15m"), parse_interval("2")
    (3600.0, 900.0, 2.0)
    """
    found = _INTERVAL.match(text or "")
    if not found:
        raise InvalidQueryError(
            _(
                "--refresh-every {text}: write a number with s, m, h or d (30s, 15m, 1h, 1d)",
                text=repr(text),
            )
        )
    seconds = float(found.group(1)) * _UNIT[found.group(2) or "s"]
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise InvalidQueryError(
            _("--refresh-every {text}: between 1 s and 31 days", text=repr(text))
        )
    return seconds


#: the last scheduled run, for the pages and ``/api/values/refresh``: ``started``,
#: ``finished`` (epoch seconds), ``refreshed`` (metric → rows), ``failed`` (metric → why),
#: ``skipped`` (metric → why its SQL is not a query of values by period), ``error`` (the
#: whole run failed), ``runs``, ``every`` (seconds); empty when not scheduled
status: dict[str, Any] = {}
_status_lock = threading.Lock()


def current_status() -> dict[str, Any]:
    with _status_lock:
        return dict(status)


class RefreshLoop:
    """Runs ``run_once`` now and then every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, interval: float, run_once: Callable[[], dict[str, Any]]) -> None:
        self.interval = interval
        self._run_once = run_once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="values-refresh", daemon=True)

    def start(self) -> RefreshLoop:
        with _status_lock:
            status.clear()
            status.update({"every": self.interval, "runs": 0})
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            try:
                result: dict[str, Any] = {"error": None, **self._run_once()}
            except Exception as exc:
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                log.warning("scheduled values refresh failed: %s", message)
                result = {"error": message, "refreshed": {}, "failed": {}, "skipped": {}}
            with _status_lock:
                runs = int(status.get("runs", 0)) + 1
                status.update(result | {"started": started, "finished": time.time(), "runs": runs})
            self._stop.wait(self.interval)


def store_refresher(store: Any, values_dir: Path | None) -> Callable[[], dict[str, Any]]:
    """One refresh of every connected metric of the catalog ``store`` serves."""

    def run_once() -> dict[str, Any]:
        from values.cache import refresh_engine
        from values.service import engine_lease

        with engine_lease(store, values_dir) as engine:
            report = refresh_engine(engine)
        out = report.to_json()
        return {
            "refreshed": out.get("refreshed", {}),
            "failed": out.get("failed", {}),
            "skipped": out.get("skipped", {}),
        }

    return run_once
