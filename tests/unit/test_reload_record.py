"""What a reload compares with (issue #23, found by a new user following the README):

- the values ``kpigraph values refresh`` keeps in the catalog directory
  (``.kpigraph-cache/``) are not catalog files: refreshing values never turns the next load
  into a full one ("12 of 29 files changed");
- a load that changes nothing still keeps the record of the files it read, so the next load
  compares with them: a settings edit without effect is not blamed again by every later load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "catalogs" / "automotive_aftersales"


def _load(catalog: Path, tmp: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "KPIGRAPH_DB": str(tmp / "store.sqlite"),
        "KPIGRAPH_CACHE_DIR": str(tmp / "cache"),
        "KPIGRAPH_LANG": "en",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "load", str(catalog), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _bump(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_values_cache_and_no_op_loads_do_not_spoil_the_next_reload(tmp_path: Path) -> None:
    catalog = tmp_path / "cat"
    shutil.copytree(DEMO, catalog)
    assert _load(catalog, tmp_path)["revision"] == 1

    # values fetched into the catalog directory (as `values refresh` keeps them)
    rows = catalog / ".kpigraph-cache" / "rows"
    rows.mkdir(parents=True)
    (catalog / ".kpigraph-cache" / "values.sqlite").write_bytes(b"fetched values")
    (rows / "revenue.abc.parquet").write_bytes(b"columns")
    again = _load(catalog, tmp_path)
    assert again["files_unchanged"] is True and again["revision"] is None, again

    # a settings edit that changes no node: a full load that records nothing...
    with (catalog / "kpigraph.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\ncalendar: {fiscal_year_start: 4}\n")
    settings = _load(catalog, tmp_path)
    assert settings["revision"] is None and "kpigraph.yaml" in (settings["how"] or ""), settings

    # ...after which one edited metric file is a delta, not "settings changed" again
    atp = catalog / "metrics" / "revenue" / "atp.yaml"
    _bump(atp, "单个客户单次进厂消费的平均金额。", "单个客户单次进厂消费的平均金额（含税）。")
    _bump(atp, "version: 1.1.0", "version: 1.1.1")
    edited = _load(catalog, tmp_path)
    assert edited["revision"] == 2 and edited["delta"] is True, edited
    assert "kpigraph.yaml" not in (edited["how"] or ""), edited

    # and values refreshed after it still leave the catalog unchanged
    (catalog / ".kpigraph-cache" / "values.sqlite").write_bytes(b"fetched again")
    last = _load(catalog, tmp_path)
    assert last["files_unchanged"] is True and last["revision"] is None, last


def _load_args(catalog: Path, tmp: Path, *extra: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "KPIGRAPH_DB": str(tmp / "store.sqlite"),
        "KPIGRAPH_CACHE_DIR": str(tmp / "cache"),
        "KPIGRAPH_LANG": "en",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "load", str(catalog), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout) if "--json" in extra else {"text": done.stdout}
    return out


def test_full_on_unchanged_files_does_a_full_load(tmp_path: Path) -> None:
    """``load --full`` of files that did not change reads and publishes them whole, as asked,
    and says so — not "unchanged, not read again"."""
    catalog = tmp_path / "cat"
    shutil.copytree(DEMO, catalog)
    assert _load(catalog, tmp_path)["revision"] == 1
    assert _load(catalog, tmp_path)["files_unchanged"] is True  # without --full: not read

    full = _load_args(catalog, tmp_path, "--full", "--json")
    assert full["files_unchanged"] is False and full["delta"] is False, full
    assert full["revision"] is None, full  # the same graph: nothing recorded
    assert "--full was given" in (full["how"] or ""), full

    text = _load_args(catalog, tmp_path, "--full")["text"]
    assert "full load: --full was given" in text, text
    assert "not read again" not in text, text
