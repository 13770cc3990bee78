"""The interactive relationship map: a layered drawing computed here, drawn by vis-network.

The positions come from :mod:`viz.layout` (upstream left, every lineage edge pointing right,
edges routed between nodes) over what :mod:`viz.map_model` keeps (fields collapsed into
their tables, kind filters). The page (:mod:`viz.pages`) only scales the drawing to its
canvas. Maps of more than :data:`ROUTE_MAX_NODES` nodes are drawn by the page's own light
canvas renderer (``templates/_lightmap.html``) instead of vis-network, whose set-up costs
~0.3 ms a node. Tooltips (``tip``) are plain strings the page shows with ``textContent``;
served pages leave node tooltips out and fetch ``/api/nodes/{ref}/summary`` on hover.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyvis

from analysis.results import LineageResult
from core.i18n import _, ngettext
from graph_schema.errors import FormulaSyntaxError
from graph_schema.formula import parse_formula
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Metric
from graph_schema.relations import METRIC_RELATIONS, Relation, parse_kinds, parse_relations
from viz.geometry import (
    FONT_SIZE,
    GROUP_LABEL_PX,
    MAX_LABEL_PX,
    ROUNDNESS,
    ROW_PX,
    bend_room,
    box_height,
    column_positions,
    cross_route,
    heights_of,
    label_lines,
    label_width,
)
from viz.layout import layered_layout
from viz.map_model import MapEdge, MapNode, build_map, short_id
from viz.programme_words import ROLE_BORDER, programme_word
from viz.style import EDGE_STYLE, KIND_STYLE, LEVEL_COLORS, NEGATIVE_CAUSE_COLOR, node_url
from viz.tree import tree_layout

DEFAULT_MAX_NODES = 300
HARD_MAX_NODES = 2000
FOCUS_COLOR = "#ffd166"


@dataclass(frozen=True)
class GraphView:
    """Everything the graph page needs, already gathered by the caller."""

    lineage: LineageResult
    nodes: Mapping[str, BaseNode]  # ref -> node, the focus included
    department_names: Mapping[str, str] = field(default_factory=dict)  # dept id -> name
    #: metric id -> name, for the formulas of the tooltips (their inputs may be off the map)
    metric_names: Mapping[str, str] = field(default_factory=dict)
    hidden: int = 0  # nodes cut by the node cap
    relations: str | None = None  # the relations filter as given, for re-centring links


def tooltip(
    node: BaseNode,
    department_names: Mapping[str, str],
    metric_names: Mapping[str, str] | None = None,
) -> str:
    """Plain-text tooltip: name, ref, level, owner, formula (in names where
    ``metric_names`` knows them: 营收 / 进厂台次, not revenue / visits)."""
    lines = [f"{node.name}  ({node.ref})"]
    if isinstance(node, Metric):
        if node.level:
            lines.append(_("level: {level}", level=node.level.value))
        if node.role or node.horizon:
            shown = [programme_word(node.role), programme_word(node.horizon, "horizon")]
            lines.append(_("role: {role}", role=" · ".join(w for w in shown if w != "—")))
        if node.owner:
            lines.append(_("owner: {owner}", owner=department_names.get(node.owner, node.owner)))
        if node.formula:
            formula = formula_for_people(node.formula, metric_names or {})
            lines.append(_("formula: {formula}", formula=formula))
        if node.definition:
            lines.append(node.definition[:140])
    else:
        description = getattr(node, "description", None)
        if description:
            lines.append(str(description)[:140])
    return "\n".join(lines)


def formula_for_people(formula: str, metric_names: Mapping[str, str]) -> str:
    """``formula`` with metric names for ids (as written when it does not parse)."""
    try:
        return parse_formula(formula).with_names(metric_names)
    except FormulaSyntaxError:
        return formula


# -- the map -------------------------------------------------------------------------------

#: Up to this many nodes, edges are routed around nodes and drawn as curves, and labels are
#: kept at a readable size on load (bigger maps are shown whole).
ROUTE_MAX_NODES = 150
#: Relation priority for breaking cycles (dropped first: high) and for tree parents.
RELATION_RANK = {
    Relation.INPUT_TO: 0,
    Relation.FEEDS: 0,
    Relation.HAS_TABLE: 0,
    Relation.HAS_FIELD: 0,
    Relation.SHOWN_ON: 0,
    Relation.ROLLS_UP_TO: 1,
    Relation.OWNS: 1,
    Relation.REVIEWS: 1,
    Relation.SLICED_BY: 1,
    Relation.DRIVES: 2,
    Relation.CAUSES: 3,
}
MODES = ("map", "tree")


@dataclass(frozen=True)
class MapOptions:
    """How to draw: ``map`` (layered, everything) or ``tree`` (metric tree from the focus);
    node kinds kept (None: all) and groups expanded (refs, or ``*``)."""

    mode: str = "map"
    kinds: frozenset[NodeKind] | None = None
    expand: frozenset[str] = frozenset()


def network_data(
    view: GraphView, options: MapOptions | None = None, tips: bool = True
) -> dict[str, Any]:
    """Nodes (with positions), routing points, edges and vis options as plain JSON.

    ``tips=False`` leaves out the nodes' tooltips (the page fetches them on hover); a
    collapsed group's stays, it describes the map, not a node. Above
    :data:`ROUTE_MAX_NODES` nodes, every node carries its box size (``w``, ``h``) for the
    light renderer."""
    options = options or MapOptions()
    tree = options.mode == "tree"
    kinds = frozenset({NodeKind.METRIC}) if tree else options.kinds
    graph = build_map(view.lineage, view.nodes, kinds, options.expand, collapse=not tree)
    refs = list(graph.nodes)
    pairs = [(e.source, e.target) for e in graph.edges]
    rank = [RELATION_RANK[e.relation] for e in graph.edges]
    names = Counter(n.name for n in graph.nodes.values() if n.kind is NodeKind.FIELD)
    labels = {r: _label(graph.nodes[r], names[graph.nodes[r].name] > 1) for r in refs}
    caps = {r: GROUP_LABEL_PX if graph.nodes[r].is_group else MAX_LABEL_PX for r in refs}
    big = len(refs) > ROUTE_MAX_NODES
    if tree:
        lay = tree_layout(graph.focus, graph.side, pairs, rank)
    else:
        heights = {r: box_height(label_lines(labels[r], caps[r])) / ROW_PX for r in refs}
        room = {r: max(0.0, (label_width(labels[r], caps[r]) - 110) / 160) for r in refs}
        lay = layered_layout(
            refs, pairs, rank, heights, route=not big, sweeps=0 if big else 8, clearance=room
        )
    ref_of = {d: lay.copies.get(d, d) for d in lay.x if d not in lay.points}
    widths: dict[str, float] = {d: label_width(labels[r], caps[r]) for d, r in ref_of.items()}
    ellipses = {r for r in refs if KIND_STYLE[graph.nodes[r].kind]["shape"] == "ellipse"}
    for d, r in ref_of.items():  # an ellipse round a wrapped label is wider than its text
        if r in ellipses and label_lines(labels[r], caps[r]) > 2:
            widths[d] *= 1.25
    links = [p for chain in lay.routes.values() for p in pairwise(chain)]
    links += [(a, b) for _kind, a, b in lay.drawn]
    boxes = heights_of(ref_of, labels, caps, ellipses)
    bend = {} if big else bend_room(lay.x, lay.y, links, widths, boxes)
    xs = column_positions(lay.x, widths, bend)
    nodes = []
    for drawn, ref in ref_of.items():
        node = graph.nodes[ref]
        item = _vis_node(node, labels[ref], ref == graph.focus, view, tips)
        item.update(x=xs[lay.x[drawn]], y=round(lay.y[drawn] * ROW_PX, 1), column=lay.x[drawn])
        if big:
            item.update(w=round(widths[drawn]), h=round(boxes[drawn]))
        if drawn != ref:  # the same metric on both sides of the tree
            item.update(id=drawn, ref=ref)
        nodes.append(item)
    points = [
        {"id": p, "x": xs[lay.x[p]], "y": round(lay.y[p] * ROW_PX, 1)} for p in sorted(lay.points)
    ]
    drawn_y = {d: round(lay.y[d] * ROW_PX, 1) for d in lay.x if d not in lay.points}
    edges = []
    #: tree mode: the drawn pair of nodes for each pair of refs a tree edge joins
    twins: dict[frozenset[str], tuple[str, str]] = {}
    if tree:
        seen: set[int] = set()
        for i, source, target in lay.drawn:
            item = _vis_edge(graph.edges[i], i)
            if i in seen:  # drawn on both sides
                item["id"] += "#down"
            seen.add(i)
            item.update({"from": source, "to": target})
            edges.append(item)
            twins.setdefault(frozenset({ref_of[source], ref_of[target]}), (source, target))
    for i, e in enumerate(graph.edges):
        if tree and i not in lay.hidden:
            continue
        twin = twins.get(frozenset({e.source, e.target})) if tree else None
        if twin is not None:  # a second relation between two tree neighbours (营收 ≡ 进厂台次 ×
            # 客单价 DRIVES beside the formula): always drawn, bent aside so both show
            a, b = twin if ref_of[twin[0]] == e.source else (twin[1], twin[0])
            item = _vis_edge(e, i)
            item.update({"from": a, "to": b, "parallel": True})
            item["smooth"] = {"enabled": True, "type": "curvedCW", "roundness": 0.25}
            edges.append(item)
            continue
        item = _vis_edge(e, i)
        route = lay.routes.get(i, [])
        if len(route) > 2:
            item["route"] = route
        if i in lay.broken:
            item["broken"] = True  # closes a cycle: drawn right to left
        if tree:
            item["cross"] = True  # not a tree edge: shown on demand, around the nodes
            item["hidden"] = True
            ends = [item["from"], item["to"]]
            if not big and all(end in lay.x for end in ends):
                bends = cross_route(
                    ends[0], ends[1], lay.x, drawn_y, xs, widths, offset=6.0 * (i % 5)
                )
                ids = [f"\x00x{i}.{k}" for k in range(len(bends))]
                points += [{"id": p, "x": x, "y": y} for p, (x, y) in zip(ids, bends, strict=True)]
                item["route"] = [ends[0], *ids, ends[1]]
        edges.append(item)
    return {
        "nodes": nodes,
        "points": points,
        "edges": edges,
        "options": network_options(len(refs)),
        "layout": {
            "mode": options.mode,
            "renderer": "light" if big else "vis",
            "relations": {rel.value: _(style["label"]) for rel, style in EDGE_STYLE.items()},
            "readable": not big,
            "font": FONT_SIZE,
            "cross": sum(1 for e in edges if e.get("cross")),
        },
    }


def _vis_node(
    node: MapNode, label: str, focus: bool, view: GraphView, tips: bool
) -> dict[str, Any]:
    style = KIND_STYLE[node.kind]
    color: Any = style["color"]
    own = node.node
    if isinstance(own, Metric):
        color = LEVEL_COLORS.get(own.level.value if own.level else None, color)
    out: dict[str, Any] = {
        "id": node.ref,
        "label": label,
        "shape": style["shape"],
        "kind": node.kind.value,
        "url": node_url(node.ref),
    }
    if isinstance(own, Metric) and own.role is not None:
        out["role"] = own.role.value
    if node.is_group:
        out["tip"] = _group_title(node)
    elif tips:
        out["tip"] = tooltip(own, view.department_names, view.metric_names) if own else node.ref
    if node.is_group:
        out["group_of"] = len(node.fields) or len(node.tables)
        out["widthConstraint"] = {"maximum": GROUP_LABEL_PX}
    if focus:
        out.update(
            borderWidth=4,
            color={"background": FOCUS_COLOR, "border": "#073b4c"},
            font={"size": FONT_SIZE + 2, "bold": True},
        )
    else:
        out.update(color=color, borderWidth=1)
        if isinstance(own, Metric) and own.role is not None:
            out.update(ROLE_BORDER[own.role.value])  # the role, not only the level colour
        if style.get("font"):
            out["font"] = style["font"]
    return out


def _vis_edge(e: MapEdge, i: int) -> dict[str, Any]:
    style = EDGE_STYLE[e.relation]
    item: dict[str, Any] = {
        "id": f"e{i}",
        "from": e.source,
        "to": e.target,
        "color": style["color"],
        "dashes": style["dashes"],
        "width": style["width"],
        "arrows": "to",
        "relation": e.relation.value,
    }
    tip = _edge_title(e.relation, e.props, e.stands_for)
    if tip != _(style["label"]):  # else the page shows the relation's name (layout.relations)
        item["tip"] = tip
    if e.relation is Relation.CAUSES:
        negative = e.props.get("polarity") == "-"
        item["label"] = causal_label(e.props)
        item["font"] = {
            "size": 13,
            "color": NEGATIVE_CAUSE_COLOR if negative else style["color"],
            "strokeWidth": 3,
        }
        if negative:
            item["color"] = NEGATIVE_CAUSE_COLOR
    return item


def causal_label(props: Mapping[str, Any]) -> str:
    """The map label of a causal edge: polarity sign, then the lag if any.

    Examples
    --------
    >>> causal_label({"polarity": "+", "lag": "3个月"})
    '+ 滞后 3个月'
    >>> causal_label({"polarity": "-"})
    '−'
    """
    sign = "−" if props.get("polarity") == "-" else "+"
    lag = props.get("lag")
    return _("{sign} lag {lag}", sign=sign, lag=lag) if lag else sign


def _label(node: MapNode, qualify: bool = False) -> str:
    """A node's label; ``qualify`` names a field's table too (two fields share a name)."""
    name = node.name if len(node.name) <= 24 else node.name[:23] + "…"
    if node.fields and node.kind is NodeKind.TABLE:
        n = len(node.fields)
        return (
            f"{name}\n{short_id(node.ref)} ({_n_fields(n)})"
            if node.node
            else (f"{name} ({_n_fields(n)})")
        )
    if node.is_group:
        t, f = len(node.tables), len(node.fields)
        tables = ngettext("%(num)s table", "%(num)s tables", t) % {"num": t}
        return f"{name}\n({tables} · {_n_fields(f)})"
    if node.kind is NodeKind.FIELD:
        column = ".".join(node.ref.split(".")[-2 if qualify else -1 :])
        return f"{name}\n{column}"
    return name


def _n_fields(n: int) -> str:
    return ngettext("%(num)s field", "%(num)s fields", n) % {"num": n}


def _group_title(node: MapNode) -> str:
    lines = [f"{node.name}  ({node.ref})"]
    if node.tables:
        lines.append(
            _("tables:")
            + " "
            + _(", ").join(node.tables[:12])
            + (" …" if len(node.tables) > 12 else "")
        )
    if node.fields:
        lines.append(
            _("fields:")
            + " "
            + _(", ").join(node.fields[:20])
            + (" …" if len(node.fields) > 20 else "")
        )
    lines.append(_("click to expand"))
    return "\n".join(lines)


def network_options(node_count: int) -> dict[str, Any]:
    """vis-network options: positions are ours, so no physics and no vis layout."""
    curved = node_count <= ROUTE_MAX_NODES
    return {
        "layout": {"hierarchical": {"enabled": False}, "improvedLayout": False},
        "physics": {"enabled": False},
        "interaction": {
            "hover": True,
            "tooltipDelay": 150,
            "navigationButtons": False,
            "keyboard": False,
            "hideEdgesOnDrag": not curved,
            "dragNodes": curved,
        },
        "edges": {
            "smooth": {
                "enabled": curved,
                "type": "cubicBezier",
                "forceDirection": "horizontal",
                "roundness": ROUNDNESS,
            },
            "arrows": {"to": {"scaleFactor": 0.7}},
        },
        "nodes": {
            "margin": {"top": 5, "bottom": 5, "left": 8, "right": 8},
            "font": {"size": FONT_SIZE},
            "widthConstraint": {"maximum": MAX_LABEL_PX},
        },
    }


def _edge_title(
    rel: Relation, props: Mapping[str, Any], stands_for: list[str] | None = None
) -> str:
    parts = [_(EDGE_STYLE[rel]["label"])]
    for key in ("role", "polarity", "lag", "evidence"):
        if props.get(key):
            parts.append(f"{key}: {props[key]}")
    if stands_for:
        parts.extend(stands_for[:20])
        if len(stands_for) > 20:
            parts.append(_("… {num} more", num=len(stands_for) - 20))
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


def map_options(
    mode: str = "map",
    kinds: list[str] | None = None,
    expand: list[str] | None = None,
    relations: list[str] | None = None,
) -> tuple[MapOptions, str | None]:
    """Options and the relations filter (comma-separated, for the lineage walk) from query
    parameters; the metric tree walks metric relations only.

    Examples
    --------
    >>> options, rels = map_options("tree", relations=["INPUT_TO,FEEDS"])
    >>> options.mode, rels
    ('tree', 'INPUT_TO')
    >>> sorted(map_options("map", kinds=["metric", "Table"])[0].kinds)
    [<NodeKind.METRIC: 'Metric'>, <NodeKind.TABLE: 'Table'>]
    """
    text = ",".join(relations or []) or None
    if mode == "tree":
        wanted = parse_relations(text) & METRIC_RELATIONS or METRIC_RELATIONS
        text = ",".join(sorted(r.value for r in wanted))
    names = ",".join(kinds or []) or None
    return (
        MapOptions(
            mode=mode if mode in MODES else "map",
            kinds=parse_kinds(names),
            expand=frozenset(e for e in (expand or []) if len(e) <= 300),
        ),
        text,
    )
