"""The search ranking rule, as plain reference functions. Both stores rank with
:mod:`store.search_index`, which computes the same rule on arrays and is tested against it.

Rank 0: the query equals the id, name, English name or abbreviation (case-insensitive).
Rank 1: one of those starts with the query. Rank 2: one of those contains it.
Rank 3: the definition, meaning or a tag (the description, for other kinds) contains it.
No match: excluded. Ties: level (L0 first, none last), then ref.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph_schema.ids import NodeKind
from store.base import LEVEL_ORDER, NO_LEVEL, SearchQuery


def search_fields(kind: NodeKind, props: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(title-like strings, body strings), lower-cased, from a node's stored properties.

    Examples
    --------
    >>> search_fields(NodeKind.METRIC, {"id": "atp", "name": "客单价", "abbr": "ATP"})
    (['atp', '客单价', 'atp'], [])
    >>> search_fields(NodeKind.METRIC, {"id": "dau", "name": "日活", "tags": ["AARRR-Retention"]})
    (['dau', '日活'], ['aarrr-retention'])
    """
    titles = [str(props["id"]).lower(), str(props["name"]).lower()]
    if kind is NodeKind.METRIC:
        titles += [str(props[k]).lower() for k in ("name_en", "abbr") if props.get(k)]
        body = [str(props[k]).lower() for k in ("definition", "meaning") if props.get(k)]
        body += [str(tag).lower() for tag in props.get("tags") or ()]  # AARRR-Revenue, ...
    else:
        body = [str(props["description"]).lower()] if props.get("description") else []
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


def level_index(props: Mapping[str, Any]) -> int:
    level = props.get("level")
    return LEVEL_ORDER.get(level, NO_LEVEL) if isinstance(level, str) else NO_LEVEL


def filter_values(kind: NodeKind, props: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """(domain, level, status, owner, reviewer, priority, role, horizon) for metrics; ``None``
    for other kinds."""
    if kind is not NodeKind.METRIC:
        return None
    return tuple(props.get(k) for k in FILTER_COLUMNS)


#: the metric properties a search filters on, in the order of :func:`filter_values`
FILTER_COLUMNS = ("domain", "level", "status", "owner", "reviewer", "priority", "role", "horizon")


def passes(values: tuple[Any, ...] | None, query: SearchQuery) -> bool:
    """Whether a node with these filter values passes the query's filters."""
    if not query.filtered:
        return True
    if values is None:
        return False
    domain, level, status, owner, reviewer, priority, role, horizon = values
    wanted = (
        (query.domain, domain),
        (query.level, level),
        (query.status, status),
        (query.priority, priority),
        (query.role, role),
        (query.horizon, horizon),
    )
    if any(want is not None and have != want for want, have in wanted):
        return False
    return query.department is None or query.department in (owner, reviewer)


def normalize_text(text: str | None) -> str:
    return (text or "").strip().lower()
