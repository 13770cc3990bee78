"""The exported Cypher script runs on a real Neo4j and rebuilds the catalog graph: every node,
every relationship, and text with quotes, backslashes and newlines exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.catalog import load_catalog
from loaders.export_graph import cypher_statements

pytestmark = pytest.mark.neo4j

ROOT = Path(__file__).resolve().parents[2]
NASTY = 'it\'s "quoted" \\ back\\slash\nnew line\ttab 客单价 */ MATCH (n) DETACH DELETE n //'


def _catalog(tmp_path: Path) -> Path:
    root = tmp_path / "c"
    (root / "metrics").mkdir(parents=True)
    (root / "kpigraph.yaml").write_text("name: nasty\n")
    (root / "departments.yaml").write_text("- {id: ops, name: 运营部}\n")
    text = NASTY.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    (root / "metrics" / "a.yaml").write_text(
        f'id: a\nname: "{text}"\nowner: ops\ncaliber: {{time: 月}}\nuse_cases: [x, "y\'z"]\n'
    )
    (root / "metrics" / "b.yaml").write_text("id: b\nname: B\nformula: a * 2\n")
    return root


def test_script_rebuilds_the_graph(neo4j_connection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from store.neo4j import connect

    c = neo4j_connection
    driver = connect(c.uri, c.user, c.password)
    graphs = [
        load_catalog(ROOT / "catalogs" / "automotive_aftersales"),
        load_catalog(_catalog(tmp_path)),
    ]
    try:
        for graph in graphs:
            with driver.session() as session:
                session.run("MATCH (n) DETACH DELETE n").consume()
                for statement in cypher_statements(graph):
                    session.run(statement).consume()
                for statement in cypher_statements(graph):  # MERGE: a second run adds nothing
                    session.run(statement).consume()
                nodes = session.run("MATCH (n) RETURN count(n) AS c").single()["c"]
                rels = session.run("MATCH ()-[r]->() RETURN count(r) AS c").single()["c"]
                assert (nodes, rels) == (len(graph.nodes), len(graph.edges))
        with driver.session() as session:
            name = session.run("MATCH (m:Metric {id: 'a'}) RETURN m.name AS n").single()["n"]
            assert name == NASTY
            uses = session.run("MATCH (m:Metric {id: 'a'}) RETURN m.use_cases AS u").single()["u"]
            assert uses == ["x", "y'z"]
            role = session.run(
                "MATCH (:Metric {id: 'a'})-[r:INPUT_TO]->(:Metric {id: 'b'}) RETURN r.role AS r"
            ).single()["r"]
            assert role == "factor"
    finally:
        with driver.session() as session:
            session.run("MATCH (n) DETACH DELETE n").consume()
            for record in session.run("SHOW CONSTRAINTS YIELD name").data():
                if record["name"].startswith("kpigraph_export_"):
                    session.run(f"DROP CONSTRAINT {record['name']}").consume()
        driver.close()
