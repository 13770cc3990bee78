"""The interactive lineage graph: pyvis builds the network, our template renders it.

pyvis's own page template links Bootstrap from a CDN even in ``in_line`` mode and switches
tooltips to ``innerHTML`` when a title contains ``href``; so the network is built with pyvis
(nodes, edges, options) and rendered by :mod:`viz.pages` into a self-contained, autoescaped
page with vis-network inlined. Titles stay plain strings, which vis-network 9 shows as text.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvis
from pyvis.network import Network

from analysis.results import LineageResult
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Metric
from graph_schema.relations import Relation
from viz.style import EDGE_STYLE, KIND_STYLE, LEVEL_COLORS, NEGATIVE_CAUSE_COLOR, node_url

#: Above this many nodes physics is switched off so the tab never churns.
PHYSICS_MAX_NODES = 150
DEFAULT_MAX_NODES = 300
HARD_MAX_NODES = 2000
FOCUS_COLOR = "#ffd166"


@dataclass(frozen=True)
class GraphView:
    """Everything the graph page needs, already gathered by the caller."""

    lineage: LineageResult
    nodes: Mapping[str, BaseNode]  # ref -> node, the focus included
    department_names: Mapping[str, str] = field(default_factory=dict)  # dept id -> name
    hidden: int = 0  # nodes cut by the node cap
    relations: str | None = None  # the relations filter as given, for re-centring links


def tooltip(node: BaseNode, department_names: Mapping[str, str]) -> str:
    """Plain-text tooltip: name, ref, level, owner, formula."""
    lines = [f"{node.name}  ({node.ref})"]
    if isinstance(node, Metric):
        if node.level:
            lines.append(f"级别 level: {node.level.value}")
        if node.owner:
            lines.append(f"负责 owner: {department_names.get(node.owner, node.owner)}")
        if node.formula:
            lines.append(f"公式 formula: {node.formula}")
        if node.definition:
            lines.append(node.definition[:140])
    else:
        description = getattr(node, "description", None)
        if description:
            lines.append(str(description)[:140])
    return "\n".join(lines)


def build_network(view: GraphView) -> Network:
    """The pyvis network: left-to-right levels (upstream left), styles per kind and relation."""
    net = Network(height="100%", width="100%", directed=True, cdn_resources="in_line")
    lineage = view.lineage
    focus = lineage.root
    placed: dict[str, int] = {focus: 0}
    for n in lineage.nodes:
        placed[n.ref] = -n.depth if n.side in ("upstream", "both") else n.depth
    shift = -min(placed.values())
    big = len(placed) > PHYSICS_MAX_NODES
    positions = precomputed_positions(placed, view.nodes) if big else {}
    for ref, level in placed.items():
        node = view.nodes[ref]
        style = KIND_STYLE[node.kind]
        color = style["color"]
        if isinstance(node, Metric):
            color = LEVEL_COLORS.get(node.level.value if node.level else None, color)
        options: dict[str, Any] = {
            "shape": style["shape"],
            "title": tooltip(node, view.department_names),
            "level": level + shift,
            "kind": node.kind.value,
            "url": node_url(ref),
            "font": {"size": 16 if ref == focus else 13},
        }
        if big:
            options["x"], options["y"] = positions[ref]
        if ref == focus:
            options.update(borderWidth=4, color={"background": FOCUS_COLOR, "border": "#073b4c"})
        else:
            options.update(color=color, borderWidth=1)
        net.add_node(ref, label=_label(node), **options)
    for e in lineage.edges:
        rel = Relation(e.type)
        style = EDGE_STYLE[rel]
        props = e.props or {}
        edge: dict[str, Any] = {
            "color": style["color"],
            "dashes": style["dashes"],
            "width": style["width"],
            "title": _edge_title(rel, props),
            "arrows": "to",
            "relation": rel.value,
        }
        if rel is Relation.CAUSES:
            negative = props.get("polarity") == "-"
            edge["label"] = "−" if negative else "+"
            edge["font"] = {
                "size": 14,
                "color": NEGATIVE_CAUSE_COLOR if negative else style["color"],
            }
            if negative:
                edge["color"] = NEGATIVE_CAUSE_COLOR
        net.add_edge(e.source, e.target, **edge)
    net.set_options(json.dumps(network_options(len(placed))))
    return net


LEVEL_SEPARATION = 240
ROW_SPACING = 44


def precomputed_positions(
    placed: Mapping[str, int], nodes: Mapping[str, BaseNode]
) -> dict[str, tuple[int, int]]:
    """Columns by level (upstream left), rows by kind then ref, centred on the focus row.

    Used past the physics threshold: vis-network's own hierarchical layout is quadratic in the
    nodes of a level, so big neighbourhoods get their coordinates from here and are only drawn.
    """
    columns: dict[int, list[str]] = {}
    for ref, level in placed.items():
        columns.setdefault(level, []).append(ref)
    out: dict[str, tuple[int, int]] = {}
    for level, refs in columns.items():
        refs.sort(key=lambda r: (nodes[r].kind.value, r))
        top = -(len(refs) - 1) * ROW_SPACING // 2
        for row, ref in enumerate(refs):
            out[ref] = (level * LEVEL_SEPARATION, top + row * ROW_SPACING)
    return out


def network_options(node_count: int) -> dict[str, Any]:
    physics = node_count <= PHYSICS_MAX_NODES
    return {
        "layout": {
            "hierarchical": {
                "enabled": physics,
                "direction": "LR",
                "levelSeparation": LEVEL_SEPARATION,
                "nodeSpacing": 60 if node_count > 60 else 90,
                "treeSpacing": 80,
                "sortMethod": "directed",
            }
        },
        "physics": {
            "enabled": physics,
            "hierarchicalRepulsion": {"nodeDistance": 120, "avoidOverlap": 0.6},
            "stabilization": {"enabled": physics, "iterations": 150, "fit": True},
            "solver": "hierarchicalRepulsion",
        },
        "interaction": {
            "hover": True,
            "tooltipDelay": 150,
            "navigationButtons": False,
            "keyboard": False,
            "hideEdgesOnDrag": node_count > PHYSICS_MAX_NODES,
        },
        "edges": {
            "smooth": {
                "enabled": node_count <= PHYSICS_MAX_NODES,
                "type": "cubicBezier",
                "forceDirection": "horizontal",
            }
        },
        "nodes": {"margin": 8, "widthConstraint": {"maximum": 180}},
    }


def network_data(view: GraphView) -> dict[str, Any]:
    """Nodes, edges and options as plain JSON for the page."""
    net = build_network(view)
    nodes, edges, _heading, _height, _width, options = net.get_network_data()
    return {"nodes": nodes, "edges": edges, "options": json.loads(options)}


def _label(node: BaseNode) -> str:
    name = node.name if len(node.name) <= 24 else node.name[:23] + "…"
    if node.kind is NodeKind.FIELD:
        return f"{name}\n{node.id.rsplit('.', 1)[-1]}"
    if isinstance(node, Metric) and node.level:
        return f"{name}\n{node.level.value}"
    return name


def _edge_title(rel: Relation, props: Mapping[str, Any]) -> str:
    parts = [EDGE_STYLE[rel]["label"]]
    for key in ("role", "polarity", "lag", "evidence"):
        if props.get(key):
            parts.append(f"{key}: {props[key]}")
    return "\n".join(parts)


@functools.cache
def vis_assets() -> tuple[str, str]:
    """vis-network's JS and CSS as shipped inside the installed pyvis package."""
    lib = Path(pyvis.__file__).parent / "templates" / "lib" / "vis-9.1.2"
    js = (lib / "vis-network.min.js").read_text(encoding="utf-8")
    css = (lib / "vis-network.css").read_text(encoding="utf-8")
    return js, css


@functools.cache
def inline_vis_assets() -> tuple[str, str]:
    """The assets for inlining: never let the code close its own ``<script>``/``<style>``."""
    js, css = vis_assets()
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style")


@functools.cache
def vis_asset_files() -> dict[str, tuple[str, str]]:
    """Served asset name -> (media type, content). Names carry a content hash, so a browser
    may cache them forever and a new pyvis version gets new names."""
    js, css = vis_assets()
    out: dict[str, tuple[str, str]] = {}
    for content, suffix, media in ((js, "js", "text/javascript"), (css, "css", "text/css")):
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]
        out[f"vis-network.{digest}.{suffix}"] = (f"{media}; charset=utf-8", content)
    return out
