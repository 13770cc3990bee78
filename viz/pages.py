"""Server-rendered pages (Jinja2, autoescape on). Every value shown is escaped; graph data is
embedded as JSON in a ``<script type="application/json">`` block via ``tojson``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from core import i18n
from graph_schema.ids import NodeKind
from graph_schema.relations import METRIC_RELATIONS, Relation, parse_relations
from viz.graph_view import (
    GraphView,
    MapOptions,
    inline_vis_assets,
    network_data,
    vis_asset_files,
)
from viz.labels import (
    change_class_tag,
    change_class_word,
    count_label,
    revision_message,
    translate,
    word,
)
from viz.programme_words import programme_word
from viz.style import EDGE_STYLE, KIND_STYLE, LEVEL_COLORS, node_url

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} and {{ _("...") }}: the one catalogue, in the language of the request
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["tr"] = translate
    env.filters["word"] = word
    env.filters["programme"] = programme_word  # 北极星指标, 先行指标... (viz.programme_words)
    env.filters["count_label"] = count_label
    env.filters["count_label_kind"] = lambda n, kind: count_label(kind, n)
    env.globals["change_class"] = change_class_tag  # 重大变更 / major change, with its meaning
    env.filters["class_word"] = change_class_word
    env.filters["revision_message"] = revision_message  # change request #1: … in words
    env.globals["pct"] = i18n.percent_change
    env.globals["number"] = i18n.number
    env.globals["code"] = lambda text: Markup("<code>%s</code>") % text
    from analysis.compare import display

    env.filters["show"] = display  # one line of text for any property value (still escaped)
    env.filters["formula_names"] = formula_names  # revenue / visits → 营收 / 进厂台次
    return env


def formula_names(formula: object, names: dict[str, str]) -> str:
    """A formula with metric names for ids (as written when it does not parse)."""
    from analysis.compare import display
    from viz.graph_view import formula_for_people

    return formula_for_people(formula, names) if isinstance(formula, str) else display(formula)


def render_page(template: str, **context: Any) -> str:
    """Render one of ``viz/templates`` with ``context`` (all values escaped), in ``lang``
    when given (else the language of the request / command, :func:`core.i18n.current`)."""
    lang = i18n.normalize(context.get("lang")) or i18n.current()
    context["lang"] = lang
    with i18n.use(lang):
        return environment().get_template(template).render(**context)


def _legend_kinds(kinds: frozenset[NodeKind] | None) -> list[dict[str, Any]]:
    """One checkbox per node kind, with the colours it is drawn in."""
    items = []
    for kind, style in KIND_STYLE.items():
        colors = (
            [c for level, c in LEVEL_COLORS.items() if level is not None]
            if kind is NodeKind.METRIC
            else [style["color"]]
        )
        items.append(
            {
                "value": kind.value,
                "label": i18n._(style["label"]),
                "colors": colors,
                "checked": kinds is None or kind in kinds,
            }
        )
    return items


def legend_levels() -> list[dict[str, str]]:
    """One legend row per metric level colour (L0 north star … L3, and metrics without one)."""
    names = {
        "L0": i18n._("L0 north-star metric"),
        "L1": i18n._("L1 metric"),
        "L2": i18n._("L2 metric"),
        "L3": i18n._("L3 metric"),
        None: i18n._("metric without a level"),
    }
    return [{"label": names[level], "color": color} for level, color in LEVEL_COLORS.items()]


def _legend_edges(
    active: frozenset[Relation], counts: dict[str, int], tree: bool
) -> list[dict[str, Any]]:
    """One checkbox per relation (metric relations only in the tree), with its line style."""
    out = []
    for rel, style in EDGE_STYLE.items():
        if tree and rel not in METRIC_RELATIONS:
            continue
        dashes = style["dashes"]
        line = "solid" if not dashes else ("dotted" if dashes[0] <= 2 else "dashed")
        out.append(
            {
                "value": rel.value,
                "label": i18n._(style["label"]),
                "color": style["color"],
                "style": line,
                "checked": rel in active,
                "count": counts.get(rel.value, 0),
            }
        )
    return out


def script_json(data: Any) -> Markup:
    """Compact JSON safe inside ``<script type="application/json">`` (``<``, ``>``, ``&`` and
    ``'`` escaped as Jinja's ``tojson`` does), non-ASCII text as is: a third of the bytes of
    ``tojson`` for Chinese names.

    >>> print(script_json({"name": "</script><b>营收"}))
    {"name":"\\u003c/script\\u003e\\u003cb\\u003e营收"}
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)


def render_graph_page(
    view: GraphView,
    *,
    embed: bool = False,
    static: bool = False,
    options: MapOptions | None = None,
) -> str:
    """The map page. ``static`` makes a self-contained export that works from ``file://``
    (clicks show details instead of navigating); ``embed`` hides the chrome for iframes;
    ``options`` picks the mode (map or metric tree), kinds kept and groups expanded."""
    options = options or MapOptions()
    tree = options.mode == "tree"
    lineage = view.lineage
    data = network_data(view, options, tips=static)  # served: tooltips fetched on hover
    active = parse_relations(view.relations)
    data["nav"] = {
        "focus": lineage.root,
        "direction": lineage.direction.value,
        "depth": lineage.depth,
        "relations": view.relations or "",
        "mode": options.mode,
        "kinds": ",".join(sorted(k.value for k in options.kinds)) if options.kinds else "",
        "embed": embed,
        "static": static,
    }
    assets: dict[str, Any] = {}
    if data["layout"]["renderer"] != "vis":  # the light renderer is inline: no library
        pass
    elif static:  # one file that works offline
        js, css = inline_vis_assets()
        assets = {"vis_js": Markup(js), "vis_css": Markup(css)}
    else:  # served once, then from the browser's cache (and its compiled-code cache)
        names = sorted(vis_asset_files())
        assets = {
            "vis_js_url": "/assets/" + next(n for n in names if n.endswith(".js")),
            "vis_css_url": "/assets/" + next(n for n in names if n.endswith(".css")),
        }
    counts: dict[str, int] = {}
    for e in data["edges"]:
        counts[e["relation"]] = counts.get(e["relation"], 0) + 1
    focus = view.nodes[lineage.root]
    return render_page(
        "graph.html",
        data=script_json(data),
        renderer=data["layout"]["renderer"],
        **assets,
        focus=lineage.root,
        focus_name=focus.name,
        focus_url=node_url(lineage.root),
        direction=lineage.direction.value,
        depth=lineage.depth,
        mode=options.mode,
        expand=sorted(options.expand),
        shown=len(data["nodes"]),
        in_lineage=len(lineage.nodes) + 1,
        edge_count=len(data["edges"]),
        hidden=view.hidden,
        legend_kinds=_legend_kinds(options.kinds),
        legend_edges=_legend_edges(active, counts, tree),
        legend_levels=legend_levels(),
        groups=sum(1 for n in data["nodes"] if n.get("group_of")),
        cross=data["layout"]["cross"],
        embed=embed,
        static=static,
    )
