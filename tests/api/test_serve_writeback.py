"""Issue #22: ``serve --catalog DIR --writeback commit`` — an applied change lands in DIR's
files as one commit by the requester, recorded on the request's timeline; a write-back that
cannot be made leaves the files as they were and says so on the timeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people
from tests.helpers import DEMO, ROOT


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _propose_and_approve(client: httpx.Client, tokens: dict[str, str], caveat: str) -> int:
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


def test_an_applied_change_is_committed_into_the_catalog(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    _git(cat, "init", "-q")
    _git(cat, "add", "-A")
    _git(cat, "commit", "-q", "-m", "catalog")
    db = tmp_path / "kpigraph.sqlite"
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_NOTIFY": "false"}
    env.pop("KPIGRAPH_BACKEND", None)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--port",
            str(port),
            "--catalog",
            str(cat),
            "--writeback",
            "commit",
        ],
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
                pytest.fail((tmp_path / "serve.log").read_text()[-2000:])
            time.sleep(0.1)
        store = EmbeddedStore(db)
        _users, tokens = make_people(fresh_ledger(store))
        store.close()
        root = {"Authorization": f"Bearer {tokens['root']}"}
        with httpx.Client(base_url=base, timeout=120) as client:
            cid = _propose_and_approve(client, tokens, "不含延保代收款")
            r = client.post(f"/api/changes/{cid}/apply", headers=root)
            assert r.status_code == 200, r.text
            last = r.json()["timeline"][-1]
            assert last["event"] == "writeback", last
            assert "metrics/revenue/atp.yaml" in last["comment"]
            log_lines = _git(cat, "log", "--format=%an|%s").splitlines()
            assert len(log_lines) == 2 and log_lines[0].startswith("zhang|")
            assert f"change request #{cid}" in _git(cat, "log", "-1", "--format=%B")
            assert "不含延保代收款" in (cat / "metrics/revenue/atp.yaml").read_text()
            assert not _git(cat, "status", "--porcelain").strip()
            # a write-back that cannot be made: the files to edit have uncommitted changes
            atp = cat / "metrics/revenue/atp.yaml"
            atp.write_text(atp.read_text() + "# 本地修改\n")
            before = atp.read_text()
            cid2 = _propose_and_approve(client, tokens, "不含保险理赔代收款")
            r = client.post(f"/api/changes/{cid2}/apply", headers=root)
            assert r.status_code == 200 and r.json()["status"] == "applied", r.text
            last = r.json()["timeline"][-1]
            assert last["event"] == "writeback_failed" and last["comment"], last
            assert atp.read_text() == before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
