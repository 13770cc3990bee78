"""Reading a catalog's files into a :class:`loaders.validate.CatalogState`: ``kpigraph.yaml``,
the section files, ``sources``, the metric files — each through the per-file cache
(:mod:`loaders.catalog_cache`) or read ahead by a worker (:mod:`loaders.file_entries`), each
node validated against its model with file and line.
:mod:`loaders.catalog` assembles and checks the whole catalog from it; a delta reads only its
changed metric files (:func:`read_metric_files`, :mod:`loaders.partial`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.i18n import _
from graph_schema.confined import ADVICE, LINKED_OUT, escapes
from graph_schema.ids import NodeKind
from graph_schema.limits import check_definition_size
from graph_schema.models import (
    BaseNode,
    Dashboard,
    Department,
    Dimension,
    FieldNode,
    Metric,
    System,
    Table,
    Text,
)
from graph_schema.relations import Relation
from loaders.catalog_cache import FileCache, FileEntry
from loaders.catalog_checks import (
    MANIFEST,
    declare_unreadable_sources,
    ids_in_text,
)
from loaders.catalog_file import read_catalog_file
from loaders.file_entries import per_file, read_ahead, rel_of
from loaders.validate import (
    CatalogState,
    validate_model,
    validate_node,
)
from loaders.yaml_lines import LDict, LList

#: Largest catalog file read. Larger files are refused before being parsed.


M = TypeVar("M", bound=BaseModel)


class CalendarSettings(BaseModel):
    """``calendar:`` in ``kpigraph.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    #: the fiscal year's first month; FY2026 is named after the year it ends in
    fiscal_year_start: int = Field(1, ge=1, le=12)


class CatalogManifest(BaseModel):
    """``kpigraph.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: Text
    language: Text = "zh"
    description: Text | None = None
    version: Text | None = None
    owner: Text | None = None
    #: default SQL dialect of metric SQL (sqlglot name); a system's own ``dialect`` wins
    dialect: Text | None = None
    #: lint settings (disable, severity, naming, card); checked by analysis.lint
    lint: dict[str, Any] | None = None
    #: periods: ``{fiscal_year_start: 4}`` (the fiscal year's first month; see
    #: graph_schema.calendar)
    calendar: CalendarSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _bounded_size(cls, data: Any) -> Any:
        """Bounded as a node's definition is (graph_schema.limits): ``lint:`` takes any value,
        and ten lines of YAML aliases (``b: &b [*a, *a, …]``) expand to 10⁹ items, which
        copying the settings (``model_dump``) walked for minutes and gigabytes."""
        check_definition_size(data)
        return data


def read_metric_files(
    root: Path,
    rels: Iterable[str],
    cache: FileCache | None,
    before: Mapping[str, FileEntry] | None = None,
) -> CatalogState:
    """Only the metric files ``rels`` (relative to the catalog ``root``) read into a state of
    their own — nodes validated as a whole read validates them, nothing resolved (a delta:
    :mod:`loaders.partial`); through ``cache`` like :func:`read_catalog`. ``before``: the
    cache entries of what the files held at the last load; a file found there is read item
    by item, only its changed items parsed (:mod:`loaders.metric_items`)."""
    state = CatalogState(root, cache=cache)
    for rel in rels:
        path = root / rel
        if not path.is_file():
            continue
        entry = (before or {}).get(rel)
        if entry is not None and getattr(entry, "text", None):
            per_file(state, path, partial(_read_metric_items, state, path, entry))
            key = cache.keys.get(rel_of(state, path)) if cache is not None else None
            new = cache.pending.get(key) if cache is not None and key else None
            if isinstance(new, FileEntry):
                new.reuse_chunks(entry)  # its unchanged chunks written as they were read
        else:
            per_file(state, path, partial(_read_metric_file, state, path))
    return state


def _read_metric_items(state: CatalogState, path: Path, old: FileEntry) -> None:
    """:func:`_read_metric_file` parsing only the items whose text differs from ``old``'s."""
    from loaders.metric_items import parse_item, shifted, split_items

    if escapes(state.root, path):
        _read_metric_file(state, path)  # reports the link, reads nothing
        return
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    new_items = split_items(text) if text else None
    old_items = split_items(old.text) if old.text else None
    if new_items is None or old_items is None or len(old_items) != len(old.nodes):
        _read_metric_file(state, path)
        return
    kept: dict[str, list[tuple[int, Any, int | None, Any]]] = {}
    for (first, chunk), (node, line, raw) in zip(old_items, old.nodes, strict=True):
        kept.setdefault(chunk, []).append((first, node, line, raw))
    read: list[tuple[Any, int | None, Any] | LDict] = []
    for first, chunk in new_items:
        same = kept.get(chunk)
        if same:
            was, node, line, raw = same.pop(0)
            by = first - was
            read.append((node, line + by if line else line, shifted(raw, by) if by else raw))
            continue
        item = parse_item(first, chunk)
        if not isinstance(item, LDict):
            _read_metric_file(state, path)  # reports it as a whole read does
            return
        read.append(item)
    rel = rel_of(state, path)
    for got in read:
        if isinstance(got, LDict):
            metric = validate_node(state, Metric, got, rel)
            if metric is not None:
                state.add_node(metric, rel, got.line, got)
        else:
            state.add_node(got[0], rel, got[1], got[2])


def is_metric_file(rel: str) -> bool:
    """Whether the catalog file ``rel`` (POSIX, relative) is read as a metric file."""
    return rel.startswith("metrics/") and rel.endswith((".yaml", ".yml"))


def catalog_meta(root: Path) -> dict[str, Any] | None:
    """The graph's ``meta`` as a whole read makes it from ``kpigraph.yaml``, without
    ``summary``; ``None`` when the settings do not read cleanly (a whole read reports why)."""
    state = CatalogState(root)
    manifest = read_manifest(state)
    if manifest is None or state.issues:
        return None
    meta: dict[str, Any] = {"name": manifest.name, "source": str(root.resolve())}
    meta.update(manifest.model_dump(exclude_none=True))
    return meta


# ---------------------------------------------------------------------------------------------
# reading files


def read_file_ahead(root: str, path: str, max_bytes: int) -> tuple[bytes] | None:
    """What a prefetch worker does with a big file of the catalog ``root`` (a system file or
    a metric file): read and validate it (:func:`loaders.file_entries.read_ahead`)."""
    rel = Path(path).relative_to(root).as_posix()
    reader = _read_metric_file if is_metric_file(rel) else _read_sources_file
    return read_ahead(root, reader, path, max_bytes)


def to_parse(state: CatalogState) -> list[Path]:
    """The big files (systems, metrics) the read will parse: those the cache does not hold."""
    paths = [*_source_paths(state.root), *_metric_paths(state.root)]
    cache = state.cache
    if cache is None:
        return paths
    out = []
    for path in paths:
        try:
            if not cache.holds(cache.key(rel_of(state, path), path.read_bytes())):
                out.append(path)
        except OSError:
            pass  # the read reports it
    return out


def _read_file(state: CatalogState, path: Path) -> Any | None:
    """Parse one YAML file; on any problem record an issue and return ``None``. A symbolic
    link out of the catalog directory is not read (:mod:`core.confined`)."""
    if escapes(state.root, path):
        state.issue(rel_of(state, path), None, _(LINKED_OUT), _(ADVICE))
        return None
    return read_catalog_file(path, rel_of(state, path), state.issue)


def read_manifest(state: CatalogState) -> CatalogManifest | None:
    path = state.root / MANIFEST
    if not path.is_file():
        state.issue(
            MANIFEST,
            None,
            _(
                "not a kpigraph catalog: {file} is missing in {directory}",
                file=MANIFEST,
                directory=state.root,
            ),
            _("run 'kpigraph init DIR' to scaffold one, or point at the catalog directory"),
        )
        return None
    data = _read_file(state, path)
    if data is None:
        return None
    if not isinstance(data, LDict):
        state.issue(MANIFEST, None, _("expected a mapping with at least 'name'"))
        return None
    return validate_model(state, CatalogManifest, data, MANIFEST, _("catalog settings"))


def _entries(state: CatalogState, data: Any, rel: str, section: str) -> list[Any]:
    """A section file is a list, or a mapping with one key named after the section."""
    if data is None:
        return []
    if isinstance(data, LDict) and set(data) == {section}:
        data = data[section]
        if data is None:
            return []
    if not isinstance(data, LList):
        state.issue(
            rel,
            getattr(data, "line", None),
            _("expected a list of {section}", section=section),
            _("write '- id: ...' items, or '{section}:' followed by such a list", section=section),
        )
        return []
    return list(data)


def read_sections(state: CatalogState) -> None:
    simple: list[tuple[str, str, type[BaseNode]]] = [
        ("departments.yaml", "departments", Department),
        ("dimensions.yaml", "dimensions", Dimension),
        ("dashboards.yaml", "dashboards", Dashboard),
    ]
    for filename, section, model in simple:
        path = state.root / filename
        if path.is_file():
            per_file(state, path, partial(_read_section, state, path, filename, section, model))
    _read_sources(state)


def _read_section(
    state: CatalogState, path: Path, filename: str, section: str, model: type[BaseNode]
) -> None:
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None and len(state.issues) > before:
        state.unverifiable.add(model.kind)
    for item in _entries(state, data, filename, section):
        if not isinstance(item, LDict):
            state.issue(
                filename,
                getattr(data, "line", None),
                _("each of {section} must be a mapping", section=section),
            )
            continue
        if model is Dashboard and "kind" in item:
            # 'kind' is the dashboard's kind (mobile, pc, big screen); stored as 'type'.
            item["type"] = item.pop("kind")
            item.key_lines["type"] = item.key_lines.get("kind", item.line)
        node = validate_node(state, model, item, filename)
        if node is not None:
            state.add_node(node, filename, item.line, item)


def _read_sources(state: CatalogState) -> None:
    """``sources.yaml``, and/or ``sources/**/*.yaml`` for large estates (e.g. one file per
    system); every file is a list of systems."""
    for path in _source_paths(state.root):
        per_file(state, path, partial(_read_sources_file, state, path))


def _source_paths(root: Path) -> list[Path]:
    paths = [root / "sources.yaml"] if (root / "sources.yaml").is_file() else []
    folder = root / "sources"
    if folder.is_dir():
        paths += sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")
        )
    return paths


def _metric_paths(root: Path) -> list[Path]:
    folder = root / "metrics"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def _read_sources_file(state: CatalogState, path: Path) -> None:
    filename = rel_of(state, path)
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None and len(state.issues) > before:
        state.unverifiable.update({NodeKind.SYSTEM, NodeKind.TABLE, NodeKind.FIELD})
    for sys_item in _entries(state, data, filename, "systems"):
        if not isinstance(sys_item, LDict):
            state.issue(filename, None, _("each system must be a mapping with id, name and tables"))
            continue
        tables = sys_item.pop("tables", None) or []
        views = sys_item.pop("views", None) or LList()  # tables defined by SQL (lint reads through)
        system = validate_node(state, System, sys_item, filename)
        if system is None:
            declare_unreadable_sources(state, sys_item.get("id"), [*tables, *views])
            continue
        state.add_node(system, filename, sys_item.line, sys_item)
        if not isinstance(tables, LList) or not isinstance(views, LList):
            state.issue(
                filename,
                sys_item.line,
                _("system {id}: 'tables'/'views' must be lists", id=repr(system.id)),
            )
            continue
        for tbl_item in [*tables, *views]:
            if not isinstance(tbl_item, LDict):
                state.issue(
                    filename, tables.line, _("each table must be a mapping with id and name")
                )
                continue
            if any(tbl_item is v for v in views) and not tbl_item.get("sql"):
                state.issue(
                    filename, tbl_item.line, _("a view needs 'sql:' (the SELECT that defines it)")
                )
            fields = tbl_item.pop("fields", None) or LList()  # a view may list none
            table = _read_child(state, filename, Table, tbl_item, system.id, "system")
            if table is None:
                declare_unreadable_sources(state, system.id, [tbl_item | {"fields": fields}])
                continue
            state.add_edge(system.ref, table.ref, Relation.HAS_TABLE)
            if not isinstance(fields, LList):
                state.issue(
                    filename,
                    tbl_item.line,
                    _("table {id}: 'fields' must be a list", id=repr(table.id)),
                )
                continue
            for fld_item in fields:
                if isinstance(fld_item, str):  # a bare field name
                    named = LDict(id=fld_item)
                    named.line, named.key_lines = fields.line, {}
                    fld_item = named
                if not isinstance(fld_item, LDict):
                    state.issue(filename, fields.line, _("each field must be a mapping or a name"))
                    continue
                field = _read_child(state, filename, FieldNode, fld_item, table.id, "table")
                if field is not None:
                    state.add_edge(table.ref, field.ref, Relation.HAS_FIELD)


def _read_child(
    state: CatalogState,
    filename: str,
    model: type[BaseNode],
    item: LDict,
    parent_id: str,
    parent_key: str,
) -> BaseNode | None:
    """A table of a system or a field of a table: its id is qualified by its parent's."""
    local = item.get("id")
    if isinstance(local, str):
        item["id"] = f"{parent_id}.{local}"
    item.setdefault(parent_key, parent_id)
    item.setdefault("name", local)
    node = validate_node(state, model, item, filename)
    if node is not None:
        state.add_node(node, filename, item.line, item)
    return node


def read_metrics(state: CatalogState) -> set[Path]:
    files = _metric_paths(state.root)
    for path in files:
        per_file(state, path, partial(_read_metric_file, state, path))
    return set(files)


def _read_metric_file(state: CatalogState, path: Path) -> None:
    rel = rel_of(state, path)
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None:
        if len(state.issues) > before and not escapes(state.root, path):
            # the file is broken: its metrics are unknown, not missing
            for node_id in ids_in_text(path):
                state.declared_unreadable(NodeKind.METRIC, node_id)
        return
    if isinstance(data, LDict) and "metrics" in data and "id" not in data:
        extra = sorted(set(data) - {"metrics"})
        if extra:
            state.issue(
                rel,
                data.key_lines[extra[0]],
                _("unknown top-level key {key} next to 'metrics'", key=repr(extra[0])),
                _("a metrics file holds one metric, or only a 'metrics:' list"),
            )
        items = data["metrics"]
        if not isinstance(items, LList):
            state.issue(rel, data.key_lines["metrics"], _("'metrics' must be a list of metrics"))
            return
    elif isinstance(data, LDict):
        items = LList([data])
        items.line, items.item_lines = data.line, [data.line]
    elif isinstance(data, LList):
        items = data
    else:
        state.issue(
            rel,
            None,
            _("expected a metric (a mapping with id and name) or a 'metrics:' list"),
        )
        return
    for item in items:
        if not isinstance(item, LDict):
            state.issue(rel, items.line, _("each metric must be a mapping with id and name"))
            continue
        metric = validate_node(state, Metric, item, rel)
        if metric is not None:
            state.add_node(metric, rel, item.line, item)
