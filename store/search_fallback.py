"""Searching a Neo4j generation in Cypher, for the seconds before its search index is ready.

The in-process :class:`~store.search_index.SearchIndex` answers a search in about a millisecond,
but is built from every node of a generation (seconds at 100k metrics). A Neo4j store starts
building it in the background when ``kpigraph serve`` starts and whenever it first meets a newly
published generation; meanwhile :func:`store.neo4j_cypher.search_nodes_query` answers, with the
rule of :mod:`store.ranking` over the strings this module stores on every node at load time.

Examples
--------
>>> titles, body = search_strings(NodeKind.METRIC, {"id": "atp", "name": "客单价", "abbr": "ATP"})
>>> titles.split(FIELD_SEP)
['', 'atp', '客单价', 'atp', '']
>>> body
''
>>> params = search_params(SearchQuery(text=" ATP ", limit=5))
>>> params["text"], params["exact"] == FIELD_SEP + "atp" + FIELD_SEP, params["end"]
('atp', True, 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph_schema.ids import NodeKind
from store.base import LEVEL_ORDER, NO_LEVEL, SearchQuery
from store.ranking import normalize_text, search_fields
from store.search_index import FIELD_SEP, RECORD_SEP


def search_strings(kind: NodeKind, props: Mapping[str, Any]) -> tuple[str, str]:
    """``(_titles, _body)`` stored on a node: its lower-cased titles, each framed by
    ``FIELD_SEP`` (as in the index's title blob), and its bodies joined by ``FIELD_SEP``."""
    titles, body = search_fields(kind, props)
    return FIELD_SEP + FIELD_SEP.join(titles) + FIELD_SEP, FIELD_SEP.join(body)


def searchable(query: SearchQuery) -> bool:
    """False when the text holds a separator: no node can match (the index says the same)."""
    text = normalize_text(query.text)
    return RECORD_SEP not in text and FIELD_SEP not in text


def search_params(query: SearchQuery) -> dict[str, Any]:
    """The parameters of :func:`store.neo4j_cypher.search_nodes_query` for ``query``."""
    text = normalize_text(query.text)
    return {
        "text": text,
        "exact": FIELD_SEP + text + FIELD_SEP,
        "starts": FIELD_SEP + text,
        "kinds": sorted(k.value for k in query.kinds),
        "filtered": query.filtered,
        "priority": query.priority,
        "role": query.role,
        "horizon": query.horizon,
        "domain": query.domain,
        "level": query.level,
        "status": query.status,
        "department": query.department,
        "levels": dict(LEVEL_ORDER),
        "no_level": NO_LEVEL,
        "offset": query.offset,
        "end": query.offset + query.limit,
    }
