"""Timing of ``diff`` and of loads with history (issue #13), on demand:

    python -m benchmarks.history_bench CATALOG_DIR [--neo4j-uri bolt://…] [--changes 100]

CATALOG_DIR is a generated catalog (``kpigraph bench generate --metrics 10000 DIR`` is M).
A copy with ``--changes`` metrics edited (a definition reworded and the patch version bumped;
one unit changed with a major bump) is the "new" side. Measured, each the median of 3 (the
loads once each, in this order): the first load (revision 1 lists the whole graph), a no-op
reload (``kpigraph load`` of the unchanged catalog: parse, digest, nothing written), a load
recording the changes, ``diff DIR NEW`` (two catalogs, impact included) and ``diff store NEW``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.diff import diff_catalogs
from core.publish import publish
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


def measure(store: GraphStore, old_dir: Path, new_dir: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    out["parse_s"], graph = timed(lambda: load_catalog(old_dir), 3)
    draft = RevisionDraft(author="bench", message="first")
    out["first_load_s"], _ = timed(lambda: publish(store, load_catalog(old_dir), draft))
    out["noop_reload_s"], res = timed(lambda: publish(store, load_catalog(old_dir)), 3)
    assert res.revision is None
    out["change_load_s"], res = timed(
        lambda: publish(store, load_catalog(new_dir), check_versions=False)
    )
    assert res.revision == 2
    # the store side reads back what is loaded: now the new graph; diff it with the old dir
    out["diff_dirs_s"], report = timed(
        lambda: diff_catalogs(load_catalog(old_dir), load_catalog(new_dir)), 3
    )
    out["diff_store_s"], _ = timed(lambda: diff_catalogs(store.catalog(), load_catalog(old_dir)), 3)
    out["changed_nodes"] = len(report.nodes)
    out["affected_metrics"] = len(report.impact.metrics)
    out["nodes"] = len(graph.nodes)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--neo4j-password", default="kpigraph")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kpigraph-histbench-"))
    new_dir = work / "new"
    changed = edited_copy(args.catalog, new_dir, args.changes)
    results: dict[str, Any] = {"changed_files": changed}
    results["embedded"] = measure(EmbeddedStore(work / "h.sqlite"), args.catalog, new_dir)
    if args.neo4j_uri:
        from store.neo4j import Neo4jStore, connect

        neo = Neo4jStore(
            connect(args.neo4j_uri, "neo4j", args.neo4j_password, timeout=60), uri=args.neo4j_uri
        )
        neo.clear()
        try:
            results["neo4j"] = measure(neo, args.catalog, new_dir)
        finally:
            neo.clear()
            neo.close()
    print(json.dumps(results, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
