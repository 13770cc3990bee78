"""Read a workbook written by :mod:`loaders.excel.write` (and edited by people) back into a
catalog directory (``kpigraph import excel``).

Every problem names its sheet, row and column (``sheet '部门' row 4 column B``) and what to do;
all of them are collected before anything is written, and nothing is written unless the whole
catalog then validates. The cards are the definition; the index sheet must agree with them
(a cell changed in one place only is reported, with both places).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from core.i18n import _
from graph_schema.errors import CatalogIssue
from graph_schema.models import Dashboard, Department, Dimension, FieldNode, Metric, System, Table
from loaders.catalog import CatalogManifest
from loaders.catalog_writer import (
    CatalogDoc,
    manifest_keys,
    metric_path,
    write_catalog,
)
from loaders.excel import layout as L
from loaders.excel.bounds import check_archive
from loaders.excel.sheets import Card, ExcelImportError, SheetReader, cell_ref, decode
from loaders.excel.write import source_columns
from loaders.validate import value_problem

MAX_XLSX_BYTES = 64 * 1024 * 1024


def _open(path: Path) -> Any:
    if not path.is_file():
        raise ExcelImportError([_("{path}: no such file", path=path)])
    if path.stat().st_size > MAX_XLSX_BYTES:
        raise ExcelImportError(
            [_("{path}: over {n} MiB", path=path, n=MAX_XLSX_BYTES // 1_048_576)]
        )
    check_archive(path)  # uncompressed sizes, cell sizes, no DTDs: before openpyxl reads it
    try:
        # read-only: streamed, several times faster on a workbook of many cards
        return load_workbook(path, data_only=False, read_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ExcelImportError(
            [
                _(
                    "{path}: not a readable .xlsx workbook ({error})",
                    path=path,
                    error=f"{exc.__class__.__name__}: {exc}",
                )
            ]
        ) from None


@dataclass(frozen=True)
class Place:
    """Where a written catalog file came from: its sheet, and for a card each key's cell."""

    sheet: str
    cells: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def cell_of(self, key: str | None) -> tuple[int, int] | None:
        if key is None:
            return None
        if (key,) in self.cells:
            return self.cells[(key,)]
        found = [spot for loc, spot in self.cells.items() if loc and loc[0] == key]
        return min(found) if found else None


def read_workbook(
    path: str | Path, prefer: str | None = None
) -> tuple[CatalogDoc, dict[str, Place]]:
    """The catalog document in the workbook, and written file → sheet (for later errors)."""
    book = _open(Path(path))
    try:
        return _read_book(book, prefer)
    finally:
        book.close()


def _read_book(book: Any, prefer: str | None) -> tuple[CatalogDoc, dict[str, Place]]:
    reader = SheetReader()
    # the fixed sheets by their Chinese key, whichever language the workbook was written in
    sheets = {L.fixed_sheet(ws.title) or ws.title: ws for ws in book.worksheets}
    cards: list[Card] = []
    for title, ws in sheets.items():
        if title in L.FIXED_SHEETS:
            continue
        first = next(ws.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True), (None,))
        if first and first[0] in L.CARD_MARKS:
            card = reader.card(ws)
            if card is not None:
                cards.append(card)
        else:
            reader.problem(
                title,
                1,
                1,
                _(
                    "unknown sheet {sheet}: not one of {sheets}, and not a metric card (a card "
                    "has {mark} in A1); delete or rename it",
                    sheet=repr(title),
                    sheets=", ".join(L.sheet(s) for s in L.FIXED_SHEETS),
                    mark=repr(L.card_mark()),
                ),
            )
    for required in (L.INDEX, L.CATALOG):
        if required not in sheets:
            reader.problems.append(
                _(
                    "sheet {sheet} is missing; it was in the exported file",
                    sheet=repr(L.sheet(required)),
                )
            )
    doc = CatalogDoc(manifest={})
    where: dict[str, Place] = {}

    def shown(name: str) -> str:
        """A fixed sheet's title as the workbook spells it."""
        return str(sheets[name].title) if name in sheets else L.sheet(name)

    if L.CATALOG in sheets:
        for n, data, cols in reader.table(sheets[L.CATALOG], ["key", "value"], ("key", "value")):
            key = str(data.get("key", ""))
            if key not in manifest_keys():
                reader.problem(
                    shown(L.CATALOG), n, cols.get("key"), _("unknown setting {key}", key=repr(key))
                )
            elif "value" in data:
                doc.manifest[key] = decode(CatalogManifest, key, data["value"])
        if "name" not in doc.manifest:
            reader.problems.append(
                _("sheet {sheet}: the catalog needs a 'name' row", sheet=repr(shown(L.CATALOG)))
            )
        where["kpigraph.yaml"] = Place(shown(L.CATALOG))
    plain: list[tuple[str, type[BaseModel], list[dict[str, Any]], str]] = [
        (L.DEPARTMENTS, Department, doc.departments, "departments.yaml"),
        (L.DIMENSIONS, Dimension, doc.dimensions, "dimensions.yaml"),
        (L.DASHBOARDS, Dashboard, doc.dashboards, "dashboards.yaml"),
    ]
    for sheet, model, target, file in plain:
        if sheet not in sheets:
            continue
        where[file] = Place(shown(sheet))
        keys = ["kind" if k == "type" and model is Dashboard else k for k in model.model_fields]
        for n, data, cols in reader.table(sheets[sheet], keys, ("id", "name")):
            if model is Dashboard and "kind" in data:
                data["type"], cols["type"] = data.pop("kind"), cols.pop("kind")
            item = reader.node(shown(sheet), model, n, data, cols)
            if item is not None:
                if model is Dashboard and "type" in item:
                    item = {("kind" if k == "type" else k): v for k, v in item.items()}
                target.append(item)
    if L.SOURCES in sheets:
        where["sources.yaml"] = Place(shown(L.SOURCES))
        doc.systems = _read_sources(reader, sheets[L.SOURCES])
    indexed = _check_index(reader, sheets[L.INDEX], cards, prefer) if L.INDEX in sheets else None
    metric_ids = _read_cards(reader, cards, doc, where)
    for mid, sheet in metric_ids.items():
        if indexed is not None and mid not in indexed:
            reader.problems.append(
                _(
                    "sheet {sheet}: metric {metric} has no row in {index}; add one",
                    sheet=repr(sheet),
                    metric=repr(mid),
                    index=repr(shown(L.INDEX)),
                )
            )
    if reader.problems:
        raise ExcelImportError(reader.problems)
    return doc, where


def _read_sources(reader: SheetReader, ws: Worksheet) -> list[dict[str, Any]]:
    columns = source_columns()
    systems: dict[str, dict[str, Any]] = {}
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for n, data, cols in reader.table(ws, columns, ("system", "table", "field", "name")):
        sys_id, table, fld = (str(data.pop(k, "")) for k in ("system", "table", "field"))
        if not sys_id:
            reader.problem(ws.title, n, cols.get("system"), _("every row names its system"))
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
                reader.problem(
                    ws.title,
                    n,
                    cols.get("system"),
                    _("no system row {system} above", system=repr(sys_id)),
                )
                continue
            tables[(sys_id, table)] = item
            systems[sys_id]["tables"].append(item)
        else:
            if (sys_id, table) not in tables:
                where = cols.get("table")
                reader.problem(
                    ws.title, n, where, _("no table row {table} above", table=f"{sys_id}.{table}")
                )
                continue
            tables[(sys_id, table)].setdefault("fields", []).append(item)
    return list(systems.values())


def _read_cards(
    reader: SheetReader, cards: list[Card], doc: CatalogDoc, where: dict[str, Place]
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
                reader.problem(card.sheet, row, col, f"{dotted}: {value_problem(err)}")
            continue
        if metric.id in ids:
            reader.problem(
                card.sheet,
                3,
                4,
                _(
                    "metric id {id} is also on {sheet}",
                    id=repr(metric.id),
                    sheet=repr(ids[metric.id]),
                ),
            )
            continue
        ids[metric.id] = card.sheet
        path = metric_path(metric, "domain")
        doc.metric_files.setdefault(path, []).append(_card_doc(card.data))
        where[f"metrics/{path}"] = Place(card.sheet, card.cells)
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


def _check_index(
    reader: SheetReader, ws: Worksheet, cards: list[Card], prefer: str | None
) -> set[str]:
    """Compare each index row with its card; return the ids the index lists.

    A value that differs is a problem, unless ``prefer`` says which side wins (``index``: the
    index row's value goes to the card; ``cards``: the card's value stands).
    """
    keys = [*L.INDEX_KEYS, L.CARD_LINK]
    by_id = {c.data.get("id"): c for c in cards}
    seen: set[str] = set()
    for n, data, cols in reader.table(ws, keys, ("id", "name")):
        mid = str(data.get("id", ""))
        card = by_id.get(mid)
        if card is None:
            reader.problem(
                ws.title, n, cols.get("id"), _("metric {id} has no card sheet", id=repr(mid))
            )
            continue
        seen.add(mid)
        for key in L.INDEX_KEYS:
            mine, theirs = data.get(key), card.data.get(key)
            if _norm(mine) != _norm(theirs):
                if prefer == "cards" or (prefer == "index" and key == "id"):
                    continue
                if prefer == "index":
                    if mine is None:
                        card.data.pop(key, None)
                    else:
                        card.data[key] = mine
                    continue
                spot = card.cells.get((key,))
                other = (
                    cell_ref(card.sheet, *spot)
                    if spot
                    else _("sheet {sheet}", sheet=repr(card.sheet))
                )
                reader.problem(
                    ws.title,
                    n,
                    cols.get(key),
                    _(
                        "{key} {mine} differs from the card's {theirs} ({other}); "
                        "make both say the same",
                        key=key,
                        mine=repr(mine),
                        theirs=repr(theirs),
                        other=other,
                    ),
                )
    return seen


def _norm(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def import_excel(
    path: str | Path, out_dir: str | Path, *, force: bool = False, prefer: str | None = None
) -> int:
    """Write the workbook at ``path`` as a catalog at ``out_dir``; return the metric count.

    ``prefer`` settles an index row that differs from its card: ``"index"`` or ``"cards"``
    wins; ``None`` (the default) reports it.

    Raises
    ------
    ExcelImportError
        Naming sheet, row and column for every problem; nothing is written.
    CatalogError
        The catalog the workbook describes does not validate (e.g. an owner that is no
        department), each issue pointed back at its sheet; nothing is written.
    """
    doc, where = read_workbook(path, prefer)

    def relocate(issue: CatalogIssue, key: str | None) -> CatalogIssue:
        place = where.get(issue.file)
        written = f"{issue.file}:{issue.line}" if issue.line else issue.file
        message = _("{problem} (in {file} as written)", problem=issue.message, file=written)
        if place is None:
            workbook = _("workbook {name}", name=Path(path).name)
            return CatalogIssue(workbook, None, message, issue.hint, field=issue.field)
        spot = place.cell_of(key)
        return CatalogIssue(
            cell_ref(place.sheet, *spot) if spot else _("sheet {sheet}", sheet=repr(place.sheet)),
            None,
            message,
            issue.hint,
        )

    write_catalog(
        doc, out_dir, force=force, header=f"Imported from {Path(path).name}", relocate=relocate
    )
    return len(doc.metrics())
