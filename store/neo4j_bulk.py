"""A first load into an empty local Neo4j written offline: the generation's nodes and
relationships as CSV files for ``neo4j-admin database import full`` instead of hundreds of
``UNWIND`` statements and their commits (#23; measured in BENCHMARKS.md).

Only the bulk goes this way: the nodes (every property :func:`store.neo4j_load.node_row` gives
the transactional load, and ``_gen``), the relationships (``props``) and the load's stage record.
Everything after — the schema, the revision's change records, the swap that publishes the
generation with its revision, meta and counts, the sweep — is the transactional load's own
code (:mod:`store.neo4j_load`), so the stored result is the same (a contract test compares
them: ``tests/contract/test_neo4j_offline_import.py``).

The server must be one this machine runs (:class:`OfflineImport`, implemented by
:mod:`neo4j_local.offline_import`): the import needs its database offline, so it is stopped
for the swap of database directories and started again. A remote server, or a store holding
anything but what killed loads left behind, keeps the transactional path.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from graph_schema.errors import StoreError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from store.neo4j_session import Neo4jSession

#: Nodes and relationships of a first load below which the transactional path is cheaper than
#: stopping and starting the server (~20-30 s): the value to opt in with
#: (``KPIGRAPH_NEO4J_IMPORT_MIN``; the setting's default, 0, keeps the transactional path).
IMPORT_MIN = 300_000

#: Anything in the store but the nodes of unpublished generations and their stage records: a
#: published graph, a revision, a ledger record. One found: the store is not empty.
SOMETHING_KEPT = (
    "MATCH (n) WHERE NOT n:KpiNode AND NOT (n:KpiMeta AND n.key STARTS WITH 'stage:') "
    "RETURN count(n) > 0 AS kept"
)
COUNT_NODES = "MATCH (n:KpiNode) RETURN count(n) AS n"
COUNT_RELATIONSHIPS = "MATCH ()-[r]->() RETURN count(r) AS n"


class OfflineImport(Protocol):
    """A local server whose database can be replaced by an offline import."""

    def scratch(self) -> Path:
        """A fresh directory on the server's disk for the CSV files."""
        ...

    def replace_database(
        self,
        nodes: Sequence[tuple[str, Path]],
        relationships: Sequence[tuple[str, Path]],
        *,
        multiline: bool,
        still_empty: Callable[[], bool],
    ) -> bool:
        """Import the files as the server's database (stopped, swapped, started again);
        ``False`` when ``still_empty()`` turned false first (nothing changed)."""
        ...


def is_empty(conn: Neo4jSession) -> bool:
    """Nothing in the store a load must keep (see :data:`SOMETHING_KEPT`)."""
    records = conn.read(SOMETHING_KEPT)
    return not (records and records[0]["kept"])


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


#: Between the elements of a list property (``--array-delimiter``): the unit separator, which
#: no catalog text holds; a list element holding it sends the load the transactional way.
ARRAY_DELIMITER = "\x1f"


class NotImportable(Exception):
    """A value the CSV files cannot carry as the transactional load stores it."""


def _field(value: Any) -> str:
    """A CSV field: ``None`` unquoted and empty (no property, as ``SET n = row`` stores no
    null), a string always quoted (so ``""`` is the empty string), a non-empty list of
    strings (``<name>:string[]`` in the header) its elements joined by
    :data:`ARRAY_DELIMITER`."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        if not value or not all(isinstance(v, str) and ARRAY_DELIMITER not in v for v in value):
            raise NotImportable("a list property that is empty or holds the array delimiter")
        return _quoted(ARRAY_DELIMITER.join(value))
    if not isinstance(value, str):
        raise TypeError(f"offline import: a property of type {type(value).__name__}")
    return _quoted(value)


def _header(column: str, value: Any) -> str:
    if column == "ref":
        return "ref:ID"
    return f"{column}:string[]" if isinstance(value, list | tuple) else column


def _has_newline(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def write_files(
    graph: CatalogGraph,
    gen: str,
    directory: Path,
    row_of: Callable[..., dict[str, Any]],
) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], bool]:
    """The CSV files of generation ``gen``: one per node kind (labels ``KpiNode:<Kind>``),
    one per relationship type, and the stage record (``KpiMeta``). Returns the node files,
    the relationship files and whether any field holds a line break."""
    multiline = False
    nodes: list[tuple[str, Path]] = []
    by_kind: dict[NodeKind, list[dict[str, Any]]] = defaultdict(list)
    node_texts, edge_texts = graph.texts
    for node, text in zip(graph.nodes, node_texts, strict=True):
        by_kind[node.kind].append(row_of(node, text))
    for kind, rows in by_kind.items():
        columns = list(rows[0])
        path = directory / f"nodes-{kind.value}.csv"
        with open(path, "w", encoding="utf-8", newline="") as node_file:
            header = [_header(c, rows[0][c]) for c in columns]
            node_file.write(",".join([*header, "_gen"]) + "\n")
            tail = "," + _quoted(gen) + "\n"
            for row in rows:
                if list(row) != columns:
                    raise StoreError(f"offline import: {row.get('ref')} has other properties")
                values = row.values()
                multiline = multiline or any(_has_newline(v) for v in values)
                node_file.write(",".join(_field(v) for v in values) + tail)
        nodes.append((f"KpiNode:{kind.value}", path))
    now = dt.datetime.now(dt.UTC).isoformat()
    stage = directory / "stage.csv"
    stage.write_text(
        "key,gen,touched:datetime,started:datetime\n"
        + ",".join([_quoted("stage:" + gen), _quoted(gen), now, now])
        + "\n",
        encoding="utf-8",
    )
    nodes.append(("KpiMeta", stage))
    files: dict[str, TextIO] = {}
    relationships: list[tuple[str, Path]] = []
    try:
        for edge, text in zip(graph.edges, edge_texts, strict=True):
            out = files.get(edge.type.value)
            if out is None:
                path = directory / f"rels-{edge.type.value}.csv"
                out = files[edge.type.value] = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
                out.write(":START_ID,:END_ID,props\n")
                relationships.append((edge.type.value, path))
            multiline = multiline or _has_newline(text)
            out.write(f"{_quoted(str(edge.source))},{_quoted(str(edge.target))},{_field(text)}\n")
    finally:
        for out in files.values():
            out.close()
    return nodes, relationships, multiline


def import_generation(
    conn: Neo4jSession,
    target: OfflineImport,
    graph: CatalogGraph,
    gen: str,
    row_of: Callable[..., dict[str, Any]],
) -> bool:
    """Write ``graph`` as generation ``gen`` (with its stage record, unpublished) by an offline
    import that replaces the server's empty database. ``False``: the store was not empty
    any more when the import was ready, nothing changed (load it in transactions)."""
    directory = target.scratch()
    try:
        nodes, relationships, multiline = write_files(graph, gen, directory, row_of)
    except NotImportable:
        return False
    replaced = target.replace_database(
        nodes,
        relationships,
        multiline=multiline,
        still_empty=lambda: conn.guard(lambda: is_empty(conn)),
    )
    if not replaced:
        return False
    conn.restarted()
    counted = (
        conn.read(COUNT_NODES)[0]["n"],
        conn.read(COUNT_RELATIONSHIPS)[0]["n"],
    )
    if counted != (len(graph.nodes), len(graph.edges)):
        raise StoreError(
            f"the offline import into Neo4j at {conn.uri} wrote {counted[0]} nodes and "
            f"{counted[1]} relationships of {len(graph.nodes)} and {len(graph.edges)}; "
            "nothing was published — run the load again",
            {"uri": conn.uri},
        )
    return True
