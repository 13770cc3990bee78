"""``kpigraph.yaml`` comes from the catalog's authors like every other file, but it was read
outside the bounds its other files have:

- ``lint:`` takes any value, so ten lines of YAML aliases (``b: &b [*a, *a, …]``, 10⁹ items)
  passed validation, and copying the settings (pydantic's ``model_dump``) walked the expanded
  structure: ``kpigraph load`` ran for minutes at 6 GB before it was killed. Now bounded as a
  node's definition is, and refused with the file's line.
- the catalog's language and calendar were read with a plain ``yaml.safe_load``: a manifest
  nested 3,000 levels deep stopped ``load`` with "internal error: RecursionError" instead of
  the loader's "nested deeper than 1000 levels" at its line.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from graph_schema.calendar import read_calendar
from graph_schema.errors import CatalogError
from loaders.catalog import load_catalog
from loaders.catalog_file import manifest_language
from tests.helpers import CATALOGS


def _catalog(tmp_path: Path, extra: str) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOGS / "retail", root)
    manifest = root / "kpigraph.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return root


def test_an_alias_bomb_in_the_lint_settings_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["  a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"  {name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")  # 10⁷ at g
    text = (CATALOGS / "retail" / "kpigraph.yaml").read_text(encoding="utf-8")
    root = _catalog(tmp_path, "")
    (root / "kpigraph.yaml").write_text(
        text.replace("lint:\n", "lint:\n" + "\n".join(lines) + "\n", 1), encoding="utf-8"
    )
    began = time.process_time()
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    assert time.process_time() - began < 10
    (issue,) = caught.value.issues
    assert issue.file == "kpigraph.yaml" and issue.line is not None and "lint" in issue.message


def test_a_deeply_nested_manifest_is_a_file_line_error(tmp_path: Path) -> None:
    root = _catalog(tmp_path, "deep: " + "[" * 3000 + "]" * 3000 + "\n")
    assert manifest_language(root) is None
    assert read_calendar(root).has_fiscal is False
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    (issue,) = caught.value.issues
    assert issue.file == "kpigraph.yaml" and issue.line is not None
