"""``kpigraph load`` end to end, and the reload after editing one metric file (issue #17).

Each step is a fresh ``kpigraph load`` process (what a user runs), timed from outside (wall)
with the child's CPU time and peak RSS from ``os.wait4`` (``--backend neo4j``: a private local
Neo4j is started on a free port and stopped after; the server process's CPU over each step is
reported beside the client's as ``server_cpu_s``):

1. first load into an empty store with an empty per-file cache (read + lint + write);
2. the same catalog again (nothing changed: every file from the cache, nothing recorded);
3. one metric's definition edited in one metric file, reloaded (only that file parsed, only the
   changed rows written, a revision recorded: a delta, issue #23), twice;
4. the same edit once more loaded with ``--full`` (the whole catalog compared with the store),
   and each reload ÷ the first load (wall and CPU).

usage: python -m benchmarks.load_e2e CATALOG_DIR [--work DIR] [--backend embedded|neo4j]
       [--no-full] [--edits 2] [--heap 2g] [--pagecache-mb 256] [--keep-neo4j]
       [--import-min N]

``--pause S`` waits S seconds after the first load (a user edits a file some time after a
first load; on Neo4j the load leaves a detached process planning a delta's statements).
``--edits N`` reloads N one-file edits in step 3 (default 2). On Neo4j the first edit after a
first load makes the server plan its reads again (the statistics of the versions' label moved
from none), so the third edit shows a server past that. ``--no-full`` leaves out step 4 (at L
a full load is minutes). ``--keep-neo4j`` leaves the
private Neo4j running with the catalog loaded (its data directory is in the output) for
``python -m benchmarks.apply_change --neo4j-data DIR``, which stops it.

The catalog is copied to a scratch directory first (step 3 edits it). Generate one with
``kpigraph bench generate --metrics 10000 --seed 1 /tmp/cat-M``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class _ServerCpu:
    """The CPU of the local Neo4j of a data directory over one step, across restarts (a first
    load by offline import stops the server and starts another: each process's CPU is sampled
    every 0.2 s until it ends, and the samples of every server process seen are summed)."""

    def __init__(self, data: Path | None) -> None:
        self.data = data
        self.seen: dict[int, float] = {}
        self.base = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        from neo4j_local import launcher

        server = launcher.status(self.data)
        if server is None:
            return
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(server.pid).cpu_times()
            self.seen[server.pid] = float(times.user + times.system)

    def __enter__(self) -> _ServerCpu:
        if self.data is not None:
            self._sample()
            self.base = sum(self.seen.values())

            def poll() -> None:
                while not self._stop.wait(0.2):
                    self._sample()

            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._sample()

    @property
    def cpu_s(self) -> float:
        return sum(self.seen.values()) - self.base


def _run(args: list[str], env: dict[str, str], server: Path | None = None) -> dict[str, Any]:
    """One load process: wall, its own CPU (its reaped workers included, and an offline
    import's tool) and peak RSS (``os.wait4`` of that child, not of the benchmark's other
    children); with ``server`` (the local Neo4j's data directory) also the server's CPU over
    the same span."""
    with _ServerCpu(server) as server_cpu:
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
            child = subprocess.Popen(args, env=env, stdout=out_f, stderr=err_f, text=True)
            _pid, status, usage = os.wait4(child.pid, 0)
            child.returncode = code = os.waitstatus_to_exitcode(status)
            out_f.seek(0), err_f.seek(0)
            stdout, stderr = out_f.read(), err_f.read()
        cpu = usage.ru_utime + usage.ru_stime
        rss_mb = usage.ru_maxrss / 1024
        wall = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{stderr[-2000:]}")
        out = json.loads(stdout)
        detached = _wait_for_detached(args)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        **({"server_cpu_s": round(server_cpu.cpu_s, 2)} if server is not None else {}),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(rss_mb),
        "revision": out.get("revision"),
        "files_unchanged": out.get("files_unchanged"),
        "how": out.get("how"),  # "delta: 1 file, 1 metric changed" / "full load: …"
        "detached_s": detached,
    }


def _wait_for_detached(args: list[str]) -> float:
    """Wait until what the load left running detached (the search index file writer, see
    store/search_file.py) has finished, so the next step does not share the CPU with it;
    returns how long that took after the load returned (not in the load's wall or CPU)."""
    import psutil

    started = time.perf_counter()
    me = os.getpid()
    while True:
        busy = [
            p
            for p in psutil.process_iter(["pid", "cmdline"])
            if p.info["pid"] != me and (p.info["cmdline"] or [])[-len(args) + 1 :] == args[1:]
        ]
        if not busy:
            return round(time.perf_counter() - started, 2)
        time.sleep(0.2)


def _edit_one_metric(catalog: Path) -> Path:
    """Change the definition of the first metric of the middle metric file (a patch change)."""
    files = sorted((catalog / "metrics").rglob("*.yaml"))
    path = files[len(files) // 2]
    text = path.read_text(encoding="utf-8")
    edited, n = re.subn(r"(\n\s*definition: )([^\n]*)", r"\1\2（已修订）", text, count=1)
    if n != 1:
        raise SystemExit(f"no definition to edit in {path}")
    path.write_text(edited, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--backend", choices=["embedded", "neo4j"], default="embedded")
    parser.add_argument("--heap", default="2g", help="Neo4j heap (--backend neo4j)")
    parser.add_argument(
        "--pagecache-mb", type=int, default=256, help="Neo4j page cache (--backend neo4j)"
    )
    parser.add_argument("--no-full", action="store_true", help="leave out the --full reload")
    parser.add_argument(
        "--first-only", action="store_true", help="only the first load (no reloads)"
    )
    parser.add_argument("--edits", type=int, default=2, help="one-file edits reloaded (>= 2)")
    parser.add_argument("--keep-neo4j", action="store_true", help="leave the Neo4j running")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds between the first load and the rest"
    )
    parser.add_argument(
        "--import-min",
        type=int,
        default=None,
        help="KPIGRAPH_NEO4J_IMPORT_MIN for the loads (0: a first load in transactions; "
        "default: the setting's, an offline import at L)",
    )
    opts = parser.parse_args(argv)
    work = opts.work or Path(tempfile.mkdtemp(prefix="kpigraph-load-e2e-"))
    catalog = work / "catalog"
    shutil.rmtree(catalog, ignore_errors=True)
    shutil.copytree(opts.catalog, catalog)
    db, cache = work / "store.sqlite", work / "cache"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)
    env = {
        **os.environ,
        "KPIGRAPH_BACKEND": opts.backend,
        "KPIGRAPH_DB": str(db),
        "KPIGRAPH_CACHE_DIR": str(cache),
    }
    if opts.import_min is not None:
        env["KPIGRAPH_NEO4J_IMPORT_MIN"] = str(opts.import_min)
    with _server(opts.backend, work, opts.heap, opts.keep_neo4j, opts.pagecache_mb) as server:
        data: Path | None = None
        if server:
            uri, data = server
            env |= {
                "KPIGRAPH_NEO4J_URI": uri,
                "KPIGRAPH_NEO4J_USER": "neo4j",
                "KPIGRAPH_NEO4J_DATA": str(work / "neo4j"),
            }
        load = [sys.executable, "-m", "cli", "load", str(catalog), "--json"]
        results = {"first load": _run(load, env, data)}
        time.sleep(opts.pause)  # a user edits a file later (what a load left detached ends)
        if not opts.first_only:
            results["unchanged reload"] = _run(load, env, data)
            edited = _edit_one_metric(catalog)
            results["one file edited"] = _run(load, env, data) | {
                "file": str(edited.relative_to(catalog))
            }
            edited = _edit_one_metric(catalog)
            results["one file edited again"] = _run(load, env, data)
            for i in range(3, opts.edits + 1):  # later edits: a server past its first changes
                _edit_one_metric(catalog)
                results[f"one file edited, edit {i}"] = _run(load, env, data)
            if not opts.no_full:
                _edit_one_metric(catalog)
                results["one file edited, --full"] = _run([*load, "--full"], env, data)
    first = results["first load"]
    ratios = {
        f"{step} ÷ first load ({what})": round(results[step][what] / first[what], 3)
        for step in ("one file edited", "one file edited again", "one file edited, --full")
        if step in results
        for what in ("wall_s", "cpu_s")
    }
    out = {
        "catalog": str(opts.catalog),
        opts.backend: results,
        "ratios": ratios,
        "load_average": os.getloadavg(),
    }
    if opts.keep_neo4j and opts.backend == "neo4j":
        out["neo4j_data"] = str(work / "neo4j")
    print(json.dumps(out, ensure_ascii=False))


@contextlib.contextmanager
def _server(
    backend: str, work: Path, heap: str, keep: bool = False, pagecache_mb: int = 256
) -> Iterator[tuple[str, Path] | None]:
    """A private local Neo4j on a free port for ``--backend neo4j`` (its URI and data
    directory), else
    nothing; ``keep``: left running after. ``pagecache_mb``: its page cache (the launcher's
    default is 256 MB; L's store is 555 MB on disk)."""
    if backend != "neo4j":
        yield None
        return
    from neo4j_local import launcher

    data = work / "neo4j"
    shutil.rmtree(data, ignore_errors=True)
    server = launcher.start(
        port=launcher.free_port(), data_dir=data, heap=heap, pagecache_mb=pagecache_mb
    )
    try:
        yield server.uri, data
    except BaseException:
        launcher.stop(data)
        raise
    if not keep:
        launcher.stop(data)


if __name__ == "__main__":
    main()
