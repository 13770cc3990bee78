"""The CLI on both backends: byte-identical JSON; a clear message when Neo4j is unreachable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neo4j_local.launcher import free_port
from tests.helpers import DEMO, ROOT

pytestmark = pytest.mark.neo4j


def kpigraph(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=300,
    )


def test_impact_json_is_byte_identical(
    neo4j_connection, neo4j_store_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    neo4j_store_factory()  # the shared server's one database wiped: other tests load into it
    embedded = {"KPIGRAPH_DB": str(tmp_path / "e.sqlite")}
    neo = {
        "KPIGRAPH_NEO4J_URI": neo4j_connection.uri,
        "KPIGRAPH_NEO4J_USER": neo4j_connection.user,
        "KPIGRAPH_NEO4J_PASSWORD": neo4j_connection.password,
    }
    for backend, env in (("embedded", embedded), ("neo4j", neo)):
        proc = kpigraph("load", str(DEMO), "--backend", backend, env=env)
        assert proc.returncode == 0, proc.stderr
    for args in (
        ["impact", "atp", "--json"],
        ["impact", "Table:dms.dms_orders", "--json"],
        ["lineage", "revenue", "--depth", "4", "--json"],
        ["path", "visits", "net_profit", "--json"],
        ["show", "atp", "--json"],
        ["search", "台次", "--json"],
    ):
        a = kpigraph(*args, "--backend", "embedded", env=embedded)
        b = kpigraph(*args, "--backend", "neo4j", env=neo)
        assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
        assert a.stdout == b.stdout, args


def test_unreachable_neo4j_is_one_clear_line(tmp_path: Path) -> None:
    uri = f"bolt://127.0.0.1:{free_port()}"
    proc = kpigraph(
        "impact",
        "atp",
        "--backend",
        "neo4j",
        env={"KPIGRAPH_NEO4J_URI": uri, "KPIGRAPH_NEO4J_TIMEOUT": "2"},
    )
    assert proc.returncode == 1
    assert f"cannot reach Neo4j at {uri}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
