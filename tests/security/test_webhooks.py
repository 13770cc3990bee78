"""Webhooks stay outside (issue 21 item 6): a department's ``notify`` URL is written by whoever
edits the catalog or proposes a change, and the server POSTs to it.

On the landed code: any ``http(s)`` URL validated (``169.254.169.254``, ``[::1]:22``, URLs with
credentials); a 302 was followed to another host (a loopback "internal-admin" got the POSTs);
a 302 to ``ftp://`` raised ``TypeError`` in ``Deliverer.send``, the item stayed ``pending`` for
ever and the items claimed with it were never tried. Receivers here are real HTTP servers.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from governance.notify import Deliverer, outbox_items
from graph_schema.errors import CatalogError
from graph_schema.governance import Action, ChangeEvent, ChangeRequest, OutboxStatus, now_iso
from graph_schema.models import Department
from graph_schema.webhook_policy import ALLOW_ENV, WebhookRefused, check_url, parse_allow
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import Ledger, ledger_for
from tests.governance_helpers import free_port
from tests.helpers import DEMO

#: the refusals in English (in zh: tests/unit/test_i18n_errors.py and the commands' tests)
pytestmark = pytest.mark.usefixtures("english")

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:22/", "loopback"),
    ("http://127.0.0.1:8000/api/changes", "loopback"),
    ("http://localhost:8000/", "loopback name"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://100.64.0.1/", "not globally routable"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00::1]/", "private"),
    ("http://[::ffff:127.0.0.1]/", "IPv4 127.0.0.1 inside IPv6"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4 169.254.169.254 inside IPv6"),
    ("http://[64:ff9b::a9fe:a9fe]/", "IPv4 169.254.169.254 inside IPv6"),
    ("http://[2002:7f00:1::]/", "IPv4 127.0.0.1 inside IPv6"),
    ("http://0x7f.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("https://user:secret@hooks.example.com/x", "user name or password"),
    ("https://token@hooks.example.com/x", "user name or password"),
    ("ftp://hooks.example.com/x", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://hooks.example.com/", "scheme 'gopher'"),
    ("http://hooks.example.com\r\nX: y/", "control characters"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_notify_urls_to_inside_addresses_are_refused_at_validation(url: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Department.model_validate({"id": "ops", "name": "运营部", "notify": [{"url": url}]})
    error = caught.value.errors()[0]
    assert error["loc"] == ("notify", 0, "url")
    assert reason in error["msg"]


def test_public_urls_validate() -> None:
    node = Department.model_validate(
        {
            "id": "ops",
            "name": "运营部",
            "notify": [
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
                {"url": "https://hooks.slack.com/services/T/B/x", "format": "slack"},
                "http://8.8.8.8:8080/hook",
                "http://[2606:4700:4700::1111]/hook",
            ],
        }
    )
    assert len(node.notify) == 4


def test_allow_list_admits_hosts_ports_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    allow = parse_allow("127.0.0.1:8080, hooks.lan, 10.0.0.0/8, [::1]:9000")
    check_url("http://127.0.0.1:8080/x", allow)
    check_url("http://hooks.lan/x", allow)
    check_url("http://10.20.30.40:1234/", allow)
    check_url("http://[::1]:9000/", allow)
    for url in ("http://127.0.0.1:8081/x", "http://[::1]:9001/", "http://192.168.1.1/"):
        with pytest.raises(WebhookRefused):
            check_url(url, allow)
    with pytest.raises(WebhookRefused, match="user name or password"):
        check_url("http://u:p@127.0.0.1:8080/x", allow)  # never, even when listed
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1:8080")
    Department.model_validate({"id": "d", "name": "d", "notify": "http://127.0.0.1:8080/x"})


def test_a_catalog_with_an_inside_webhook_does_not_load(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(DEMO, catalog)
    departments = catalog / "departments.yaml"
    text = departments.read_text(encoding="utf-8")
    text = text.replace(
        "- {id: finance, name: 财务部,",
        "- {id: finance, notify: 'http://169.254.169.254/latest/meta-data/', name: 财务部,",
    )
    assert "169.254" in text
    departments.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog)
    shown = str(caught.value)
    assert "departments.yaml:2" in shown and "notify" in shown
    assert "link-local" in shown and ALLOW_ENV in shown


# -- delivery ------------------------------------------------------------------------------------


class Hits:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def add(self, method: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, path))


@contextlib.contextmanager
def server(status: int, location: str | None = None) -> Iterator[tuple[int, Hits]]:
    """A real HTTP server on 127.0.0.1 answering every request with ``status``."""
    hits, port = Hits(), free_port()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            hits.add(self.command, self.path)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield port, hits
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    yield ledger_for(store)
    store.close()


def queue(ledger: Ledger, urls: list[str]) -> None:
    """One change request event with an outbox item per URL (as a submit writes them)."""
    at = now_iso()
    change = ChangeRequest(
        id=ledger.next_change_id(),
        action=Action.UPDATE,
        ref="metric:atp",
        reason="test",
        requester="zhang",
        created_at=at,
        updated_at=at,
        seq=1,
    )
    event = ChangeEvent(
        change_id=change.id, seq=1, at=at, actor="zhang", event="submit", to_status="submitted"
    )
    items = outbox_items(change, 1, "submit", [(u, "json") for u in urls], "zhang", None, "x")
    assert ledger.commit_change(change, None, event, items)


def by_url(ledger: Ledger) -> dict[str, Any]:
    return {i.url: i for i in ledger.outbox()}


def allow(monkeypatch: pytest.MonkeyPatch, *ports: int) -> None:
    monkeypatch.setenv(ALLOW_ENV, ",".join(f"127.0.0.1:{p}" for p in ports))


def test_redirects_are_not_followed_to_an_internal_service(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server(200) as (admin_port, admin), server(200) as (ok_port, ok):
        internal = f"http://127.0.0.1:{admin_port}/admin/delete-everything"
        with server(302, internal) as (hop_port, hop), server(307, internal) as (hop2_port, _):
            allow(monkeypatch, hop_port, hop2_port, ok_port)  # the internal admin is not listed
            queue(
                ledger,
                [
                    f"http://127.0.0.1:{hop_port}/hook",
                    f"http://127.0.0.1:{hop2_port}/hook",
                    f"http://127.0.0.1:{ok_port}/hook",
                ],
            )
            deliverer = Deliverer(ledger, base=60.0, timeout=3)
            for _ in range(3):
                deliverer.deliver_due()
            items = by_url(ledger)
    assert admin.requests == []  # the "internal-admin" never heard of us
    assert hop.requests == [("POST", "/hook")]  # tried once, then backed off
    assert ok.requests == [("POST", "/hook")]
    redirected = items[f"http://127.0.0.1:{hop_port}/hook"]
    assert redirected.status is OutboxStatus.PENDING and redirected.attempts == 1
    assert "302 redirect" in (redirected.last_error or "") and "not followed" in (
        redirected.last_error or ""
    )
    assert redirected.next_at > now_iso()  # backed off
    assert "307 redirect" in (items[f"http://127.0.0.1:{hop2_port}/hook"].last_error or "")
    assert items[f"http://127.0.0.1:{ok_port}/hook"].status is OutboxStatus.DELIVERED


def test_a_redirect_to_ftp_is_a_failed_attempt_and_never_stalls_the_batch(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server(302, "ftp://127.0.0.1/x") as (ftp_port, _), server(200) as (ok_port, ok):
        allow(monkeypatch, ftp_port, ok_port)
        urls = [f"http://127.0.0.1:{ftp_port}/a", f"http://127.0.0.1:{ok_port}/b"]
        queue(ledger, urls)
        deliverer = Deliverer(ledger, max_attempts=2, base=0.0, timeout=3)
        assert deliverer.deliver_due() == 1
        assert deliverer.deliver_due() == 0
        items = by_url(ledger)
    assert ok.requests == [("POST", "/b")]
    assert items[urls[1]].status is OutboxStatus.DELIVERED
    bad = items[urls[0]]
    assert bad.status is OutboxStatus.FAILED and bad.attempts == 2  # not pending for ever
    assert "ftp://" in (bad.last_error or "")


def test_any_exception_while_sending_is_a_failed_attempt(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server(200) as (ok_port, ok):
        allow(monkeypatch, ok_port)
        urls = [f"http://127.0.0.1:{ok_port}/first", f"http://127.0.0.1:{ok_port}/second"]
        queue(ledger, urls)
        deliverer = Deliverer(ledger, base=60.0, timeout=3)
        real = deliverer.send

        def flaky(item: Any) -> None:
            if item.url.endswith("/first"):
                raise TypeError("'<=' not supported between instances of 'int' and 'NoneType'")
            real(item)

        monkeypatch.setattr(deliverer, "send", flaky)
        assert deliverer.deliver_due() == 1
        items = by_url(ledger)
    assert ok.requests == [("POST", "/second")]
    first = items[urls[0]]
    assert first.status is OutboxStatus.PENDING and first.attempts == 1
    assert (first.last_error or "").startswith("TypeError")


def test_delivery_rechecks_addresses_and_never_connects_inside(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL stored before the rules (or a name that now resolves inside) is checked again at
    delivery: resolved, every address checked, and nothing is sent."""
    with server(200) as (inside_port, inside):
        monkeypatch.delenv(ALLOW_ENV, raising=False)
        # written straight into the outbox: validation never saw these
        urls = [
            f"http://127.0.0.1:{inside_port}/x",
            f"http://localhost:{inside_port}/y",
            f"http://[::ffff:127.0.0.1]:{inside_port}/z",
        ]
        queue(ledger, urls)
        # a public-looking name that resolves to loopback (as DNS rebinding would make it)
        import socket

        real = socket.getaddrinfo

        def rebound(host: str, *args: Any, **kwargs: Any) -> Any:
            if host == "hooks.example.com":
                return real("127.0.0.1", *args, **kwargs)
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebound)
        queue(ledger, [f"http://hooks.example.com:{inside_port}/rebound"])
        Deliverer(ledger, base=60.0, timeout=3).deliver_due()
        items = ledger.outbox()
    assert inside.requests == []
    assert len(items) == 4
    for item in items:
        assert item.attempts == 1 and "public addresses only" in (item.last_error or "")
