"""Every Cypher statement of the Neo4j ledger (:mod:`store.neo4j_ledger`), named by intent.

Ledger records are nodes with labels of their own (never ``KpiNode``/``KpiMeta``, so loads and
sweeps of the graph leave them alone). Each holds its record as JSON in ``data`` plus the keys it
is looked up by. The rules of :mod:`store.neo4j_cypher` hold here: every value is a
``$parameter``; nothing is built from user input.
"""

from __future__ import annotations

LEDGER_CONSTRAINTS = (
    "CREATE CONSTRAINT gov_meta_key IF NOT EXISTS FOR (m:GovMeta) REQUIRE m.key IS UNIQUE",
    "CREATE CONSTRAINT gov_user_token IF NOT EXISTS FOR (u:GovUser) REQUIRE u.token_id IS UNIQUE",
    "CREATE CONSTRAINT gov_change_id IF NOT EXISTS FOR (c:GovChange) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT gov_event_key IF NOT EXISTS FOR (e:GovEvent) REQUIRE e.key IS UNIQUE",
    "CREATE CONSTRAINT gov_comment_id IF NOT EXISTS FOR (c:GovComment) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT gov_outbox_key IF NOT EXISTS FOR (o:GovOutbox) REQUIRE o.key IS UNIQUE",
    "CREATE CONSTRAINT gov_usage_key IF NOT EXISTS FOR (u:GovUsage) REQUIRE u.key IS UNIQUE",
    "CREATE CONSTRAINT gov_progress_key IF NOT EXISTS FOR (p:GovProgress) REQUIRE p.key IS UNIQUE",
    "CREATE CONSTRAINT gov_nonce_key IF NOT EXISTS FOR (n:GovNonce) REQUIRE n.key IS UNIQUE",
    "CREATE INDEX gov_nonce_expiry IF NOT EXISTS FOR (n:GovNonce) ON (n.expires_at)",
)
GOV_SECRET = """
MERGE (m:GovMeta {key: 'secret_key'}) ON CREATE SET m.value = $value RETURN m.value AS value
"""
#: Counters: the MERGE + SET takes the node's write lock, so concurrent callers serialise.
GOV_NEXT_ID = """
MERGE (m:GovMeta {key: $counter}) ON CREATE SET m.value = 0
SET m.value = m.value + 1 RETURN m.value AS value
"""
#: taken by every user add before its name check (see :meth:`Neo4jLedger.add_user`)
GOV_LOCK_USERS = """
MERGE (m:GovMeta {key: 'users_lock'}) ON CREATE SET m.value = 0 SET m.value = m.value + 1
"""
GOV_LOCK_SUBMITS = """
MERGE (m:GovMeta {key: 'submits_lock'}) ON CREATE SET m.value = 0 SET m.value = m.value + 1
"""
GOV_ADD_USER = """
OPTIONAL MATCH (other:GovUser {active: true}) WHERE toLower(other.name) = toLower($name)
WITH count(other) AS others WHERE others = 0
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
GOV_LOCK_COMMENT = (
    "MATCH (c:GovComment {id: $id}) SET c._lock = coalesce(c._lock, 0) + 1 RETURN c.data AS data"
)
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
#: notifications of no change request (reports, review notices, #28)
GOV_OUTBOX_HAS = "MATCH (o:GovOutbox {key: $key}) RETURN o.id AS id"
GOV_ENQUEUE = """
CREATE (o:GovOutbox {key: $key, id: $id, status: $status, next_at: $next_at, data: $data})
"""
#: programme progress (#28): one node per (user, kind, key), replaced on a second write
GOV_PUT_PROGRESS = """
MERGE (p:GovProgress {key: $key})
SET p.user = $user, p.kind = $kind, p.item = $item, p.data = $data
"""
#: read-modify-write of one progress record: the MERGE on the unique key lets one creator make
#: the node (another waits on the constraint, then matches it) and the SET takes its write lock
#: before the data is read; ``data`` is null for a record created here
GOV_LOCK_PROGRESS = """
MERGE (p:GovProgress {key: $key})
ON CREATE SET p.user = $user, p.kind = $kind, p.item = $item
SET p._lock = coalesce(p._lock, 0) + 1
RETURN p.data AS data
"""
GOV_PROGRESS = """
MATCH (p:GovProgress) WHERE p.kind = $kind AND ($user IS NULL OR p.user = $user)
RETURN p.data AS data ORDER BY p.user, p.item
"""
#: Nonces of signed callbacks: the MERGE on the unique key lets one claimer create the node
#: (another waits on the constraint, then matches it); the SET takes the node's write lock, so
#: whether an existing claim has expired is read under it. A new node counts as expired.
#: ``claimed`` is null when a sweep deleted the matched node meanwhile (claim again).
GOV_CLAIM_NONCE = """
MERGE (n:GovNonce {key: $key})
ON CREATE SET n.scope = $scope, n.expires_at = $now
SET n._lock = coalesce(n._lock, 0) + 1
WITH n, n.expires_at <= $now AS claimed
SET n.expires_at = CASE WHEN claimed THEN $expires_at ELSE n.expires_at END
RETURN claimed
"""
#: A bounded number of expired nonces (by the expiry index), never the one being claimed:
#: each is locked (SET) and deleted only if still expired under the lock — a claim may have
#: taken it over since it was matched.
GOV_SWEEP_NONCES = """
MATCH (n:GovNonce) WHERE n.expires_at <= $now AND n.key <> $key
WITH n LIMIT $limit
SET n._lock = coalesce(n._lock, 0) + 1
WITH n WHERE n.expires_at <= $now
DELETE n
"""
GOV_CLEAR = """
MATCH (n) WHERE n:GovMeta OR n:GovUser OR n:GovChange OR n:GovEvent OR n:GovComment
  OR n:GovOutbox OR n:GovUsage OR n:GovProgress OR n:GovNonce
DETACH DELETE n
"""
