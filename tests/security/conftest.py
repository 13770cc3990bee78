"""Set-ups several security tests share: the demo catalog published with the governance
people (``governed_atp``), and ``kpigraph load`` run as a user runs it, in a child process
(``cli_load``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.publish import publish
from governance.changes import Governance
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from tests.governance_helpers import GovernedMetric, fresh_ledger, make_people
from tests.helpers import ROOT, CliLoad


@pytest.fixture
def governed_atp(make_store: Any, demo_graph: CatalogGraph) -> GovernedMetric:
    """The demo catalog in a store of each backend, its people, and metric ``atp``."""
    store = make_store()
    publish(store, demo_graph)
    ledger = fresh_ledger(store)
    users, _ = make_people(ledger)
    atp = NodeRef.parse("Metric:atp")
    props = store.get_nodes([atp])[atp].props()
    return GovernedMetric(store, ledger, users, Governance(store, ledger), atp, props)


def _cli_load(
    catalog: Path, cache_dir: Path, db: Path, lang: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KPIGRAPH_CACHE_DIR=str(cache_dir), KPIGRAPH_DB=str(db))
    if lang is not None:
        env["KPIGRAPH_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "cli", "load", str(catalog)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def cli_load() -> CliLoad:
    """``cli_load(catalog, cache_dir, db, lang=None)``: ``kpigraph load catalog`` in a child
    process, with ``KPIGRAPH_CACHE_DIR`` and ``KPIGRAPH_DB`` (and ``KPIGRAPH_LANG``) set."""
    return _cli_load
