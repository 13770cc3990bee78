"""Graph queries: ``show``, ``search``, ``lineage``, ``impact``, ``path``, ``info``, ``render``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.card import node_card
from analysis.impact import impact
from analysis.lineage import lineage
from analysis.paths import find_paths
from analysis.results import Direction
from cli import render as draw
from cli.common import emit_json, json_option, out, resolve, store_options, where
from cli.help_text import Command
from core.i18n import _
from graph_schema.ids import NodeKind
from graph_schema.relations import parse_kinds, parse_relations
from store.base import SearchQuery

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore


@click.command(cls=Command)
@click.argument("ref")
@click.option("--at", "at", type=click.IntRange(1), default=None, help="as it was at revision N")
@store_options
@json_option
def show(ref: str, at: int | None, as_json: bool, store: GraphStore, settings: Settings) -> None:
    """Show a node's card: the full definition and its direct neighbours."""
    if at is not None:
        from typing import cast

        from analysis.catalog_view import CatalogView
        from cli.history import history_ref

        node = history_ref(store, ref)
        past = cast("GraphStore", CatalogView(store.catalog(at=at)))
        card = node_card(past, node)
    else:
        card = node_card(store, resolve(store, ref))
    if as_json:
        emit_json(card)
    else:
        draw.node_card(out(), card)


@click.command(cls=Command)
@click.argument("text", required=False, default="")
@click.option("--kind", "kinds", default="Metric", help="node kinds, comma-separated")
@click.option("--domain", default=None, help="only metrics of this business domain")
@click.option(
    "--level",
    default=None,
    type=click.Choice(["L0", "L1", "L2", "L3"]),
    help="only metrics of this level (L0 north star … L3 detail)",
)
@click.option(
    "--status",
    default=None,
    type=click.Choice(["draft", "active", "deprecated"]),
    help="only metrics in this status",
)
@click.option("--department", default=None, help="owner or reviewer department id")
@click.option(
    "--priority",
    default=None,
    type=click.Choice(["P0", "P1", "P2"]),
    help="only metrics of this priority",
)
@click.option(
    "--role",
    default=None,
    type=click.Choice(["north_star", "key", "process"]),
    help="only metrics of this role (north star, key, process)",
)
@click.option(
    "--horizon",
    default=None,
    type=click.Choice(["leading", "process", "lagging"]),
    help="only leading, process or lagging metrics",
)
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 500), help="results per page"
)
@click.option(
    "--offset",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="results to skip (the next page: --offset 20)",
)
@store_options
@json_option
def search(
    text: str,
    kinds: str,
    domain: str | None,
    level: str | None,
    status: str | None,
    department: str | None,
    priority: str | None,
    role: str | None,
    horizon: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Search names (Chinese or English), abbreviations and definitions."""
    query = SearchQuery(
        text=text,
        kinds=parse_kinds(kinds) or frozenset({NodeKind.METRIC}),
        domain=domain,
        level=level,
        status=status,
        department=department,
        priority=priority,
        role=role,
        horizon=horizon,
        limit=limit,
        offset=offset,
    )
    page = store.search(query)
    if as_json:
        emit_json(
            {
                "total": page.total,
                "items": [
                    {"ref": str(n.ref), "name": n.name, "level": getattr(n, "level", None)}
                    for n in page.items
                ],
            }
        )
    else:
        draw.search_table(out(), page, offset)


@click.command(name="lineage", cls=Command)
@click.argument("ref")
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default="both",
    show_default=True,
    help="upstream (what it is built from), downstream (what is built from it) or both",
)
@click.option("--depth", type=int, default=3, show_default=True, help="hops, 1 to 10")
@click.option(
    "--relations", default=None, help="relation types, comma-separated (default: lineage)"
)
@click.option("--kinds", default=None, help="node kinds to report, comma-separated")
@store_options
@json_option
def lineage_cmd(
    ref: str,
    direction: str,
    depth: int,
    relations: str | None,
    kinds: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Upstream and/or downstream lineage of a node."""
    result = lineage(
        store,
        resolve(store, ref),
        Direction(direction),
        depth,
        parse_relations(relations),
        parse_kinds(kinds),
    )
    if as_json:
        emit_json(result.model_dump(mode="json", exclude={"truncated"}))
    else:
        draw.lineage_table(out(), result)


@click.command(name="impact", cls=Command)
@click.argument("ref")
@click.option(
    "--relations",
    default=None,
    help="relation types to follow, comma-separated [default: every lineage relation]",
)
@store_options
@json_option
def impact_cmd(
    ref: str, relations: str | None, as_json: bool, store: GraphStore, settings: Settings
) -> None:
    """What changing a metric, field, table or system affects, and whom to tell: recomputed
    (via definition relations) apart from influenced (via DRIVES, CAUSES, ROLLS_UP_TO)."""
    report = impact(store, resolve(store, ref), parse_relations(relations))
    if as_json:
        emit_json(report)
    else:
        draw.impact_report(out(), report)


@click.command(name="path", cls=Command)
@click.argument("source")
@click.argument("target")
@click.option("--max-depth", type=int, default=6, show_default=True, help="hops, 1 to 8")
@click.option("-k", "k", type=int, default=5, show_default=True, help="paths to list, 1 to 50")
@click.option("--relations", default=None, help="relation types, comma-separated")
@click.option(
    "--any-direction",
    is_flag=True,
    help="take edges either way (default: directed chains SOURCE → TARGET, else TARGET → SOURCE)",
)
@store_options
@json_option
def path_cmd(
    source: str,
    target: str,
    max_depth: int,
    k: int,
    relations: str | None,
    any_direction: bool,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """How two nodes connect: directed chains SOURCE → TARGET, shortest first."""
    result = find_paths(
        store,
        resolve(store, source),
        resolve(store, target),
        max_depth,
        k,
        parse_relations(relations) if relations else None,
        any_direction=any_direction,
    )
    if as_json:
        emit_json(result)
    else:
        draw.paths_table(out(), result)


@click.command(cls=Command)
@store_options
@json_option
def info(as_json: bool, store: GraphStore, settings: Settings) -> None:
    """What is loaded, where."""
    data = store.info()
    if as_json:
        emit_json(
            {
                "backend": data.backend,
                "catalog": data.catalog,
                "loaded_at": data.loaded_at,
                "counts": data.counts,
                "where": where(settings),
            }
        )
    else:
        draw.store_info(out(), data, where(settings))
        click.echo(_("loaded at {time}", time=data.loaded_at))


@click.command(cls=Command)
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the HTML file to write",
)
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default="both",
    show_default=True,
    help="upstream (what it is built from), downstream (what is built from it) or both",
)
@click.option("--depth", type=int, default=2, show_default=True, help="hops, 1 to 10")
@click.option("--relations", default=None, help="relation types, comma-separated")
@click.option(
    "--max-nodes",
    type=click.IntRange(1, 2000),
    default=300,
    show_default=True,
    help="draw at most this many nodes (the nearest first)",
)
@click.option(
    "--mode",
    type=click.Choice(["map", "tree"]),
    default="map",
    show_default=True,
    help="map: every lineage relation, layered; tree: the metric tree only",
)
@store_options
def render(
    ref: str,
    output: Path,
    direction: str,
    depth: int,
    relations: str | None,
    max_nodes: int,
    mode: str,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Write a self-contained HTML map of REF's neighbourhood (works from file://, offline);
    ``--mode tree`` draws the metric tree (metric-to-metric relations only)."""
    from api.views import graph_view
    from viz.graph_view import map_options
    from viz.pages import render_graph_page

    options, rels = map_options(mode, relations=[relations] if relations else None)
    focus = resolve(store, ref)
    view = graph_view(store, focus, Direction(direction), depth, rels, max_nodes)
    html = render_graph_page(view, static=True, options=options)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    shown = len(view.lineage.nodes) + 1
    size = _("{kb} KB", kb=len(html) // 1024)
    if view.hidden:
        click.echo(
            _(
                "wrote {path} ({nodes} nodes, {hidden} more not shown, {size})",
                path=output,
                nodes=shown,
                hidden=view.hidden,
                size=size,
            )
        )
    else:
        click.echo(_("wrote {path} ({nodes} nodes, {size})", path=output, nodes=shown, size=size))
