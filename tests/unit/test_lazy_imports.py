"""Imports that cost nothing unused (issue #23): a load of a catalog that checks no SQL imports
no sqlglot, and a command that searches nothing imports no numpy — measured the way a user
runs them, ``python -X importtime -m cli …`` in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, write_catalog


def _imported(args: list[str], env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli", "--lang", "en", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", done.stderr, re.M))


def test_load_without_sql_imports_no_sqlglot_and_no_numpy(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat")
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_CACHE_DIR": str(tmp_path / "c")}
    first = _imported(["load", str(catalog)], env)
    assert "sqlglot" not in first  # the catalog has no SQL: nothing to parse
    assert "analysis.lint" in first  # the lint gate did run (the measure can fail)
    metric = catalog / "metrics/revenue.yaml"
    metric.write_text(metric.read_text(encoding="utf-8") + "definition: 口径\n", "utf-8")
    delta = _imported(["load", str(catalog)], env)
    assert "core.reload" in delta
    assert not {"sqlglot", "numpy"} & delta
    # nor networkx: the cycle checks peel the graph (networkx only to report a cycle found),
    # and the embedded store builds its in-memory graph only for a read
    assert "networkx" not in delta
    # nor what a short process need not pay for (#23): pydantic-settings (and asyncio, dotenv
    # through it), a process pool for one file, Babel's machinery for a kept catalogue
    assert not {"pydantic_settings", "asyncio", "multiprocessing", "babel"} & delta
    validate = _imported(["validate", str(catalog)], env)
    assert "sqlglot" not in validate


def test_commands_that_search_nothing_import_no_numpy(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat")
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_CACHE_DIR": str(tmp_path / "c")}
    _imported(["load", str(catalog)], env)
    for args in (["show", "Metric:atp"], ["lineage", "Metric:atp"], ["history"]):
        assert "numpy" not in _imported(args, env), args


def test_a_catalog_with_sql_still_checks_it(tmp_path: Path) -> None:
    metric = (
        "id: orders\nname: 工单数\nowner: ops\nfields: [dms.orders.order_id]\n"
        "sql: SELECT count(order_id) FROM orders\n"
    )
    catalog = write_catalog(tmp_path / "cat", {"metrics/orders.yaml": metric})
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_CACHE_DIR": str(tmp_path / "c")}
    assert "sqlglot" in _imported(["validate", str(catalog)], env)
