"""BI hover cards: ``/embed/metrics/{ref}`` (a compact card to frame), ``/embed.js`` (turns
``<span data-kpigraph-metric="客单价">❓</span>`` into a hover card) and ``/oembed``.

Which sites may frame the card: :mod:`api.embed.framing` (``KPIGRAPH_EMBED_ORIGINS``).
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from analysis.resolve import require_node, resolve_metric
from api.dependencies import StoreDep
from api.errors import error_json
from api.routes.ask import formula_in_names, public_url
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from viz.pages import TEMPLATES, render_page

router = APIRouter(tags=["embed"])
CARD_WIDTH, CARD_HEIGHT = 360, 220


@router.get("/embed/metrics/{metric}", response_class=HTMLResponse, summary="Embeddable card")
def embed_card(
    store: StoreDep,
    request: Request,
    metric: Annotated[str, Path(max_length=200, description="id, name or abbreviation")],
) -> HTMLResponse:
    """Name, definition, formula in names, owner, version and a link, for an iframe or tooltip
    (framing allowed from ``KPIGRAPH_EMBED_ORIGINS``)."""
    ref = resolve_metric(store, metric)
    node = require_node(store, ref)
    assert isinstance(node, Metric)
    owner = None
    if node.owner:
        dept = store.get_nodes([NodeRef(NodeKind.DEPARTMENT, node.owner)])
        owner = next((d.name for d in dept.values()), node.owner)
    html = render_page(
        "embed_card.html",
        ref=str(ref),
        name=node.name,
        aka=", ".join(x for x in (node.abbr, node.name_en) if x),
        level=node.level.value if node.level else None,
        status=node.status.value,
        definition=node.definition,
        formula=formula_in_names(store, node),
        owner=owner,
        version=node.version,
        link=f"{public_url(request)}/metrics/{quote(node.id)}",
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@functools.cache
def _script() -> str:
    return (TEMPLATES / "embed.js").read_text(encoding="utf-8")


@router.get("/embed.js", include_in_schema=False)
def embed_js() -> Response:
    return Response(
        _script(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/oembed", summary="oEmbed for metric pages")
def oembed(
    store: StoreDep,
    request: Request,
    url: Annotated[str, Query(max_length=500, examples=["http://127.0.0.1:8000/metrics/atp"])],
    format: Literal["json"] = "json",  # oEmbed's parameter; json only: no input gives a 5xx
    maxwidth: Annotated[int | None, Query(ge=50, le=4000)] = None,
    maxheight: Annotated[int | None, Query(ge=50, le=4000)] = None,
) -> Response:
    """A ``rich`` oEmbed answer (an iframe of the card) for a URL of this server's metric
    pages (``{KPIGRAPH_BASE_URL}/metrics/{id}``); 404 for any other URL."""
    base = public_url(request)
    try:
        parts, ours = urlsplit(url), urlsplit(base)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return error_json(404, "not_found", "not a metric page of this server", {"url": url})
    path = parts.path.removeprefix(ours.path.rstrip("/"))
    prefix = next((p for p in ("/metrics/", "/embed/metrics/") if path.startswith(p)), None)
    if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc) or prefix is None:
        return error_json(404, "not_found", "not a metric page of this server", {"url": url})
    from urllib.parse import unquote

    ref = resolve_metric(store, unquote(path.removeprefix(prefix)))
    node = require_node(store, ref)
    width = min(CARD_WIDTH, maxwidth or CARD_WIDTH)
    height = min(CARD_HEIGHT, maxheight or CARD_HEIGHT)
    src = f"{base}/embed/metrics/{quote(ref.id)}"
    html = (
        f'<iframe src="{src}" width="{width}" height="{height}" '
        'style="border:1px solid #dee2e6;border-radius:8px" title="kpigraph"></iframe>'
    )
    return JSONResponse(
        {
            "version": "1.0",
            "type": "rich",
            "provider_name": "kpigraph",
            "provider_url": base,
            "title": node.name,
            "html": html,
            "width": width,
            "height": height,
        }
    )
