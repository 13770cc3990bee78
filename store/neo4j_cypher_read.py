"""The Cypher of the Neo4j store's reads: every read pinned to one generation, traversals,
the relationships among a set, and searches before the in-process index is ready.
Re-exported by :mod:`store.neo4j_cypher` (its rules apply)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation
from store.base import Walk
from store.neo4j_cypher_load import readable, visible

# -- reads: pinned to one generation ------------------------------------------------------------
#
# A reader (:class:`store.neo4j_reader.Neo4jReader`) reads one generation for a whole request. Its
# first read takes the published one (``$gen`` null; not ``gen`` but what :func:`readable` names:
# a swap's generation once the swap is applied whole, see "readable" in
# :mod:`store.neo4j_cypher_load`), later ones pass it as ``$gen``; ``gb`` is its
# base (the nodes' ``_gen``) and ``gs`` its sequence (0 for a full load), and every node a read
# reaches is tested with :func:`visible` at ``gs``. Every read returns one row: ``g`` (the
# generation read), ``rows`` (the answer) and ``live`` (after the rows were read, a correlated
# subquery after the aggregation: ``g`` itself while ``g`` is still the published generation
# or the one before it, else the published one). ``live = g`` means nothing the reader could
# see was swept before the rows were all read (the sweep deletes only what neither of those
# two sees, after the swap that made it so committed); any other ``live`` and the reader
# refuses the answer as replaced — never a mix of two loads.

#: First clause of every pinned read: ``g``, the pinned or else the live generation.
_PIN = (
    "OPTIONAL MATCH (m0:KpiMeta {key: 'graph'}) "
    f"WITH coalesce($gen, {readable('m0')}) AS g "
    "WITH g, split(g, '.')[0] AS gb, coalesce(toInteger(split(g, '.')[1]), 0) AS gs "
)
#: Last clause of every pinned read, after ``rows`` was aggregated.
_CHECK = (
    "CALL { WITH g, rows OPTIONAL MATCH (m1:KpiMeta {key: 'graph'}) "
    "RETURN CASE WHEN g IN [m1.gen, m1.prev] THEN g ELSE m1.gen END AS live } "
    "RETURN g, live, rows"
)


def pinned(body: str) -> str:
    """A read of generation ``g``: ``body`` is a subquery over ``g``, ``gb`` and ``gs`` that
    returns one row, ``rows``; the result is one row ``g, live, rows`` (see "reads" above).

    Examples
    --------
    >>> q = pinned("RETURN [] AS rows")
    >>> q.startswith(_PIN) and q.endswith("RETURN g, live, rows")
    True
    """
    return f"{_PIN}CALL {{ WITH g, gb, gs {body} }} {_CHECK}"


_VIS_N = visible("n", "gs")
GET_META = pinned(
    "OPTIONAL MATCH (m:KpiMeta {key: 'graph'}) WHERE g IN [m.gen, m.prev] "
    "WITH CASE WHEN m.gen = g THEN [m.catalog, m.loaded_at, m.meta, m.counts] "
    "ELSE m.prev_info END AS x "
    "RETURN [x IN collect(x) | {catalog: x[0], loaded_at: x[1], meta: x[2], counts: x[3]}] "
    "AS rows"
)
GET_NODES = pinned(
    f"UNWIND $refs AS ref MATCH (n:KpiNode {{_gen: gb, ref: ref}}) WHERE {_VIS_N} "
    "RETURN collect({kind: n.kind, props: n.props}) AS rows"
)
#: The metrics indexed by one of the conflict keys ``$keys`` (``_keys``, written by every load
#: and delta: :func:`store.neo4j_load.node_row`), and those written before the index existed
#: (no ``_keys``: the reader checks their keys itself). Node rows, no model is built in between.
GET_KEYED = pinned(
    f"MATCH (n:Metric) WHERE n._gen = gb AND {_VIS_N} "
    "AND (n._keys IS NULL OR any(k IN n._keys WHERE k IN $keys)) "
    "RETURN collect({kind: n.kind, props: n.props, keyed: n._keys IS NOT NULL}) AS rows"
)
#: Name and level only (``level`` is stored as a property of its own on metrics).
GET_LABELS = pinned(
    f"UNWIND $refs AS ref MATCH (n:KpiNode {{_gen: gb, ref: ref}}) WHERE {_VIS_N} "
    "RETURN collect({ref: n.ref, name: n.name, level: n.level}) AS rows"
)
#: Every node of a generation, for the search index (:mod:`store.search_index`): streamed in a
#: read transaction whose next statement, ``GET_READY_GEN``, checks it was still the one read.
SEARCH_INDEX_ROWS = (
    "WITH split($gen, '.')[0] AS gb, coalesce(toInteger(split($gen, '.')[1]), 0) AS gs "
    f"MATCH (n:KpiNode) WHERE n._gen = gb AND n.ref IS NOT NULL AND {_VIS_N} "
    "RETURN n.kind AS kind, n.ref AS ref, n.props AS props"
)
#: A search page's nodes, in any order.
GET_PAGE = pinned(
    f"UNWIND $refs AS ref MATCH (n:KpiNode {{_gen: gb, ref: ref}}) WHERE {_VIS_N} "
    "RETURN collect({ref: n.ref, kind: n.kind, props: n.props}) AS rows"
)
EDGES_OUT = pinned(
    "UNWIND $refs AS ref MATCH (a:KpiNode {_gen: gb, ref: ref}) "
    f"WHERE {visible('a', 'gs')} MATCH (a)-[r]->(b:KpiNode) "
    f"WHERE type(r) IN $types AND {visible('b', 'gs')} "
    "RETURN collect({source: a.ref, target: b.ref, type: type(r), props: r.props}) AS rows"
)
EDGES_IN = pinned(
    "UNWIND $refs AS ref MATCH (a:KpiNode {_gen: gb, ref: ref}) "
    f"WHERE {visible('a', 'gs')} MATCH (a)<-[r]-(b:KpiNode) "
    f"WHERE type(r) IN $types AND {visible('b', 'gs')} "
    "RETURN collect({source: b.ref, target: a.ref, type: type(r), props: r.props}) AS rows"
)
PING = "RETURN 1 AS ok"
_VIS_A = visible("a", "gs")
_VIS_B = visible("b", "gs")

_ARROWS: dict[Walk, tuple[str, str]] = {
    Walk.FORWARD: ("-", "->"),
    Walk.BACKWARD: ("<-", "-"),
    Walk.UNDIRECTED: ("-", "-"),
}


def expand_query(walk: Walk, relations: Iterable[Relation], hops: int = 1) -> str:
    """``hops`` breadth-first hops from ``$frontier`` in one query, never revisiting ``$seen``.

    A pinned read (:func:`pinned`): ``rows`` holds the refs first reached at each hop (a
    list per hop). Each
    hop expands only the nodes first reached at the hop before, so every node is expanded
    once whatever the cycles — linear in the edges walked. (Not a variable-length pattern:
    a cached path-enumerating plan of ``[*1..]`` with ``min(length(p))`` ran 18 minutes on
    14 nodes with parallel cyclic edges, and ``ANY SHORTEST`` with an upper bound
    ``{1,50}`` took 57 s on a 1,500-node closure.)

    Examples
    --------
    >>> q = expand_query(Walk.BACKWARD, [Relation.INPUT_TO, Relation.DRIVES], hops=2)
    >>> q.count("<-[:DRIVES|INPUT_TO]-")
    2
    """
    if isinstance(hops, bool) or not isinstance(hops, int) or not 1 <= hops <= MAX_HOPS:
        raise InvalidQueryError(
            _(
                "hops must be an integer from 1 to {most}, got {hops}",
                most=MAX_HOPS,
                hops=repr(hops),
            )
        )
    return _expand_query(Walk(walk), _rels(relations), hops)


#: Hops per traversal query; deeper walks take another round trip per ``MAX_HOPS`` hops.
MAX_HOPS = 10


def _rels(relations: Iterable[Relation]) -> frozenset[Relation]:
    rels = frozenset(relations)
    if not rels or not all(isinstance(r, Relation) for r in rels):
        raise InvalidQueryError("relations must be a non-empty set of Relation members")
    return rels


@functools.lru_cache(maxsize=512)
def _expand_query(walk: Walk, rels: frozenset[Relation], hops: int) -> str:
    left, right = _ARROWS[walk]
    step = f"{left}[:{'|'.join(sorted(r.value for r in rels))}]{right}"
    parts = [
        f"UNWIND $frontier AS ref MATCH (a:KpiNode {{_gen: gb, ref: ref}}) WHERE {_VIS_A} ",
        # max(gs), not a grouping key: no frontier node found must still give one row
        "WITH collect(a) AS f0, max(gs) AS gs WITH f0, gs, $seen AS seen ",
    ]
    for i in range(1, hops + 1):
        parts.append(
            f"CALL {{ WITH f{i - 1}, seen, gs UNWIND f{i - 1} AS a MATCH (a){step}(b:KpiNode) "
            f"WHERE NOT b.ref IN seen AND {_VIS_B} RETURN collect(DISTINCT b) AS f{i} }} "
            f"WITH {', '.join(f'f{j}' for j in range(1, i + 1))}, gs, "
            f"seen + [n IN f{i} | n.ref] AS seen "
        )
    levels = ", ".join(f"[n IN f{i} | n.ref]" for i in range(1, hops + 1))
    parts.append(f"RETURN [{levels}] AS rows")
    return pinned("".join(parts))


#: Out-degree above which a member's edges are found by probing each other member
#: (``Expand(Into)``, which walks the smaller side) instead of walking all its edges.
DENSE_DEGREE = 64


def edges_among_query(relations: Iterable[Relation]) -> str:
    """The relationships of the given types whose two ends are both in ``$refs``.

    A sparse member walks its outgoing edges; a dense one (a system with thousands of tables,
    a hot field) is paired with every member instead, so its fan-out is never walked.

    Examples
    --------
    >>> q = edges_among_query([Relation.FEEDS, Relation.INPUT_TO])
    >>> q.count("-[r:FEEDS|INPUT_TO]->")
    2
    """
    return _edges_among_query(_rels(relations))


@functools.lru_cache(maxsize=128)
def _edges_among_query(rels: frozenset[Relation]) -> str:
    types = "|".join(sorted(r.value for r in rels))
    return pinned(
        f"MATCH (n:KpiNode) WHERE n._gen = gb AND n.ref IN $refs AND {_VIS_N} "
        "WITH collect(n) AS members "
        "UNWIND members AS a "
        f"WITH a, members, COUNT {{ (a)-[:{types}]->() }} <= $dense AS sparse "
        "CALL { "
        "WITH a, members, sparse WITH a, members WHERE sparse "
        f"MATCH (a)-[r:{types}]->(b) WHERE b IN members RETURN r, b "
        "UNION "
        "WITH a, members, sparse WITH a, members WHERE NOT sparse "
        f"UNWIND members AS b MATCH (a)-[r:{types}]->(b) RETURN r, b "
        "} "
        "RETURN collect({source: a.ref, target: b.ref, type: type(r), props: r.props}) AS rows"
    )


# -- search before the index is ready (H-scale, #17) ---------------------------------------------
#
# The in-process search index (:mod:`store.search_index`) of a generation is built in the
# background (at ``kpigraph serve`` start-up, or when another process publishes a load); until it
# is ready a search is answered here, with the same rule. Every node stores its search strings,
# lower-cased by :func:`store.ranking.search_fields`: ``_titles`` = ``\x02t1\x02t2\x02`` (each
# title framed by separators, as in the index) and ``_body`` = ``b1\x02b2``. So rank 0 is
# ``_titles CONTAINS \x02text\x02``, rank 1 ``CONTAINS \x02text``, rank 2 ``CONTAINS text``,
# rank 3 ``_body CONTAINS text``; ties by level (``$levels``, else ``$no_level``), then ref.

#: Whether a generation's nodes carry ``_titles`` (graphs loaded before they existed do not:
#: their searches wait for the index).
HAS_SEARCH_STRINGS = pinned(
    f"OPTIONAL MATCH (n:KpiNode) WHERE n._gen = gb AND n.ref IS NOT NULL AND {_VIS_N} "
    "WITH n LIMIT 1 RETURN [x IN collect(n) | x._titles IS NOT NULL] AS rows"
)


#: What every search statement does after its MATCH (see "search before the index").
_SEARCH_BODY = (
    "AND ($text = '' OR n._titles CONTAINS $text OR n._body CONTAINS $text) "
    "AND (NOT $filtered OR (n.kind = 'Metric' "
    "AND ($domain IS NULL OR n.domain = $domain) AND ($level IS NULL OR n.level = $level) "
    "AND ($status IS NULL OR n.status = $status) "
    "AND ($priority IS NULL OR n.priority = $priority) AND ($role IS NULL OR n.role = $role) "
    "AND ($horizon IS NULL OR n.horizon = $horizon) "
    "AND ($department IS NULL OR n.owner = $department OR n.reviewer = $department))) "
    "WITH n.ref AS ref, "
    "CASE WHEN $text = '' OR n._titles CONTAINS $exact THEN 0 "
    "WHEN n._titles CONTAINS $starts THEN 1 WHEN n._titles CONTAINS $text THEN 2 ELSE 3 END "
    "AS rank, coalesce($levels[n.level], $no_level) AS lvl "
    "ORDER BY rank, lvl, ref "
    "WITH collect(ref) AS refs "
    "RETURN [{total: size(refs), refs: refs[$offset..$end]}] AS rows"
)


def search_nodes_query(kinds: Iterable[NodeKind]) -> str:
    """The search of ``$text`` over nodes of ``kinds``: a pinned read whose ``rows`` is
    ``[{total, refs}]``, the number of matches and the refs of the page, best first. One kind
    (a metric search, the usual one) scans only its label's nodes.

    Examples
    --------
    >>> "MATCH (n:Metric)" in search_nodes_query([NodeKind.METRIC])
    True
    >>> "n.kind IN $kinds" in search_nodes_query([NodeKind.METRIC, NodeKind.FIELD])
    True
    """
    return _search_nodes_query(frozenset(NodeKind(k) for k in kinds))


@functools.lru_cache(maxsize=64)
def _search_nodes_query(kinds: frozenset[NodeKind]) -> str:
    if len(kinds) == 1:
        (kind,) = kinds
        match = f"MATCH (n:{kind.value}) WHERE n._gen = gb AND {_VIS_N} "
    else:
        match = (
            "MATCH (n:KpiNode) WHERE n._gen = gb AND n.ref IS NOT NULL AND n.kind IN $kinds "
            f"AND {_VIS_N} "
        )
    return pinned(match + _SEARCH_BODY)
