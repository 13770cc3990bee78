"""The Neo4j backend, over the official driver. The driver is passed in, never built at import.

A load runs in one write transaction (wipe, ``UNWIND $rows`` MERGE batches, metadata), so a
failed, interrupted or killed load is rolled back by the server and the previous graph stays
readable and unchanged. Reads use managed transactions, which the driver retries on transient
errors. All Cypher lives in :mod:`store.neo4j_cypher`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import neo4j
from neo4j import Driver, GraphDatabase, ManagedTransaction, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ClientError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph_schema.errors import BackendUnavailableError, EmptyStoreError, StoreError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric, node_from_props
from graph_schema.relations import Relation
from store import neo4j_cypher as cy
from store.base import ProgressFn, SearchPage, SearchQuery, StoreInfo, Walk, sort_edges
from store.embedded import set_of_edges
from store.ranking import level_index, normalize_text, search_fields

T = TypeVar("T")
BATCH = 5000
#: Joins a node's search strings in ``_search``; no query text contains it (it is stripped).
SEARCH_SEP = "\x01"


def connect(uri: str, user: str, password: str, *, timeout: float = 10.0) -> Driver:
    """A driver for ``uri`` (not yet connected). Notifications are silenced: queries here are
    fixed text, so the server's hints are noise for users."""
    return GraphDatabase.driver(
        uri,
        auth=(user, password),
        connection_timeout=timeout,
        connection_acquisition_timeout=timeout * 2,
        max_transaction_retry_time=5.0,
        notifications_min_severity="OFF",
    )


def _ref(text: str) -> NodeRef:
    kind, _, node_id = text.partition(":")
    return NodeRef(NodeKind(kind), node_id)


def node_row(node: BaseNode, load_id: str = "") -> dict[str, Any]:
    """The properties stored on a Neo4j node: full JSON plus what queries filter and rank on."""
    props = node.props()
    titles, body = search_fields(node.kind, props)
    row: dict[str, Any] = {
        "ref": str(node.ref),
        "kind": node.kind.value,
        "id": node.id,
        "name": node.name,
        "props": json.dumps(props, ensure_ascii=False),
        "_titles": titles,
        "_search": SEARCH_SEP.join([*titles, *body]),
        # titles each preceded by the separator: "starts a title" is one CONTAINS
        "_title_text": "".join(SEARCH_SEP + t for t in titles),
        "_level": level_index(props),
        "_load": load_id,
    }
    if isinstance(node, Metric):
        row.update(
            name_en=node.name_en,
            abbr=node.abbr,
            definition=node.definition,
            level=node.level.value if node.level else None,
            domain=node.domain,
            status=node.status.value,
            owner=node.owner,
            reviewer=node.reviewer,
        )
    return row


class Neo4jStore:
    """:class:`~store.base.GraphStore` over a Neo4j 5 server.

    Parameters
    ----------
    driver
        An official ``neo4j`` driver; the store does not own its configuration, but closes it.
    database
        The database name (Community edition has one user database, ``neo4j``).
    uri
        For error messages only.
    """

    backend = "neo4j"

    def __init__(self, driver: Driver, database: str = "neo4j", uri: str = "") -> None:
        self.driver = driver
        self.database = database
        self.uri = uri or "neo4j"
        self._schema_ready = False

    # -- plumbing ------------------------------------------------------------------------------

    def _guard(self, action: Callable[[], T]) -> T:
        """Run ``action``, mapping driver failures to kpigraph errors that name the server."""
        try:
            return action()
        except TransientError as exc:
            if "MemoryPoolOutOfMemoryError" in (exc.code or ""):
                raise StoreError(
                    f"Neo4j at {self.uri} ran out of transaction memory: {_short(exc)}; give the "
                    "server more heap (kpigraph neo4j start --heap 16g) or raise "
                    "dbms.memory.transaction.total.max; nothing was changed",
                    {"uri": self.uri},
                ) from exc
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {_short(exc)}", {"uri": self.uri}
            ) from exc
        except (ServiceUnavailable, SessionExpired, AuthError) as exc:
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {_short(exc)}",
                {"uri": self.uri},
            ) from exc
        except (ClientError, Neo4jError, DriverError) as exc:
            raise StoreError(f"Neo4j at {self.uri} failed: {_short(exc)}") from exc
        except OSError as exc:
            raise BackendUnavailableError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc

    def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        self._ensure_schema()

        def run() -> list[neo4j.Record]:
            records, _, _ = self.driver.execute_query(
                query, params, database_=self.database, routing_=RoutingControl.READ
            )
            return list(records)

        return self._guard(run)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return

        def run() -> None:
            self.driver.verify_connectivity()  # fail fast, before retrying queries
            statements = [
                cy.CREATE_REF_CONSTRAINT,
                cy.CREATE_META_CONSTRAINT,
                *cy.CREATE_ID_CONSTRAINTS.values(),
                cy.CREATE_METRIC_FULLTEXT,
                cy.CREATE_SEARCH_TEXT_INDEX,
            ]
            for statement in statements:
                self.driver.execute_query(statement, database_=self.database)
            self.driver.execute_query(cy.AWAIT_INDEXES, database_=self.database)

        self._guard(run)
        self._schema_ready = True

    def ping(self) -> None:
        self._guard(lambda: self.driver.execute_query(cy.PING, database_=self.database))

    def close(self) -> None:
        self.driver.close()

    # -- load ----------------------------------------------------------------------------------

    def load(self, graph: CatalogGraph, progress: ProgressFn | None = None) -> StoreInfo:
        self._ensure_schema()
        load_id = uuid.uuid4().hex
        node_batches: list[tuple[str, list[dict[str, Any]]]] = []
        by_kind: dict[NodeKind, list[dict[str, Any]]] = defaultdict(list)
        for node in graph.nodes:
            by_kind[node.kind].append(node_row(node, load_id))
        for kind, rows in by_kind.items():
            for i in range(0, len(rows), BATCH):
                node_batches.append((cy.MERGE_NODES[kind], rows[i : i + BATCH]))
        by_rel: dict[Relation, list[dict[str, Any]]] = defaultdict(list)
        for edge in graph.edges:
            by_rel[edge.type].append(
                {
                    "source": str(edge.source),
                    "target": str(edge.target),
                    "props": json.dumps(edge.props, ensure_ascii=False),
                }
            )
        edge_batches = [
            (cy.CREATE_EDGES[rel], rows[i : i + BATCH])
            for rel, rows in by_rel.items()
            for i in range(0, len(rows), BATCH)
        ]
        total = len(graph.nodes) + len(graph.edges)
        counts = graph.counts()
        loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        meta_params = {
            "catalog": graph.name,
            "loaded_at": loaded_at,
            "meta": json.dumps(graph.meta, ensure_ascii=False, default=str),
            "counts": json.dumps(counts),
        }

        def work(tx: ManagedTransaction) -> None:
            # see store.neo4j_cypher: no mass delete before the writes
            tx.run(cy.DELETE_RELATIONSHIPS).consume()
            done = 0
            for query, rows in (*node_batches, *edge_batches):
                tx.run(query, rows=rows).consume()
                done += len(rows)
                if progress:
                    progress(done, total)
            tx.run(cy.DELETE_STALE_NODES, load=load_id).consume()
            tx.run(cy.DELETE_META).consume()
            tx.run(cy.SET_META, meta_params).consume()

        def run() -> None:
            with self.driver.session(database=self.database) as session:
                session.execute_write(work)

        self._guard(run)
        return StoreInfo(
            backend=self.backend,
            catalog=graph.name,
            loaded_at=loaded_at,
            counts=counts,
            meta=dict(graph.meta),
        )

    def clear(self) -> None:
        """Remove the whole graph (tests and ``kpigraph`` maintenance only)."""
        self._ensure_schema()

        def work(tx: ManagedTransaction) -> None:
            tx.run(cy.DELETE_GRAPH).consume()
            tx.run(cy.DELETE_META).consume()

        def run() -> None:
            with self.driver.session(database=self.database) as session:
                session.execute_write(work)

        self._guard(run)

    # -- reads ---------------------------------------------------------------------------------

    def info(self) -> StoreInfo:
        records = self._read(cy.GET_META)
        if not records:
            raise EmptyStoreError(f"Neo4j at {self.uri} (database {self.database!r})")
        rec = records[0]
        return StoreInfo(
            backend=self.backend,
            catalog=rec["catalog"],
            loaded_at=rec["loaded_at"],
            counts=json.loads(rec["counts"]),
            meta=json.loads(rec["meta"] or "{}"),
        )

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        wanted = sorted({str(r) for r in refs})
        if not wanted:
            return {}
        out: dict[NodeRef, BaseNode] = {}
        for rec in self._read(cy.GET_NODES, refs=wanted):
            kind = NodeKind(rec["kind"])
            node = node_from_props(kind, json.loads(rec["props"]))
            out[node.ref] = node
        return out

    def search(self, query: SearchQuery) -> SearchPage:
        text = normalize_text(query.text)
        if SEARCH_SEP in text:  # cannot occur inside one search string (nor in the embedded store)
            return SearchPage(total=0, items=[])
        records = self._read(
            cy.SEARCH if text else cy.LIST,
            text=text,
            prefix=SEARCH_SEP + text,
            kinds=sorted(k.value for k in query.kinds),
            domain=query.domain,
            level=query.level,
            status=query.status,
            department=query.department,
            offset=query.offset,
            limit=query.limit,
        )
        rec = records[0]
        items = [
            node_from_props(NodeKind(hit["kind"]), json.loads(hit["props"])) for hit in rec["page"]
        ]
        return SearchPage(total=rec["total"], items=items)

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        params = {"refs": sorted({str(r) for r in refs}), "types": _types(relations)}
        records: list[neo4j.Record] = []
        if walk in (Walk.FORWARD, Walk.UNDIRECTED):
            records += self._read(cy.EDGES_OUT, **params)
        if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
            records += self._read(cy.EDGES_IN, **params)
        return sort_edges(set_of_edges(_edge(r) for r in records))

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        records = self._read(
            cy.EDGES_AMONG, refs=sorted({str(r) for r in refs}), types=_types(relations)
        )
        return sort_edges(_edge(r) for r in records)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        """Breadth-first, one query per hop (see :func:`store.neo4j_cypher.expand_query`);
        every node is expanded once, so it terminates on any graph, cycles included."""
        rels = frozenset(relations)
        if not rels:
            return {}
        query = cy.expand_query(walk, rels)
        start = str(root)
        depth: dict[str, int] = {start: 0}
        frontier = [start]
        hop = 0
        while frontier and (max_depth is None or hop < max_depth):
            hop += 1
            found = [rec["ref"] for rec in self._read(query, frontier=frontier)]
            frontier = [ref for ref in found if ref not in depth]
            for ref in frontier:
                depth[ref] = hop
        del depth[start]
        return {_ref(ref): d for ref, d in depth.items()}


def _types(relations: Iterable[Relation]) -> list[str]:
    return sorted(Relation(r).value for r in relations)


def _edge(rec: neo4j.Record) -> Edge:
    return Edge(
        source=_ref(rec["source"]),
        target=_ref(rec["target"]),
        type=Relation(rec["type"]),
        props=json.loads(rec["props"] or "{}"),
    )


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0][:300].rstrip(" :")
