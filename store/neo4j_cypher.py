"""Every Cypher statement kpigraph runs, named by intent.

Rules: every value is a ``$parameter``. The only things spliced into query text are labels and
relationship types taken from the closed enums (:class:`NodeKind`, :class:`Relation`), checked
by :func:`expand_query`. Nothing here is built from user input.

Load (details in the "load" section below). A full load (the first, or one that rewrites much
of the graph) stages a new *generation* (``_gen``) and swaps it in with one small transaction.
A reload that changes little (:mod:`store.neo4j_versions`) writes *versions* into the live
generation instead, MVCC-style: a node version is valid for load sequences ``_from <= s <
_to`` and a reader pinned to generation ``<base>.<s>`` sees only those; relationships have no
validity of their own (visible when both ends are), so a changed node's new version gets
copies of its relationships. New versions are invisible (``_from = PENDING``) until the swap
transaction — which also checks and records the revision — opens them and closes the ones
they replace. Readers pinned to the previous sequence keep reading it until the next load
sweeps what only it could see; a killed reload leaves only invisible versions, swept once its
heartbeat is stale. Reads stay index seeks on ``(_gen, ref)``; traversals add a label test
(``KpiVersioned``) per node reached, and read ``_from``/``_to`` only on versioned nodes.
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

#: Not unique: a generation holds several *versions* of a node (see "load").
CREATE_GEN_REF_INDEX = (
    "CREATE INDEX kpinode_gen_ref_v IF NOT EXISTS FOR (n:KpiNode) ON (n._gen, n.ref)"
)
#: The sweep finds closed versions and the versions of dead incremental loads by these.
CREATE_TO_INDEX = "CREATE INDEX kpinode_to IF NOT EXISTS FOR (n:KpiNode) ON (n._to)"
CREATE_STAGE_INDEX = "CREATE INDEX kpinode_stage IF NOT EXISTS FOR (n:KpiNode) ON (n._stage)"
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
    "DROP CONSTRAINT kpinode_gen_ref IF EXISTS",
    *(f"DROP CONSTRAINT {kind.value.lower()}_id IF EXISTS" for kind in NodeKind),
    "DROP INDEX metric_text IF EXISTS",
    "DROP INDEX kpinode_search IF EXISTS",
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

# -- load: full loads write a generation, incremental loads write versions into it ------------
#
# One transaction cannot hold a big catalog (100k metrics: out of transaction memory on an 8 GB
# heap), and mass deletes inside a transaction make its later index seeks slow. A *full* load
# (the first one, or one that changes much of the graph) therefore
#   1. registers a stage record ``KpiMeta {key: 'stage:<id>'}`` (its heartbeat: ``touched``);
#   2. CREATEs a new generation ``_gen = <id>``: nodes, then relationships, a batch per
#      transaction, touching the stage record in each;
#   3. swaps: one small transaction points ``KpiMeta {key: 'graph'}`` at ``gen = <id>`` (only if
#      the stage record is still there) and removes the stage record;
#   4. sweeps every other generation away in batches (auto-commit ``IN TRANSACTIONS``).
# An *incremental* load (see "versions" below) writes only what changed into the live
# generation, as versions no reader can see until its swap publishes ``gen = <base>.<seq>``.
# Readers see the old graph until step 3 commits and the new one after: all or nothing.
# A load killed before step 3 leaves nodes no read can reach; a later load sweeps them once
# their stage record has not been touched for a while.
#
# Versions (#17). Inside a generation ``<base>``, a node version is visible at sequence ``s``
# when ``_from <= s < _to`` (absent ``_from``: 0, absent ``_to``: for ever; a full load writes
# neither, so its nodes cost nothing extra). Every node with either property carries the
# label ``KpiVersioned``: a read checks the two numbers only on those (a label test is free).
# A relationship is visible when both its ends are: relationships have no validity of their
# own. An incremental load of sequence ``s = seq + 1``:
#   - CREATEs a pending version (``_from = PENDING``, ``_stage = <id>``: visible to nobody) of
#     every added or modified node, and of one end (the one with fewer relationships) of every
#     added, removed or modified relationship whose ends are both unchanged;
#   - CREATEs the relationships of the new graph that touch a pending version, between the
#     pending versions and the versions visible at ``seq``;
#   - in the swap transaction (after the head check): sets ``_to = s`` on the versions of
#     removed and re-versioned nodes visible at ``seq`` and ``_from = s`` on its pending
#     versions, and publishes ``gen = <base>.<s>``, ``prev = <base>.<seq>``.
# So a reload writes the changed nodes (plus the relationships of those nodes), and a
# reader pinned to ``prev`` keeps reading the graph it started with, whole: the sweep after the
# swap deletes only versions with ``_to <= seq`` (visible neither at ``s`` nor at ``seq``);
# a reader pinned two loads back is refused as replaced (see "reads").

#: ``_from`` of a version not yet published (and the ``_to`` of an open one, in comparisons).
PENDING = 2**62

REGISTER_STAGE = (
    "CREATE (s:KpiMeta {key: 'stage:' + $gen, gen: $gen, touched: datetime(), started: datetime()})"
)
TOUCH_STAGE = "MATCH (s:KpiMeta {key: 'stage:' + $gen}) SET s.touched = datetime() RETURN s.gen"
DELETE_STAGE = "MATCH (s:KpiMeta {key: 'stage:' + $gen}) DELETE s"
#: ``UNWIND $rows`` + CREATE, one statement per kind (labels are static text). CREATE, not
#: MERGE: the generation is new (the loader deduplicates nodes).
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


def visible(var: str, seq: str) -> str:
    """The Cypher test "node version ``var`` is visible at sequence ``seq``" (see "versions").

    Examples
    --------
    >>> visible("n", "gs").startswith("(NOT n:KpiVersioned OR (coalesce(n._from, 0) <= gs AND")
    True
    """
    return (
        f"(NOT {var}:KpiVersioned OR (coalesce({var}._from, 0) <= {seq} "
        f"AND coalesce({var}._to, {PENDING}) > {seq}))"
    )


#: Incremental load: pending versions of added / modified nodes, in the live generation
#: ``$base``, owned by the stage ``$stage``.
CREATE_VERSIONS: dict[NodeKind, str] = {
    kind: (
        f"UNWIND $rows AS row CREATE (n:KpiNode:{kind.value}:KpiVersioned) SET n = row, "
        f"n._gen = $base, n._from = {PENDING}, n._stage = $stage"
    )
    for kind in NodeKind
}
#: Incremental load: the relationships of pending versions. Each end is this stage's pending
#: version (``row.s_new`` / ``row.t_new``) or the version visible at ``$seq``.
_END = (
    "MATCH ({v}:KpiNode {{_gen: $base, ref: row.{end}}}) "
    "WHERE CASE WHEN row.{flag} THEN {v}._stage = $stage ELSE {vis} END "
)
CREATE_VERSION_EDGES: dict[Relation, str] = {
    rel: (
        "UNWIND $rows AS row "
        + _END.format(v="a", end="source", flag="s_new", vis=visible("a", "$seq"))
        + _END.format(v="b", end="target", flag="t_new", vis=visible("b", "$seq"))
        + f"CREATE (a)-[r:{rel.value}]->(b) SET r.props = row.props"
    )
    for rel in Relation
}
#: The swap. Returns a row only when the stage record still existed (a load that lost it to a
#: concurrent sweep must not publish a half-swept generation). A full load has no previous
#: generation a reader may keep reading (its old generation is swept right after).
SWAP_GENERATION = """
MATCH (s:KpiMeta {key: 'stage:' + $gen})
MERGE (m:KpiMeta {key: 'graph'})
SET m.gen = $gen, m.base = $gen, m.seq = 0, m.floor = 0, m.prev = null, m.prev_info = null,
    m.catalog = $catalog, m.loaded_at = $loaded_at, m.meta = $meta, m.counts = $counts
DELETE s
RETURN $gen AS gen
"""
#: The swap of an incremental load (stage ``$stage``, built on the live ``$prev``): publishes
#: ``$gen`` (= ``<base>.<seq>``) and keeps ``$prev`` readable until the next load.
SWAP_VERSIONS = """
MATCH (s:KpiMeta {key: 'stage:' + $stage})
MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen = $prev
SET m.prev = m.gen, m.prev_info = [m.catalog, m.loaded_at, m.meta, m.counts],
    m.gen = $gen, m.base = $base, m.seq = $seq, m.floor = $floor,
    m.catalog = $catalog, m.loaded_at = $loaded_at, m.meta = $meta, m.counts = $counts
DELETE s
RETURN $gen AS gen
"""
#: In the swap of an incremental load: close the versions visible at ``$floor`` (the previous
#: sequence) of removed and re-versioned nodes.
CLOSE_VERSIONS = (
    "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: $base, ref: ref}) "
    f"WHERE {visible('n', '$floor')} "
    "SET n:KpiVersioned, n._to = $seq RETURN count(n) AS n"
)
#: In the swap of an incremental load: its pending versions become visible from ``$seq``.
PUBLISH_VERSIONS = (
    "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: $base, ref: ref}) WHERE n._stage = $stage "
    "SET n._from = $seq REMOVE n._stage RETURN count(n) AS n"
)
#: Auto-commit, in bounded transactions: deletes the nodes of every generation that is neither
#: published (live, or the previous one readers may still read) nor being written by a load
#: with a recent heartbeat. Checked node by node against committed state, so a generation
#: swapped in or registered meanwhile is never swept; ``$keep`` (generations known to stay)
#: only saves those checks.
SWEEP_GENERATIONS = """
MATCH (n:KpiNode)
WHERE n._gen IS NULL OR (NOT n._gen IN $keep AND NOT EXISTS {
  MATCH (m:KpiMeta) WHERE m.key IN ['graph', 'stage:' + n._gen]
    AND ((m.key = 'graph' AND n._gen IN [m.base, m.gen, split(coalesce(m.prev, ''), '.')[0]])
      OR (m.gen = n._gen AND m.touched > datetime() - duration({seconds: $stale_after})))
})
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
#: The live generation's base and the sequence below which closed versions are seen by no
#: reader (``floor``: the previous load's sequence).
GET_FLOOR = (
    "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL "
    "RETURN split(m.gen, '.')[0] AS base, coalesce(m.floor, 0) AS floor"
)
#: Auto-commit: versions of ``$base`` closed at or before ``$floor`` (their relationships
#: with them), in bounded transactions.
SWEEP_CLOSED_VERSIONS = """
MATCH (n:KpiNode) WHERE n._to <= $floor AND n._gen = $base
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
#: Auto-commit: pending versions of incremental loads with no recent heartbeat (killed), in
#: bounded transactions. ``_from`` is read after the stage check: a version published
#: meanwhile (its swap removed the stage record) is not pending any more.
SWEEP_DEAD_VERSIONS = f"""
MATCH (n:KpiNode) WHERE n._stage IS NOT NULL AND NOT EXISTS {{
  MATCH (s:KpiMeta {{key: 'stage:' + n._stage}})
  WHERE s.touched > datetime() - duration({{seconds: $stale_after}})
}}
WITH n WHERE n._from = {PENDING}
CALL {{ WITH n DETACH DELETE n }} IN TRANSACTIONS OF 2000 ROWS
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
#: Auto-commit: the pending versions of a failed incremental load.
DELETE_STAGED_VERSIONS = """
MATCH (n:KpiNode) WHERE n._stage = $gen
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS
"""
#: The published generation (``<base>`` or ``<base>.<seq>``), and the head revision it holds.
GET_LIVE_GEN = "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL RETURN m.gen AS gen"
GET_LIVE_HEAD = (
    "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL "
    "RETURN m.gen AS gen, coalesce(m.head, 0) AS head, coalesce(m.seq, 0) AS seq"
)
DELETE_META = "MATCH (m:KpiMeta) DELETE m"

# -- reads: pinned to one generation ------------------------------------------------------------
#
# A reader (:class:`store.neo4j.Neo4jReader`) reads one generation for a whole request. Its
# first read takes the live one (``$gen`` null), later ones pass it as ``$gen``; ``gb`` is its
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
    "OPTIONAL MATCH (m0:KpiMeta {key: 'graph'}) WITH coalesce($gen, m0.gen) AS g "
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
#: Name and level only (``level`` is stored as a property of its own on metrics).
GET_LABELS = pinned(
    f"UNWIND $refs AS ref MATCH (n:KpiNode {{_gen: gb, ref: ref}}) WHERE {_VIS_N} "
    "RETURN collect({ref: n.ref, name: n.name, level: n.level}) AS rows"
)
#: Every node of a generation, for the search index (:mod:`store.search_index`): streamed in a
#: read transaction whose next statement, ``GET_LIVE_GEN``, checks the generation was still live.
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
