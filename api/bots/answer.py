"""What the chat bots answer, before any platform's format: a metric card, an impact summary,
a list of candidates, or "not found". Platform modules render an :class:`Answer`; they never
read the store themselves.

A question is the text after the bot's mention: ``客单价`` (or ``ATP``, ``atp``) asks for the
card; ``影响 客单价`` (or ``impact ATP``) for the impact summary. Names are resolved as
everywhere else (:mod:`analysis.resolve`): an exact id, name, English name or abbreviation; an
ambiguous one lists the candidates; nothing exact lists close matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from analysis.impact import impact
from analysis.resolve import named, resolve_ref
from api.routes.ask import caliber_summary, formula_in_names
from core.i18n import _, in_language_of
from graph_schema.errors import AmbiguousRefError, KpigraphError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from store.base import GraphStore, SearchQuery
from store.pinned import PinnedStore
from store.ranking import normalize_text
from viz.labels import translate

MAX_QUESTION = 200
IMPACT_WORDS = ("影响", "impact", "影响分析")
#: the mention people type before the question (the platforms strip their own markup first)
MENTION = re.compile(r"^\s*(@指标字典|@kpigraph|@kpi)\s*", re.I)


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Answer:
    """A platform-neutral answer. ``lines`` are (label, catalog text) pairs: the text is data
    that each platform escapes in its own format; labels are ours."""

    kind: str  #: card | impact | candidates | not_found | help
    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    options: list[Link] = field(default_factory=list)
    metric_id: str | None = None  #: counted in usage statistics


def parse_question(text: str) -> tuple[str, str]:
    """``("card" | "impact", name)`` for a message text.

    >>> parse_question("@指标字典 影响 客单价")
    ('impact', '客单价')
    >>> parse_question("  ATP ")
    ('card', 'atp')
    """
    text = MENTION.sub("", normalize_text(text))[:MAX_QUESTION].strip()
    head, _, rest = text.partition(" ")
    if head.lower() in IMPACT_WORDS and rest.strip():
        return "impact", rest.strip()
    return "card", text


def answer(store: GraphStore, text: str, base_url: str) -> Answer:
    """The answer to one chat message, read from one published graph."""
    pinned = store if isinstance(store, PinnedStore) else PinnedStore(store)
    try:
        meta = pinned.info().meta
    except KpigraphError:
        meta = {}
    with in_language_of(meta):  # a chat answer speaks the catalog's language
        return _answer(pinned, text, base_url)


def _answer(pinned: GraphStore, text: str, base_url: str) -> Answer:
    what, name = parse_question(text)
    base = base_url.rstrip("/")
    if not name:
        return Answer(
            "help",
            _("Metric dictionary · how to ask"),
            [
                (
                    "",
                    _(
                        "Send a metric's name for its definition, e.g. 客单价; send "
                        "“影响 客单价” (impact ATP) for what a change would touch."
                    ),
                )
            ],
        )
    matches = named(pinned, name)
    metrics = [m for m in matches if isinstance(m, Metric)]
    if what == "card":
        if len(metrics) == 1:
            return card(pinned, metrics[0], base)
        if len(metrics) > 1:
            intro = _("several metrics have this name; ask again with one of:")
            return candidates(name, metrics, base, intro)
        return not_found(pinned, name, base)
    try:
        ref = resolve_ref(pinned, name)
    except AmbiguousRefError:
        intro = _("several nodes have this name; ask again with one of:")
        return candidates(name, matches, base, intro)
    except KpigraphError:
        return not_found(pinned, name, base)
    return impact_summary(pinned, ref, base)


def card(store: GraphStore, metric: Metric, base: str) -> Answer:
    head = metric.name
    aka = ", ".join(x for x in (metric.abbr, metric.name_en) if x)
    lines: list[tuple[str, str]] = []
    if aka:
        lines.append((_("Also known as"), aka))
    tags = " · ".join(x for x in (metric.level.value if metric.level else None, metric.domain) if x)
    if tags:
        lines.append((_("Level"), tags))
    if metric.definition:
        lines.append((_("Definition"), metric.definition))
    formula = formula_in_names(store, metric)
    if formula:
        lines.append((_("Formula"), formula))
    caliber = caliber_summary(metric)
    if caliber:
        lines.append((_("Caliber"), caliber))
    owner = _department(store, metric.owner)
    if owner:
        lines.append((_("Owner"), owner))
    if metric.version:
        lines.append((_("Version"), metric.version))
    if metric.status.value != "active":
        lines.append((_("Status"), translate(metric.status.value)))
    links = [
        Link(_("Details"), f"{base}/metrics/{quote(metric.id)}"),
        Link(_("Impact"), f"{base}/impact/{quote(str(metric.ref))}"),
    ]
    return Answer("card", head, lines, links, metric_id=metric.id)


def impact_summary(store: GraphStore, ref: NodeRef, base: str) -> Answer:
    report = impact(store, ref)
    node = store.get_nodes([ref]).get(ref)
    title = _("Impact of changing {name}", name=node.name if node else ref.id)
    recomputed = [m for m in report.metrics if m.via == "definition"]
    influenced = [m for m in report.metrics if m.via != "definition"]
    lines = [
        (_("recomputed"), _names(recomputed)),
        (_("influenced (read differently)"), _names(influenced)),
        (_("Dashboards"), _names(report.dashboards)),
        (_("Departments to tell"), _names(report.departments)),
    ]
    if report.touches_l0:
        lines.append((_("Note"), _("recomputes L0 (north-star) metrics")))
    link = Link(_("Full impact report"), f"{base}/impact/{quote(str(ref))}")
    metric_id = ref.id if ref.kind is NodeKind.METRIC else None
    return Answer("impact", title, lines, [link], metric_id=metric_id)


def candidates(name: str, nodes: Sequence[object], base: str, intro: str) -> Answer:
    options = [
        Link(
            _("{name} ({id})", name=getattr(n, "name", ""), id=getattr(n, "ref", "")),
            _url(base, n),
        )
        for n in nodes
    ][:10]
    return Answer("candidates", f"“{name}” {intro}", options=options)


def not_found(store: GraphStore, name: str, base: str) -> Answer:
    page = store.search(SearchQuery(text=name, kinds=frozenset({NodeKind.METRIC}), limit=5))
    if page.items:
        return candidates(
            name, list(page.items), base, _("no metric has exactly this name. Did you mean:")
        )
    return Answer(
        "not_found",
        _("Nothing found for “{name}”", name=name),
        [("", _("Try a metric's Chinese or English name, or its abbreviation: 客单价, ATP."))],
    )


def _url(base: str, node: object) -> str:
    ref = getattr(node, "ref", None)
    if isinstance(ref, NodeRef) and ref.kind is NodeKind.METRIC:
        return f"{base}/metrics/{quote(ref.id)}"
    return f"{base}/nodes/{quote(str(ref))}"


def _names(items: Sequence[object], limit: int = 12) -> str:
    names = [str(getattr(i, "name", None) or getattr(i, "ref", "")) for i in items]
    more = _(" and {count} more", count=len(names) - limit) if len(names) > limit else ""
    return _(", ").join(names[:limit]) + more if names else _("none")


def _department(store: GraphStore, dept: str | None) -> str | None:
    if not dept:
        return None
    found = store.get_nodes([NodeRef(NodeKind.DEPARTMENT, dept)])
    node = next(iter(found.values()), None)
    return node.name if node else dept
