"""``kpigraph serve --refresh-every``: the values cache refreshed on a schedule inside the
server process (a real server on a DuckDB warehouse file, a 2-second interval), and the fetch
time shown on the explain page and the metric page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph_schema.errors import InvalidQueryError
from tests.governance_helpers import free_port
from tests.helpers import ROOT
from tests.warehouse.conftest import Warehouse, connected_catalog
from values.scheduler import RefreshLoop, current_status, parse_interval


def _wait(get: Any, ok: Any, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = get()
            if ok(found):
                return found
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            pytest.fail(log.read_text()[-3000:])
        time.sleep(0.2)
    pytest.fail(f"timed out; server log:\n{log.read_text()[-3000:]}")


def test_serve_refreshes_the_cache_on_a_schedule(tmp_path: Path, duckdb_demo: Warehouse) -> None:
    catalog = connected_catalog(tmp_path / "catalog")
    port = free_port()
    env = {
        **os.environ,
        "KPIGRAPH_DB": str(tmp_path / "kpigraph.sqlite"),
        "KPIGRAPH_NOTIFY": "false",
        "KPIGRAPH_CONN_DMS": duckdb_demo.url,
    }
    env.pop("KPIGRAPH_BACKEND", None)
    env.pop("KPIGRAPH_VALUES_DIR", None)
    log = tmp_path / "serve.log"
    cache = catalog / ".kpigraph-cache" / "values.sqlite"
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--catalog",
             str(catalog), "--refresh-every", "2s"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:

            def status() -> dict[str, Any]:
                return httpx.get(f"{base}/api/values/refresh", timeout=10).json()  # type: ignore[no-any-return]

            first = _wait(status, lambda s: s.get("runs", 0) >= 1, proc, log, 240)
            assert first["scheduled"] is True and first["every"] == 2.0
            assert first["error"] is None, first
            # metrics whose SQL documents the calculation (no period, no value) are skipped
            # and say why; the DMS metrics are fetched
            assert "revenue" not in first["failed"] and "cost_rate" in first["skipped"]
            why = first["skipped"]["cost_rate"]  # in the catalog's language: names the columns
            assert "cost_rate" in why and "period" in why and "value" in why, why
            assert first["refreshed"]["revenue"] == 24 * 6 * 3  # months × stores × order types
            assert cache.is_file()
            # the next runs find nothing missing: the schedule goes on, nothing is re-fetched
            later = _wait(status, lambda s: s.get("runs", 0) >= 3, proc, log, 120)
            assert later["refreshed"] == {} and later["finished"] >= first["finished"]
            page = httpx.get(f"{base}/explain/revenue?period=2026-06&base=mom", timeout=120)
            assert page.status_code == 200
            assert 'id="fetched"' in page.text and 'data-metric="maintenance_visits"' in page.text
            assert "2 s" in page.text or "2 秒" in page.text
            metric_page = httpx.get(f"{base}/metrics/revenue", timeout=120).text
            assert 'id="fetched"' in metric_page and "parts_revenue 20" in metric_page
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_failed_run_is_recorded_and_the_schedule_goes_on() -> None:
    calls: list[int] = []

    def run_once() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise InvalidQueryError("the warehouse is unreachable")
        return {"refreshed": {"revenue": 3}, "failed": {}}

    loop = RefreshLoop(0.05, run_once).start()
    try:
        deadline = time.monotonic() + 10
        while current_status().get("runs", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        loop.stop()
    assert len(calls) >= 2
    assert current_status()["refreshed"] == {"revenue": 3}
    assert current_status()["error"] is None


def test_intervals() -> None:
    assert parse_interval("1h") == 3600.0
    assert parse_interval("15m") == 900.0
    assert parse_interval("1d") == 86400.0
    assert parse_interval("30") == 30.0
    for bad in ("", "1 hour", "0s", "-1h", "40d"):
        with pytest.raises(InvalidQueryError):
            parse_interval(bad)
