"""Two ``kpigraph serve`` processes on one store (issue #17, more than one machine).

On Neo4j one server is reached through a routing URI (``neo4j://``), the other through
``bolt://``; on the embedded backend both serve one SQLite file. Loads are published by
``kpigraph load`` processes. After a load has returned, the next request to
either server answers from the new graph (search included), and while loads are published
one after another a reader never answers with two loads mixed: every metric name in one
answer carries the same version tag.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, write_catalog

TAG = re.compile(r"VER(\d)")


def metrics(version: int) -> dict[str, str | bytes | None]:
    """The base catalog with every metric name tagged ``VER<version>``; version 2 adds one."""
    files: dict[str, str | bytes | None] = {
        "metrics/revenue.yaml": (
            f"id: revenue\nname: 营收VER{version}\nlevel: L0\nowner: finance\n"
            "fields: [dms.orders.amount]\ndashboards: [board]\n"
        ),
        "metrics/visits.yaml": (
            f"id: visits\nname: 进厂台次VER{version}\nlevel: L1\nowner: ops\n"
            "fields: [dms.orders.order_id]\n"
        ),
        "metrics/atp.yaml": (
            f"id: atp\nname: 客单价VER{version}\nabbr: ATP\nlevel: L1\nowner: ops\n"
            "reviewer: finance\nformula: revenue / visits\n"
        ),
    }
    if version == 2:
        files["metrics/fresh.yaml"] = (
            "id: fresh\nname: 新指标VER2\nlevel: L2\nowner: ops\nformula: atp * 2\n"
        )
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["embedded", "neo4j"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Callable[[Path], None], list[str], dict[int, Path]]]:
    """``(load(catalog_dir), [base URL of server A, of server B], {version: catalog dir})``.

    Neo4j: server A through a routing URI, B through bolt. Embedded: both on one SQLite file
    (several API processes on one machine)."""
    env: dict[str, str] = {**os.environ, "KPIGRAPH_NOTIFY": "false"}
    if request.param == "neo4j":
        c = request.getfixturevalue("neo4j_connection")
        request.getfixturevalue("neo4j_store_factory")()  # wipes the database
        bolt = c.uri
        routing = bolt.replace("bolt://", "neo4j://")
        env |= {
            "KPIGRAPH_BACKEND": "neo4j",
            "KPIGRAPH_NEO4J_USER": c.user,
            "KPIGRAPH_NEO4J_PASSWORD": c.password,
        }
        load_env = {**env, "KPIGRAPH_NEO4J_URI": routing}
        server_envs = {
            "a": {**env, "KPIGRAPH_NEO4J_URI": routing},
            "b": {**env, "KPIGRAPH_NEO4J_URI": bolt},
        }
    else:
        env |= {"KPIGRAPH_BACKEND": "embedded", "KPIGRAPH_DB": str(tmp_path / "shared.sqlite")}
        load_env = env
        server_envs = {"a": env, "b": env}
    catalogs = {v: write_catalog(tmp_path / f"v{v}", metrics(v)) for v in (1, 2)}

    def load(catalog: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "load", str(catalog)],
            cwd=ROOT,
            env=load_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    load(catalogs[1])
    servers, bases = [], []
    for name, server_env in server_envs.items():
        port = free_port()
        log = (tmp_path / f"serve-{name}.log").open("w")
        servers.append(
            (
                log,
                subprocess.Popen(
                    [sys.executable, "-m", "cli", "serve", "--port", str(port)],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=server_env,
                ),
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for (_, proc), base in zip(servers, bases, strict=True):
            for _ in range(600):
                try:
                    if httpx.get(base + "/health", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, "server exited"
                time.sleep(0.1)
            else:
                pytest.fail(f"{base} did not come up")
        yield load, bases, catalogs
    finally:
        for log, proc in servers:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def versions(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return set(TAG.findall(response.text))


def search(base: str, text: str) -> httpx.Response:
    return httpx.get(base + "/api/metrics", params={"q": text, "limit": 50}, timeout=60)


def lineage(base: str) -> httpx.Response:
    return httpx.get(base + "/api/nodes/Metric:atp/lineage", params={"depth": 3}, timeout=60)


def test_a_load_through_one_is_answered_by_the_other(
    cluster: tuple[Callable[[Path], None], list[str], dict[int, Path]],
) -> None:
    load, bases, catalogs = cluster
    for base in bases:
        assert versions(search(base, "VER")) == {"1"}
        assert versions(lineage(base)) == {"1"}
        assert search(base, "新指标").json()["total"] == 0

    load(catalogs[2])  # returned: from now on no server may answer from version 1
    for base in reversed(bases):
        found = search(base, "新指标")
        assert [m["id"] for m in found.json()["items"]] == ["fresh"]
        assert versions(search(base, "ver")) == {"2"}
        assert versions(lineage(base)) == {"2"}
        assert versions(httpx.get(base + "/api/metrics/atp", timeout=60)) == {"2"}

    load(catalogs[1])
    for base in bases:
        assert search(base, "新指标").json()["total"] == 0
        assert versions(lineage(base)) == {"1"}


def test_a_reader_never_sees_two_loads_mixed(
    cluster: tuple[Callable[[Path], None], list[str], dict[int, Path]],
) -> None:
    load, bases, catalogs = cluster
    seen: list[set[str]] = []
    refused: list[int] = []
    stop = threading.Event()

    def read(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                for path, params in (
                    ("/api/nodes/Metric:atp/lineage", {"depth": "3"}),
                    ("/api/metrics", {"q": "ver", "limit": "50"}),
                    ("/api/nodes/Metric:revenue/lineage", {"direction": "downstream"}),
                ):
                    r = client.get(path, params=params)
                    if r.status_code == 503:  # replaced three times in a row: retryable
                        refused.append(1)
                        continue
                    seen.append(versions(r))

    readers = [threading.Thread(target=read, args=(base,)) for base in bases]
    for t in readers:
        t.start()
    try:
        for version in (2, 1, 2, 1):
            load(catalogs[version])
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=120)
    assert len(seen) >= 20
    assert all(len(v) == 1 for v in seen), [v for v in seen if len(v) != 1]
    assert {"1", "2"} <= set().union(*seen)  # both versions were read meanwhile
    assert len(refused) <= len(seen) // 10
