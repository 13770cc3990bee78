"""The catalog graph for other graph tools: a Cypher script, GraphML, or JSON.

* ``neo4j-cypher`` — a script for ``cypher-shell -f``: uniqueness constraints, then
  ``UNWIND [...] AS row MERGE ...`` batches. Labels and relationship types come only from the
  closed enums; every value is a Cypher literal escaped here (quotes, backslashes, control
  characters); nested values (a caliber, benchmarks) are JSON text, since Neo4j properties
  hold only scalars and lists of scalars. Running it twice changes nothing (MERGE).
* ``graphml`` — via networkx; node ids are ``Kind:id``, nested values are JSON text.
* ``json`` — ``{"catalog", "nodes": [{kind, id, props}], "edges": [{source, target, type,
  props}]}``, every property as the stores persist it.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import networkx as nx

from core.i18n import _
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation

FORMATS = ("neo4j-cypher", "graphml", "json")
BATCH = 500
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def export_text(graph: CatalogGraph, fmt: str) -> str:
    """The graph in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "neo4j-cypher":
        head = (
            f"// kpigraph export of catalog {graph.name!r}: {len(graph.nodes)} nodes, "
            f"{len(graph.edges)} edges. Run: cypher-shell -f FILE"
        )
        return "".join(s + "\n" for s in [head.replace("\n", " "), *cypher_statements(graph)])
    if fmt == "graphml":
        return graphml_text(graph)
    if fmt == "json":
        return json.dumps(graph_json(graph), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(
        _("unknown format {fmt}; use one of {FORMATS}", fmt=repr(fmt), FORMATS=", ".join(FORMATS))
    )


# ---------------------------------------------------------------------------------------------
# JSON


def graph_json(graph: CatalogGraph) -> dict[str, Any]:
    meta = {k: v for k, v in graph.meta.items() if k not in ("source", "summary")}
    return {
        "catalog": meta,
        "nodes": [{"kind": n.kind.value, "id": n.id, "props": n.props()} for n in graph.nodes],
        "edges": [e.to_json() for e in graph.edges],
    }


# ---------------------------------------------------------------------------------------------
# GraphML


def _flat(props: dict[str, Any]) -> dict[str, Any]:
    """Scalar properties only (GraphML and Neo4j); anything nested becomes JSON text."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, bool | int | str) or (
            isinstance(value, float) and math.isfinite(value)
        ):
            out[key] = value
        else:
            out[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return out


def to_networkx(graph: CatalogGraph) -> nx.MultiDiGraph[str]:
    g: nx.MultiDiGraph[str] = nx.MultiDiGraph(name=graph.name)
    for node in graph.nodes:
        g.add_node(str(node.ref), kind=node.kind.value, **_flat(node.props()))
    for edge in graph.edges:
        g.add_edge(
            str(edge.source),
            str(edge.target),
            key=edge.type.value,
            type=edge.type.value,
            **_flat(edge.props),
        )
    return g


def graphml_text(graph: CatalogGraph) -> str:
    buffer = io.BytesIO()
    nx.write_graphml(to_networkx(graph), buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Cypher


def cypher_string(text: str) -> str:
    r"""A Cypher string literal.

    >>> print(cypher_string("it's 客单价"))
    'it\'s 客单价'
    >>> print(cypher_string("a\\b\nc"))
    'a\\b\nc'
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def cypher_key(key: str) -> str:
    """A map key / property name: bare when it is an identifier, else back-quoted.

    >>> cypher_key("name"), cypher_key("data support"), cypher_key("a`b")
    ('name', '`data support`', '`a``b`')
    """
    return key if _IDENT.match(key) else "`" + key.replace("`", "``") + "`"


def cypher_literal(value: Any) -> str:
    """A Cypher literal for JSON-like data (maps, lists, text, numbers, booleans, null).

    >>> cypher_literal({"name": "客单价", "tags": ["a", "b"], "min": 1.5, "on": True})
    "{name: '客单价', tags: ['a', 'b'], min: 1.5, on: true}"
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        return repr(value)
    if isinstance(value, str):
        return cypher_string(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{cypher_key(str(k))}: {cypher_literal(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    return cypher_string(str(value))


def _neo4j_props(props: dict[str, Any]) -> dict[str, Any]:
    """Neo4j holds scalars and lists of one scalar type; the rest becomes JSON text."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = value
        else:
            out.update(_flat({key: value}))
    return out


def _batches(rows: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def cypher_statements(graph: CatalogGraph) -> list[str]:
    """The statements of the script, each ending with ``;``."""
    out: list[str] = []
    kinds = [k for k in NodeKind if any(n.kind is k for n in graph.nodes)]
    for kind in kinds:
        name = f"kpigraph_export_{kind.value.lower()}_id"
        out.append(
            f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{kind.value}) REQUIRE n.id IS UNIQUE;"
        )
    for kind in kinds:
        rows = [
            {"id": n.id, "props": _neo4j_props({k: v for k, v in n.props().items() if k != "id"})}
            for n in graph.nodes
            if n.kind is kind
        ]
        for batch in _batches(rows):
            out.append(
                f"UNWIND {cypher_literal(batch)} AS row\n"
                f"MERGE (n:{kind.value} {{id: row.id}}) SET n += row.props;"
            )
    groups: dict[tuple[NodeKind, NodeKind, Relation], list[dict[str, Any]]] = defaultdict(list)
    for edge in graph.edges:
        groups[(edge.source.kind, edge.target.kind, edge.type)].append(
            {"s": edge.source.id, "t": edge.target.id, "props": _neo4j_props(edge.props)}
        )
    for (src, dst, rel), rows in groups.items():
        for batch in _batches(rows):
            out.append(
                f"UNWIND {cypher_literal(batch)} AS row\n"
                f"MATCH (a:{src.value} {{id: row.s}}) MATCH (b:{dst.value} {{id: row.t}})\n"
                f"MERGE (a)-[r:{rel.value}]->(b) SET r += row.props;"
            )
    return out
