"""The Cypher of the Neo4j store's schema and write path: a full load writing a generation,
an incremental load writing versions into it, the swap that publishes either, and the sweeps of
what is no longer readable. Re-exported by :mod:`store.neo4j_cypher` (its rules apply)."""

from __future__ import annotations

from graph_schema.ids import NodeKind
from graph_schema.relations import Relation

# Labels: every kpigraph node is ``:KpiNode`` plus its kind label (``(_gen, ref)`` is unique
# across ``KpiNode``); bookkeeping nodes (the published graph, load stages) are ``:KpiMeta``.

# -- schema (idempotent) ------------------------------------------------------------------------
#
# A graph is stored as a *generation*: every node carries ``_gen``, the id of the load that
# wrote it, and the ``KpiMeta {key: 'graph'}`` node names the live generation. Every read is
# pinned to one generation and checks it was still live after reading (see "reads",
# :mod:`store.neo4j_cypher_read`).

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
# a reader pinned two loads back is refused as replaced (see "reads",
# :mod:`store.neo4j_cypher_read`).

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

    A node deleted while a read runs (a sweep removing versions no published generation sees,
    in another transaction: Neo4j reads are read-committed) reads as having no labels and no
    properties, which the version test alone would take for an unversioned, visible node. So
    the test also asks for ``kind``, which every node has; and the reader drops any row whose
    node turned out deleted by the time it was projected (:mod:`store.neo4j_reader`).

    Examples
    --------
    >>> visible("n", "gs").startswith("((NOT n:KpiVersioned OR (coalesce(n._from, 0) <= gs AND")
    True
    >>> visible("n", "gs").endswith("AND n.kind IS NOT NULL)")
    True
    """
    return (
        f"((NOT {var}:KpiVersioned OR (coalesce({var}._from, 0) <= {seq} "
        f"AND coalesce({var}._to, {PENDING}) > {seq})) AND {var}.kind IS NOT NULL)"
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
# -- readable: the generation readers pin --------------------------------------------------------
#
# Neo4j applies a committed transaction to its store record by record, and reads take no locks
# (read-committed): a statement that runs while a swap is being applied can find the graph
# record already naming the new generation while some of the versions the swap opens or closes
# are not switched yet — a reader pinned to that generation then reads two revisions mixed (seen
# in ~1 of 20,000 reads during one-file delta loads: a node in its old version beside nodes in
# their new ones, in one statement). So readers do not pin ``gen`` but ``ready``,
# ``[gen, head]`` copied by ``MARK_READY`` in a transaction of its own after the swap's
# (:func:`store.neo4j_sweep.mark_ready`). That transaction first takes the graph record's write
# lock, which the swap holds until it is applied whole, and reads ``gen`` only then: ``ready``
# names only generations whose swap every read sees whole. A generation's readers are not
# disturbed by a later swap half applied (it closes and opens versions at a later sequence:
# invisible at theirs either way), and ``ready`` is always ``gen`` or ``prev`` (the writer marks
# right after its swap, and every load marks before it plans), both kept readable.


def readable(m: str) -> str:
    """The Cypher expression "the generation readers pin", of the graph record ``m``: ``ready``
    when it is still published, else ``prev`` (a swap whose mark is missing: its writer died
    between the two; ``prev``'s swap was applied whole before that one took the lock), else
    ``gen`` (a full load's swap, which switches no versions: its generation was written in
    transactions before; or a store last written before ``ready`` existed).

    >>> readable("m").startswith("CASE WHEN m.ready IS NULL THEN m.gen ")
    True
    """
    return (
        f"CASE WHEN {m}.ready IS NULL THEN {m}.gen "
        f"WHEN {m}.ready[0] IN [{m}.gen, {m}.prev] THEN {m}.ready[0] "
        f"ELSE coalesce({m}.prev, {m}.gen) END"
    )


#: A transaction's first statement: the graph record's write lock (held by a swap until it is
#: applied), so that what the transaction reads of it next is whole.
LOCK_GRAPH = (
    "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL "
    "SET m._lock = coalesce(m._lock, 0) + 1 RETURN m.gen AS gen"
)
#: After ``LOCK_GRAPH``, in its transaction: readers may now pin the published generation.
MARK_READY = (
    "MATCH (m:KpiMeta {key: 'graph'}) WHERE m.gen IS NOT NULL "
    "SET m.ready = [m.gen, toString(coalesce(m.head, 0))] RETURN m.gen AS gen"
)
#: The generation readers pin (see "readable"): what every read of a published graph reads.
GET_READY_GEN = (
    f"MATCH (m:KpiMeta {{key: 'graph'}}) WHERE m.gen IS NOT NULL RETURN {readable('m')} AS gen"
)
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
_UNPUBLISHED = """NOT EXISTS {
  MATCH (m:KpiMeta) WHERE m.key IN ['graph', 'stage:' + n._gen]
    AND ((m.key = 'graph' AND n._gen IN [m.base, m.gen, split(coalesce(m.prev, ''), '.')[0]])
      OR (m.gen = n._gen AND m.touched > datetime() - duration({seconds: $stale_after})))
}"""
SWEEP_GENERATIONS = f"""
MATCH (n:KpiNode)
WHERE n._gen IS NULL OR (NOT n._gen IN $keep AND {_UNPUBLISHED})
CALL {{ WITH n DETACH DELETE n }} IN TRANSACTIONS OF 2000 ROWS
"""
#: The smallest generation id (``_gen``) greater than ``$after`` that nodes carry: one seek
#: of the ``(_gen, ref)`` index in its order, so a sweep finds the few generations present
#: without reading every node (``SWEEP_GENERATIONS`` reads them all: at L half a million).
NEXT_GENERATION = (
    "MATCH (n:KpiNode) WHERE n._gen > $after AND n.ref IS NOT NULL "
    "RETURN n._gen AS gen ORDER BY gen LIMIT 1"
)
#: Auto-commit: ``SWEEP_GENERATIONS`` for the nodes of one generation ``$gen`` (an index seek),
#: with the same node-by-node check against committed state.
SWEEP_GENERATION = f"""
MATCH (n:KpiNode) WHERE n._gen = $gen AND n.ref IS NOT NULL AND {_UNPUBLISHED}
CALL {{ WITH n DETACH DELETE n }} IN TRANSACTIONS OF 2000 ROWS
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
