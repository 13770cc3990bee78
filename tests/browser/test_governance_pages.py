"""The change workflow in real headless Chromium, as the committee would use it: sign in with a
token, propose from a prefilled form, approve at each stage, apply; hostile text stays text;
a cross-site form post is refused."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>口径调整"


@pytest.fixture
def gov_site(
    tmp_path: Path, demo_graph: CatalogGraph, serve: Callable[[GraphStore], str]
) -> tuple[str, dict[str, str], EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "gov.sqlite")
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    return serve(store), tokens, store


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_load_state()
    assert page.locator("#whoami").count() == 1


def sign_out(page: Any) -> None:
    page.click("nav.govnav button.link")
    page.wait_for_load_state()


def test_committee_cycle_in_chromium(gov_site: Any, page: Any, artifacts: Path) -> None:
    base, tokens, store = gov_site
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, base, tokens["zhang"])
    page.goto(f"{base}/metrics/atp")
    page.click("#propose-change")  # from the metric card
    page.wait_for_load_state()
    page.click("#view-yaml")  # the expert's view of the structured form
    page.wait_for_function("!document.getElementById('yaml-pane').classList.contains('hidden')")
    text = page.input_value("#definition")
    assert "formula: revenue / visits" in text  # prefilled with the current definition
    page.fill(
        "#definition", text.replace("formula: revenue / visits", "formula: revenue / visits * 1")
    )
    page.fill("#reason", HOSTILE)
    page.click("#submit")
    page.wait_for_load_state()
    assert "/changes/1" in page.url
    assert page.locator("#reason").text_content() == HOSTILE  # shown as text
    assert page.locator("#reason img, #reason script").count() == 0
    page.screenshot(path=str(artifacts / "gov-change-submitted.png"), full_page=True)
    sign_out(page)

    for name in ("li", "qian", "wang"):
        sign_in(page, base, tokens[name])
        page.goto(f"{base}/changes")
        assert page.locator("#mine a", has_text="#1").count() == 1  # waiting for me
        page.goto(f"{base}/changes/1")
        page.fill("#act textarea", f"{name} 同意")
        page.click("#approve")
        page.wait_for_load_state()
        sign_out(page)

    sign_in(page, base, tokens["root"])
    page.goto(f"{base}/changes/1")
    assert "已批准" in page.locator("#status").text_content()
    page.click("#apply")
    page.wait_for_load_state()
    assert "已发布" in page.locator("#status").text_content()
    rows = page.locator("#timeline tr")
    assert rows.count() == 5
    page.screenshot(path=str(artifacts / "gov-change-applied.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "gov-change-print.png"), full_page=True)
    page.emulate_media(media="screen")

    page.goto(f"{base}/metrics/atp/discussion")
    page.fill("#ask", HOSTILE)
    page.click("#ask-submit")
    page.wait_for_load_state()
    assert page.locator("#questions .body").first.text_content() == HOSTILE
    page.goto(f"{base}/changes")
    page.screenshot(path=str(artifacts / "gov-changes-queue.png"), full_page=True)
    page.goto(f"{base}/stats")
    page.screenshot(path=str(artifacts / "gov-stats.png"), full_page=True)
    assert dialogs == []  # no script ran
    node = store.get_nodes([__import__("graph_schema.ids").ids.NodeRef.parse("atp")])
    assert next(iter(node.values())).version == "2.0.0"  # type: ignore[attr-defined]


@pytest.fixture
def evil_site() -> Iterator[Callable[[str], str]]:
    """Another site (``localhost`` vs the app's ``127.0.0.1``) serving an auto-submitting form."""
    servers: list[http.server.HTTPServer] = []

    def start(target: str) -> str:
        html = (
            f'<form id="f" method="post" action="{target}">'
            '<input name="action" value="approve"><input name="csrf" value="guess"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: Any) -> None:
                pass

        port = free_port()
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{port}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_cross_site_form_post_is_refused(
    gov_site: Any, page: Any, evil_site: Callable[[str], str], artifacts: Path
) -> None:
    base, tokens, _store = gov_site
    import json
    import urllib.request

    def call(path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    metric = json.loads(urllib.request.urlopen(f"{base}/api/metrics/atp").read())["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["unit"] = "元"
    change = call(
        "/api/changes",
        tokens["zhang"],
        {"ref": "Metric:atp", "definition": definition, "reason": "unit"},
    )
    sign_in(page, base, tokens["li"])  # li may approve: the attacker wants li's approval
    page.goto(evil_site(f"{base}/changes/{change['id']}/act"))
    page.wait_for_load_state()
    page.screenshot(path=str(artifacts / "gov-csrf-refused.png"))
    assert page.url.startswith(base)  # the form was posted to the app ...
    body = page.content()
    assert "401" in body or "403" in body  # ... and refused
    after = json.loads(urllib.request.urlopen(f"{base}/api/changes/{change['id']}").read())
    assert after["approvals"] == [] and after["status"] == "submitted"
