"""Every Cypher statement kpigraph runs, named by intent.

Rules: every value is a ``$parameter``. The only things spliced into query text are labels and
relationship types taken from the closed enums (:class:`NodeKind`, :class:`Relation`), checked
by :func:`expand_query`. Nothing here is built from user input.
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


def expand_query(walk: Walk, relations: Iterable[Relation]) -> str:
    """One breadth-first hop: the distinct neighbours of a frontier over the given types.

    The traversal runs hop by hop (see :meth:`store.neo4j.Neo4jStore.traverse`) instead of as
    one variable-length pattern: Neo4j's planner may cache a path-enumerating plan for
    ``(root)-[*1..]->(n) ... min(length(p))`` (it did, planned on a tiny graph, then ran for
    18 minutes on 14 nodes with parallel cyclic edges). Hop by hop, each node is expanded once.

    Examples
    --------
    >>> q = expand_query(Walk.BACKWARD, [Relation.INPUT_TO, Relation.DRIVES])
    >>> q.split(" RETURN ")[0].split(" MATCH ")[1]
    '(a:KpiNode {ref: ref})<-[:DRIVES|INPUT_TO]-(b:KpiNode)'
    """
    rels = frozenset(relations)
    if not rels or not all(isinstance(r, Relation) for r in rels):
        raise InvalidQueryError("relations must be a non-empty set of Relation members")
    return _expand_query(Walk(walk), rels)


@functools.lru_cache(maxsize=512)
def _expand_query(walk: Walk, rels: frozenset[Relation]) -> str:
    types = "|".join(sorted(r.value for r in rels))
    left, right = _ARROWS[walk]
    return (
        f"UNWIND $frontier AS ref MATCH (a:KpiNode {{ref: ref}}){left}[:{types}]{right}(b:KpiNode) "
        "RETURN DISTINCT b.ref AS ref"
    )
