"""Human-readable rendering of analysis results for the terminal (rich handles CJK widths).

Catalog text is never read as rich markup: it goes into :class:`~rich.text.Text` objects or
through :func:`cli.common.safe`, with control characters shown as escapes
(:func:`cli.common.printable`).
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from analysis.results import EdgeOut, ImpactReport, LineageResult, NodeCard, PathsResult, Via
from cli.common import printable as p
from core.i18n import N_, _, ngettext
from graph_schema.errors import CatalogIssue
from store.base import SearchPage, StoreInfo
from viz.labels import count_label, translate, word
from viz.programme_words import programme_word


def T(text: object, style: str = "") -> Text:
    """Catalog text as a rich Text: no markup, control characters escaped."""
    return Text(p(text), style=style)


def relation_label(edge: EdgeOut) -> str:
    """``INPUT_TO``, or ``CAUSES(+, 滞后 3个月)`` with the causal polarity and lag.

    Examples
    --------
    >>> relation_label(EdgeOut(source="a", target="b", type="CAUSES",
    ...                        props={"polarity": "-", "lag": "1月"}))
    'CAUSES(−, 滞后 1月)'
    >>> relation_label(EdgeOut(source="a", target="b", type="INPUT_TO",
    ...                        props={"role": "numerator"}))
    'INPUT_TO(分子)'
    """
    props = edge.props or {}
    if edge.type == "CAUSES":
        bits = ["+" if props.get("polarity", "+") == "+" else "−"]
        if props.get("lag"):
            bits.append(_("lag {lag}", lag=props["lag"]))
        return f"CAUSES({', '.join(bits)})"
    if props.get("role"):
        return f"{edge.type}({translate(props['role'])})"
    return edge.type


def _reached_by(result: LineageResult) -> dict[str, str]:
    """For each node, the edges that reach it from a node one hop closer to the root."""
    depth = {n.ref: n.depth for n in result.nodes}
    depth[result.root] = 0
    via: dict[str, list[str]] = {}
    for e in result.edges:
        for near, far, arrow in ((e.source, e.target, "←"), (e.target, e.source, "→")):
            if near in depth and far in depth and depth[far] == depth[near] + 1:
                # far is reached from near; arrow shows the edge's direction as seen from far
                via.setdefault(far, []).append(f"{relation_label(e)} {arrow} {_id(near)}")
    return {ref: "; ".join(sorted(set(v))) for ref, v in via.items()}


def _id(ref: str) -> str:
    return ref.split(":", 1)[1] if ":" in ref else ref


def lineage_table(console: Console, result: LineageResult) -> None:
    title = _(
        "{direction} lineage of {root} (depth ≤ {depth})",
        direction=_(result.direction.value),
        root=result.root,
        depth=result.depth,
    )
    table = Table(title=T(title), title_justify="left")
    for col, header in (
        ("hop", _("hop")),
        ("side", _("side")),
        ("kind", _("kind")),
        ("ref", "ref"),
        ("name", _("name")),
        ("level", _("level")),
        ("reached by", _("reached by")),
    ):
        table.add_column(header, no_wrap=col in ("hop", "side", "kind"), overflow="fold")
    reached = _reached_by(result)
    for n in result.nodes:
        table.add_row(
            str(n.depth),
            _(n.side),
            _(n.kind.lower()),
            T(n.ref),
            T(n.name),
            n.level or "",
            T(reached.get(n.ref, "")),
        )
    console.print(table)
    if result.truncated:
        console.print(
            "[yellow]" + _("truncated: narrow --relations/--kinds or lower --depth") + "[/]"
        )
    console.print(
        _(
            "{nodes}, {edges}",
            nodes=ngettext("%(num)s node", "%(num)s nodes", len(result.nodes))
            % {"num": len(result.nodes)},
            edges=ngettext("%(num)s edge", "%(num)s edges", len(result.edges))
            % {"num": len(result.edges)},
        )
    )


def impact_report(console: Console, report: ImpactReport) -> None:
    console.print(T(_("Impact of changing {ref}", ref=report.root), style="bold"))
    if report.touches_l0:
        console.print("[bold red]! " + _("recomputes an L0 (north-star) metric") + "[/]")
    if report.influences_l0:
        console.print(
            "[yellow]! " + _("influences an L0 (north-star) metric (read differently)") + "[/]"
        )
    groups = (
        (Via.DEFINITION, _("recomputed (definition: formula, fields, tables)")),
        (Via.INFLUENCE, _("influenced (drivers, causes, hierarchy: read differently)")),
    )
    for via, title in groups:
        metrics = [m for m in report.metrics if m.via is via]
        boards = [d for d in report.dashboards if d.via is via]
        if not metrics and not boards:
            continue
        table = Table(title=f"{title}", title_justify="left")
        for col, header in (
            ("hop", _("hop")),
            ("kind", _("kind")),
            ("ref", "ref"),
            ("name", _("name")),
            ("level", _("level")),
            ("route", _("route from the root")),
        ):
            table.add_column(header, overflow="fold", no_wrap=col in ("hop", "kind"))
        for m in metrics:
            table.add_row(
                str(m.depth), _("metric"), T(m.ref), T(m.name), m.level or "", _route(m.path)
            )
        for d in boards:
            table.add_row(str(d.depth), _("dashboard"), T(d.ref), T(d.name), "", _route(d.path))
        console.print(table)
    if report.departments:  # none: the count line below says so (no empty table)
        depts = Table(title=_("departments to notify"), title_justify="left")
        for header in ("ref", _("name"), _("owns"), _("reviews")):
            depts.add_column(header, overflow="fold")
        for dep in report.departments:
            depts.add_row(T(dep.ref), T(dep.name), T(_short(dep.owns)), T(_short(dep.reviews)))
        console.print(depts)
    console.print(
        _(
            "{metrics}, {dashboards}, {departments}",
            metrics=count_label("Metric", len(report.metrics)),
            dashboards=count_label("Dashboard", len(report.dashboards)),
            departments=count_label("Department", len(report.departments)),
        )
    )


def _route(path: list[str]) -> Text:
    return T(" → ".join(_id(r) for r in path))


def _short(refs: list[str]) -> str:
    return ", ".join(_id(r) for r in refs)


_MODE_NOTE = {
    "directed": N_("directed chains {s} → {t} (each hop along its edge)"),
    "reversed": N_("no chain runs {s} → {t}; these run {t} → {s}"),
    "any-direction": N_("edges taken either way; ← marks a hop walked against its edge"),
}


def paths_table(console: Console, result: PathsResult) -> None:
    if not result.paths:
        console.print(
            T(
                _(
                    "no directed path from {s} to {t} (nor back) within {n} hops; "
                    "try --any-direction or a larger --max-depth",
                    s=result.source,
                    t=result.target,
                    n=result.max_depth,
                )
                if result.mode == "directed"
                else _(
                    "no path between {s} and {t} within {n} hops",
                    s=result.source,
                    t=result.target,
                    n=result.max_depth,
                )
            )
        )
        return
    console.print(T(_(_MODE_NOTE[result.mode], s=result.source, t=result.target)))
    for i, path in enumerate(result.paths, 1):
        names = " — ".join(_("{name} ({id})", name=n.name, id=str(n.ref)) for n in path.nodes)
        hops = ngettext("%(num)s hop", "%(num)s hops", path.length) % {"num": path.length}
        console.print(Text(f"{i}. ", style="bold") + T(hops + _(": ") + names))
        for e in path.edges:
            if e.forward:
                line = f"     {e.source} -[{relation_label(e)}]-> {e.target}"
            else:
                against = _("(against the edge)")
                line = f"     {e.target} <-[{relation_label(e)}]- {e.source}  {against}"
            console.print(T(line))


_CARD_LABELS: list[tuple[str, str]] = [
    ("name", N_("Name")),
    ("name_en", N_("English name")),
    ("abbr", N_("Abbreviation")),
    ("level", N_("Level")),
    ("domain", N_("Domain")),
    ("priority", N_("Priority")),
    ("role", N_("Metric role")),
    ("horizon", N_("Leading, process or lagging")),
    ("owner", N_("Owner")),
    ("reviewer", N_("Reviewer")),
    ("status", N_("Status")),
    ("definition", N_("What it measures")),
    ("meaning", N_("Business meaning")),
    ("formula", N_("Formula")),
    ("drivers", N_("Driver breakdown")),
    ("unit", N_("Unit")),
    ("aggregation", N_("Aggregation")),
    ("example", N_("Worked example")),
    ("caliber", N_("Scope of the count")),
    ("data_source", N_("Data source")),
    ("fields", N_("Bound fields")),
    ("sql", N_("How it is queried")),
    ("dimensions", N_("Sliced by")),
    ("rolls_up_to", N_("Rolls up to")),
    ("causes", N_("Influences")),
    ("parallel", N_("Parallel metrics")),
    ("dashboards", N_("Dashboards")),
    ("use_cases", N_("Use cases")),
    ("benchmarks", N_("Industry benchmarks")),
    ("caveats", N_("Caveats")),
    ("special_cases", N_("Special cases")),
    ("update_frequency", N_("Data refresh")),
    ("review_policy", N_("Definition review")),
    ("version", N_("Version")),
    ("history", N_("Version history")),
    ("contacts", N_("Contacts")),
    ("atomic", N_("Atomic metric")),
    ("qualifiers", N_("Qualifiers")),
    ("window", N_("Time window")),
    ("tags", N_("Tags")),
    ("extra", N_("Other attributes")),
]

_SCOPE_LABELS = {
    "numerator": N_("Numerator"),
    "denominator": N_("Denominator"),
    "scope": N_("Scope"),
}
_CONTACT_LABELS = {
    "business": N_("Business owner"),
    "technical": N_("Technical owner"),
    "data_support": N_("Data support"),
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: card keys whose values are ids of other nodes, shown by name
_REF_KEYS = {
    "owner": "Department",
    "reviewer": "Department",
    "dimensions": "Dimension",
    "dashboards": "Dashboard",
    "fields": "Field",
    "rolls_up_to": "Metric",
    "parallel": "Metric",
}


def _in_names(expr: str, names: dict[str, str]) -> str:
    """``revenue / visits`` → ``营收 / 进厂台次``; ids without a known name stay as they are."""
    return _IDENT.sub(lambda m: names.get(f"Metric:{m.group()}", m.group()), expr)


def _named(kind: str, node_id: str, names: dict[str, str]) -> str:
    name = names.get(f"{kind}:{node_id}")
    return _("{name} ({id})", name=name, id=node_id) if name and name != node_id else node_id


def _card_value(key: str, value: Any, names: dict[str, str] | None = None) -> str:
    """Format one template field the way the seed's definition card reads; references to
    other nodes are shown by name, with the id in brackets."""
    names = names or {}
    if key in ("formula", "drivers") and isinstance(value, str):
        shown = _in_names(value, names)
        return shown if shown == value else f"{shown}\n({value})"
    if key in _REF_KEYS:
        kind = _REF_KEYS[key]
        items = value if isinstance(value, list) else [value]
        return _list_sep().join(_named(kind, str(v), names) for v in items)
    if key == "caliber" and isinstance(value, dict):
        lines = []
        sep = _(", ")
        for part, label in _SCOPE_LABELS.items():
            scope = value.get(part) or {}
            if scope.get("includes"):
                lines.append(
                    _(
                        "{part} includes (+): {items}",
                        part=_(label),
                        items=sep.join(scope["includes"]),
                    )
                )
            if scope.get("excludes"):
                lines.append(
                    _(
                        "{part} excludes (−): {items}",
                        part=_(label),
                        items=sep.join(scope["excludes"]),
                    )
                )
        if value.get("time"):
            lines.append(_("Time range: {time}", time=value["time"]))
        lines += [_("Rule: {rule}", rule=r) for r in value.get("rules", [])]
        return "\n".join(lines)
    if key == "benchmarks":
        return "\n".join(_benchmark(b) for b in value)
    if key == "history":
        return "\n".join(
            _(
                "V{version} ({date}): {change}",
                version=h["version"],
                date=h.get("date", "?"),
                change=h.get("change", ""),
            )
            for h in value
        )
    if key == "causes":
        return "\n".join(
            f"{'+' if c.get('polarity', '+') == '+' else '−'} → "
            f"{_named('Metric', c['metric'], names)}"
            + (_(" (lag {lag})", lag=c["lag"]) if c.get("lag") else "")
            + (_("; evidence: {evidence}", evidence=c["evidence"]) if c.get("evidence") else "")
            for c in value
        )
    if key == "contacts" and isinstance(value, dict):
        return "\n".join(
            _(
                "{label}: {value}",
                label=_(_CONTACT_LABELS[k]) if k in _CONTACT_LABELS else k,
                value=v,
            )
            for k, v in value.items()
        )
    if key == "sql":
        return str(value).rstrip()
    if key in ("status", "aggregation"):
        return translate(value)
    if key in ("role", "horizon"):
        return programme_word(value, key)
    if isinstance(value, list):
        return "\n".join(f"• {_fmt(v)}" for v in value)
    return _fmt(value)


def _benchmark(b: dict[str, Any]) -> str:
    """One 行业基准 range: ``合资品牌 行业平均: 1200–1800（中国汽车流通协会 2023）``."""
    low, high = b.get("min"), b.get("max")
    if low is not None and high is not None:
        span = f"{_num(low)}–{_num(high)}"
    elif low is not None:
        span = f"≥ {_num(low)}"
    elif high is not None:
        span = f"≤ {_num(high)}"
    else:
        span = "-"
    label = b.get("label") or b.get("segment") or ""
    return _("{label}: {value}", label=label, value=span) + (
        _(" ({text})", text=b["source"]) if b.get("source") else ""
    )


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def node_card(console: Console, card: NodeCard) -> None:
    node = card.node
    names = {n.ref: n.name for g in card.neighbours for n in (*g.incoming, *g.outgoing)}
    console.print(T(f"{card.ref}  {node.get('name', '')}", style="bold"))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    shown = {"id", "kind"}
    for key, label in _CARD_LABELS:
        if node.get(key) not in (None, "", [], {}):
            table.add_row(_(label), T(_card_value(key, node[key], names)))
        shown.add(key)
    for key, value in node.items():
        if key not in shown and value not in (None, "", [], {}):
            table.add_row(T(key), T(_card_value(key, value, names)))
    console.print(table)
    for group in card.neighbours:
        parts = []
        if group.incoming:
            parts.append("← " + _list_sep().join(_named_ref(n.name, n.ref) for n in group.incoming))
        if group.outgoing:
            parts.append("→ " + _list_sep().join(_named_ref(n.name, n.ref) for n in group.outgoing))
        console.print(T(f"{relation_word(group.relation)} " + "  ".join(parts), style="magenta"))


def _list_sep() -> str:
    """The language's list separator (、 in zh), with a space after it: a terminal wraps a
    long list of names and ids at a space, never inside an id."""
    sep = _(", ")
    return sep if sep.endswith(" ") else sep + " "


def _named_ref(name: str, ref: str) -> str:
    return _("{name} ({id})", name=name, id=ref)


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return _(", ").join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def search_table(console: Console, page: SearchPage, offset: int = 0) -> None:
    title = ngettext("%(num)s match", "%(num)s matches", page.total) % {"num": page.total}
    shown = len(page.items)
    if shown < page.total:  # a page of them: say which, and how to see the others
        title += _(": ") + _(
            "showing {first}–{last}", first=offset + 1 if shown else offset, last=offset + shown
        )
    table = Table(title=title, title_justify="left")
    for header in ("ref", _("name"), _("level"), _("domain")):
        table.add_column(header, overflow="fold")
    for node in page.items:
        level = getattr(node, "level", None)
        table.add_row(
            T(node.ref),
            T(node.name),
            level.value if level else "",
            T(getattr(node, "domain", "") or ""),
        )
    console.print(table)
    if offset + shown < page.total:
        more = _(
            "{n} more: add --offset {next} for the next page, or --limit to show more at once",
            n=page.total - offset - shown,
            next=offset + shown,
        )
        console.print(f"[dim]{T(more)}[/]")


def store_info(console: Console, info: StoreInfo, where: str) -> None:
    counts = _(", ").join(count_label(k, v) for k, v in info.counts.items() if v)
    console.print(
        T(
            _(
                "loaded catalog {name} into {backend} store {where}: {counts}",
                name=repr(info.catalog),
                backend=word(info.backend),
                where=where,
                counts=counts,
            )
        )
    )


def catalog_issues(console: Console, issues: list[CatalogIssue]) -> None:
    for issue in issues:
        console.print(T(issue))


def relation_word(relation: str) -> str:
    """A relation as the map's legend names it (``FEEDS`` → 字段绑定 / field binding); an id
    the legend does not know stays as it is."""
    from graph_schema.relations import Relation
    from viz.style import EDGE_STYLE

    try:
        style = EDGE_STYLE.get(Relation(relation))
    except ValueError:
        return relation
    return _(style["label"]) if style and style.get("label") else relation
