"""/docs renders Swagger UI in Chromium with every request outside this server refused: its
assets are served locally (issue #12, item 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from store.base import GraphStore
from tests.helpers import demo_store


def test_docs_render_offline(
    page: Any, serve: Callable[[GraphStore], str], artifacts: Path
) -> None:
    base = serve(demo_store())
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(f"{base}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    page.screenshot(path=str(artifacts / "docs-offline.png"))
    assert outside == []
