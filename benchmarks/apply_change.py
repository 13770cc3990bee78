"""Applying one approved change request, server side (issue #23): the delta path against a
whole publish of the same change, in one run.

Steps, in one process holding the store as ``kpigraph serve`` does (its graph read once):

1. a generated catalog of N metrics published into an empty store (the first load);
2. a change request on one metric (its definition reworded and a caveat added), approved;
3. ``Governance.apply`` — the delta: the metric and its own edges, one transaction;
4. the same kind of change written as a whole publish (what every apply cost before #23).

usage: python -m benchmarks.apply_change [--metrics 10000] [--backend embedded|neo4j]
       [--repeat 5] [--whole N] [--store FILE] [--single-thread]

The process holds a second thread while it applies, as ``kpigraph serve`` (uvicorn's threads)
does, so that the apply takes a server's path (no ``fork``: :func:`core.bulk.can_fork`);
``--single-thread`` measures the path of a process with one thread (a CLI). Besides the apply,
each repeat times the first read after the approvals (another connection, the ledger's, wrote
the file) and the first read after the apply — what a server's next request pays — and the
CPU of every thread of the process from the apply's start to one second after it (the search
index patched in a thread after the apply returned included).

``--store FILE``: an embedded store already loaded (``kpigraph load CAT --db FILE``), copied
and used as it is (no generated catalog, no first load here: at L that saves minutes).

``--neo4j-data DIR``: the running private Neo4j of ``DIR`` already holding a loaded catalog
(``python -m benchmarks.load_e2e CAT --backend neo4j --keep-neo4j``) is used as it is (no first
load here) and stopped after.

``--restart`` stops and starts that server first (its plan cache empty: the first apply on a
freshly started server); ``--plan`` then has the server plan a change's statements as
``kpigraph serve``'s start-up does (:meth:`store.neo4j.Neo4jStore.plan_changes`, waited for
here, timed as ``plan_s``) before the first request.

``--whole N`` does the whole publish of step 4 in only the first N repeats (at L each is
minutes; ``--whole 0`` skips it). CPU is this process's (user+system); on Neo4j the server
process's CPU over each apply is reported beside it (``apply_delta_server_cpu_s``).

Neo4j: a private local server on a free port (``neo4j_local``), stopped after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.generate import generate
from core.publish import publish
from governance import workflow
from governance.changes import Governance
from governance.users import add_user
from graph_schema.governance import Action
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery
from store.ledger import ledger_for


@contextlib.contextmanager
def _loaded_neo4j(data: Path, restart: bool = False) -> Iterator[tuple[GraphStore, int | None]]:
    """The store of the running private Neo4j of ``data`` and the server's pid (stopped
    after); ``restart``: stopped and started again first (an empty plan cache)."""
    from neo4j_local.launcher import free_port, start, status, stop
    from store.neo4j import Neo4jStore, connect

    server = status(data)
    if server is None and not restart:
        raise SystemExit(f"no local Neo4j running for {data}")
    if restart:
        port = server.port if server is not None else free_port()
        stop(data)
        server = start(port=port, data_dir=data, heap="2g")  # as load_e2e's
    try:
        store = Neo4jStore(connect(server.uri, "neo4j", "kpigraph"), uri=server.uri)
        try:
            yield store, server.pid
        finally:
            store.close()
    finally:
        stop(data)


def _server_cpu(pid: int | None) -> float:
    """The Neo4j server process's CPU so far (user + system; 0 without a server)."""
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _from_store(store: GraphStore) -> tuple[list[NodeRef], list[str]]:
    """The metrics (sorted) and departments of a loaded store, read by search."""
    depts = store.search(SearchQuery(kinds=frozenset({NodeKind.DEPARTMENT}), limit=1000)).items
    metrics: list[NodeRef] = []
    offset = 0
    while True:
        page = store.search(SearchQuery(limit=1000, offset=offset)).items
        metrics += [NodeRef(NodeKind.METRIC, n.id) for n in page]
        if len(page) < 1000:
            break
        offset += len(page)
    return sorted(metrics), sorted(d.id for d in depts)


@contextlib.contextmanager
def _store(backend: str, work: Path) -> Iterator[tuple[GraphStore, int | None]]:
    """The store to load, and the Neo4j server's pid (``None``: embedded)."""
    if backend == "embedded":
        from store.embedded import EmbeddedStore

        store: GraphStore = EmbeddedStore(work / "bench.sqlite")
        try:
            yield store, None
        finally:
            store.close()
        return
    from neo4j_local.launcher import free_port, start, stop
    from store.neo4j import Neo4jStore, connect

    server = start(port=free_port(), data_dir=work / "neo4j", heap="2g")
    try:
        store = Neo4jStore(connect(server.uri, "neo4j", "kpigraph"), uri=server.uri)
        store.clear()
        try:
            yield store, server.pid
        finally:
            store.close()
    finally:
        stop(work / "neo4j")


def _approve(gov: Governance, people: dict[str, Any], cid: int) -> None:
    for _ in range(10):
        change = gov.get(cid)
        if change.status not in workflow.REVIEWABLE:
            return
        who = next(p for p in people.values() if workflow.stage_for(p, change) is not None)
        gov.approve(who, cid, "ok")


def _people(gov: Governance, depts: list[str]) -> dict[str, Any]:
    ledger = gov.ledger
    people: dict[str, Any] = {}
    tag = f"-{int(time.time())}"  # a store benchmarked before keeps its users
    for name, role in (("editor", "editor"), ("c1", "committee"), ("a1", "admin"), ("a2", "admin")):
        people[name], _ = add_user(ledger, name + tag, role, None)
    for d in depts:
        people[f"o-{d}"], _ = add_user(ledger, f"o-{d}{tag}", "owner", d)
    return people


def _reworded(props: dict[str, Any], i: int) -> dict[str, Any]:
    out = {k: v for k, v in props.items() if k not in ("version", "history")}
    out["definition"] = f"{props.get('definition') or ''}（第{i}次措辞）"
    out["caveats"] = [*props.get("caveats", []), f"注意事项 {i}"]
    return out


@contextlib.contextmanager
def _copied(store_file: Path, work: Path) -> Iterator[tuple[GraphStore, int | None]]:
    from store.embedded import EmbeddedStore

    for suffix in ("", "-wal"):
        if Path(f"{store_file}{suffix}").exists():
            shutil.copyfile(f"{store_file}{suffix}", f"{work / 'bench.sqlite'}{suffix}")
    store = EmbeddedStore(work / "bench.sqlite")
    try:
        yield store, None
    finally:
        store.close()


def _timed(fn: Any) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def run(
    n: int,
    backend: str,
    repeat: int,
    whole_runs: int | None = None,
    neo4j_data: Path | None = None,
    store_file: Path | None = None,
    threads: bool = True,
    restart: bool = False,
    plan: bool = False,
) -> dict[str, Any]:
    stop = threading.Event()
    if threads:  # as a server: another thread alive (no fork in the apply)
        threading.Thread(target=stop.wait, name="bench-server-thread", daemon=True).start()
    try:
        return _run(n, backend, repeat, whole_runs, neo4j_data, store_file, threads, restart, plan)
    finally:
        stop.set()


def _run(
    n: int,
    backend: str,
    repeat: int,
    whole_runs: int | None,
    neo4j_data: Path | None,
    store_file: Path | None,
    threads: bool,
    restart: bool = False,
    plan: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kpigraph-apply-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        first_load: float | None = None
        if neo4j_data is not None:
            opened = _loaded_neo4j(neo4j_data, restart)
        elif store_file is not None:
            opened = _copied(store_file, work)
        else:
            generate(n, 1, work / "cat")
            graph = load_catalog(work / "cat")
            opened = _store(backend, work)
        with opened as (store, server_pid):
            if neo4j_data is None and store_file is None:
                t0 = time.perf_counter()
                publish(store, graph)
                first_load = time.perf_counter() - t0
                metrics = sorted(n.ref for n in graph.nodes if isinstance(n, Metric))
                depts = sorted({n.id for n in graph.nodes if n.kind is NodeKind.DEPARTMENT})
                del graph
            else:
                metrics, depts = _from_store(store)
            plan_s = None
            planner = getattr(store, "plan_changes", None)
            if plan and planner is not None:  # kpigraph serve's start-up, waited for
                plan_s = planner().seconds
            gov = Governance(store, ledger_for(store))
            people = _people(gov, depts)
            ref = metrics[len(metrics) // 2]
            t0 = time.perf_counter()
            store.snapshot().get_nodes([ref])  # as a server: the graph is read already
            store.search(SearchQuery(text=ref.id, limit=5))  # and its search index
            first_read = time.perf_counter() - t0
            deltas, delta_cpu, server_cpu, wholes = [], [], [], []
            after_approvals: list[tuple[float, float]] = []
            after_apply: list[tuple[float, float]] = []
            with_background: list[float] = []  # CPU of every thread, apply to 1 s after it
            submits: list[float] = []  # not timed as the apply: the request's proposal
            windows: list[tuple[float, float]] = []  # each apply's span, epoch seconds
            for i in range(repeat):
                props = store.get_nodes([ref])[ref].props()
                t0 = time.perf_counter()
                change = gov.submit(
                    people["editor"],
                    Action.UPDATE,
                    ref,
                    _reworded(props, i),
                    props.get("version"),
                    f"bench {i}",
                )
                submits.append(time.perf_counter() - t0)
                _approve(gov, people, change.id)
                # the ledger's connection wrote the file: what the next read pays
                after_approvals.append(_timed(lambda: store.snapshot().get_nodes([ref])))
                s0 = _server_cpu(server_pid)
                t0, c0, e0 = time.perf_counter(), time.process_time(), time.time()
                gov.apply(people["a1"], change.id)
                deltas.append(time.perf_counter() - t0)
                windows.append((e0, time.time()))
                delta_cpu.append(time.process_time() - c0)
                server_cpu.append(_server_cpu(server_pid) - s0)
                after_apply.append(_timed(lambda: store.snapshot().get_nodes([ref])))
                time.sleep(1.0)  # a thread patching the search index file, if any, finishes
                with_background.append(time.process_time() - c0)
                if whole_runs is not None and i >= whole_runs:
                    continue
                # the same kind of change as a whole publish (the path before #23)
                t0 = time.perf_counter()
                whole = store.catalog()
                props = store.get_nodes([ref])[ref].props()
                new = Metric.model_validate(
                    {**props, "caveats": [*props.get("caveats", []), f"整体 {i}"]}
                )
                nodes = tuple(new if node.ref == ref else node for node in whole.nodes)
                publish(
                    store,
                    CatalogGraph(whole.name, nodes, whole.edges, dict(whole.meta)),
                    check_versions=False,
                )
                wholes.append(time.perf_counter() - t0)
            info = store.info()
    return {
        "backend": backend,
        "threads": threads,
        "metrics": n if store_file is None else None,
        "store": str(store_file) if store_file is not None else None,
        "restarted": restart,
        "plan_s": round(plan_s, 3) if plan_s is not None else None,
        "first_read_s": round(first_read, 3),
        "read_after_approvals_s": [round(w, 3) for w, _ in after_approvals],
        "read_after_approvals_cpu_s": [round(c, 3) for _, c in after_approvals],
        "read_after_apply_s": [round(w, 3) for w, _ in after_apply],
        "read_after_apply_cpu_s": [round(c, 3) for _, c in after_apply],
        "apply_with_background_cpu_s": [round(c, 3) for c in with_background],
        "nodes": sum(v for k, v in info.counts.items() if k != "edges"),
        "edges": info.counts.get("edges"),
        "first_load_s": round(first_load, 3) if first_load is not None else None,
        "apply_delta_s": [round(x, 3) for x in deltas],
        "apply_delta_median_s": round(statistics.median(deltas), 3),
        "apply_delta_cpu_s": [round(x, 3) for x in delta_cpu],
        "apply_delta_server_cpu_s": [round(x, 3) for x in server_cpu] if server_pid else None,
        "apply_windows_epoch_s": [[round(a, 3), round(b, 3)] for a, b in windows],
        "submit_s": [round(x, 3) for x in submits],
        "whole_publish_s": [round(x, 3) for x in wholes],
        "whole_publish_median_s": round(statistics.median(wholes), 3) if wholes else None,
        "ratio_whole_over_delta": (
            round(statistics.median(wholes) / statistics.median(deltas), 1) if wholes else None
        ),
        "load_average": os.getloadavg(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "ref": str(ref),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--backend", choices=["embedded", "neo4j"], default="embedded")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--neo4j-data", default=None, help="a running loaded local Neo4j")
    parser.add_argument("--whole", type=int, default=None, help="whole publishes (default: all)")
    parser.add_argument("--store", default=None, help="a loaded embedded store (copied)")
    parser.add_argument("--single-thread", action="store_true", help="no second thread (a CLI)")
    parser.add_argument("--restart", action="store_true", help="restart --neo4j-data's server")
    parser.add_argument("--plan", action="store_true", help="plan a change's statements first")
    args = parser.parse_args(argv)
    data = Path(args.neo4j_data) if args.neo4j_data else None
    store_file = Path(args.store) if args.store else None
    backend = "neo4j" if data else args.backend
    result = run(
        args.metrics,
        backend,
        args.repeat,
        args.whole,
        data,
        store_file,
        not args.single_thread,
        args.restart,
        args.plan,
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
