"""`export --format json|graphml|neo4j-cypher`: complete, and literals escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx

from loaders.catalog import load_catalog
from loaders.export_graph import cypher_literal, cypher_string, export_text

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "catalogs" / "automotive_aftersales"
NASTY = 'it\'s "quoted" \\ back\\slash\nnew line\ttab 客单价 */ MATCH (n) DETACH DELETE n //'


def _unescape(literal: str) -> str:
    """Read a Cypher string literal back (the escapes cypher_string writes)."""
    assert literal[0] == literal[-1] == "'"
    body = literal[1:-1]
    assert not re.search(r"(?<!\\)(?:\\\\)*'", body), "an unescaped quote ends the literal early"
    table = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t"}
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] == "u":
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(table[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def test_cypher_string_escapes_everything_that_could_end_it() -> None:
    for text in (NASTY, "'", "\\", "\\'", "a\x07b\x00c", "\u2028", ""):
        literal = cypher_string(text)
        assert "\n" not in literal and "\x00" not in literal
        assert _unescape(literal) == text
    assert cypher_literal({"a b": 1, "x": [None, 1.5, float("nan")]}) == (
        "{`a b`: 1, x: [null, 1.5, null]}"
    )


def test_json_is_complete() -> None:
    graph = load_catalog(DEMO)
    data = json.loads(export_text(graph, "json"))
    assert len(data["nodes"]) == len(graph.nodes)
    assert len(data["edges"]) == len(graph.edges)
    atp = next(n for n in data["nodes"] if n["id"] == "atp")
    assert atp["kind"] == "Metric"
    assert atp["props"]["caliber"]["time"].startswith("统计自然月")
    assert data["catalog"]["name"] == graph.name


def test_graphml_reads_back(tmp_path: Path) -> None:
    graph = load_catalog(DEMO)
    path = tmp_path / "g.graphml"
    path.write_text(export_text(graph, "graphml"), encoding="utf-8")
    back = nx.read_graphml(path)
    assert back.number_of_nodes() == len(graph.nodes)
    assert back.number_of_edges() == len(graph.edges)
    atp = back.nodes["Metric:atp"]
    assert atp["name"] == "客单价" and atp["kind"] == "Metric"
    assert json.loads(atp["caliber"])["numerator"]["includes"][0] == "工时收入"
    types = {d["type"] for _s, _t, d in back.edges(data=True)}
    assert {"INPUT_TO", "FEEDS", "HAS_FIELD"} <= types


def test_cypher_script_shape() -> None:
    graph = load_catalog(DEMO)
    script = export_text(graph, "neo4j-cypher")
    assert script.startswith("// kpigraph export")
    assert "CREATE CONSTRAINT kpigraph_export_metric_id IF NOT EXISTS" in script
    assert "MERGE (n:Metric {id: row.id}) SET n += row.props;" in script
    assert "MERGE (a)-[r:INPUT_TO]->(b) SET r += row.props;" in script
