"""Applying one approved change request through a real ``kpigraph serve`` (issue #23, "server
side"): propose → approve → apply over HTTP, the apply request timed, and the request after it.

usage: python -m benchmarks.apply_http --db STORE [--repeat 5] [--work DIR]

``STORE`` is a loaded embedded store (``kpigraph load CATALOG --db STORE``); it is copied into
``--work`` (default: a temporary directory) and the copy is served, so the original is never
changed and every run starts from the same graph. The server is started from the current
directory's code (``python -m cli serve``), so a ``git archive`` copy of another commit runs its
own server with this script.

Figures, per repeat: the apply request's wall time (client side) and the server process's CPU
during it (user+system of every thread, from ``/proc``); then the first read after it (a
metric card) the same way — a server that re-reads its whole graph after an apply pays it
there; the server's CPU from the apply's start to one second after the read (what a thread
patching the search index after the apply costs, included); then the server's peak RSS
(``VmHWM``) at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from governance.users import add_user
from store.embedded_ledger import EmbeddedLedger

TICKS = os.sysconf("SC_CLK_TCK")
ROLES = (("editor", "editor"), ("c1", "committee"), ("a1", "admin"), ("a2", "admin"))


def _cpu(pid: int) -> float:
    """User+system seconds of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _hwm_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@contextlib.contextmanager
def _server(db: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "KPIGRAPH_DB": str(db)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _timed(pid: int, fn: Any) -> tuple[Any, float, float]:
    c0, t0 = _cpu(pid), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, _cpu(pid) - c0


def _reworded(props: dict[str, Any], i: int) -> dict[str, Any]:
    out = {k: v for k, v in props.items() if k not in ("version", "history")}
    out["definition"] = f"{props.get('definition') or ''}（第{i}次措辞）"
    out["caveats"] = [*props.get("caveats", []), f"注意事项 {i}"]
    return out


def run(store: Path, repeat: int, work: Path) -> dict[str, Any]:
    db = work / "served.sqlite"
    for suffix in ("", "-wal"):
        src = Path(f"{store}{suffix}")
        if src.exists():
            shutil.copyfile(src, f"{db}{suffix}")
    with sqlite3.connect(db) as conn:
        depts = sorted(r[0] for r in conn.execute("SELECT id FROM nodes WHERE kind='Department'"))
        ids = sorted(r[0] for r in conn.execute("SELECT id FROM nodes WHERE kind='Metric'"))
    metric = ids[len(ids) // 2]
    ledger = EmbeddedLedger(db)
    tokens: dict[str, str] = {}
    users: dict[str, Any] = {}
    for name, role in ROLES:
        users[name], tokens[name] = add_user(ledger, name, role, None)
    for d in depts:
        users[f"o-{d}"], tokens[f"o-{d}"] = add_user(ledger, f"o-{d}", "owner", d)
    ledger.close()
    port = _free_port()
    out: dict[str, Any] = {"metric": metric, "apply_s": [], "apply_cpu_s": [], "next_read_s": []}
    out["next_read_cpu_s"] = []
    out["apply_with_background_cpu_s"] = []
    with _server(db, port, work / "serve.log") as proc:
        api = Client(port)
        t0 = time.perf_counter()
        while api_up(api) is False:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: see {work / 'serve.log'}")
            time.sleep(0.2)
        out["server_start_s"] = round(time.perf_counter() - t0, 2)
        # as a server in use: the graph and the search index read (by its warm thread or here)
        _, wall, cpu = _timed(proc.pid, lambda: api.call("GET", f"/api/metrics/{metric}"))
        _, swall, scpu = _timed(proc.pid, lambda: api.call("GET", "/api/metrics?q=" + metric))
        out["first_read_s"], out["first_read_cpu_s"] = round(wall, 3), round(cpu, 3)
        out["first_search_s"], out["first_search_cpu_s"] = round(swall, 3), round(scpu, 3)
        for i in range(repeat):
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                row = conn.execute(
                    "SELECT props FROM nodes WHERE kind='Metric' AND id=?", (metric,)
                ).fetchone()
            props = json.loads(row[0])
            status, change = api.call(
                "POST",
                "/api/changes",
                tokens["editor"],
                {
                    "action": "update",
                    "ref": f"Metric:{metric}",
                    "base_version": props.get("version"),
                    "definition": _reworded(props, i),
                    "reason": f"bench {i}",
                },
            )
            if status != 201:
                raise SystemExit(f"propose: {status} {change}")
            cid = change["id"]
            for _ in range(10):
                stages = change.get("waiting_for") or []
                if not stages:
                    break
                stage = stages[0]
                who = f"o-{stage['department']}" if stage.get("department") else "c1"
                status, change = api.call(
                    "POST", f"/api/changes/{cid}/approve", tokens[who], {"comment": "ok"}
                )
                if status != 200:
                    raise SystemExit(f"approve: {status} {change}")
            if change["status"] != "approved":
                raise SystemExit(f"not approved: {change['status']}")
            apply_path = f"/api/changes/{cid}/apply"
            c_apply = _cpu(proc.pid)
            (status, applied), wall, cpu = _timed(
                proc.pid, lambda p=apply_path: api.call("POST", p, tokens["a1"], {})
            )
            if status != 200 or applied["status"] != "applied":
                raise SystemExit(f"apply: {status} {applied}")
            out["apply_s"].append(round(wall, 3))
            out["apply_cpu_s"].append(round(cpu, 3))
            (status, card), wall, cpu = _timed(
                proc.pid, lambda: api.call("GET", f"/api/metrics/{metric}")
            )
            if status != 200 or f"第{i}次措辞" not in json.dumps(card, ensure_ascii=False):
                raise SystemExit(f"the card after the apply does not show it: {status}")
            out["next_read_s"].append(round(wall, 3))
            out["next_read_cpu_s"].append(round(cpu, 3))
            time.sleep(1.0)  # let a thread patching the search index file finish
            out["apply_with_background_cpu_s"].append(round(_cpu(proc.pid) - c_apply, 3))
        out["server_peak_rss_mb"] = _hwm_mb(proc.pid)
    out["apply_median_s"] = round(statistics.median(out["apply_s"]), 3)
    out["apply_cpu_median_s"] = round(statistics.median(out["apply_cpu_s"]), 3)
    out["next_read_median_s"] = round(statistics.median(out["next_read_s"]), 3)
    out["load_average"] = os.getloadavg()
    return out


def api_up(api: Client) -> bool:
    try:
        status, _ = api.call("GET", "/api/ping")
    except OSError:
        return False
    return status == 200


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a loaded embedded store (copied)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", default=None, help="where the copy is served (default: temp)")
    args = parser.parse_args(argv)
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        result = run(Path(args.db), args.repeat, work)
    else:
        with tempfile.TemporaryDirectory(prefix="kpigraph-apply-http-") as tmp:
            result = run(Path(args.db), args.repeat, Path(tmp))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
