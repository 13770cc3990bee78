"""Every Cypher statement kpigraph runs, named by intent.

Rules: every value is a ``$parameter``. The only things spliced into query text are labels and
relationship types taken from the closed enums (:class:`NodeKind`, :class:`Relation`) and
depth bounds that :func:`traverse_query` range-checks as ints. Nothing here is built from
user input.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation
from store.base import Walk

#: Every kpigraph node carries this label besides its kind label; ``ref`` is unique across it.
BASE_LABEL = "KpiNode"
META_LABEL = "KpiMeta"
MAX_TRAVERSAL_DEPTH = 100

# -- schema (idempotent) ------------------------------------------------------------------------

CREATE_REF_CONSTRAINT = (
    "CREATE CONSTRAINT kpinode_ref IF NOT EXISTS FOR (n:KpiNode) REQUIRE n.ref IS UNIQUE"
)
CREATE_META_CONSTRAINT = (
    "CREATE CONSTRAINT kpimeta_key IF NOT EXISTS FOR (m:KpiMeta) REQUIRE m.key IS UNIQUE"
)
#: One uniqueness constraint per kind label on ``id``.
CREATE_ID_CONSTRAINTS: dict[NodeKind, str] = {
    kind: (
        f"CREATE CONSTRAINT {kind.value.lower()}_id IF NOT EXISTS "
        f"FOR (n:{kind.value}) REQUIRE n.id IS UNIQUE"
    )
    for kind in NodeKind
}
#: Full-text index over metric names, abbreviations and definitions; ``cjk`` splits Chinese.
CREATE_METRIC_FULLTEXT = (
    "CREATE FULLTEXT INDEX metric_text IF NOT EXISTS FOR (n:Metric) "
    "ON EACH [n.name, n.name_en, n.abbr, n.definition] "
    "OPTIONS {indexConfig: {`fulltext.analyzer`: 'cjk'}}"
)
#: Trigram text index over each node's joined, lower-cased search strings: makes the search's
#: ``CONTAINS`` an index lookup instead of a scan of every node.
CREATE_SEARCH_TEXT_INDEX = (
    "CREATE TEXT INDEX kpinode_search IF NOT EXISTS FOR (n:KpiNode) ON (n._search) "
    "OPTIONS {indexProvider: 'text-2.0'}"
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

# -- load (all inside one write transaction) ---------------------------------------------------
#
# A load replaces the graph without deleting it first: mass deletes in a transaction make every
# later index seek in it slow (measured: reloading 173k items took 553 s after an in-transaction
# wipe, 19 s this way). So: drop the relationships, upsert every node in place (stamped with the
# load's id), create the relationships, then delete the nodes this load did not stamp.

DELETE_GRAPH = "MATCH (n:KpiNode) DETACH DELETE n"
DELETE_META = "MATCH (m:KpiMeta) DELETE m"
DELETE_RELATIONSHIPS = "MATCH (:KpiNode)-[r]->(:KpiNode) DELETE r"
#: A label scan (no index seeks): nodes of earlier loads that this one did not write.
DELETE_STALE_NODES = "MATCH (n:KpiNode) WHERE n._load IS NULL OR n._load <> $load DETACH DELETE n"

#: ``UNWIND $rows`` + MERGE on ``ref``, one statement per kind (labels are static text);
#: ``SET n = row`` replaces every property, so removed keys disappear.
MERGE_NODES: dict[NodeKind, str] = {
    kind: f"UNWIND $rows AS row MERGE (n:KpiNode:{kind.value} {{ref: row.ref}}) SET n = row"
    for kind in NodeKind
}
#: ``UNWIND $rows`` + CREATE per relationship type. Not MERGE: every relationship was deleted
#: earlier in the same transaction and the loader deduplicates edges, so MERGE would only add
#: a scan of both ends' relationships per row — quadratic on hot fields feeding thousands of
#: metrics.
CREATE_EDGES: dict[Relation, str] = {
    rel: (
        "UNWIND $rows AS row "
        "MATCH (a:KpiNode {ref: row.source}) MATCH (b:KpiNode {ref: row.target}) "
        f"CREATE (a)-[r:{rel.value}]->(b) SET r.props = row.props"
    )
    for rel in Relation
}
SET_META = (
    "MERGE (m:KpiMeta {key: 'graph'}) "
    "SET m.catalog = $catalog, m.loaded_at = $loaded_at, m.meta = $meta, m.counts = $counts"
)

# -- reads -------------------------------------------------------------------------------------

GET_META = (
    "MATCH (m:KpiMeta {key: 'graph'}) "
    "RETURN m.catalog AS catalog, m.loaded_at AS loaded_at, m.meta AS meta, m.counts AS counts"
)
GET_NODES = (
    "UNWIND $refs AS ref MATCH (n:KpiNode {ref: ref}) RETURN n.kind AS kind, n.props AS props"
)
#: The ranking rule of :mod:`store.ranking`, in Cypher, over the same lower-cased strings.
#: Every node whose search strings contain the text (the text index answers the CONTAINS).
SEARCH = """
MATCH (n:KpiNode)
WHERE n._search CONTAINS $text AND n.kind IN $kinds
  AND ($domain IS NULL OR n.domain = $domain)
  AND ($level IS NULL OR n.level = $level)
  AND ($status IS NULL OR n.status = $status)
  AND ($department IS NULL OR n.owner = $department OR n.reviewer = $department)
WITH n, CASE
  WHEN $text IN n._titles THEN 0
  WHEN n._title_text CONTAINS $prefix THEN 1
  WHEN n._title_text CONTAINS $text THEN 2
  ELSE 3
END AS rank
WITH n ORDER BY rank, n._level, n.ref
WITH collect(n) AS hits
RETURN size(hits) AS total,
       [h IN hits[$offset..($offset + $limit)] | {kind: h.kind, props: h.props}] AS page
"""
#: Listing without text (filters only).
LIST = """
MATCH (n:KpiNode)
WHERE n.kind IN $kinds
  AND ($domain IS NULL OR n.domain = $domain)
  AND ($level IS NULL OR n.level = $level)
  AND ($status IS NULL OR n.status = $status)
  AND ($department IS NULL OR n.owner = $department OR n.reviewer = $department)
WITH n ORDER BY n._level, n.ref
WITH collect(n) AS hits
RETURN size(hits) AS total,
       [h IN hits[$offset..($offset + $limit)] | {kind: h.kind, props: h.props}] AS page
"""
EDGES_OUT = (
    "UNWIND $refs AS ref MATCH (a:KpiNode {ref: ref})-[r]->(b:KpiNode) "
    "WHERE type(r) IN $types "
    "RETURN a.ref AS source, b.ref AS target, type(r) AS type, r.props AS props"
)
EDGES_IN = (
    "UNWIND $refs AS ref MATCH (a:KpiNode {ref: ref})<-[r]-(b:KpiNode) "
    "WHERE type(r) IN $types "
    "RETURN b.ref AS source, a.ref AS target, type(r) AS type, r.props AS props"
)
EDGES_AMONG = (
    "MATCH (n:KpiNode) WHERE n.ref IN $refs WITH collect(n) AS members "
    "UNWIND members AS a MATCH (a)-[r]->(b:KpiNode) "
    "WHERE type(r) IN $types AND b IN members "
    "RETURN a.ref AS source, b.ref AS target, type(r) AS type, r.props AS props"
)
PING = "RETURN 1 AS ok"

_ARROWS: dict[Walk, tuple[str, str]] = {
    Walk.FORWARD: ("-", "->"),
    Walk.BACKWARD: ("<-", "-"),
    Walk.UNDIRECTED: ("-", "-"),
}


def traverse_query(walk: Walk, relations: Iterable[Relation], max_depth: int | None) -> str:
    """The breadth-first traversal for a direction, a set of types and a depth bound.

    A variable-length pattern returning each end node once with ``min(length(p))`` is planned
    by Neo4j as ``VarLengthExpand(Pruning,BFS)``: a breadth-first search that visits each node
    once, so it terminates on cycles and never enumerates paths.

    Examples
    --------
    >>> q = traverse_query(Walk.BACKWARD, [Relation.INPUT_TO, Relation.DRIVES], 3)
    >>> q.split(" WHERE ")[0]
    'MATCH p = (root:KpiNode {ref: $ref})<-[:DRIVES|INPUT_TO*1..3]-(n:KpiNode)'
    >>> q.split(" RETURN ")[1]
    'n.ref AS ref, min(length(p)) AS depth'
    """
    rels = frozenset(relations)
    if not rels or not all(isinstance(r, Relation) for r in rels):
        raise InvalidQueryError("relations must be a non-empty set of Relation members")
    if max_depth is not None and (
        isinstance(max_depth, bool)
        or not isinstance(max_depth, int)
        or not 1 <= max_depth <= MAX_TRAVERSAL_DEPTH
    ):
        raise InvalidQueryError(f"depth must be an integer from 1 to {MAX_TRAVERSAL_DEPTH}")
    return _traverse_query(Walk(walk), rels, max_depth)


@functools.lru_cache(maxsize=512)
def _traverse_query(walk: Walk, rels: frozenset[Relation], max_depth: int | None) -> str:
    types = "|".join(sorted(r.value for r in rels))
    hops = f"1..{max_depth}" if max_depth is not None else "1.."
    left, right = _ARROWS[walk]
    return (
        f"MATCH p = (root:KpiNode {{ref: $ref}}){left}[:{types}*{hops}]{right}(n:KpiNode) "
        "WHERE n <> root RETURN n.ref AS ref, min(length(p)) AS depth"
    )
