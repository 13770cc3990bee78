"""The Cypher of the Neo4j store's revisions (issue #13, :mod:`store.neo4j_history`): the
head, the changes a load stages, the revision its swap records, and the history read back.
Re-exported by :mod:`store.neo4j_cypher` (its rules apply)."""

from __future__ import annotations

from store.neo4j_cypher_load import readable, visible

_VIS_N = visible("n", "gs")
_VIS_A = visible("a", "gs")
_VIS_B = visible("b", "gs")

# -- revisions (issue #13; see store/neo4j_history.py) -----------------------------------------
#
# ``KpiMeta {key: 'graph'}`` also holds ``head`` (the latest revision number) and ``digest``
# (the content hash of the published graph: an unchanged reload is recognised by it). A load
# stages one ``:KpiChange {gen, entity, key, op, data}`` per node / edge change beside its
# generation; the swap transaction locks the graph record, checks ``head`` and creates
# ``:KpiRevision {number, gen, created_at, summary, meta}``. Changes whose revision was never
# created (failed loads) are swept with their generation.

CREATE_REVISION_CONSTRAINT = (
    "CREATE CONSTRAINT kpirevision_number IF NOT EXISTS "
    "FOR (r:KpiRevision) REQUIRE r.number IS UNIQUE"
)
CREATE_REVISION_GEN_INDEX = (
    "CREATE INDEX kpirevision_gen IF NOT EXISTS FOR (r:KpiRevision) ON (r.gen)"
)
CREATE_CHANGE_GEN_INDEX = "CREATE INDEX kpichange_gen IF NOT EXISTS FOR (c:KpiChange) ON (c.gen)"
CREATE_CHANGE_KEY_INDEX = (
    "CREATE INDEX kpichange_key IF NOT EXISTS FOR (c:KpiChange) ON (c.entity, c.key)"
)
#: The head revision as readers see it: that of the generation they pin (:func:`readable`: a
#: swap's revision once the swap is applied whole), so that a head read and a snapshot read
#: after it agree; ``prev`` is the revision before ``gen``'s (each swap records one).
GET_HEAD = f"""
MATCH (m:KpiMeta {{key: 'graph'}})
RETURN CASE WHEN m.ready IS NULL OR m.gen IS NULL THEN coalesce(m.head, 0)
  WHEN {readable("m")} = m.ready[0] THEN toInteger(m.ready[1])
  WHEN {readable("m")} = m.prev THEN coalesce(m.head, 1) - 1
  ELSE coalesce(m.head, 0) END AS head, m.digest AS digest
"""
#: The swap transaction's first statement: the write lock on the graph record, then its head
#: as committed by whoever held the lock before.
LOCK_HEAD = (
    "MERGE (m:KpiMeta {key: 'graph'}) SET m._lock = coalesce(m._lock, 0) + 1 "
    "RETURN coalesce(m.head, 0) AS head"
)
STAGE_CHANGES = (
    "UNWIND $rows AS row CREATE (c:KpiChange {gen: $gen, entity: row.entity, key: row.key, "
    "op: row.op, data: row.data})"
)
#: ``$base``: true for revision 1 of a first load, whose change records are not staged but
#: derived when read (:mod:`store.neo4j_base`); null otherwise (no property).
RECORD_REVISION = """
MATCH (m:KpiMeta {key: 'graph'})
SET m.head = $number, m.digest = $digest
CREATE (r:KpiRevision {number: $number, gen: $gen, created_at: $created_at,
                       summary: $summary, meta: $meta, base: $base})
"""
#: A reload found unchanged by comparison: only the catalog's meta (and digest) is refreshed.
SET_GRAPH_META = "MATCH (m:KpiMeta {key: 'graph'}) SET m.meta = $meta, m.digest = $digest"
LIST_REVISIONS = (
    "MATCH (r:KpiRevision) WHERE r.number < $before "
    "RETURN r.summary AS summary ORDER BY r.number DESC LIMIT $limit"
)
LIST_REVISIONS_OF = (
    "MATCH (c:KpiChange {entity: 'node', key: $key}) MATCH (r:KpiRevision {gen: c.gen}) "
    "WHERE r.number < $before RETURN r.summary AS summary ORDER BY r.number DESC LIMIT $limit"
)
GET_REVISION = (
    "MATCH (r:KpiRevision {number: $number}) OPTIONAL MATCH (c:KpiChange {gen: r.gen}) "
    "RETURN r.summary AS summary, collect([c.entity, c.data]) AS changes"
)
GET_REVISION_META = (
    "MATCH (r:KpiRevision {number: $number}) RETURN r.summary AS summary, r.meta AS meta"
)
NODE_HISTORY = (
    "MATCH (c:KpiChange {entity: 'node', key: $key}) MATCH (r:KpiRevision {gen: c.gen}) "
    "RETURN r.summary AS summary, c.data AS data ORDER BY r.number"
)
NODE_AT = (
    "MATCH (c:KpiChange {entity: 'node', key: $key}) MATCH (r:KpiRevision {gen: c.gen}) "
    "WHERE r.number <= $number RETURN c.data AS data ORDER BY r.number DESC LIMIT 1"
)
#: The latest change of every node and edge up to revision ``$number``.
CATALOG_AT = """
MATCH (r:KpiRevision) WHERE r.number <= $number
MATCH (c:KpiChange {gen: r.gen})
WITH c, r.number AS n ORDER BY n DESC
WITH c.entity AS entity, c.key AS key, collect(c.data)[0] AS data
RETURN entity, key, data
"""
# -- the base revision (issue #23, :mod:`store.neo4j_base`) ---------------------------------------
#: The base revision (the oldest marked; at most one: revision 1 of a first load).
BASE_REVISION = (
    "MATCH (r:KpiRevision) WHERE r.base "
    "RETURN r.number AS number, r.summary AS summary ORDER BY r.number LIMIT 1"
)
#: The first recorded change of one node or edge (failed loads' records have no revision).
FIRST_CHANGE = (
    "MATCH (c:KpiChange {entity: $entity, key: $key}) MATCH (r:KpiRevision {gen: c.gen}) "
    "RETURN c.op AS op, c.data AS data ORDER BY r.number LIMIT 1"
)
#: The first recorded change of every node and edge.
FIRST_CHANGES = """
MATCH (r:KpiRevision)
MATCH (c:KpiChange {gen: r.gen})
WITH c, r.number AS n ORDER BY n
WITH c.entity AS entity, c.key AS key, collect([c.op, c.data])[0] AS first
RETURN entity, key, first[0] AS op, first[1] AS data
"""
#: One node's stored properties in the published generation (none: not in it).
LIVE_NODE_PROPS = (
    "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL "
    f"WITH {readable('m')} AS g "
    "WITH split(g, '.')[0] AS gb, coalesce(toInteger(split(g, '.')[1]), 0) AS gs "
    f"MATCH (n:KpiNode {{_gen: gb, ref: $ref}}) WHERE {_VIS_N} RETURN n.props AS props"
)
#: A published generation as plain data (``$gen`` from ``GET_READY_GEN``), for the diff a load
#: records and for ``store.catalog()``.
_STORED = "WITH split($gen, '.')[0] AS gb, coalesce(toInteger(split($gen, '.')[1]), 0) AS gs "
STORED_NODES = (
    f"{_STORED}MATCH (n:KpiNode) WHERE n._gen = gb AND {_VIS_N} "
    "RETURN n.ref AS ref, n.props AS props"
)
STORED_EDGES = (
    f"{_STORED}MATCH (a:KpiNode)-[r]->(b:KpiNode) WHERE a._gen = gb AND {_VIS_A} AND {_VIS_B} "
    "RETURN a.ref AS source, type(r) AS type, b.ref AS target, r.props AS props"
)
#: Auto-commit: change records of a failed load.
DELETE_STAGED_CHANGES = """
MATCH (c:KpiChange) WHERE c.gen = $gen
CALL { WITH c DELETE c } IN TRANSACTIONS OF 2000 ROWS
"""
#: Auto-commit: change records no revision points to and no live load is still writing.
DELETE_ORPHAN_CHANGES = """
MATCH (c:KpiChange)
WHERE NOT EXISTS { MATCH (r:KpiRevision) WHERE r.gen = c.gen }
  AND NOT EXISTS { MATCH (s:KpiMeta) WHERE s.key = 'stage:' + c.gen }
CALL { WITH c DELETE c } IN TRANSACTIONS OF 2000 ROWS
"""
#: Auto-commit: the whole history (tests and maintenance: ``clear``).
DELETE_HISTORY = """
MATCH (n) WHERE n:KpiRevision OR n:KpiChange
CALL { WITH n DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
