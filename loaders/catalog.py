"""Read a catalog directory (metrics as code) into a validated :class:`CatalogGraph`.

Layout (see DESIGN.md)::

    kpigraph.yaml      catalog name, language, description
    departments.yaml   list of {id, name}
    dimensions.yaml    list of {id, name}
    sources.yaml       systems → tables → fields
    dashboards.yaml    list of {id, name, kind, url}
    metrics/**/*.yaml  one metric per file, or a top-level ``metrics:`` list

Everything is validated before anything is returned, and every problem of the whole catalog
is collected in one pass: the caller gets either a complete graph or a :class:`CatalogError`
listing each issue with its file, line and a hint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core import i18n
from core.bulk import paused_gc
from core.i18n import _
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
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
    check_levels,
    check_unexpected_files,
    declare_unreadable_sources,
    ids_in_text,
)
from loaders.catalog_file import MAX_FILE_BYTES, manifest_language, read_catalog_file
from loaders.prefetch import Prefetch
from loaders.references import check_cycles, resolve_metric_references
from loaders.validate import (
    CatalogState,
    make_edge,
    validate_model,
    validate_node,
)
from loaders.yaml_lines import LDict, LList

__all__ = ["CatalogManifest", "CatalogSource", "load_catalog", "make_edge", "read_catalog"]

#: Largest catalog file read. Larger files are refused before being parsed.


M = TypeVar("M", bound=BaseModel)


class CalendarSettings(BaseModel):
    """``calendar:`` in ``kpigraph.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the fiscal year's first month; FY2026 is named after the year it ends in
    fiscal_year_start: int = Field(1, ge=1, le=12)


class CatalogManifest(BaseModel):
    """``kpigraph.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


@dataclass(frozen=True)
class CatalogSource:
    """A loaded graph together with where each node came from (for lint's file:line)."""

    graph: CatalogGraph
    root: Path
    #: node → (file relative to root, line of its mapping)
    origins: dict[NodeRef, tuple[str, int | None]]
    #: node → its YAML mapping as read (``key_lines`` gives each key's line)
    raw: dict[NodeRef, LDict]


def load_catalog(path: str | Path, *, cache: FileCache | None = None) -> CatalogGraph:
    """Read and validate the catalog at ``path``.

    ``cache``: files read before with the same content are taken from it, not parsed again
    (see :mod:`loaders.catalog_cache`).

    Raises
    ------
    CatalogError
        Listing every problem found, each with file, line and what to do.
    """
    return read_catalog(path, cache=cache).graph


def read_catalog(path: str | Path, *, cache: FileCache | None = None) -> CatalogSource:
    """:func:`load_catalog`, also returning each node's file and line. Problems are worded in
    the catalog's ``language`` (unless this command or request chose one)."""
    try:
        with paused_gc(), i18n.use(i18n.resolve(manifest_language(Path(path)))):
            source = _read_catalog(path, cache)
    except BaseException:
        if cache is not None:
            cache.discard()
        raise
    if cache is not None:
        cache.commit()
    return source


def _read_catalog(path: str | Path, cache: FileCache | None) -> CatalogSource:
    root = Path(path)
    if not root.exists():
        raise CatalogError([CatalogIssue(str(root), None, _("no such directory"))])
    if not root.is_dir():
        raise CatalogError(
            [CatalogIssue(str(root), None, _("not a directory"), _("pass the catalog directory"))]
        )
    state = CatalogState(root, cache=cache)
    manifest = _read_manifest(state)
    state.ahead = Prefetch(_to_parse(state), max_bytes=MAX_FILE_BYTES)
    try:
        _read_sections(state)
        metric_files = _read_metrics(state)
    finally:
        state.ahead.close()
        state.ahead = None
    check_unexpected_files(state, metric_files)
    if not any(ref.kind is NodeKind.METRIC for ref in state.nodes) and not state.issues:
        state.issue(
            "metrics/",
            None,
            _("the catalog defines no metrics"),
            _("add metric files under metrics/ (see 'kpigraph init')"),
        )
    state.stage = 1  # what follows is reported after the root causes above
    resolve_metric_references(state)
    check_levels(state)
    check_cycles(state, Relation.INPUT_TO)
    check_cycles(state, Relation.ROLLS_UP_TO)
    if state.issues:
        raise CatalogError(state.issues)
    name = manifest.name if manifest else root.name
    meta: dict[str, Any] = {"name": name, "source": str(root.resolve())}
    if manifest:
        meta.update(manifest.model_dump(exclude_none=True))
    graph = CatalogGraph(
        name=name,
        nodes=tuple(state.nodes.values()),
        edges=tuple(state.edges.values()),
        meta=meta,
    )
    meta["summary"] = graph.summary()
    origins = {ref: (o.file, o.line) for ref, o in state.origins.items()}
    return CatalogSource(graph, root, origins, state.raw)


# ---------------------------------------------------------------------------------------------
# reading files


def _per_file(state: CatalogState, path: Path, read: Callable[[], object]) -> None:
    """Run ``read`` (which reads ``path`` into ``state``), or replay what it produced the last
    time this file had the same content (``state.cache``). Only a file that read without any
    problem is cached."""
    cache = state.cache
    if cache is None:
        read()
        return
    rel = _rel(state, path)
    try:
        key = cache.key(rel, path.read_bytes())
    except OSError:
        read()  # reports it
        return
    entry = cache.get(key)
    if entry is not None:
        for node, line, raw in entry.nodes:
            state.add_node(node, rel, line, raw)
        for source, target, rel, props in entry.edges:
            ekey = (NodeRef(*source), NodeRef(*target), Relation(rel))
            if ekey not in state.edges:
                state.edges[ekey] = make_edge(*ekey, props)
        return
    issues, nodes, edges = len(state.issues), len(state.nodes), len(state.edges)
    unreadable = sum(len(v) for v in state.unreadable.values())
    unverifiable = len(state.unverifiable)
    read()
    if (
        len(state.issues) == issues
        and sum(len(v) for v in state.unreadable.values()) == unreadable
        and len(state.unverifiable) == unverifiable
    ):
        new_refs = list(state.nodes)[nodes:]
        cache.put(
            key,
            FileEntry(
                [(state.nodes[r], state.origins[r].line, state.raw[r]) for r in new_refs],
                [
                    (tuple(e.source), tuple(e.target), e.type.value, e.props)
                    for e in list(state.edges.values())[edges:]
                ],
            ),
        )


def _to_parse(state: CatalogState) -> list[Path]:
    """The big files (systems, metrics) the read will parse: those the cache does not hold."""
    paths = [*_source_paths(state.root), *_metric_paths(state.root)]
    cache = state.cache
    if cache is None:
        return paths
    out = []
    for path in paths:
        try:
            if not cache.holds(cache.key(_rel(state, path), path.read_bytes())):
                out.append(path)
        except OSError:
            pass  # the read reports it
    return out


def _rel(state: CatalogState, path: Path) -> str:
    try:
        return str(path.relative_to(state.root))
    except ValueError:
        return str(path)


def _read_file(state: CatalogState, path: Path) -> Any | None:
    """Parse one YAML file; on any problem record an issue and return ``None``."""
    parsed = state.ahead.take(path) if state.ahead is not None else None
    if parsed is not None:
        return parsed[0]
    return read_catalog_file(path, _rel(state, path), state.issue)


def _read_manifest(state: CatalogState) -> CatalogManifest | None:
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


def _read_sections(state: CatalogState) -> None:
    simple: list[tuple[str, str, type[BaseNode]]] = [
        ("departments.yaml", "departments", Department),
        ("dimensions.yaml", "dimensions", Dimension),
        ("dashboards.yaml", "dashboards", Dashboard),
    ]
    for filename, section, model in simple:
        path = state.root / filename
        if path.is_file():
            _per_file(state, path, partial(_read_section, state, path, filename, section, model))
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
        _per_file(state, path, partial(_read_sources_file, state, path))


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
    filename = _rel(state, path)
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


def _read_metrics(state: CatalogState) -> set[Path]:
    files = _metric_paths(state.root)
    for path in files:
        _per_file(state, path, partial(_read_metric_file, state, path))
    return set(files)


def _read_metric_file(state: CatalogState, path: Path) -> None:
    rel = _rel(state, path)
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None:
        if len(state.issues) > before:
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


# ---------------------------------------------------------------------------------------------
# validation helpers


def iter_metric_ids(graph: CatalogGraph) -> Iterable[str]:
    """The metric ids of a loaded graph, in catalog order."""
    return (n.id for n in graph.nodes if n.kind is NodeKind.METRIC)


ProgressFn = Callable[[int, int], None]
