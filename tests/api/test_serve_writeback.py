"""Issue #22: ``serve --catalog DIR --writeback commit`` — an applied change lands in DIR's
files as one commit by the requester, recorded on the request's timeline; a write-back that
cannot be made leaves the files as they were and says so on the timeline."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.serve_process import demo_in_git, git, people_tokens, propose_and_approve, serving


def test_an_applied_change_is_committed_into_the_catalog(tmp_path: Path) -> None:
    cat = demo_in_git(tmp_path / "cat")
    db = tmp_path / "kpigraph.sqlite"
    args = ["--catalog", str(cat), "--writeback", "commit"]
    with serving(args, db, tmp_path / "serve.log") as base:
        tokens = people_tokens(db)
        root = {"Authorization": f"Bearer {tokens['root']}"}
        with httpx.Client(base_url=base, timeout=120) as client:
            cid = propose_and_approve(client, tokens, "不含延保代收款")
            r = client.post(f"/api/changes/{cid}/apply", headers=root)
            assert r.status_code == 200, r.text
            last = r.json()["timeline"][-1]
            assert last["event"] == "writeback", last
            assert "metrics/revenue/atp.yaml" in last["comment"]
            log_lines = git(cat, "log", "--format=%an|%s").splitlines()
            assert len(log_lines) == 2 and log_lines[0].startswith("zhang|")
            assert f"change request #{cid}" in git(cat, "log", "-1", "--format=%B")
            assert "不含延保代收款" in (cat / "metrics/revenue/atp.yaml").read_text()
            assert not git(cat, "status", "--porcelain").strip()
            # a write-back that cannot be made: the files to edit have uncommitted changes
            atp = cat / "metrics/revenue/atp.yaml"
            atp.write_text(atp.read_text() + "# 本地修改\n")
            before = atp.read_text()
            cid2 = propose_and_approve(client, tokens, "不含保险理赔代收款")
            r = client.post(f"/api/changes/{cid2}/apply", headers=root)
            assert r.status_code == 200 and r.json()["status"] == "applied", r.text
            last = r.json()["timeline"][-1]
            assert last["event"] == "writeback_failed" and last["comment"], last
            assert atp.read_text() == before
