"""Render time and page weight of the graph view at N nodes, in real headless Chromium.

usage: python -m benchmarks.graph_render [--sizes 100,500,2000] [--repeats 3]

Builds a synthetic neighbourhood (a field feeding N-1 metrics with formula links among them),
serves it with uvicorn on loopback, and times navigation → the page's ``ready`` flag (the map
drawn). Every load is a new browser context (nothing cached). Reports the median per size and
its split from the page's Navigation Timing: the server (navigation → first byte of the
page: lineage, layout, HTML) and the browser (end of the response → drawn: parsing, scripts,
drawing).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from graph_schema.models import BaseNode, Edge, FieldNode, Metric, System, Table
from graph_schema.relations import Relation
from neo4j_local.launcher import free_port
from store.embedded import EmbeddedStore

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Navigation Timing of the page: first byte, end of the response, drawn (the page's own mark,
#: else now — pages from before the mark existed).
TIMELINE = """() => {
  const t = performance.getEntriesByType('navigation')[0];
  const ready = performance.getEntriesByName('kpigraph-ready')[0];
  return [t.responseStart, t.responseEnd, ready ? ready.startTime : performance.now()];
}"""


def neighbourhood(n: int) -> CatalogGraph:
    system = System(id="s", name="系统")
    table = Table(id="s.t", name="表", system="s")
    field = FieldNode(id="s.t.hot", name="热点字段", table="s.t")
    nodes: list[BaseNode] = [system, table, field]
    edges = [
        Edge(source=system.ref, target=table.ref, type=Relation.HAS_TABLE),
        Edge(source=table.ref, target=field.ref, type=Relation.HAS_FIELD),
    ]
    for i in range(n - 1):
        m = Metric(id=f"m{i}", name=f"指标{i}", level=["L1", "L2", "L3"][i % 3], formula=None)
        nodes.append(m)
        edges.append(Edge(source=field.ref, target=m.ref, type=Relation.FEEDS))
        if i % 4 and i > 1:
            edges.append(
                Edge(
                    source=nodes[-2].ref,
                    target=m.ref,
                    type=Relation.CAUSES,
                    props={"polarity": "+"},
                )
            )
    return CatalogGraph(name=f"render-{n}", nodes=tuple(nodes), edges=tuple(edges))


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for n in (int(s) for s in args.sizes.split(",")):
            store = EmbeddedStore(Path(tempfile.mkdtemp()) / "r.sqlite")
            store.load(neighbourhood(n))
            port = free_port()
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(Settings(), store=store),
                    host="127.0.0.1",
                    port=port,
                    log_level="warning",
                )
            )
            threading.Thread(target=server.run, daemon=True).start()
            while not server.started:
                time.sleep(0.05)
            url = (
                f"http://127.0.0.1:{port}/view/graph?focus=Field:s.t.hot&direction=downstream"
                f"&depth=1&max_nodes={n}"
            )
            weight = len(httpx.get(url, timeout=60).content)
            times, server_ms, browser_ms = [], [], []
            for _ in range(args.repeats):
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                started = time.perf_counter()
                page.goto(url)
                page.wait_for_function(
                    "window.kpigraph && window.kpigraph.ready === true", timeout=120_000
                )
                times.append(time.perf_counter() - started)
                first_byte, response_end, ready = page.evaluate(TIMELINE)
                server_ms.append(first_byte)
                browser_ms.append(ready - response_end)
                drawn = page.evaluate("window.kpigraph.nodes.length")
                page.close()
            server.should_exit = True
            print(
                f"{n:5d} nodes ({drawn} drawn): render {statistics.median(times) * 1000:.0f} ms "
                f"median of {args.repeats} (server {statistics.median(server_ms):.0f} ms to "
                f"first byte, browser {statistics.median(browser_ms):.0f} ms after the "
                f"response), page {weight / 1024:.0f} KB",
                flush=True,
            )
        browser.close()


if __name__ == "__main__":
    main()
