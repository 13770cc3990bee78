"""BI hover cards in real Chromium: a dashboard page on another local origin loads /embed.js;
hovering the ❓ shows the metric card when that origin is listed in KPIGRAPH_EMBED_ORIGINS, and
the browser refuses to frame it when the origin is not listed."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.base import GraphStore
from tests.governance_helpers import free_port
from tests.helpers import demo_store

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def dashboard(kpigraph: str) -> Iterator[str]:
    """A BI dashboard page on its own origin (another port), embedding /embed.js."""
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>门店经营看板</title></head>
<body style="font-family:sans-serif;padding:30px">
<h1>门店经营看板</h1>
<p style="font-size:20px">本月客单价 1,250 元
<span id="q" data-kpigraph-metric="客单价">❓</span></p>
<script src="{kpigraph}/embed.js"></script></body></html>""".encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_hover_card_from_a_listed_origin_and_refused_from_another(
    page: Any,
    serve: Callable[[GraphStore], str],
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = serve(demo_store())
    with dashboard(base) as listed, dashboard(base) as unlisted:
        monkeypatch.setenv("KPIGRAPH_EMBED_ORIGINS", f"{listed}, https://bi.example.com")
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))

        page.goto(listed)
        page.hover("#q")
        card = page.frame_locator("#kpigraph-hovercard").locator("#kpigraph-card")
        card.locator("h1").wait_for()
        assert card.locator("h1").inner_text().startswith("客单价")
        assert "单个客户单次进厂消费的平均金额" in card.inner_text()
        assert "营收 / 进厂台次" in card.inner_text()
        page.screenshot(path=str(artifacts / "embed-hover-card.png"))

        page.goto(unlisted)
        page.hover("#q")
        page.wait_for_selector("#kpigraph-hovercard", state="visible")
        page.wait_for_timeout(1500)
        refused = page.frame_locator("#kpigraph-hovercard").locator("#kpigraph-card")
        assert refused.count() == 0
        assert any("frame-ancestors" in line for line in console), console
        page.screenshot(path=str(artifacts / "embed-refused.png"))

    # the pages themselves: only the card may be framed from elsewhere
    card_headers = httpx.get(f"{base}/embed/metrics/atp").headers
    assert card_headers["content-security-policy"] == (
        f"frame-ancestors 'self' {listed} https://bi.example.com"
    )
    assert "x-frame-options" not in card_headers
    page_headers = httpx.get(f"{base}/metrics/atp").headers
    assert page_headers["content-security-policy"] == "frame-ancestors 'self'"
    assert page_headers["x-frame-options"] == "SAMEORIGIN"
    public = "http://127.0.0.1:8000"  # KPIGRAPH_BASE_URL's default: the URLs people share
    oembed = httpx.get(f"{base}/oembed", params={"url": f"{public}/metrics/atp"}).json()
    assert oembed["type"] == "rich" and f"{public}/embed/metrics/atp" in oembed["html"]
    assert httpx.get(f"{base}/oembed", params={"url": "http://evil/metrics/atp"}).status_code == 404
