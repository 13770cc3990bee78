"""The inventory (指标梳理清单) in the seed's Excel layout, out and in.

Out: one sheet ``指标梳理清单`` with seed 001's columns — 指标级别 | 指标名称 | 所属领域 | 优先级 |
当前是否有定义 — and a last column 指标ID, then a sheet ``统一度`` with the figures.

In: a sheet with at least the 指标名称 column (found by header, in any order; 指标级别, 所属领域,
优先级 and 指标ID are read when present, 当前是否有定义 is ignored: it is computed). Every name
not yet in the catalog becomes a **draft** metric in ``metrics/inventory/<file>.yaml``; names
already there are left alone. Every problem names its sheet, row and column; nothing is written
unless every row is good and the catalog with the drafts still loads. Cells are read as values,
a formula is refused, and nothing from a cell reaches a path, a statement or the network.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from analysis.inventory import COLUMNS, Inventory
from graph_schema.errors import KpigraphError
from graph_schema.ids import NodeKind, is_valid_id
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.excel.read import MAX_XLSX_BYTES
from loaders.excel.sheets import ExcelImportError, cell_ref
from loaders.excel.write import put

SHEET = "指标梳理清单"
FIGURES_SHEET = "统一度"
ID_COLUMN = "指标ID"
MAX_ROWS = 20_000
MESSAGES: dict[str, str] = {
    "no_sheet": "no sheet with a 指标名称 header in its first 10 rows; use the seed's columns "
    + " | ".join(COLUMNS),
    "formula": "a formula; type the value itself",
    "bad_level": "指标级别 {value!r} is not L0, L1, L2 or L3",
    "bad_priority": "优先级 {value!r} is not P0, P1 or P2",
    "bad_id": "指标ID {value!r} is not an id (a-z first, then a-z 0-9 _)",
    "dup_name": "指标名称 {value!r} appears again (first at row {first})",
    "dup_id": "指标ID {value!r} is already another metric's",
    "bad_metric": "{value!r}: {error}",
    "exists": "{path} exists; import into a new file name or pass force",
    "too_many": "over {n} rows; split the workbook",
}
FIGURES = ("统一度 (全部)", "统一度 (P0+P1 核心)", "指标数")


class InventoryImportError(KpigraphError):
    code = "inventory_import"


# -- out ---------------------------------------------------------------------------------------


def inventory_workbook(inv: Inventory) -> Workbook:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = SHEET
    for col, text in enumerate((*COLUMNS, ID_COLUMN), 1):
        put(ws, 1, col, text).style = "Headline 4"
    for i, row in enumerate(inv.rows, 2):
        for col, text in enumerate((*row.cells(), row.id), 1):
            put(ws, i, col, text, f"{SHEET} row {i}")
    for letter, width in zip("ABCDEF", (10, 24, 14, 8, 16, 24), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    figures = book.create_sheet(FIGURES_SHEET)
    values = (inv.unified, inv.core_unified, len(inv.rows))
    for i, (label, value) in enumerate(zip(FIGURES, values, strict=True), 1):
        put(figures, i, 1, label)
        put(figures, i, 2, value)
    return book


def export_inventory(inv: Inventory, out_file: str | Path) -> Path:
    path = Path(out_file)
    inventory_workbook(inv).save(path)
    return path


# -- in ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryEntry:
    """One row of an inventory sheet."""

    row: int
    name: str
    level: str | None = None
    domain: str | None = None
    priority: str | None = None
    id: str | None = None


_HEADERS = {"指标级别": "level", "指标名称": "name", "所属领域": "domain", "优先级": "priority"}
_HEADERS[ID_COLUMN] = "id"


def read_inventory(path: str | Path) -> list[InventoryEntry]:
    """The rows of the first sheet that has a 指标名称 header (``ExcelImportError`` naming
    sheet, row and column for every bad cell)."""
    path = Path(path)
    if not path.is_file():
        raise ExcelImportError([f"{path}: no such file"])
    if path.stat().st_size > MAX_XLSX_BYTES:
        raise ExcelImportError([f"{path}: over {MAX_XLSX_BYTES // 1_048_576} MiB"])
    try:
        book = load_workbook(path, data_only=False, read_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ExcelImportError([f"{path}: not a readable .xlsx workbook ({exc})"]) from None
    try:
        for ws in book.worksheets:
            found = _read_sheet(ws)
            if found is not None:
                return found
    finally:
        book.close()
    raise ExcelImportError([f"{path}: {MESSAGES['no_sheet']}"])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_sheet(ws: Any) -> list[InventoryEntry] | None:
    problems: list[str] = []
    rows = ws.iter_rows(max_row=MAX_ROWS + 11)
    header_row, columns = 0, {}
    for number, cells in enumerate(rows, 1):
        if number > 10:
            return None
        texts = [_text(c.value) for c in cells]
        if "指标名称" in texts:
            header_row = number
            columns = {_HEADERS[t]: i for i, t in enumerate(texts) if t in _HEADERS}
            break
    if not header_row:
        return None
    out: list[InventoryEntry] = []
    first_at: dict[str, int] = {}
    for number, cells in enumerate(rows, header_row + 1):
        if number - header_row > MAX_ROWS:
            problems.append(
                f"{cell_ref(ws.title, number)}: {MESSAGES['too_many'].format(n=MAX_ROWS)}"
            )
            break
        got: dict[str, str] = {}
        for key, i in columns.items():
            cell = cells[i] if i < len(cells) else None
            value = getattr(cell, "value", None)
            formula = getattr(cell, "data_type", None) == "f"
            if isinstance(value, str) and value.startswith("=") and formula:
                problems.append(f"{cell_ref(ws.title, number, i + 1)}: {MESSAGES['formula']}")
                continue
            got[key] = _text(value)
        if not got.get("name"):
            continue  # an empty row
        level, priority, ident = _checked(ws.title, number, columns, got, problems)
        name = got["name"]
        if name in first_at:
            message = MESSAGES["dup_name"].format(value=name, first=first_at[name])
            problems.append(f"{cell_ref(ws.title, number, columns['name'] + 1)}: {message}")
        first_at.setdefault(name, number)
        out.append(
            InventoryEntry(
                row=number,
                name=name,
                level=level or None,
                domain=got.get("domain") or None,
                priority=priority or None,
                id=ident,
            )
        )
    if problems:
        raise ExcelImportError(problems)
    return out


def _checked(
    sheet: str, number: int, columns: dict[str, int], got: dict[str, str], problems: list[str]
) -> tuple[str, str, str | None]:
    """(level, priority, id) of one row, each problem added to ``problems``."""

    def where(key: str) -> str:
        return cell_ref(sheet, number, columns[key] + 1)

    level, priority = got.get("level", "").upper(), got.get("priority", "").upper()
    if level and level not in ("L0", "L1", "L2", "L3"):
        problems.append(f"{where('level')}: {MESSAGES['bad_level'].format(value=level)}")
    if priority and priority not in ("P0", "P1", "P2"):
        problems.append(f"{where('priority')}: {MESSAGES['bad_priority'].format(value=priority)}")
    ident = got.get("id") or None
    if ident and not is_valid_id(NodeKind.METRIC, ident):
        problems.append(f"{where('id')}: {MESSAGES['bad_id'].format(value=ident)}")
    return level, priority, ident


def draft_id(name: str, taken: set[str]) -> str:
    """An id for a new metric named ``name``: its ASCII slug when it has one, else
    ``m_`` and a short hash of the name (stable across imports).

    Examples
    --------
    >>> draft_id("Gross Margin", set()), draft_id("工位周转率", set())
    ('gross_margin', 'm_8ede1982')
    >>> draft_id("Gross Margin", {"gross_margin"})
    'gross_margin_2'
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug or not slug[0].isalpha() or not name.isascii():
        slug = "m_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    out, n = slug, 2
    while out in taken:
        out, n = f"{slug}_{n}", n + 1
    return out


@dataclass(frozen=True)
class InventoryImport:
    created: list[str]  # ids of the new drafts
    existing: list[str]  # names already in the catalog
    file: Path | None


def import_inventory(
    path: str | Path, catalog_dir: str | Path, *, force: bool = False
) -> InventoryImport:
    """Add a draft metric to the catalog at ``catalog_dir`` for every name of the workbook's
    inventory that is not there yet (see the module doc)."""
    entries = read_inventory(path)
    root = Path(catalog_dir)
    graph = load_catalog(root)
    metrics = [n for n in graph.nodes if isinstance(n, Metric)]
    names = {m.name for m in metrics}
    taken = {m.id for m in metrics}
    docs: list[dict[str, Any]] = []
    existing: list[str] = []
    problems: list[str] = []
    sheet = Path(path).name
    for entry in entries:
        if entry.name in names:
            existing.append(entry.name)
            continue
        if entry.id and entry.id in taken:
            message = MESSAGES["dup_id"].format(value=entry.id)
            problems.append(f"{cell_ref(sheet, entry.row)}: {message}")
            continue
        ident = entry.id or draft_id(entry.name, taken)
        taken.add(ident)
        doc: dict[str, Any] = {"id": ident, "name": entry.name, "status": "draft"}
        for key in ("level", "domain", "priority"):
            if getattr(entry, key):
                doc[key] = getattr(entry, key)
        try:
            Metric.model_validate(doc)
        except ValidationError as exc:
            error = exc.errors()[0]["msg"]
            message = MESSAGES["bad_metric"].format(value=entry.name, error=error)
            problems.append(f"{cell_ref(sheet, entry.row)}: {message}")
            continue
        docs.append(doc)
    if problems:
        raise ExcelImportError(problems)
    if not docs:
        return InventoryImport([], existing, None)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(path).stem).strip("_") or "inventory"
    target = root / "metrics" / "inventory" / f"{stem[:60]}.yaml"
    if target.exists() and not force:
        raise InventoryImportError(MESSAGES["exists"].format(path=target))
    previous = target.read_bytes() if target.exists() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    header = f"# 指标梳理清单: draft metrics imported from {Path(path).name}\n"
    text = yaml.safe_dump({"metrics": docs}, allow_unicode=True, sort_keys=False)
    target.write_text(header + text, encoding="utf-8")
    try:
        load_catalog(root)
    except Exception:
        if previous is None:
            target.unlink()
        else:
            target.write_bytes(previous)
        raise
    return InventoryImport([d["id"] for d in docs], existing, target)
