"""HTML pages: home, search, metric cards, node pages, impact reports and the graph view.

Every metric page has a stable URL (``/metrics/{id}``) so BI dashboards can link their ❓
icons to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from analysis.card import node_card
from analysis.impact import impact
from analysis.resolve import require_node, resolve_metric, resolve_ref
from analysis.results import Direction
from analysis.timeline import version_timeline
from api.auth import OptionalUser
from api.dependencies import RefDep, StoreDep
from api.governance import metric_faq
from api.routes.ask import formula_in_names
from api.routes.values import values_panel
from api.views import department_options, graph_view
from core import i18n
from core.bulk import paused_gc
from graph_schema.formula import parse_formula
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.relations import Relation
from store.base import GraphStore, SearchQuery
from viz.graph_view import DEFAULT_MAX_NODES, HARD_MAX_NODES, map_options, vis_asset_files
from viz.pages import render_graph_page, render_page
from viz.style import EDGE_STYLE, node_url

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse, include_in_schema=False)
PAGE_SIZE = 25


def _common(store: GraphStore) -> dict[str, Any]:
    info = store.info()
    return {
        "catalog_name": info.catalog,
        "info": info,
        "lang": i18n.resolve(info.meta.get("language")),
    }


def _link(store: GraphStore, ref: NodeRef) -> dict[str, str]:
    node = store.get_nodes([ref]).get(ref)
    return {"ref": str(ref), "name": node.name if node else ref.id, "url": node_url(str(ref))}


@router.get("/")
def home(store: StoreDep) -> HTMLResponse:
    common = _common(store)
    summary = common["info"].meta.get("summary", {})
    north = store.search(SearchQuery(level="L0", limit=50)).items
    recent_refs = [NodeRef(NodeKind.METRIC, r["id"]) for r in summary.get("recent", [])]
    recent_nodes = store.get_nodes(recent_refs)
    recent = [
        {"name": recent_nodes[ref].name, "url": node_url(str(ref)), "date": r["date"]}
        for ref, r in zip(recent_refs, summary.get("recent", []), strict=True)
        if ref in recent_nodes
    ]
    return HTMLResponse(
        render_page(
            "home.html",
            **common,
            description=common["info"].meta.get("description"),
            north_star=[
                {"id": n.id, "name": n.name, "ref": str(n.ref), "url": node_url(str(n.ref))}
                for n in north
            ],
            levels=summary.get("levels", {}),
            domains=summary.get("domains", {}),
            recent=recent,
            counts=common["info"].counts,
        )
    )


@router.get("/search")
def search_page(
    store: StoreDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    domain: Annotated[str | None, Query(max_length=100)] = None,
    level: Annotated[str | None, Query(max_length=4)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    common = _common(store)
    filters = {
        "domain": domain or None,
        "level": level or None,
        "department": department or None,
        "status": status or None,
    }
    result = store.search(
        SearchQuery(
            text=q,
            domain=filters["domain"],
            level=filters["level"],
            department=filters["department"],
            status=filters["status"],
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    )
    items = [
        {
            "id": n.id,
            "name": n.name,
            "abbr": getattr(n, "abbr", None),
            "level": n.level.value if isinstance(n, Metric) and n.level else None,
            "domain": getattr(n, "domain", None),
            "definition": getattr(n, "definition", None),
        }
        for n in result.items
    ]
    base = {k: v for k, v in {"q": q, **filters}.items() if v}

    def page_url(p: int) -> str:
        return "/search?" + urlencode({**base, "page": p})

    summary = common["info"].meta.get("summary", {})
    return HTMLResponse(
        render_page(
            "search.html",
            **common,
            q=q,
            total=result.total,
            items=items,
            domains=list(summary.get("domains", {})),
            departments=department_options(store),
            prev_url=page_url(page - 1) if page > 1 else None,
            next_url=page_url(page + 1) if page * PAGE_SIZE < result.total else None,
            **filters,
        )
    )


@router.get("/metrics/{metric_id}")
def metric_page(
    store: StoreDep,
    request: Request,
    metric_id: Annotated[str, Path(max_length=200)],
    reader: OptionalUser = None,  # resolved: the use count knows the reader's department (#28)
) -> HTMLResponse:
    ref = resolve_metric(store, metric_id)
    metric = require_node(store, ref)
    assert isinstance(metric, Metric)
    card = node_card(store, ref)
    groups = {g.relation: g for g in card.neighbours}
    related: dict[str, list[dict[str, str]]] = {"upstream": [], "downstream": []}
    for rel in (Relation.INPUT_TO, Relation.DRIVES, Relation.CAUSES, Relation.ROLLS_UP_TO):
        g = groups.get(rel.value)
        if g is None:
            continue
        via = i18n._(EDGE_STYLE[rel]["label"])
        for side, items in (("upstream", g.incoming), ("downstream", g.outgoing)):
            for n in items:
                related[side].append({"name": n.name, "url": node_url(n.ref), "via": via})
    parallel = [_link(store, NodeRef(NodeKind.METRIC, p)) for p in metric.parallel]
    for p in parallel:
        p["via"] = ""
    depts = store.get_nodes(
        NodeRef(NodeKind.DEPARTMENT, d) for d in (metric.owner, metric.reviewer) if d
    )
    fields_group = groups.get(Relation.FEEDS.value)
    field_nodes = store.get_nodes(
        NodeRef.parse(n.ref) for n in (fields_group.incoming if fields_group else [])
    )
    drivers = None
    if metric.drivers:
        names = {
            r.id: n.name
            for r, n in store.get_nodes(
                NodeRef(NodeKind.METRIC, x.name) for x in parse_formula(metric.drivers).references()
            ).items()
        }
        drivers = f"{metric.name} ≡ " + " ".join(
            names.get(tok, tok) for tok in metric.drivers.split()
        )
    return HTMLResponse(
        render_page(
            "metric.html",
            **_common(store),
            m=card.node,
            ref=str(ref),
            owner=_dept(depts, metric.owner),
            reviewer=_dept(depts, metric.reviewer),
            formula_names=formula_in_names(store, metric),
            drivers_names=drivers,
            fields=[
                {"ref": str(r), "id": r.id, "name": n.name, "type": getattr(n, "type", None)}
                for r, n in sorted(field_nodes.items(), key=lambda kv: str(kv[0]))
            ],
            upstream=related["upstream"],
            downstream=related["downstream"],
            parallel=parallel,
            dashboards=_neighbours(groups, Relation.SHOWN_ON, outgoing=True),
            dimensions=_neighbours(groups, Relation.SLICED_BY, outgoing=True),
            values_panel=values_panel(store, ref.id),
            timeline=version_timeline(metric, store.node_history(ref)),
            faq=metric_faq(request, ref.id),
        )
    )


def _dept(depts: dict[NodeRef, Any], dept_id: str | None) -> dict[str, str] | None:
    if not dept_id:
        return None
    ref = NodeRef(NodeKind.DEPARTMENT, dept_id)
    node = depts.get(ref)
    return {"ref": str(ref), "name": node.name if node else dept_id}


def _neighbours(groups: dict[str, Any], rel: Relation, *, outgoing: bool) -> list[dict[str, str]]:
    g = groups.get(rel.value)
    if g is None:
        return []
    return [{"ref": n.ref, "name": n.name} for n in (g.outgoing if outgoing else g.incoming)]


@router.get("/nodes/{ref}")
def node_page(store: StoreDep, request: Request, ref: RefDep) -> HTMLResponse:
    if ref.kind is NodeKind.METRIC:
        return metric_page(store, request, ref.id)
    card = node_card(store, ref)
    props = [(k, v) for k, v in card.node.items() if k not in ("kind",) and v not in (None, "", [])]
    groups = []
    for g in card.neighbours:
        rel = Relation(g.relation)
        groups.append(
            {
                "label": i18n._(EDGE_STYLE[rel]["label"]),
                "incoming": [
                    {"ref": n.ref, "name": n.name, "url": node_url(n.ref)} for n in g.incoming
                ],
                "outgoing": [
                    {"ref": n.ref, "name": n.name, "url": node_url(n.ref)} for n in g.outgoing
                ],
            }
        )
    return HTMLResponse(
        render_page(
            "node.html",
            **_common(store),
            ref=card.ref,
            name=card.node.get("name", ref.id),
            props=props,
            groups=groups,
        )
    )


@router.get("/impact/{ref}")
def impact_page(store: StoreDep, ref: RefDep) -> HTMLResponse:
    report = impact(store, ref)
    root = require_node(store, ref)
    names = {m.ref: m.name for m in report.metrics}
    names[str(ref)] = root.name
    return HTMLResponse(
        render_page(
            "impact.html",
            **_common(store),
            report=report,
            root_name=root.name,
            names=names,
            generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        )
    )


@router.get("/view/graph")
def graph_page(
    store: StoreDep,
    focus: Annotated[str, Query(max_length=300, examples=["Metric:atp"])],
    direction: Direction = Direction.BOTH,
    depth: Annotated[int, Query(ge=1, le=10)] = 2,
    relations: Annotated[list[str] | None, Query(max_length=20)] = None,
    max_nodes: Annotated[int, Query(ge=1, le=HARD_MAX_NODES)] = DEFAULT_MAX_NODES,
    embed: Annotated[Literal["0", "1"], Query()] = "0",
    mode: Literal["map", "tree"] = "map",
    kinds: Annotated[list[str] | None, Query(max_length=20)] = None,
    expand: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    options, rels = map_options(mode, kinds, expand, relations)
    with paused_gc():  # thousands of short-lived models: the collector was a third of it
        view = graph_view(
            store, resolve_ref(store, focus), direction, depth, rels, max_nodes, tooltips=False
        )
        return HTMLResponse(render_graph_page(view, embed=embed == "1", options=options))


@router.get("/assets/{name}")
def asset(name: Annotated[str, Path(max_length=80)]) -> Response:
    """vis-network's script and stylesheet, under content-hashed names: cached for good."""
    found = vis_asset_files().get(name)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no asset {name!r}")
    media_type, content = found
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
