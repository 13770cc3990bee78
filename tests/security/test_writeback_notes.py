"""A failed write-back's note (review of issue 22): anyone may read ``/api/changes/N`` and the
change page without signing in, and the note was ``GitCommitError: git update-index failed in
/srv/…/catalog: fatal: Unable to create '/srv/…/.git/index.lock': File exists.`` — the server's
absolute paths and git's own output. A reader now gets a plain reason; the detail is in the
server log (for the admin).

A real server (``serve --catalog DIR --writeback commit``) over HTTP; the write-back fails
because another git process holds the repository's index lock."""

from __future__ import annotations

from pathlib import Path

import httpx

from core.writeback import REASONS
from tests.serve_process import demo_in_git, git, people_tokens, propose_and_approve, serving


def test_a_reader_sees_a_plain_reason_not_server_paths(tmp_path: Path) -> None:
    cat = demo_in_git(tmp_path / "srv-catalog")
    db = tmp_path / "kpigraph.sqlite"
    log_path = tmp_path / "serve.log"
    args = ["--catalog", str(cat), "--writeback", "commit"]
    with serving(args, db, log_path) as base:
        tokens = people_tokens(db)
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
    # the admin finds the detail in the server log (git's own last line)
    logged = " ".join(log_path.read_text(encoding="utf-8").split())
    assert "GitCommitError" in logged and "remove the file" in logged, logged[-1500:]
