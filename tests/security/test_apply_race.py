"""Issue #21 (3): two server processes applying the same change request at once.

Before: on two ``serve`` processes sharing one SQLite file (26 of 30 trials) or one Neo4j (3 of
20), both callers got 409 while the revision "change request #N" was written, the request stayed
``approved`` with a conflict recorded, and a later reject left the change live. Now the revision
and the request's "applied" are one store transaction: exactly one caller gets 200, the other
409 naming the revision, and the ledger and the graph agree — checked over 50 trials on each
backend with two real server processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.publish import publish
from governance.changes import Governance
from graph_schema.governance import Action, ChangeStatus
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people
from tests.helpers import ROOT

TRIALS = 50
ATP = NodeRef.parse("Metric:atp")


@dataclass
class Cluster:
    store: GraphStore
    gov: Governance
    users: dict[str, Any]
    tokens: dict[str, str]
    bases: list[str]


def _serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str, Any]:
    port = free_port()
    out = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(900):
        try:
            if httpx.get(base + "/health", timeout=5).status_code == 200:
                return proc, base, out
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    pytest.fail(f"{base} did not come up: {log.read_text()[-2000:]}")


@pytest.fixture(params=["embedded", "neo4j"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, demo_graph: CatalogGraph
) -> Iterator[Cluster]:
    env = {**os.environ, "KPIGRAPH_NOTIFY": "false"}
    store: GraphStore
    if request.param == "neo4j":
        c = request.getfixturevalue("neo4j_connection")
        store = request.getfixturevalue("neo4j_store_factory")()
        env |= {
            "KPIGRAPH_BACKEND": "neo4j",
            "KPIGRAPH_NEO4J_URI": c.uri,
            "KPIGRAPH_NEO4J_USER": c.user,
            "KPIGRAPH_NEO4J_PASSWORD": c.password,
        }
    else:
        path = tmp_path / "shared.sqlite"
        store = EmbeddedStore(path)
        env |= {"KPIGRAPH_BACKEND": "embedded", "KPIGRAPH_DB": str(path)}
    publish(store, demo_graph)
    ledger = fresh_ledger(store)
    users, tokens = make_people(ledger)
    gov = Governance(store, ledger)
    servers = [_serve(env, tmp_path / f"serve-{i}.log") for i in range(2)]
    try:
        yield Cluster(store, gov, users, tokens, [base for _, base, _ in servers])
    finally:
        for proc, _, out in servers:
            proc.terminate()
            proc.wait(timeout=30)
            out.close()
        if isinstance(store, EmbeddedStore):
            store.close()


def _approved_change(c: Cluster, trial: int) -> int:
    props = c.store.get_nodes([ATP])[ATP].props()
    definition = {k: v for k, v in props.items() if k not in ("version", "history")}
    definition["formula"] = "revenue / visits * 1" if trial % 2 == 0 else "revenue / visits"
    change = c.gov.submit(
        c.users["zhang"], Action.UPDATE, ATP, definition, props.get("version"), f"trial {trial}"
    )
    for name in ("li", "qian", "wang"):
        c.gov.approve(c.users[name], change.id, "ok")
    return change.id


def test_two_servers_apply_one_request_exactly_once(cluster: Cluster) -> None:
    c = cluster
    headers = {"Authorization": f"Bearer {c.tokens['root']}"}
    problems: list[str] = []
    for trial in range(TRIALS):
        cid = _approved_change(c, trial)
        head = c.store.head()
        gate = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def apply(
            base: str, cid: int, gate: threading.Barrier, answers: list[httpx.Response]
        ) -> None:
            with httpx.Client(base_url=base, timeout=120) as client:
                gate.wait()
                answers.append(client.post(f"/api/changes/{cid}/apply", headers=headers))

        threads = [
            threading.Thread(target=apply, args=(base, cid, gate, answers)) for base in c.bases
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in answers)
        change = c.gov.get(cid)
        revisions = [s for s in c.store.revisions(limit=5) if s.source.get("change_request") == cid]
        ok = (
            codes == [200, 409]
            and change.status is ChangeStatus.APPLIED
            and change.conflict is None
            and len(revisions) == 1
            and change.applied_revision == revisions[0].number == head + 1 == c.store.head()
        )
        if not ok:
            problems.append(
                f"trial {trial}: codes {codes}, status {change.status.value}, conflict "
                f"{change.conflict!r}, revisions {[r.number for r in revisions]}, applied as "
                f"{change.applied_revision}, head {head} → {c.store.head()}: "
                + " | ".join(r.text[:200] for r in answers)
            )
            continue
        loser = next(r for r in answers if r.status_code == 409)
        message = loser.json()["error"]["message"]
        if f"revision {head + 1}" not in message and f"修订 {head + 1}" not in message:
            problems.append(f"trial {trial}: the 409 does not name the revision: {message}")
        events = [e.event for e in c.gov.timeline(cid)]
        if events.count("apply") != 1 or "conflict" in events:
            problems.append(f"trial {trial}: timeline {events}")
    assert not problems, f"{len(problems)} of {TRIALS} trials inconsistent:\n" + "\n".join(
        problems[:10]
    )
