"""Shared pieces of the governance tests: users of every role, a catalog whose departments
have webhooks, and a real local HTTP receiver (not a mock) for notifications."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from governance.changes import Governance
from governance.users import add_user
from graph_schema.governance import Action, ChangeRequest, User
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import Department
from store.base import GraphStore
from store.ledger import Ledger, ledger_for

PEOPLE = [
    ("zhang", "editor", None),
    ("li", "owner", "ops"),
    ("qian", "owner", "finance"),
    ("wang", "committee", None),
    ("zhao", "committee", None),
    ("root", "admin", None),
    ("guest", "viewer", None),
]


def fresh_ledger(store: GraphStore) -> Ledger:
    """The store's ledger, emptied (the Neo4j test database is shared by tests)."""
    ledger = ledger_for(store)
    clear = getattr(ledger, "clear", None)
    if clear is not None:
        clear()
    return ledger


def make_people(ledger: Ledger) -> tuple[dict[str, User], dict[str, str]]:
    users, tokens = {}, {}
    for name, role, dept in PEOPLE:
        user, token = add_user(ledger, name, role, dept)
        users[name], tokens[name] = user, token
    return users, tokens


def with_webhooks(graph: CatalogGraph, urls: dict[str, list[dict[str, str]]]) -> CatalogGraph:
    """``graph`` with ``notify:`` targets on the named departments."""
    nodes = []
    for node in graph.nodes:
        if isinstance(node, Department) and node.id in urls:
            node = Department.model_validate({**node.props(), "notify": urls[node.id]})
        nodes.append(node)
    return CatalogGraph(name=graph.name, nodes=tuple(nodes), edges=graph.edges, meta=graph.meta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 recording every POSTed JSON body by path."""

    port: int
    received: list[tuple[str, Any]] = field(default_factory=list)
    fail: bool = False
    hold: threading.Event | None = None  # when set: each POST waits for it (up to 60 s)
    entered: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[Any]:
        return [b for p, b in self.received if p == path]


def allow_webhook(host_port: str) -> None:
    """Let notifications reach ``host_port`` (webhooks go to public addresses only unless
    ``KPIGRAPH_WEBHOOK_ALLOW`` lists them); kept for the session — test ports are unique."""
    listed = [e for e in os.environ.get("KPIGRAPH_WEBHOOK_ALLOW", "").split(",") if e]
    if host_port not in listed:
        os.environ["KPIGRAPH_WEBHOOK_ALLOW"] = ",".join([*listed, host_port])


@contextlib.contextmanager
def receiver(port: int | None = None) -> Iterator[Receiver]:
    rec = Receiver(port or free_port())
    allow_webhook(f"127.0.0.1:{rec.port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            rec.entered.set()
            if rec.hold is not None:
                rec.hold.wait(60)
            if rec.fail:
                self.send_response(500)
            else:
                rec.received.append((self.path, body))
                self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", rec.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free loopback port; yields its base URL."""
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class GovernedMetric:
    """A catalog published into a store, an emptied ledger with the :data:`PEOPLE`, and one
    metric, ``ref``, as stored (``props``); see the ``governed_atp`` fixture of the security
    tests."""

    store: GraphStore
    ledger: Ledger
    users: dict[str, User]
    gov: Governance
    ref: NodeRef
    props: dict[str, Any]

    def approved(self, definition: dict[str, Any]) -> ChangeRequest:
        """``definition`` submitted by zhang as an update of ``ref`` and approved by li, qian
        and wang."""
        change = self.gov.submit(
            self.users["zhang"], Action.UPDATE, self.ref, definition, self.props["version"], "r"
        )
        for name in ("li", "qian", "wang"):
            change = self.gov.approve(self.users[name], change.id, "ok")
        return change
