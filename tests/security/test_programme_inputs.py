"""Hostile input on the programme's write paths (issue 28): an inventory workbook whose names
try YAML, template and path tricks becomes plain draft names and nothing else; quiz and review
forms take only what they name."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.excel.inventory import import_inventory
from tests.helpers import write_catalog

HOSTILE = [
    "a: b\n- x: !!python/object/apply:os.system ['id']",
    "{{ 7 * 7 }}<script>alert(1)</script>",
    "../../etc/passwd",
    "&anchor [*anchor]",
]


def test_hostile_names_stay_names(tmp_path: Path) -> None:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["指标级别", "指标名称", "所属领域", "优先级"])
    for name in HOSTILE:
        ws.append(["L2", name, "../x", "P1"])
    path = tmp_path / "../evil name.xlsx"
    book.save(path)
    root = write_catalog(tmp_path / "cat")
    done = import_inventory(path, root)
    assert done.file is not None and done.file.parent == root / "metrics" / "inventory"
    names = {n.name for n in load_catalog(root).nodes if isinstance(n, Metric)}
    assert {h.strip() for h in HOSTILE} <= names
    assert not (tmp_path / "etc").exists()
