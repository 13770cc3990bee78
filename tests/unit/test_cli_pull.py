"""``kpigraph load`` / ``pull`` / ``export catalog`` as a user runs them (issue 22): a real
process, real files, exit codes. The change request is made and applied in-process on the
same embedded store file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graph_schema.diff import graph_digest
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.contract.test_writeback import ATP_FILE, EXTRA, apply_change, exclude_extra
from tests.helpers import CATALOGS, DEMO
from tests.unit.test_cli import run


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "w.sqlite"
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    run("load", str(cat), db=db)
    store = EmbeddedStore(db)
    try:
        apply_change(store, exclude_extra)
    finally:
        store.close()
    return db, cat


@pytest.mark.usefixtures("english")  # reads the English lines
def test_stale_load_refused_then_pull_then_load_records_nothing(
    loaded: tuple[Path, Path],
) -> None:
    db, cat = loaded
    refused = run("load", str(cat), db=db, check=False)
    assert refused.returncode == 1
    assert "#1" in refused.stderr and "Metric:atp" in refused.stderr
    assert "kpigraph pull" in refused.stderr and "--force-files" in refused.stderr
    before = (cat / ATP_FILE).read_text(encoding="utf-8")
    dry = run("pull", str(cat), "--dry-run", db=db)
    assert EXTRA in dry.stdout and dry.stdout.startswith("--- a/metrics/revenue/atp.yaml")
    assert (cat / ATP_FILE).read_text(encoding="utf-8") == before  # dry run wrote nothing
    done = run("pull", str(cat), db=db)
    assert "change request #1: atp" in done.stdout and ATP_FILE in done.stdout
    assert EXTRA in (cat / ATP_FILE).read_text(encoding="utf-8")
    again = run("pull", str(cat), db=db)
    assert "nothing to pull" in again.stdout
    head = json.loads(run("history", "--json", db=db).stdout)[0]["number"]
    out = run("load", str(cat), "--json", db=db)
    assert json.loads(out.stdout)["revision"] is None
    assert json.loads(run("history", "--json", db=db).stdout)[0]["number"] == head


def test_force_files_is_recorded(loaded: tuple[Path, Path]) -> None:
    db, cat = loaded
    path = cat / ATP_FILE
    path.write_text(path.read_text("utf-8").replace("version: 1.1.0", "version: 3.0.0"), "utf-8")
    run("load", str(cat), "--force-files", db=db)
    latest = json.loads(run("history", "--json", db=db).stdout)[0]
    assert latest["source"]["force_files"] is True


@pytest.mark.parametrize("template", ["automotive_aftersales", "retail"])
def test_export_catalog_store_reloads_to_the_same_digest(tmp_path: Path, template: str) -> None:
    db = tmp_path / "e.sqlite"
    run("load", str(CATALOGS / template), db=db)
    out_dir = tmp_path / "exported"
    run("export", "catalog", "store", "-o", str(out_dir), db=db)
    run("validate", str(out_dir), db=db)
    store = EmbeddedStore(db)
    try:
        stored = store.catalog()
        at_one = store.catalog(at=1)
    finally:
        store.close()
    again = load_catalog(out_dir)
    assert graph_digest(again.nodes, again.edges) == graph_digest(stored.nodes, stored.edges)
    run("export", "catalog", "rev:1", "-o", str(tmp_path / "r1"), db=db)
    r1 = load_catalog(tmp_path / "r1")
    assert graph_digest(r1.nodes, r1.edges) == graph_digest(at_one.nodes, at_one.edges)
    bad = run("export", "catalog", "rev:x", "-o", str(tmp_path / "x"), db=db, check=False)
    assert bad.returncode == 1 and "rev:N" in bad.stderr


CHILD = """
import os, sys, time
from pathlib import Path
import core.writeback as wb
from store.embedded import EmbeddedStore

store = EmbeddedStore(Path(sys.argv[1]))
plan = wb.plan_pull(Path(sys.argv[2]), store)

def stuck(src, dst):
    print("renaming", flush=True)
    time.sleep(60)

wb.os.replace = stuck
wb.apply_plan(plan)
"""


def test_a_pull_killed_midway_leaves_the_files_and_the_next_pull_completes(
    loaded: tuple[Path, Path],
) -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT

    db, cat = loaded
    before = (cat / ATP_FILE).read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(cat)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "renaming"  # the new text is on disk, not in place
    child.kill()
    child.wait(30)
    assert (cat / ATP_FILE).read_bytes() == before
    load_catalog(cat)  # a leftover temporary file is not a catalog file
    run("pull", str(cat), db=db)
    assert EXTRA in (cat / ATP_FILE).read_text(encoding="utf-8")
