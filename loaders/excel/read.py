"""Read a workbook written by :mod:`loaders.excel.write` (and edited by people) back into a
catalog directory (``kpigraph import excel``).

Every problem names its sheet, row and column (``sheet '部门' row 4 column B``) and what to do;
all of them are collected before anything is written, and nothing is written unless the whole
catalog then validates. The cards are the definition; the index sheet must agree with them
(a cell changed in one place only is reported, with both places).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from graph_schema.errors import CatalogError, KpigraphError
from graph_schema.models import Dashboard, Department, Dimension, FieldNode, Metric, System, Table
from loaders.catalog import CatalogManifest
from loaders.catalog_writer import (
    CatalogDoc,
    manifest_keys,
    metric_path,
    relocate_issues,
    write_catalog,
)
from loaders.excel import layout as L
from loaders.excel.write import source_columns
from loaders.suggest import closest, did_you_mean

MAX_XLSX_BYTES = 64 * 1024 * 1024


class ExcelImportError(KpigraphError):
    """The workbook cannot be imported; ``problems`` lists each 'sheet row column: what'."""

    code = "excel_import"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}", {"problems": problems})


def cell_ref(sheet: str, row: int, col: int | None = None) -> str:
    """``sheet '部门' row 4 column B (B4)``."""
    if col is None:
        return f"sheet {sheet!r} row {row}"
    letter = get_column_letter(col)
    return f"sheet {sheet!r} row {row} column {letter} ({letter}{row})"


@dataclass
class _Card:
    sheet: str
    data: dict[str, Any]
    cells: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)


class _Reader:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, sheet: str, row: int, col: int | None, message: str) -> None:
        self.problems.append(f"{cell_ref(sheet, row, col)}: {message}")

    def values(self, sheet: str, row: tuple[Any, ...]) -> list[Any]:
        """The cells' values; a formula is refused (its result is not in the file for sure,
        and a definition is text someone wrote, not a computation)."""
        out: list[Any] = []
        for cell in row:
            if getattr(cell, "data_type", None) == "f":
                self.problem(
                    sheet,
                    cell.row,
                    cell.column,
                    f"cell holds a formula ({str(cell.value)[:40]}); type the value itself, "
                    "or start the text with an apostrophe (') to keep a leading '='",
                )
                out.append(None)
            else:
                out.append(cell.value)
        return out

    # -- plain sheets: a header row, then one row per node ------------------------------------

    def table(
        self, ws: Worksheet, allowed: list[str], required: tuple[str, ...]
    ) -> list[tuple[int, dict[str, Any], dict[str, int]]]:
        rows = [self.values(ws.title, row) for row in ws.iter_rows()]
        if not rows:
            self.problem(ws.title, 1, None, "the sheet is empty; it needs its header row")
            return []
        columns: dict[int, str] = {}
        for col, text in enumerate(rows[0], 1):
            key = L.header_key(text)
            if key is None:
                continue
            if key not in allowed:
                hint = did_you_mean(closest(key, allowed)) or f"columns are {', '.join(allowed)}"
                self.problem(ws.title, 1, col, f"unknown column {text!r}; {hint}")
                continue
            columns[col] = key
        missing = [k for k in required if k not in columns.values()]
        for key in missing:
            self.problem(
                ws.title,
                1,
                None,
                f"missing column {L.header(key)!r}; add it to the header row (row 1)",
            )
        out = []
        for n, values in enumerate(rows[1:], 2):
            data: dict[str, Any] = {}
            cols: dict[str, int] = {}
            for col, key in columns.items():
                value = values[col - 1] if col - 1 < len(values) else None
                if isinstance(value, str):
                    value = value.strip()
                if value not in (None, ""):
                    data[key], cols[key] = value, col
            if data:
                out.append((n, data, cols))
        return out

    def node(
        self,
        sheet: str,
        model: type[BaseModel],
        row: int,
        data: dict[str, Any],
        cols: dict[str, int],
    ) -> dict[str, Any] | None:
        """Check one row against ``model``; keep the row as the catalog file would hold it."""
        typed = {k: _decode(model, k, v) for k, v in data.items()}
        try:
            model.model_validate(typed)
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                self.problem(sheet, row, cols.get(key), f"{key or 'row'}: {err['msg']}")
            return None
        return typed

    # -- cards ---------------------------------------------------------------------------------

    def card(self, ws: Worksheet) -> _Card | None:
        card = _Card(ws.title, {})
        tables: dict[str, list[str]] = {}
        for row in ws.iter_rows(min_row=3):
            n = row[0].row
            values = self.values(ws.title, row)
            path = values[2] if len(values) > 2 else None
            if path in (None, ""):
                if any(v not in (None, "") for v in values[3:]):
                    self.problem(ws.title, n, 3, "a value without a key in column C (字段)")
                continue
            path = str(path).strip()
            cells = values[3:]
            self.card_row(card, tables, n, path, cells)
        return card

    def card_row(
        self, card: _Card, tables: dict[str, list[str]], n: int, path: str, cells: list[Any]
    ) -> None:
        sheet = card.sheet
        value = cells[0] if cells else None
        if isinstance(value, str):
            value = value.strip()
        if path.endswith("[]"):
            key = path[:-2]
            if self._shape(sheet, n, key) is None:
                return
            tables[key] = [str(c).strip() for c in cells if c not in (None, "")]
            card.data.setdefault(key, [])
            return
        if path.endswith("]") and "[" in path:
            key = path[:-1].partition("[")[0]
            if key not in tables:
                self.problem(sheet, n, 3, f"{path!r} comes before its header row '{key}[]'")
                return
            item = {
                c: (v.strip() if isinstance(v, str) else v)
                for c, v in zip(tables[key], cells, strict=False)
                if v not in (None, "")
            }
            if item:
                index = len(card.data[key])
                card.data[key].append(item)
                for col, c in enumerate(tables[key], 4):
                    card.cells[(key, index, c)] = (n, col)
                card.cells[(key, index)] = (n, 3)
            return
        shape = self._shape(sheet, n, path)
        if shape is None:
            return
        parts = path.split(".")
        target = card.data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        leaf = parts[-1]
        if shape.kind == "list":
            items = target.setdefault(leaf, [])
            if value not in (None, ""):
                card.cells[(*parts, len(items))] = (n, 4)
                items.append(value)
            return
        if value in (None, ""):
            return
        if shape.kind == "json":
            try:
                value = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError as exc:
                self.problem(sheet, n, 4, f"{path}: not valid JSON ({exc.msg})")
                return
        if leaf in target:
            self.problem(sheet, n, 3, f"{path!r} appears twice on this card; keep one")
            return
        target[leaf] = value
        card.cells[tuple(parts)] = (n, 4)

    def _shape(self, sheet: str, row: int, path: str) -> L.Shape | None:
        """The shape of a dotted key of Metric, or a problem naming the closest key."""
        model: type[BaseModel] = Metric
        shape: L.Shape | None = None
        for part in path.split("."):
            fld = model.model_fields.get(part)
            if fld is None:
                hint = did_you_mean(closest(part, list(model.model_fields))) or ""
                self.problem(sheet, row, 3, f"unknown key {path!r}{'; ' + hint if hint else ''}")
                return None
            shape = L.shape_of(fld.annotation)
            if shape.model is not None:
                model = shape.model
        return shape


def _decode(model: type[BaseModel], key: str, value: Any) -> Any:
    """A cell of a plain sheet: JSON text back to data where the key is not text."""
    fld = model.model_fields.get(key)
    if fld is None or not isinstance(value, str):
        return value
    shape = L.shape_of(fld.annotation)
    if shape.kind in ("json", "list", "table", "model") and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _open(path: Path) -> Any:
    if not path.is_file():
        raise ExcelImportError([f"{path}: no such file"])
    if path.stat().st_size > MAX_XLSX_BYTES:
        raise ExcelImportError([f"{path}: over {MAX_XLSX_BYTES // 1_048_576} MiB"])
    try:
        return load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ExcelImportError(
            [f"{path}: not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})"]
        ) from None


def read_workbook(path: str | Path) -> tuple[CatalogDoc, dict[str, str]]:
    """The catalog document in the workbook, and written file → sheet (for later errors)."""
    book = _open(Path(path))
    reader = _Reader()
    sheets = {ws.title: ws for ws in book.worksheets}
    cards: list[_Card] = []
    for title, ws in sheets.items():
        if title in L.FIXED_SHEETS:
            continue
        if ws.cell(1, 1).value == L.CARD_MARK:
            card = reader.card(ws)
            if card is not None:
                cards.append(card)
        else:
            reader.problem(
                title,
                1,
                1,
                f"unknown sheet {title!r}: not one of {', '.join(L.FIXED_SHEETS)}, and not a "
                f"metric card (a card has '{L.CARD_MARK}' in A1); delete or rename it",
            )
    for required in (L.INDEX, L.CATALOG):
        if required not in sheets:
            reader.problems.append(f"sheet {required!r} is missing; it was in the exported file")
    doc = CatalogDoc(manifest={})
    where: dict[str, str] = {}
    if L.CATALOG in sheets:
        for n, data, cols in reader.table(sheets[L.CATALOG], ["key", "value"], ("key", "value")):
            key = str(data.get("key", ""))
            if key not in manifest_keys():
                reader.problem(L.CATALOG, n, cols.get("key"), f"unknown setting {key!r}")
            elif "value" in data:
                doc.manifest[key] = _decode(CatalogManifest, key, data["value"])
        if "name" not in doc.manifest:
            reader.problems.append(f"sheet {L.CATALOG!r}: the catalog needs a 'name' row")
        where["kpigraph.yaml"] = f"sheet {L.CATALOG!r}"
    plain: list[tuple[str, type[BaseModel], list[dict[str, Any]], str]] = [
        (L.DEPARTMENTS, Department, doc.departments, "departments.yaml"),
        (L.DIMENSIONS, Dimension, doc.dimensions, "dimensions.yaml"),
        (L.DASHBOARDS, Dashboard, doc.dashboards, "dashboards.yaml"),
    ]
    for sheet, model, target, file in plain:
        if sheet not in sheets:
            continue
        where[file] = f"sheet {sheet!r}"
        keys = ["kind" if k == "type" and model is Dashboard else k for k in model.model_fields]
        for n, data, cols in reader.table(sheets[sheet], keys, ("id", "name")):
            if model is Dashboard and "kind" in data:
                data["type"], cols["type"] = data.pop("kind"), cols.pop("kind")
            item = reader.node(sheet, model, n, data, cols)
            if item is not None:
                if model is Dashboard and "type" in item:
                    item = {("kind" if k == "type" else k): v for k, v in item.items()}
                target.append(item)
    if L.SOURCES in sheets:
        where["sources.yaml"] = f"sheet {L.SOURCES!r}"
        doc.systems = _read_sources(reader, sheets[L.SOURCES])
    metric_ids = _read_cards(reader, cards, doc, where)
    if L.INDEX in sheets:
        _check_index(reader, sheets[L.INDEX], cards, metric_ids)
    if reader.problems:
        raise ExcelImportError(reader.problems)
    return doc, where


def _read_sources(reader: _Reader, ws: Worksheet) -> list[dict[str, Any]]:
    columns = source_columns()
    systems: dict[str, dict[str, Any]] = {}
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for n, data, cols in reader.table(ws, columns, ("system", "table", "field", "name")):
        sys_id, table, fld = (str(data.pop(k, "")) for k in ("system", "table", "field"))
        if not sys_id:
            reader.problem(ws.title, n, cols.get("system"), "every row names its system")
            continue
        model: type[BaseModel] = FieldNode if fld else Table if table else System
        local = fld or table or sys_id
        if model is FieldNode:
            data |= {"id": f"{sys_id}.{table}.{fld}", "table": f"{sys_id}.{table}"}
        elif model is Table:
            data |= {"id": f"{sys_id}.{table}", "system": sys_id}
        else:
            data["id"] = sys_id
        data.setdefault("name", local)
        item = reader.node(ws.title, model, n, data, cols)
        if item is None:
            continue
        item["id"] = local
        item.pop("table", None)
        item.pop("system", None)
        if model is System:
            systems[sys_id] = item | {"tables": []}
        elif model is Table:
            if sys_id not in systems:
                reader.problem(ws.title, n, cols.get("system"), f"no system row {sys_id!r} above")
                continue
            tables[(sys_id, table)] = item
            systems[sys_id]["tables"].append(item)
        else:
            if (sys_id, table) not in tables:
                where = cols.get("table")
                reader.problem(ws.title, n, where, f"no table row {sys_id}.{table} above")
                continue
            tables[(sys_id, table)].setdefault("fields", []).append(item)
    return list(systems.values())


def _read_cards(
    reader: _Reader, cards: list[_Card], doc: CatalogDoc, where: dict[str, str]
) -> dict[str, str]:
    ids: dict[str, str] = {}
    for card in cards:
        try:
            metric = Metric.model_validate(card.data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                spot = next(
                    (card.cells[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in card.cells),
                    None,
                )
                dotted = ".".join(str(p) for p in loc) or "card"
                row, col = spot if spot else (3, None)
                reader.problem(card.sheet, row, col, f"{dotted}: {err['msg']}")
            continue
        if metric.id in ids:
            reader.problem(
                card.sheet, 3, 4, f"metric id {metric.id!r} is also on {ids[metric.id]!r}"
            )
            continue
        ids[metric.id] = card.sheet
        path = metric_path(metric, "domain")
        doc.metric_files.setdefault(path, []).append(_card_doc(card.data))
        where[f"metrics/{path}"] = f"sheet {card.sheet!r}"
    return ids


def _card_doc(data: dict[str, Any], model: type[BaseModel] = Metric) -> dict[str, Any]:
    """Drop the template's empty slots (keys of nested records with nothing in them); values
    of JSON keys (``extra``) are kept exactly as written."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        fld = model.model_fields.get(key)
        shape = L.shape_of(fld.annotation) if fld else None
        if isinstance(value, dict) and shape and shape.kind == "model" and shape.model:
            value = _card_doc(value, shape.model)
        if value in ({}, [], None):
            continue
        out[key] = value
    return out


def _check_index(reader: _Reader, ws: Worksheet, cards: list[_Card], ids: dict[str, str]) -> None:
    keys = [*L.INDEX_KEYS, L.CARD_LINK]
    by_id = {c.data.get("id"): c for c in cards}
    seen: set[str] = set()
    for n, data, cols in reader.table(ws, keys, ("id", "name")):
        mid = str(data.get("id", ""))
        card = by_id.get(mid)
        if card is None:
            reader.problem(ws.title, n, cols.get("id"), f"metric {mid!r} has no card sheet")
            continue
        seen.add(mid)
        for key in L.INDEX_KEYS:
            mine, theirs = data.get(key), card.data.get(key)
            if _norm(mine) != _norm(theirs):
                spot = card.cells.get((key,))
                other = cell_ref(card.sheet, *spot) if spot else f"sheet {card.sheet!r}"
                reader.problem(
                    ws.title,
                    n,
                    cols.get(key),
                    f"{key} {mine!r} differs from the card's {theirs!r} ({other}); "
                    "make both say the same",
                )
    for mid, sheet in ids.items():
        if mid not in seen:
            reader.problems.append(
                f"sheet {sheet!r}: metric {mid!r} has no row in {L.INDEX!r}; add one"
            )


def _norm(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def import_excel(path: str | Path, out_dir: str | Path, *, force: bool = False) -> int:
    """Write the workbook at ``path`` as a catalog at ``out_dir``; return the metric count.

    Raises
    ------
    ExcelImportError
        Naming sheet, row and column for every problem; nothing is written.
    CatalogError
        The catalog the workbook describes does not validate (e.g. an owner that is no
        department), each issue pointed back at its sheet; nothing is written.
    """
    doc, where = read_workbook(path)
    try:
        write_catalog(doc, out_dir, force=force, header=f"Imported from {Path(path).name}")
    except CatalogError as exc:
        raise relocate_issues(exc, where, f"workbook {Path(path).name}") from None
    return len(doc.metrics())
