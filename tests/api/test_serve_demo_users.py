"""Issue #22: ``kpigraph users add`` while ``serve --demo`` runs gave "invalid token" — the demo
lives in its own file (``kpigraph-demo.sqlite``) and the server checked tokens against that
file's (empty) users. The demo server now signs in the users of the store its options name,
the very store ``users add`` writes to and names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import ROOT
from tests.serve_process import serving


def test_a_user_added_while_the_demo_runs_signs_in_and_proposes(tmp_path: Path) -> None:
    db = tmp_path / "kpigraph.sqlite"
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_NOTIFY": "false"}
    env.pop("KPIGRAPH_BACKEND", None)
    log = tmp_path / "serve.log"
    with serving(["--demo"], db, log) as base:
        added = subprocess.run(
            [sys.executable, "-m", "cli", "users", "add", "alice", "--role", "editor"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert added.returncode == 0, added.stderr
        assert str(db) in added.stdout  # it names the store it wrote to
        assert "serve --demo" in added.stdout
        token = added.stdout.strip().splitlines()[-1]

        me = httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "alice"
        with httpx.Client(base_url=base) as browser:  # the sign-in page accepts it too
            page = browser.get("/signin").text
            csrf = re.search(r'name="csrf" value="([^"]*)"', page)
            form = browser.post(
                "/signin",
                data={"token": token, "csrf": csrf.group(1) if csrf else ""},
                follow_redirects=False,
            )
            assert form.status_code == 303, form.text

        metric = httpx.get(f"{base}/api/metrics/atp").json()["metric"]
        definition = {k: v for k, v in metric.items() if k not in ("kind", "ref")}
        definition["definition"] = "单个客户单次进厂消费的平均金额（演示）。"
        r = httpx.post(
            f"{base}/api/changes",
            json={
                "action": "update",
                "ref": "Metric:atp",
                "base_version": metric["version"],
                "definition": definition,
                "reason": "demo",
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        assert r.json()["requester"] == "alice"
    text = log.read_text()
    assert f"users signing in: those of {db}" in text.replace("\n", " ") or str(db) in text
    # the change request lives with the demo graph; the user's own store holds no graph
    assert (db.parent / "kpigraph-demo.sqlite").exists()
