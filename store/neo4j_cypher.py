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

The statements live by section in :mod:`store.neo4j_cypher_load` (schema, load, versions,
sweeps), :mod:`store.neo4j_cypher_read` (pinned reads, traversals, search before the index)
and :mod:`store.neo4j_cypher_history` (revisions); this module names them all, so callers
write ``cy.NAME`` whichever section holds it.
"""

from __future__ import annotations

from store.neo4j_cypher_history import (
    BASE_REVISION,
    CATALOG_AT,
    CREATE_CHANGE_GEN_INDEX,
    CREATE_CHANGE_KEY_INDEX,
    CREATE_REVISION_CONSTRAINT,
    CREATE_REVISION_GEN_INDEX,
    DELETE_HISTORY,
    DELETE_ORPHAN_CHANGES,
    DELETE_STAGED_CHANGES,
    FIRST_CHANGE,
    FIRST_CHANGES,
    GET_HEAD,
    GET_REVISION,
    GET_REVISION_META,
    LIST_REVISIONS,
    LIST_REVISIONS_OF,
    LIVE_NODE_PROPS,
    LOCK_HEAD,
    NODE_AT,
    NODE_HISTORY,
    RECORD_REVISION,
    SET_GRAPH_META,
    STAGE_CHANGES,
    STORED_EDGES,
    STORED_NODES,
)
from store.neo4j_cypher_load import (
    AWAIT_INDEXES,
    CLOSE_VERSIONS,
    CREATE_EDGES,
    CREATE_GEN_REF_INDEX,
    CREATE_META_CONSTRAINT,
    CREATE_NODES,
    CREATE_STAGE_INDEX,
    CREATE_TO_INDEX,
    CREATE_VERSION_EDGES,
    CREATE_VERSIONS,
    DELETE_DEAD_STAGES,
    DELETE_GENERATION,
    DELETE_META,
    DELETE_STAGE,
    DELETE_STAGED_VERSIONS,
    DROP_LEGACY_CONSTRAINTS,
    GET_FLOOR,
    GET_LIVE_GEN,
    GET_LIVE_HEAD,
    NEXT_GENERATION,
    PENDING,
    PUBLISH_VERSIONS,
    REGISTER_STAGE,
    SWAP_GENERATION,
    SWAP_VERSIONS,
    SWEEP_CLOSED_VERSIONS,
    SWEEP_DEAD_VERSIONS,
    SWEEP_GENERATION,
    SWEEP_GENERATIONS,
    TOUCH_STAGE,
    visible,
)
from store.neo4j_cypher_read import (
    DENSE_DEGREE,
    EDGES_IN,
    EDGES_OUT,
    GET_LABELS,
    GET_META,
    GET_NODES,
    GET_PAGE,
    HAS_SEARCH_STRINGS,
    MAX_HOPS,
    PING,
    SEARCH_INDEX_ROWS,
    edges_among_query,
    expand_query,
    pinned,
    search_nodes_query,
)

__all__ = [
    "AWAIT_INDEXES",
    "BASE_REVISION",
    "CATALOG_AT",
    "CLOSE_VERSIONS",
    "CREATE_CHANGE_GEN_INDEX",
    "CREATE_CHANGE_KEY_INDEX",
    "CREATE_EDGES",
    "CREATE_GEN_REF_INDEX",
    "CREATE_META_CONSTRAINT",
    "CREATE_NODES",
    "CREATE_REVISION_CONSTRAINT",
    "CREATE_REVISION_GEN_INDEX",
    "CREATE_STAGE_INDEX",
    "CREATE_TO_INDEX",
    "CREATE_VERSIONS",
    "CREATE_VERSION_EDGES",
    "DELETE_DEAD_STAGES",
    "DELETE_GENERATION",
    "DELETE_HISTORY",
    "DELETE_META",
    "DELETE_ORPHAN_CHANGES",
    "DELETE_STAGE",
    "DELETE_STAGED_CHANGES",
    "DELETE_STAGED_VERSIONS",
    "DENSE_DEGREE",
    "DROP_LEGACY_CONSTRAINTS",
    "EDGES_IN",
    "EDGES_OUT",
    "FIRST_CHANGE",
    "FIRST_CHANGES",
    "GET_FLOOR",
    "GET_HEAD",
    "GET_LABELS",
    "GET_LIVE_GEN",
    "GET_LIVE_HEAD",
    "GET_META",
    "GET_NODES",
    "GET_PAGE",
    "GET_REVISION",
    "GET_REVISION_META",
    "HAS_SEARCH_STRINGS",
    "LIST_REVISIONS",
    "LIST_REVISIONS_OF",
    "LIVE_NODE_PROPS",
    "LOCK_HEAD",
    "MAX_HOPS",
    "NEXT_GENERATION",
    "NODE_AT",
    "NODE_HISTORY",
    "PENDING",
    "PING",
    "PUBLISH_VERSIONS",
    "RECORD_REVISION",
    "REGISTER_STAGE",
    "SEARCH_INDEX_ROWS",
    "SET_GRAPH_META",
    "STAGE_CHANGES",
    "STORED_EDGES",
    "STORED_NODES",
    "SWAP_GENERATION",
    "SWAP_VERSIONS",
    "SWEEP_CLOSED_VERSIONS",
    "SWEEP_DEAD_VERSIONS",
    "SWEEP_GENERATION",
    "SWEEP_GENERATIONS",
    "TOUCH_STAGE",
    "edges_among_query",
    "expand_query",
    "pinned",
    "search_nodes_query",
    "visible",
]
