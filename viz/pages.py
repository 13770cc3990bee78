"""Server-rendered pages (Jinja2, autoescape on). Every value shown is escaped; graph data is
embedded as JSON in a ``<script type="application/json">`` block via ``tojson``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from graph_schema.ids import NodeKind
from viz.graph_view import GraphView, inline_vis_assets, network_data, vis_asset_files
from viz.style import EDGE_STYLE, KIND_STYLE, LEVEL_COLORS, node_url

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_page(template: str, **context: Any) -> str:
    """Render one of ``viz/templates`` with ``context`` (all values escaped)."""
    return environment().get_template(template).render(**context)


def _legend_nodes() -> list[dict[str, str]]:
    items = [
        {"label": f"指标 {level}", "color": color}
        for level, color in LEVEL_COLORS.items()
        if level is not None
    ]
    for kind in (NodeKind.FIELD, NodeKind.TABLE, NodeKind.SYSTEM, NodeKind.DASHBOARD):
        items.append({"label": KIND_STYLE[kind]["label"], "color": KIND_STYLE[kind]["color"]})
    items.append({"label": "当前焦点 focus", "color": "#ffd166"})
    return items


def _legend_edges(types: set[str]) -> list[dict[str, str]]:
    out = []
    for rel, style in EDGE_STYLE.items():
        if types and rel.value not in types:
            continue
        dashes = style["dashes"]
        line = "solid" if not dashes else ("dotted" if dashes[0] <= 2 else "dashed")
        out.append({"label": style["label"], "color": style["color"], "style": line})
    return out


def render_graph_page(
    view: GraphView,
    *,
    embed: bool = False,
    static: bool = False,
) -> str:
    """The graph page. ``static`` makes a self-contained export that works from ``file://``
    (clicks show details instead of navigating); ``embed`` hides the chrome for iframes."""
    lineage = view.lineage
    data = network_data(view)
    data["nav"] = {
        "direction": lineage.direction.value,
        "depth": lineage.depth,
        "relations": view.relations or "",
        "embed": embed,
        "static": static,
    }
    if static:  # one file that works offline
        js, css = inline_vis_assets()
        assets: dict[str, Any] = {"vis_js": Markup(js), "vis_css": Markup(css)}
    else:  # served once, then from the browser's cache (and its compiled-code cache)
        names = sorted(vis_asset_files())
        assets = {
            "vis_js_url": "/assets/" + next(n for n in names if n.endswith(".js")),
            "vis_css_url": "/assets/" + next(n for n in names if n.endswith(".css")),
        }
    focus = view.nodes[lineage.root]
    return render_page(
        "graph.html",
        data=data,
        **assets,
        focus=lineage.root,
        focus_name=focus.name,
        focus_url=node_url(lineage.root),
        direction=lineage.direction.value,
        depth=lineage.depth,
        relations=view.relations,
        shown=len(lineage.nodes) + 1,
        edge_count=len(lineage.edges),
        hidden=view.hidden,
        legend_nodes=_legend_nodes(),
        legend_edges=_legend_edges({e.type for e in lineage.edges}),
        embed=embed,
        static=static,
    )
