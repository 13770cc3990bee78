"""A damaged database under a running ``kpigraph serve`` (issue #12, item 2).

The file is truncated, deleted, emptied (with its -wal/-shm removed) under a real server
process: every answer is a 503 naming the file and what to do (pages as HTML), /health says
what is wrong, ``kpigraph load`` over it either works or says what to do (never "database is
locked"), and the server answers again by itself once a good database is there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import DEMO, ROOT

URLS = ("/health", "/api/nodes/Metric:atp/impact", "/api/metrics?q=atp", "/metrics/atp")


def kpigraph(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "g.sqlite"
    loaded = kpigraph("load", DEMO, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KPIGRAPH_NOTIFY": "false"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        yield base, db
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def answers(base: str) -> dict[str, httpx.Response]:
    return {url: httpx.get(base + url, timeout=30) for url in URLS}


def assert_serving(base: str) -> None:
    for url, r in answers(base).items():
        assert r.status_code == 200, (url, r.text[:300])


def assert_unavailable(base: str, db: Path, cause: str) -> None:
    for url, r in answers(base).items():
        assert r.status_code == 503, (url, r.status_code, r.text[:300])
        assert r.headers["retry-after"]
        if url.startswith("/metrics"):
            assert r.headers["content-type"].startswith("text/html")
            assert str(db) in r.text
        elif url == "/health":
            body = r.json()
            assert body["status"] in ("unavailable", "empty")
            assert str(db) in body["detail"]
            assert cause in body["detail"], body["detail"]
        else:
            assert r.json()["error"]["code"] in ("backend_unavailable", "empty_store")
            assert str(db) in r.json()["error"]["message"]


def test_truncated_then_deleted_then_loaded_again(served: tuple[str, Path]) -> None:
    base, db = served
    assert_serving(base)
    os.truncate(db, 50_000)
    assert_unavailable(base, db, "malformed")
    damaged = kpigraph("search", "atp", "--db", db)
    assert damaged.returncode == 1
    assert "move it away" in damaged.stderr and "Traceback" not in damaged.stderr
    db.unlink()
    assert_unavailable(base, db, "missing")
    loaded = kpigraph("load", DEMO, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    assert_serving(base)  # healed without a restart


def test_emptied_with_sidecars_removed_then_loaded_again(served: tuple[str, Path]) -> None:
    base, db = served
    assert_serving(base)
    os.truncate(db, 0)
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    for url, r in answers(base).items():
        assert r.status_code == 503, (url, r.text[:300])
    health = httpx.get(base + "/health").json()
    assert str(db) in health["detail"]
    loaded = kpigraph("load", DEMO, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    assert "locked" not in loaded.stderr
    assert_serving(base)


def test_load_over_a_damaged_file_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite"
    assert kpigraph("load", DEMO, "--db", db).returncode == 0
    db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    r = kpigraph("load", DEMO, "--db", db)
    assert r.returncode == 1
    assert "not a SQLite database" in r.stderr
    assert f"move it away (with {db.name}-wal" in r.stderr
    assert "Traceback" not in r.stderr and "locked" not in r.stderr
