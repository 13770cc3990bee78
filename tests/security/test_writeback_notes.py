"""A failed write-back's note (review of issue 22): anyone may read ``/api/changes/N`` and the
change page without signing in, and the note was ``GitCommitError: git update-index failed in
/srv/…/catalog: fatal: Unable to create '/srv/…/.git/index.lock': File exists.`` — the server's
absolute paths and git's own output. A reader now gets a plain reason; the detail is in the
server log (for the admin).

A real server (``serve --catalog DIR --writeback commit``) over HTTP; the write-back fails
because another git process holds the repository's index lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.writeback import REASONS
from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people
from tests.helpers import DEMO, ROOT

SERVE = [sys.executable, "-m", "cli", "serve"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def propose_and_approve(client: httpx.Client, tokens: dict[str, str], caveat: str) -> int:
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


def test_a_reader_sees_a_plain_reason_not_server_paths(tmp_path: Path) -> None:
    cat = tmp_path / "srv-catalog"
    shutil.copytree(DEMO, cat)
    git(cat, "init", "-q")
    git(cat, "add", "-A")
    git(cat, "commit", "-q", "-m", "catalog")
    db = tmp_path / "kpigraph.sqlite"
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_NOTIFY": "false"}
    env.pop("KPIGRAPH_BACKEND", None)
    port = free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), "--catalog", str(cat), "--writeback", "commit"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):
            try:
                if httpx.get(base + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(log_path.read_text()[-2000:])
            time.sleep(0.1)
        store = EmbeddedStore(db)
        _users, tokens = make_people(fresh_ledger(store))
        store.close()
        root = {"Authorization": f"Bearer {tokens['root']}"}
        atp = cat / "metrics/revenue/atp.yaml"
        before = atp.read_text(encoding="utf-8")
        lock = cat / ".git" / "index.lock"  # another git process is at work
        lock.write_text("")
        with httpx.Client(base_url=base, timeout=120) as client:
            cid = propose_and_approve(client, tokens, "不含延保代收款")
            r = client.post(f"/api/changes/{cid}/apply", headers=root)
            assert r.status_code == 200 and r.json()["status"] == "applied", r.text
            # a reader, not signed in
            public = httpx.get(f"{base}/api/changes/{cid}", timeout=30)
            assert public.status_code == 200
            failed = [e for e in public.json()["timeline"] if e["event"] == "writeback_failed"]
            assert len(failed) == 1, public.json()["timeline"]
            note = failed[0]["comment"]
            assert note == REASONS["git"]
            page = httpx.get(f"{base}/changes/{cid}", timeout=30)
            for text in (note, public.text, page.text):
                for secret in (
                    str(tmp_path),
                    "srv-catalog",
                    "index.lock",
                    "fatal",
                    "GitCommitError",
                ):
                    assert secret not in text, (secret, text[:400])
            assert page.status_code == 200, page.text[:300]
            assert "管理员可在服务器日志中查看原因" in page.text
            # the write-back changed nothing: the files and the repository as they were
            assert atp.read_text(encoding="utf-8") == before
            assert len(git(cat, "log", "--format=%H").split()) == 1
            assert not git(cat, "status", "--porcelain").strip()
            # the next apply, with the lock gone, writes both requests: one commit each
            lock.unlink()
            cid2 = propose_and_approve(client, tokens, "不含保险理赔代收款")
            r = client.post(f"/api/changes/{cid2}/apply", headers=root)
            assert r.json()["timeline"][-1]["event"] == "writeback", r.text
            assert len(git(cat, "log", "--format=%H").split()) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    # the admin finds the detail in the server log (git's own last line)
    logged = " ".join(log_path.read_text(encoding="utf-8").split())
    assert "GitCommitError" in logged and "remove the file" in logged, logged[-1500:]
