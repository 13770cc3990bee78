"""/api/ask: a plain-text answer for chat bots (「@指标字典 客单价」)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from api.dependencies import StoreDep
from api.errors import error_json
from api.governance import ask_extras
from api.schemas import ErrorResponse
from core.i18n import N_, _, in_language_of
from core.settings import Settings
from graph_schema.formula import parse_formula
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from store.base import GraphStore, SearchQuery
from store.ranking import match_rank, normalize_text, search_fields

router = APIRouter(prefix="/api", tags=["ask"])


def formula_in_names(store: GraphStore, metric: Metric) -> str | None:
    """``营收 / 进厂台次`` for ``revenue / visits``: ids replaced by display names."""
    if not metric.formula:
        return None
    parsed = parse_formula(metric.formula)
    refs = {NodeRef(NodeKind.METRIC, r.name) for r in parsed.references()}
    names = {ref.id: label.name for ref, label in store.labels(refs).items()}
    return f"{metric.name} = {parsed.with_names(names)}"


def caliber_summary(metric: Metric) -> str | None:
    c = metric.caliber
    if c is None:
        return None
    parts = []
    for label, scope in (
        (N_("numerator"), c.numerator),
        (N_("denominator"), c.denominator),
        (N_("scope"), c.scope),
    ):
        if scope is None:
            continue
        if scope.includes:
            items = _(", ").join(scope.includes)
            parts.append(_("{part} includes {items}", part=_(label), items=items))
        if scope.excludes:
            items = _(", ").join(scope.excludes)
            parts.append(_("{part} excludes {items}", part=_(label), items=items))
    if c.time:
        parts.append(_("time: {value}", value=c.time))
    return _("; ").join(parts) or None


def answer_text(store: GraphStore, metric: Metric, link: str) -> str:
    head = metric.name
    aka = ", ".join(x for x in (metric.abbr, metric.name_en) if x)
    if aka:
        head += _(" ({value})", value=aka)
    tags = " · ".join(x for x in (metric.level.value if metric.level else None, metric.domain) if x)
    lines = [head + (f" · {tags}" if tags else "")]
    if metric.definition:
        lines.append(_("Definition: {value}", value=metric.definition))
    formula = formula_in_names(store, metric)
    if formula:
        lines.append(_("Formula: {value}", value=formula))
    caliber = caliber_summary(metric)
    if caliber:
        lines.append(_("Scope: {value}", value=caliber))
    depts = store.get_nodes(
        NodeRef(NodeKind.DEPARTMENT, d) for d in (metric.owner, metric.reviewer) if d
    )
    owner = depts.get(NodeRef(NodeKind.DEPARTMENT, metric.owner)) if metric.owner else None
    reviewer = depts.get(NodeRef(NodeKind.DEPARTMENT, metric.reviewer)) if metric.reviewer else None
    if owner or reviewer:
        who = owner.name if owner else _("not set")
        if reviewer:
            lines.append(
                _("Owner: {owner} (reviewer: {reviewer})", owner=who, reviewer=reviewer.name)
            )
        else:
            lines.append(_("Owner: {owner}", owner=who))
    if metric.status.value != "active":
        lines.append(_("Status: {value}", value=_(metric.status.value)))
    lines.append(_("Details: {value}", value=link))
    return "\n".join(lines)


#: Control characters and bidi overrides: the answer is read with curl in terminals and pasted
#: into chats, so catalog text must not clear a screen, set a title or read backwards.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    r"""``text`` with control characters shown as escapes (newlines and tabs kept).

    Examples
    --------
    >>> plain("客单价\x1b[2J\u202eATP\n")
    '客单价\\x1b[2J\\u202eATP\n'
    """
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def public_url(request: Request) -> str:
    """This server's URL for links, from configuration (``KPIGRAPH_BASE_URL``), never from
    the request's Host header (which any client, or a DNS-rebinding page, chooses)."""
    settings: Settings = request.app.state.settings
    return settings.base_url.rstrip("/")


@router.get(
    "/ask",
    response_class=PlainTextResponse,
    summary="Plain-text answer for chat bots",
    responses={
        200: {"content": {"text/plain": {"example": "客单价（ATP, Average Ticket Price）…"}}},
        404: {"model": ErrorResponse, "description": "nothing matches (the JSON error shape)"},
    },
)
def ask(
    request: Request,
    store: StoreDep,
    q: Annotated[str, Query(min_length=1, max_length=200, examples=["客单价"])],
) -> Response:
    """Name, definition, formula, caliber summary, owner and a link for an exact match (id,
    name, English name or abbreviation); otherwise a short "did you mean" list."""
    text = normalize_text(q.replace("@指标字典", ""))
    page = store.search(SearchQuery(text=text, kinds=frozenset({NodeKind.METRIC}), limit=5))
    base = public_url(request)
    if page.items:
        top = page.items[0]
        titles, body = search_fields(top.kind, top.props())
        if isinstance(top, Metric) and match_rank(text, titles, body) == 0:
            with in_language_of(store.info().meta):  # chats read the catalog's language
                answer = answer_text(store, top, f"{base}/metrics/{top.id}")
            return PlainTextResponse(plain(answer + ask_extras(request, top.id)))  # + FAQ
    with in_language_of(store.info().meta):  # the catalog's language, as the answer above
        if not page.items:  # an error: the JSON error shape, like every other error
            return error_json(
                404,
                "not_found",
                _(
                    "no metric found for “{q}”; try a metric's name, English name or abbreviation",
                    q=q.strip(),
                ),
                {"q": q},
            )
        options = "\n".join("- " + _("{name} ({id})", name=n.name, id=n.id) for n in page.items)
        asked = _("no metric is exactly “{q}”; did you mean:", q=q.strip())
    return PlainTextResponse(plain(f"{asked}\n{options}"))
