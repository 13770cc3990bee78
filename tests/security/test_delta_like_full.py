"""A one-file delta load (loaders/partial.py) accepts nothing a full load refuses. Renaming a
metric in its own file (``store_count`` → ``store_count2``) while a metric beside it, unchanged,
still names the old id in its formula was loaded as a delta ("2 metrics changed"): the store
then held a formula naming a metric that no longer exists. A full load refuses it with the
file:line of each reference; so must the delta path (it reads the catalog whole and says so)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import CATALOGS, CliLoad


def _rename_store_count(catalog: Path) -> None:
    region = catalog / "metrics" / "region.yaml"
    text = region.read_text(encoding="utf-8")
    assert "id: store_count," in text and "formula: sales_amount / store_count" in text
    region.write_text(text.replace("id: store_count,", "id: store_count2,", 1), encoding="utf-8")


def test_a_rename_beside_an_unchanged_reference_is_refused_as_by_a_full_load(
    tmp_path: Path, cli_load: CliLoad
) -> None:
    delta, full = tmp_path / "delta", tmp_path / "full"
    shutil.copytree(CATALOGS / "retail", delta)
    shutil.copytree(CATALOGS / "retail", full)
    cache = tmp_path / "cache"
    first = cli_load(delta, cache, tmp_path / "delta.sqlite", lang="en")
    assert first.returncode == 0, first.stderr
    _rename_store_count(delta)
    _rename_store_count(full)
    whole = cli_load(full, cache, tmp_path / "full.sqlite", lang="en")
    assert whole.returncode != 0 and "metrics/region.yaml:17" in whole.stderr + whole.stdout
    after = cli_load(delta, cache, tmp_path / "delta.sqlite", lang="en")
    said = after.stdout + after.stderr
    assert after.returncode == whole.returncode, said
    assert "metrics/region.yaml:17" in said and "store_count" in said
    assert "revision 2" not in said  # nothing was loaded
