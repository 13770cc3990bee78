"""Timing of ``diff`` and of loads with history (issue #13), on demand:

    python -m benchmarks.history_bench CATALOG_DIR [--neo4j-uri bolt://…] [--changes 100]

CATALOG_DIR is a generated catalog (``kpigraph bench generate --metrics 10000 DIR`` is M).
A copy with ``--changes`` metric files edited (one definition reworded in each; the first
also changes a unit) is the "new" side. Each step is timed once (the machine is shared); the
YAML parse is timed once and added where a user's command includes it: the first load
(revision 1 lists the whole graph), a no-op reload (``kpigraph load`` of the unchanged catalog:
parse, digest, nothing written), a load recording the changes, ``diff DIR NEW`` (two catalogs,
impact included) and ``diff store DIR``. Without ``--neo4j-uri`` a private local Neo4j is
started (2 GB heap) and stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.diff import diff_catalogs
from core.publish import publish
from graph_schema.graph import CatalogGraph
from graph_schema.revisions import RevisionDraft
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def edited_copy(src: Path, dst: Path, changes: int) -> int:
    """Copy ``src`` to ``dst`` and edit ``changes`` metric files; returns how many changed."""
    shutil.copytree(src, dst)
    done = 0
    for path in sorted((dst / "metrics").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "definition:" not in text:
            continue
        text = text.replace("definition: ", "definition: 修订：", 1)
        if done == 0 and "unit:" in text:
            text = text.replace("unit: ", "unit: 千", 1)
        path.write_text(text, encoding="utf-8")
        done += 1
        if done >= changes:
            break
    return done


def measure(
    store: GraphStore, old: CatalogGraph, new: CatalogGraph, parse_s: float
) -> dict[str, float]:
    """Each step once (the machine is shared): parsing is timed once, outside, and added to
    the two steps a user runs from files (``kpigraph load``, ``kpigraph diff DIR DIR``)."""
    out: dict[str, Any] = {"parse_s": parse_s}
    draft = RevisionDraft(author="bench", message="first")
    out["first_load_s"], _ = timed(lambda: publish(store, old, draft))
    out["noop_reload_publish_s"], res = timed(lambda: publish(store, old))
    assert res.revision is None
    out["noop_reload_total_s"] = parse_s + out["noop_reload_publish_s"]
    out["change_load_s"], res = timed(lambda: publish(store, new, check_versions=False))
    assert res.revision == 2, res
    out["diff_catalogs_s"], report = timed(lambda: diff_catalogs(old, new))
    out["diff_dirs_total_s"] = 2 * parse_s + out["diff_catalogs_s"]
    out["diff_store_s"], _ = timed(lambda: diff_catalogs(store.catalog(), old))
    out["changed_nodes"] = len(report.nodes)
    out["affected_metrics"] = len(report.impact.metrics)
    out["nodes"] = len(old.nodes)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def _neo4j(
    args: argparse.Namespace, work: Path, old: CatalogGraph, new: CatalogGraph, parse_s: float
) -> dict[str, float]:
    """On ``--neo4j-uri``, or on a private local Neo4j started here (and stopped after)."""
    from neo4j_local import launcher
    from store.neo4j import Neo4jStore, connect

    uri, data = args.neo4j_uri, None
    if not uri:
        data = work / "neo4j"
        uri = launcher.start(port=launcher.free_port(), data_dir=data, heap="2g").uri
    neo = Neo4jStore(connect(uri, "neo4j", args.neo4j_password, timeout=60), uri=uri)
    try:
        neo.clear()
        return measure(neo, old, new, parse_s)
    finally:
        neo.clear()
        neo.close()
        if data is not None:
            launcher.stop(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--neo4j-password", default="kpigraph")
    parser.add_argument("--backends", default="embedded,neo4j")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kpigraph-histbench-"))
    new_dir = work / "new"
    changed = edited_copy(args.catalog, new_dir, args.changes)
    results: dict[str, Any] = {"changed_files": changed}
    parse_s, old = timed(lambda: load_catalog(args.catalog))
    new = load_catalog(new_dir)
    results["load_average"] = os.getloadavg()
    if "embedded" in args.backends:
        results["embedded"] = measure(EmbeddedStore(work / "h.sqlite"), old, new, parse_s)
    if "neo4j" in args.backends:
        results["neo4j"] = _neo4j(args, work, old, new, parse_s)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
