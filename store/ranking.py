"""The search ranking rule, shared so that both backends rank identically.

Rank 0: the query equals the id, name, English name or abbreviation (case-insensitive).
Rank 1: one of those starts with the query. Rank 2: one of those contains it.
Rank 3: the definition or meaning contains it. No match: excluded.
Ties: level (L0 first, none last), then ref.
"""

from __future__ import annotations

from graph_schema.models import BaseNode, Metric
from store.base import LEVEL_ORDER, NO_LEVEL, SearchQuery


def search_fields(node: BaseNode) -> tuple[list[str], list[str]]:
    """(title-like strings, body strings), lower-cased."""
    titles = [node.id.lower(), node.name.lower()]
    body: list[str] = []
    if isinstance(node, Metric):
        titles += [s.lower() for s in (node.name_en, node.abbr) if s]
        body += [s.lower() for s in (node.definition, node.meaning) if s]
    else:
        desc = getattr(node, "description", None)
        if desc:
            body.append(desc.lower())
    return titles, body


def match_rank(text: str, titles: list[str], body: list[str]) -> int | None:
    """The rank of a match (lower is better) or ``None``.

    Examples
    --------
    >>> match_rank("atp", ["atp", "客单价"], [])
    0
    >>> match_rank("客单", ["atp", "客单价"], [])
    1
    >>> match_rank("进厂", ["atp", "客单价"], ["单个客户单次进厂消费的平均金额。"])
    3
    """
    if not text:
        return 0
    if text in titles:
        return 0
    if any(t.startswith(text) for t in titles):
        return 1
    if any(text in t for t in titles):
        return 2
    if any(text in b for b in body):
        return 3
    return None


def level_index(node: BaseNode) -> int:
    level = node.level if isinstance(node, Metric) else None
    return LEVEL_ORDER.get(level.value, NO_LEVEL) if level is not None else NO_LEVEL


def passes_filters(node: BaseNode, query: SearchQuery) -> bool:
    if node.kind not in query.kinds:
        return False
    if not any((query.domain, query.level, query.status, query.department)):
        return True
    if not isinstance(node, Metric):
        return False
    if query.domain is not None and node.domain != query.domain:
        return False
    if query.level is not None and (node.level is None or node.level.value != query.level):
        return False
    if query.status is not None and node.status.value != query.status:
        return False
    return query.department is None or query.department in (node.owner, node.reviewer)


def normalize_text(text: str | None) -> str:
    return (text or "").strip().lower()
