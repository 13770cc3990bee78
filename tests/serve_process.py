"""A real ``kpigraph serve`` in a child process, for tests that need what only a whole server
does (``--catalog`` publishing, write-back into a git work tree, a request's worker held), and
the steps such tests share: a catalog in git, a change proposed and approved over HTTP."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people
from tests.helpers import DEMO, ROOT


def git(cwd: Path, *args: str) -> str:
    """``git ARGS`` in ``cwd`` as a test user; its output."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def demo_in_git(cat: Path) -> Path:
    """A copy of the demo catalog at ``cat``, committed in a git work tree of its own."""
    shutil.copytree(DEMO, cat)
    git(cat, "init", "-q")
    git(cat, "add", "-A")
    git(cat, "commit", "-q", "-m", "catalog")
    return cat


@contextlib.contextmanager
def serving(args: list[str], db: Path, log_path: Path) -> Iterator[str]:
    """``python -m cli serve ARGS`` on a free port over the embedded store ``db`` (its output
    in ``log_path``), started and answering ``/health``; its base URL. Stopped afterwards."""
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_NOTIFY": "false"}
    env.pop("KPIGRAPH_BACKEND", None)
    port = free_port()
    cmd = [sys.executable, "-m", "cli", "serve", "--port", str(port), *args]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(900):
                try:
                    if httpx.get(base + "/health", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    pytest.fail(log_path.read_text(encoding="utf-8")[-2000:])
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def people_tokens(db: Path) -> dict[str, str]:
    """The governance test people (tests.governance_helpers.PEOPLE) added to ``db``'s ledger;
    their tokens by name."""
    store = EmbeddedStore(db)
    try:
        _users, tokens = make_people(fresh_ledger(store))
    finally:
        store.close()
    return tokens


def propose_and_approve(client: httpx.Client, tokens: dict[str, str], caveat: str) -> int:
    """zhang proposes a caveat on 客单价; both owner departments and the committee approve.
    The request's id."""

    def h(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["caveats"] = [*metric.get("caveats", []), caveat]
    r = client.post(
        "/api/changes",
        json={
            "action": "update",
            "ref": "Metric:atp",
            "base_version": metric["version"],
            "definition": definition,
            "reason": "排除延保代收款",
        },
        headers=h("zhang"),
    )
    assert r.status_code == 201, r.text
    cid = int(r.json()["id"])
    for name in ("li", "qian", "wang"):
        assert client.post(f"/api/changes/{cid}/approve", json={}, headers=h(name)).is_success
    return cid
