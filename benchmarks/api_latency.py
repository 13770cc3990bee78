"""Latency of the HTTP lineage endpoint on the demo catalog, per backend, in one run.

usage: python -m benchmarks.api_latency [--requests 300] [--neo4j-uri bolt://127.0.0.1:7687]

Starts ``kpigraph serve`` for real (uvicorn on a free loopback port) for each backend and times
sequential GET requests to /api/nodes/{ref}/lineage over every metric of the demo catalog.
Without --neo4j-uri it starts the local Neo4j launcher for the Neo4j run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from loaders.catalog import load_catalog
from neo4j_local import launcher

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "catalogs" / "automotive_aftersales"


def serve(backend: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = launcher.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--catalog",
            str(DEMO),
            "--backend",
            backend,
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{backend} server did not come up")


def measure(base: str, refs: list[str], n: int) -> dict[str, float]:
    samples = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for ref in refs[:5]:  # warm-up
            client.get(f"/api/nodes/{ref}/lineage")
        for i in range(n):
            ref = refs[i % len(refs)]
            started = time.perf_counter()
            r = client.get(f"/api/nodes/{ref}/lineage", params={"depth": 3})
            samples.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, r.text
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[int(len(samples) * 0.95) - 1],
        "n": float(len(samples)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--neo4j-uri", default=None)
    args = parser.parse_args()
    refs = [str(n.ref) for n in load_catalog(DEMO).nodes if n.kind.value == "Metric"]
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-bench-"))
    started_local = False
    uri = args.neo4j_uri
    if uri is None:
        server = launcher.start(port=launcher.free_port(), data_dir=tmp / "neo4j")
        uri, started_local = server.uri, True
    try:
        for backend, env in (
            ("embedded", {"KPIGRAPH_DB": str(tmp / "bench.sqlite")}),
            ("neo4j", {"KPIGRAPH_NEO4J_URI": uri}),
        ):
            proc, base = serve(backend, env)
            try:
                results[backend] = measure(base, refs, args.requests)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        if started_local:
            launcher.stop(tmp / "neo4j")
    for backend, r in results.items():
        print(
            f"{backend:9s} lineage depth 3 over HTTP: p50 {r['p50_ms']:.2f} ms, "
            f"p95 {r['p95_ms']:.2f} ms ({int(r['n'])} requests)"
        )


if __name__ == "__main__":
    main()
