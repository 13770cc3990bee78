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

# Labels: every kpigraph node is ``:KpiNode`` plus its kind label (``(_gen, ref)`` is unique
# across ``KpiNode``); bookkeeping nodes (the published graph, load stages) are ``:KpiMeta``.

# -- schema (idempotent) ------------------------------------------------------------------------
#
# A graph is stored as a *generation*: every node carries ``_gen``, the id of the load that
# wrote it, and the ``KpiMeta {key: 'graph'}`` node names the live generation. Every read is
# pinned to one generation and checks it was still live after reading (see "reads" below).

CREATE_GEN_REF_CONSTRAINT = (
    "CREATE CONSTRAINT kpinode_gen_ref IF NOT EXISTS "
    "FOR (n:KpiNode) REQUIRE (n._gen, n.ref) IS UNIQUE"
)
CREATE_META_CONSTRAINT = (
    "CREATE CONSTRAINT kpimeta_key IF NOT EXISTS FOR (m:KpiMeta) REQUIRE m.key IS UNIQUE"
)
#: Constraints of the one-transaction layout (before generations): ``ref`` unique across all
#: nodes, which a staged generation beside the live one would violate.
#: The full-text index ``metric_text`` went too: no query used it, and every load paid for it;
#: and the trigram text index ``kpinode_search``: search ranks with the shared in-process
#: index (:mod:`store.search_index`), which a 1-2 character term does not slow down.
DROP_LEGACY_CONSTRAINTS = (
    "DROP CONSTRAINT kpinode_ref IF EXISTS",
    *(f"DROP CONSTRAINT {kind.value.lower()}_id IF EXISTS" for kind in NodeKind),
    "DROP INDEX metric_text IF EXISTS",
    "DROP INDEX kpinode_search IF EXISTS",
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

# -- load: a staged generation, written in bounded transactions, swapped in at the end ---------
#
# One transaction cannot hold a big catalog (100k metrics: out of transaction memory on an 8 GB
# heap), and mass deletes inside a transaction make its later index seeks slow. So a load
#   1. registers a stage record ``KpiMeta {key: 'stage:<gen>'}`` (its heartbeat: ``touched``);
#   2. CREATEs the new generation's nodes, then its relationships, a batch per transaction,
#      touching the stage record in each;
#   3. swaps: one small transaction points ``KpiMeta {key: 'graph'}`` at the new generation
#      (only if the stage record is still there) and removes the stage record;
#   4. sweeps every other generation away in batches (auto-commit ``IN TRANSACTIONS``).
# Readers see the old generation until step 3 commits and the new one after: all or nothing.
# A load killed before step 3 leaves an unreferenced generation that no read can reach; a
# later load sweeps it once its stage record has not been touched for a while.

REGISTER_STAGE = (
    "CREATE (s:KpiMeta {key: 'stage:' + $gen, gen: $gen, touched: datetime(), started: datetime()})"
)
TOUCH_STAGE = "MATCH (s:KpiMeta {key: 'stage:' + $gen}) SET s.touched = datetime() RETURN s.gen"
DELETE_STAGE = "MATCH (s:KpiMeta {key: 'stage:' + $gen}) DELETE s"
#: ``UNWIND $rows`` + CREATE, one statement per kind (labels are static text). CREATE, not
#: MERGE: the generation is new, and the ``(_gen, ref)`` constraint still rejects duplicates.
CREATE_NODES: dict[NodeKind, str] = {
    kind: f"UNWIND $rows AS row CREATE (n:KpiNode:{kind.value}) SET n = row, n._gen = $gen"
    for kind in NodeKind
}
#: ``UNWIND $rows`` + CREATE per relationship type, both ends looked up in the new generation.
#: The loader deduplicates edges, so CREATE (not MERGE, which would scan both ends'
#: relationships per row — quadratic on hot fields feeding thousands of metrics).
CREATE_EDGES: dict[Relation, str] = {
    rel: (
        "UNWIND $rows AS row "
        "MATCH (a:KpiNode {_gen: $gen, ref: row.source}) "
        "MATCH (b:KpiNode {_gen: $gen, ref: row.target}) "
        f"CREATE (a)-[r:{rel.value}]->(b) SET r.props = row.props"
    )
    for rel in Relation
}
#: The swap. Returns a row only when the stage record still existed (a load that lost it to a
#: concurrent sweep must not publish a half-swept generation).
SWAP_GENERATION = """
MATCH (s:KpiMeta {key: 'stage:' + $gen})
MERGE (m:KpiMeta {key: 'graph'})
SET m.gen = $gen, m.catalog = $catalog, m.loaded_at = $loaded_at, m.meta = $meta,
    m.counts = $counts
DELETE s
RETURN $gen AS gen
"""
#: Auto-commit, in bounded transactions: deletes the nodes of every generation that is neither
#: published nor being written by a load with a recent heartbeat. Checked node by node against
#: committed state, so a generation swapped in or registered meanwhile is never swept;
#: ``$keep`` (generations known to stay) only saves those checks.
SWEEP_GENERATIONS = """
MATCH (n:KpiNode)
WHERE n._gen IS NULL OR (NOT n._gen IN $keep AND NOT EXISTS {
  MATCH (m:KpiMeta) WHERE m.key IN ['graph', 'stage:' + n._gen] AND m.gen = n._gen
    AND (m.key = 'graph' OR m.touched > datetime() - duration({seconds: $stale_after}))
})
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
#: Stage records of dead loads (no heartbeat for ``$stale_after`` seconds).
DELETE_DEAD_STAGES = (
    "MATCH (s:KpiMeta) WHERE s.key STARTS WITH 'stage:' "
    "AND s.touched <= datetime() - duration({seconds: $stale_after}) DELETE s"
)
#: Auto-commit: one generation's nodes (a failed load's), in bounded transactions.
DELETE_GENERATION = """
MATCH (n:KpiNode) WHERE n._gen = $gen
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
GET_LIVE_GEN = "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL RETURN m.gen AS gen"
DELETE_META = "MATCH (m:KpiMeta) DELETE m"

# -- reads: pinned to one generation ------------------------------------------------------------
#
# A reader (:class:`store.neo4j.Neo4jReader`) reads one generation for a whole request. Its
# first read takes the live one (``$gen`` null), later ones pass it as ``$gen``. Every read
# returns one row: ``g`` (the generation read), ``rows`` (the answer) and ``live`` (the
# generation published *after* the rows were read: a correlated subquery after the
# aggregation). ``live = g`` means no load was published before the rows were all read, so no
# sweep touched them (a published generation is never swept, and never published again); any
# other ``live`` and the reader refuses the answer as replaced — never a mix of two loads.

#: First clause of every pinned read: ``g``, the pinned or else the live generation.
_PIN = "OPTIONAL MATCH (m0:KpiMeta {key: 'graph'}) WITH coalesce($gen, m0.gen) AS g "
#: Last clause of every pinned read, after ``rows`` was aggregated.
_CHECK = (
    "CALL { WITH rows OPTIONAL MATCH (m1:KpiMeta {key: 'graph'}) RETURN m1.gen AS live } "
    "RETURN g, live, rows"
)


def pinned(body: str) -> str:
    """A read of generation ``g``: ``body`` is a subquery over ``g`` that returns one row,
    ``rows``; the result is one row ``g, live, rows`` (see "reads" above).

    Examples
    --------
    >>> q = pinned("RETURN [] AS rows")
    >>> q.startswith(_PIN) and q.endswith("RETURN g, live, rows")
    True
    """
    return f"{_PIN}CALL {{ WITH g {body} }} {_CHECK}"


GET_META = pinned(
    "OPTIONAL MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen = g "
    "RETURN [x IN collect(m) | {catalog: x.catalog, loaded_at: x.loaded_at, meta: x.meta, "
    "counts: x.counts}] AS rows"
)
GET_NODES = pinned(
    "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: g, ref: ref}) "
    "RETURN collect({kind: n.kind, props: n.props}) AS rows"
)
#: Name and level only (``level`` is stored as a property of its own on metrics).
GET_LABELS = pinned(
    "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: g, ref: ref}) "
    "RETURN collect({ref: n.ref, name: n.name, level: n.level}) AS rows"
)
#: Every node of a generation, for the search index (:mod:`store.search_index`): streamed in a
#: read transaction whose next statement, ``GET_LIVE_GEN``, checks the generation was still live.
SEARCH_INDEX_ROWS = (
    "MATCH (n:KpiNode) WHERE n._gen = $gen AND n.ref IS NOT NULL "
    "RETURN n.kind AS kind, n.ref AS ref, n.props AS props"
)
#: A search page's nodes, in any order.
GET_PAGE = pinned(
    "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: g, ref: ref}) "
    "RETURN collect({ref: n.ref, kind: n.kind, props: n.props}) AS rows"
)
EDGES_OUT = pinned(
    "UNWIND $refs AS ref MATCH (a:KpiNode {_gen: g, ref: ref})-[r]->(b:KpiNode) "
    "WHERE type(r) IN $types "
    "RETURN collect({source: a.ref, target: b.ref, type: type(r), props: r.props}) AS rows"
)
EDGES_IN = pinned(
    "UNWIND $refs AS ref MATCH (a:KpiNode {_gen: g, ref: ref})<-[r]-(b:KpiNode) "
    "WHERE type(r) IN $types "
    "RETURN collect({source: b.ref, target: a.ref, type: type(r), props: r.props}) AS rows"
)
PING = "RETURN 1 AS ok"

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
        raise InvalidQueryError(f"hops must be an integer from 1 to {MAX_HOPS}, got {hops!r}")
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
        "UNWIND $frontier AS ref MATCH (a:KpiNode {_gen: g, ref: ref}) ",
        "WITH collect(a) AS f0 WITH f0, $seen AS seen ",
    ]
    for i in range(1, hops + 1):
        parts.append(
            f"CALL {{ WITH f{i - 1}, seen UNWIND f{i - 1} AS a MATCH (a){step}(b:KpiNode) "
            f"WHERE NOT b.ref IN seen RETURN collect(DISTINCT b) AS f{i} }} "
            f"WITH {', '.join(f'f{j}' for j in range(1, i + 1))}, "
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
        "MATCH (n:KpiNode) WHERE n._gen = g AND n.ref IN $refs "
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


# -- ledger (H-gov, #14): users, change requests, timeline, comments, outbox, usage --------------
#
# Ledger records are nodes with labels of their own (never KpiNode/KpiMeta, so loads and sweeps
# leave them alone). Each holds its record as JSON in ``data`` plus the keys it is looked up by.

LEDGER_CONSTRAINTS = (
    "CREATE CONSTRAINT gov_meta_key IF NOT EXISTS FOR (m:GovMeta) REQUIRE m.key IS UNIQUE",
    "CREATE CONSTRAINT gov_user_token IF NOT EXISTS FOR (u:GovUser) REQUIRE u.token_id IS UNIQUE",
    "CREATE CONSTRAINT gov_change_id IF NOT EXISTS FOR (c:GovChange) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT gov_event_key IF NOT EXISTS FOR (e:GovEvent) REQUIRE e.key IS UNIQUE",
    "CREATE CONSTRAINT gov_comment_id IF NOT EXISTS FOR (c:GovComment) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT gov_outbox_key IF NOT EXISTS FOR (o:GovOutbox) REQUIRE o.key IS UNIQUE",
    "CREATE CONSTRAINT gov_usage_key IF NOT EXISTS FOR (u:GovUsage) REQUIRE u.key IS UNIQUE",
)
GOV_SECRET = """
MERGE (m:GovMeta {key: 'secret_key'}) ON CREATE SET m.value = $value RETURN m.value AS value
"""
#: Counters: the MERGE + SET takes the node's write lock, so concurrent callers serialise.
GOV_NEXT_ID = """
MERGE (m:GovMeta {key: $counter}) ON CREATE SET m.value = 0
SET m.value = m.value + 1 RETURN m.value AS value
"""
GOV_ADD_USER = """
OPTIONAL MATCH (other:GovUser {name: $name, active: true})
WITH other WHERE other IS NULL
CREATE (u:GovUser {token_id: $token_id, name: $name, active: true, secret_hash: $secret_hash,
                   data: $data})
RETURN u.token_id AS token_id
"""
GOV_USER_BY_TOKEN = (
    "MATCH (u:GovUser {token_id: $token_id}) RETURN u.data AS data, u.secret_hash AS h"
)
GOV_USER_BY_NAME = "MATCH (u:GovUser {name: $name, active: true}) RETURN u.data AS data"
GOV_USERS = "MATCH (u:GovUser) RETURN u.data AS data"
GOV_LOCK_USER = (
    "MATCH (u:GovUser {name: $name, active: true}) SET u._lock = true RETURN u.data AS data"
)
GOV_LOCK_USER_BY_TOKEN = (
    "MATCH (u:GovUser {token_id: $token_id}) SET u._lock = true "
    "RETURN u.data AS data, u.active AS active"
)
GOV_SET_USER = "MATCH (u:GovUser {token_id: $token_id}) SET u.active = $active, u.data = $data"
#: Compare-and-set: lock the request first (SET), then check its seq under the lock.
GOV_LOCK_CHANGE = """
MERGE (c:GovChange {id: $id}) ON CREATE SET c.seq = 0, c._new = true
SET c._lock = coalesce(c._lock, 0) + 1
RETURN c.seq AS seq, coalesce(c._new, false) AS created
"""
GOV_WRITE_CHANGE = """
MATCH (c:GovChange {id: $id})
SET c.ref = $ref, c.status = $status, c.seq = $seq, c.data = $data, c._new = null
WITH c
CREATE (e:GovEvent {key: $event_key, change_id: $id, seq: $seq, data: $event})
WITH c
UNWIND $outbox AS row
MERGE (o:GovOutbox {key: row.key})
ON CREATE SET o.status = row.status, o.next_at = row.next_at, o.data = row.data,
              o.id = row.id
"""
GOV_CHANGE = "MATCH (c:GovChange {id: $id}) WHERE c.data IS NOT NULL RETURN c.data AS data"
GOV_CHANGES = """
MATCH (c:GovChange) WHERE c.data IS NOT NULL
  AND ($status IS NULL OR c.status = $status) AND ($ref IS NULL OR c.ref = $ref)
RETURN c.data AS data ORDER BY c.id DESC
"""
GOV_EVENTS = "MATCH (e:GovEvent {change_id: $id}) RETURN e.data AS data ORDER BY e.seq"
GOV_PUT_COMMENT = """
MERGE (c:GovComment {id: $id}) SET c.metric = $metric, c.data = $data
"""
GOV_COMMENT = "MATCH (c:GovComment {id: $id}) RETURN c.data AS data"
GOV_COMMENTS = """
MATCH (c:GovComment) WHERE $metric IS NULL OR c.metric = $metric
RETURN c.data AS data ORDER BY c.id
"""
GOV_OUTBOX = """
MATCH (o:GovOutbox) WHERE $status IS NULL OR o.status = $status
RETURN o.id AS id, o.data AS data ORDER BY o.id DESC LIMIT $limit
"""
#: Claim due items: lock each (SET) and re-check it is still due under the lock.
GOV_CLAIM_DUE = """
MATCH (o:GovOutbox {status: 'pending'}) WHERE o.next_at <= $now
WITH o ORDER BY o.id LIMIT $limit
SET o._lock = coalesce(o._lock, 0) + 1
WITH o WHERE o.status = 'pending' AND o.next_at <= $now
SET o.next_at = $lease
RETURN o.id AS id, o.data AS data ORDER BY o.id
"""
GOV_UPDATE_OUTBOX = """
MATCH (o:GovOutbox {id: $id}) SET o.status = $status, o.next_at = $next_at, o.data = $data
"""
GOV_COUNT_USE = """
MERGE (u:GovUsage {key: $key})
ON CREATE SET u.day = $day, u.metric = $metric, u.kind = $kind, u.n = 0
SET u.n = u.n + $n
"""
GOV_USAGE = """
MATCH (u:GovUsage) WHERE u.day >= $since
RETURN u.day AS day, u.metric AS metric, u.kind AS kind, u.n AS n
ORDER BY day, metric, kind
"""
GOV_CLEAR = """
MATCH (n) WHERE n:GovMeta OR n:GovUser OR n:GovChange OR n:GovEvent OR n:GovComment
  OR n:GovOutbox OR n:GovUsage
DETACH DELETE n
"""


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
GET_HEAD = "MATCH (m:KpiMeta {key: 'graph'}) RETURN coalesce(m.head, 0) AS head, m.digest AS digest"
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
RECORD_REVISION = """
MATCH (m:KpiMeta {key: 'graph'})
SET m.head = $number, m.digest = $digest
CREATE (r:KpiRevision {number: $number, gen: $gen, created_at: $created_at,
                       summary: $summary, meta: $meta})
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
RETURN entity, data
"""
#: A published generation as plain data (``$gen`` from ``GET_LIVE_GEN``), for the diff a load
#: records and for ``store.catalog()``.
STORED_NODES = "MATCH (n:KpiNode) WHERE n._gen = $gen RETURN n.ref AS ref, n.props AS props"
STORED_EDGES = (
    "MATCH (a:KpiNode)-[r]->(b:KpiNode) WHERE a._gen = $gen "
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
    "OPTIONAL MATCH (n:KpiNode) WHERE n._gen = g AND n.ref IS NOT NULL "
    "WITH n LIMIT 1 RETURN [x IN collect(n) | x._titles IS NOT NULL] AS rows"
)


#: What every search statement does after its MATCH (see "search before the index").
_SEARCH_BODY = (
    "AND ($text = '' OR n._titles CONTAINS $text OR n._body CONTAINS $text) "
    "AND (NOT $filtered OR (n.kind = 'Metric' "
    "AND ($domain IS NULL OR n.domain = $domain) AND ($level IS NULL OR n.level = $level) "
    "AND ($status IS NULL OR n.status = $status) "
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
        match = f"MATCH (n:{kind.value}) WHERE n._gen = g "
    else:
        match = "MATCH (n:KpiNode) WHERE n._gen = g AND n.ref IS NOT NULL AND n.kind IN $kinds "
    return pinned(match + _SEARCH_BODY)
