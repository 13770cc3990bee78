"""Do version filters slow Neo4j reads? (issue #17, incremental reloads)

Loads a catalog into a private local Neo4j, then runs the lineage traversal statement (depth 3,
upstream and downstream, auto-committed as the store runs it) over sampled metric roots and the
hot fields, with the statement text of this tree and, interleaved root by root, the text of an
older ``store/neo4j_cypher.py`` (``--old-cypher``: e.g. from ``git archive`` of the commit
before versions; a full load's nodes carry no versions, so both texts read the same graph).
Then reloads with one metric edited (an incremental load: one versioned node) and measures this
tree's statement again. Prints JSON with p50/p95 and the db hits of one PROFILE per statement.

usage: python -m benchmarks.neo4j_version_reads CATALOG_DIR --old-cypher OLD/store/neo4j_cypher.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.run import roots, stats, timed
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.relations import LINEAGE_RELATIONS
from loaders.catalog import load_catalog
from neo4j_local import launcher
from store import neo4j_cypher
from store.base import Walk
from store.neo4j import Neo4jStore, connect


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("old_neo4j_cypher", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _db_hits(plan: Any) -> int:
    return int(plan.get("dbHits", 0)) + sum(_db_hits(c) for c in plan.get("children", []))


def _measure(
    store: Neo4jStore, cyphers: dict[str, ModuleType], refs: list[NodeRef]
) -> dict[str, Any]:
    gen = store.generation
    out: dict[str, Any] = {}
    for walk in (Walk.BACKWARD, Walk.FORWARD):
        texts = {n: c.expand_query(walk, LINEAGE_RELATIONS, 3) for n, c in cyphers.items()}
        samples: dict[str, list[float]] = {n: [] for n in texts}
        with store.driver.session(database=store.database) as session:
            for text in texts.values():  # plan once, untimed
                session.run(text, gen=gen, frontier=[str(refs[0])], seen=[str(refs[0])]).consume()
            for r in refs:
                params = {"gen": gen, "frontier": [str(r)], "seen": [str(r)]}
                for name, text in texts.items():

                    def run(text: str = text, params: dict[str, Any] = params) -> None:
                        session.run(text, params).consume()

                    samples[name] += timed(run)
            for name, text in texts.items():
                heavy = refs[-1]
                summary = session.run(
                    "PROFILE " + text, gen=gen, frontier=[str(heavy)], seen=[str(heavy)]
                ).consume()
                out[f"{walk.value} {name}"] = stats(samples[name]) | {
                    "db_hits_heaviest_root": _db_hits(summary.profile or {})
                }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--old-cypher", type=Path, required=True)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--heap", default="2g")
    opts = parser.parse_args(argv)
    graph = load_catalog(opts.catalog)
    sample, heavy = roots(opts.metrics, 1)
    refs = [*sample[:100], *heavy[:2]]
    work = Path(tempfile.mkdtemp(prefix="kpigraph-version-reads-"))
    server = launcher.start(port=launcher.free_port(), data_dir=work / "neo4j", heap=opts.heap)
    store = Neo4jStore(connect(server.uri, "neo4j", "x", timeout=60), uri=server.uri)
    results: dict[str, Any] = {"catalog": str(opts.catalog)}
    try:
        store.load(graph)
        results["sweep with nothing to sweep, ms"] = stats(timed(store.sweep_orphans, 5))
        cyphers = {"now": neo4j_cypher, "before": _module(opts.old_cypher)}
        results["full load"] = _measure(store, cyphers, refs)
        print(json.dumps(results), file=sys.stderr, flush=True)
        edited = _edit(graph, sample[0])
        results["store.catalog_data() (what a reload plans against), ms"] = timed(
            store.catalog_data
        )[0]
        results["store.load(), unchanged, ms"] = timed(lambda: store.load(graph))[0]
        results["store.load(), one metric edited (incremental), ms"] = timed(
            lambda: store.load(edited)
        )[0]
        results["store.load(), another metric edited, ms"] = timed(
            lambda: store.load(_edit(edited, sample[1]))
        )[0]
        results["after an incremental reload"] = {
            "generation": store.generation,
            **_measure(store, {"now": neo4j_cypher}, refs),
        }
    finally:
        store.close()
        launcher.stop(work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, ensure_ascii=False))


def _edit(graph: CatalogGraph, ref: NodeRef) -> CatalogGraph:
    nodes = tuple(
        n.model_copy(update={"name": n.name + "（改）"}) if n.ref == ref else n for n in graph.nodes
    )
    return CatalogGraph(graph.name, nodes, graph.edges, graph.meta)


if __name__ == "__main__":
    main()
