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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from core.bulk import paused_gc
from graph_schema.errors import CatalogError, CatalogIssue, FormulaSyntaxError
from graph_schema.formula import parse_formula
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef, id_rule, is_valid_id
from graph_schema.models import (
    BaseNode,
    Dashboard,
    Department,
    Dimension,
    Edge,
    FieldNode,
    Metric,
    System,
    Table,
    Text,
)
from graph_schema.relations import Relation
from loaders.catalog_cache import FileCache, FileEntry
from loaders.prefetch import Prefetch
from loaders.suggest import closest, did_you_mean
from loaders.yaml_lines import LDict, LList, line_of, load_yaml

#: Largest catalog file read. Larger files are refused before being parsed.
MAX_FILE_BYTES = 8 * 1024 * 1024

SECTION_FILES = ("departments.yaml", "dimensions.yaml", "dashboards.yaml", "sources.yaml")
MANIFEST = "kpigraph.yaml"

M = TypeVar("M", bound=BaseModel)


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


@dataclass
class _Origin:
    file: str
    line: int | None


@dataclass
class _State:
    root: Path
    issues: list[CatalogIssue] = field(default_factory=list)
    nodes: dict[NodeRef, BaseNode] = field(default_factory=dict)
    origins: dict[NodeRef, _Origin] = field(default_factory=dict)
    raw: dict[NodeRef, LDict] = field(default_factory=dict)
    edges: dict[tuple[NodeRef, NodeRef, Relation], Edge] = field(default_factory=dict)
    #: ids declared in entries or files that could not be read: references to them are not
    #: reported again (the root cause already is)
    unreadable: dict[NodeKind, set[str]] = field(default_factory=dict)
    #: kinds whose declaring file did not parse at all: their references cannot be checked
    unverifiable: set[NodeKind] = field(default_factory=set)
    stage: int = 0
    cache: FileCache | None = None
    #: files being parsed ahead by worker processes (large catalogs)
    ahead: Prefetch | None = None

    def issue(self, file: str, line: int | None, message: str, hint: str | None = None) -> None:
        self.issues.append(CatalogIssue(file, line, message, hint, self.stage))

    def declared_unreadable(self, kind: NodeKind, node_id: str) -> None:
        self.unreadable.setdefault(kind, set()).add(node_id)

    def add_node(self, node: BaseNode, file: str, line: int | None, raw: LDict) -> None:
        ref = node.ref
        if ref in self.nodes:
            first = self.origins[ref]
            where = f"{first.file}:{first.line}" if first.line else first.file
            self.issue(
                file,
                line,
                f"duplicate {ref.kind.value} id {ref.id!r} (first defined at {where})",
                "ids must be unique; rename one of them",
            )
            return
        self.nodes[ref] = node
        self.origins[ref] = _Origin(file, line)
        self.raw[ref] = raw

    def add_edge(
        self, source: NodeRef, target: NodeRef, rel: Relation, props: dict[str, Any] | None = None
    ) -> None:
        key = (source, target, rel)
        if key not in self.edges:  # typed values from the validated nodes: no re-validation
            self.edges[key] = make_edge(source, target, rel, props or {})


_EDGE_FIELDS = ("source", "target", "type", "props")
_set = object.__setattr__


def make_edge(source: NodeRef, target: NodeRef, rel: Relation, props: dict[str, Any]) -> Edge:
    """An :class:`Edge` from values already typed, without pydantic's validation or
    ``model_construct`` (the same object, several times faster: a catalog has many edges).

    Examples
    --------
    >>> a, b = NodeRef(NodeKind.METRIC, "revenue"), NodeRef(NodeKind.METRIC, "atp")
    >>> e = make_edge(a, b, Relation.INPUT_TO, {"role": "numerator"})
    >>> e == Edge(source=a, target=b, type=Relation.INPUT_TO, props={"role": "numerator"})
    True
    """
    edge = Edge.__new__(Edge)
    _set(edge, "__dict__", {"source": source, "target": target, "type": rel, "props": props})
    _set(edge, "__pydantic_fields_set__", set(_EDGE_FIELDS))
    _set(edge, "__pydantic_extra__", None)
    _set(edge, "__pydantic_private__", None)
    return edge


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
    """:func:`load_catalog`, also returning each node's file and line."""
    try:
        with paused_gc():
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
        raise CatalogError([CatalogIssue(str(root), None, "no such directory")])
    if not root.is_dir():
        raise CatalogError(
            [CatalogIssue(str(root), None, "not a directory", "pass the catalog directory")]
        )
    state = _State(root, cache=cache)
    manifest = _read_manifest(state)
    state.ahead = Prefetch(_to_parse(state), max_bytes=MAX_FILE_BYTES)
    try:
        _read_sections(state)
        metric_files = _read_metrics(state)
    finally:
        state.ahead.close()
        state.ahead = None
    _check_unexpected_files(state, metric_files)
    if not any(ref.kind is NodeKind.METRIC for ref in state.nodes) and not state.issues:
        state.issue(
            "metrics/",
            None,
            "the catalog defines no metrics",
            "add metric files under metrics/ (see 'kpigraph init')",
        )
    state.stage = 1  # what follows is reported after the root causes above
    _resolve_metric_references(state)
    _check_cycles(state, Relation.INPUT_TO, "formula")
    _check_cycles(state, Relation.ROLLS_UP_TO, "rolls_up_to hierarchy")
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


def _per_file(state: _State, path: Path, read: Callable[[], object]) -> None:
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


def _to_parse(state: _State) -> list[Path]:
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


def _rel(state: _State, path: Path) -> str:
    try:
        return str(path.relative_to(state.root))
    except ValueError:
        return str(path)


def _read_file(state: _State, path: Path) -> Any | None:
    """Parse one YAML file; on any problem record an issue and return ``None``."""
    parsed = state.ahead.take(path) if state.ahead is not None else None
    if parsed is not None:
        return parsed[0]
    rel = _rel(state, path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        state.issue(rel, None, f"cannot read file: {exc.strerror}")
        return None
    if size > MAX_FILE_BYTES:
        state.issue(
            rel,
            None,
            f"file is {size / 1_048_576:.1f} MiB; catalog files are limited to "
            f"{MAX_FILE_BYTES // 1_048_576} MiB",
            "split it: metrics into several files under metrics/, systems into sources/*.yaml",
        )
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        state.issue(
            rel, None, "file is binary, not YAML text", "remove it or save it as UTF-8 YAML"
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        state.issue(
            rel,
            line,
            f"file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8)",
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        at = mark.line + 1 if mark else None
        hint = _indent_hint(text, at) if "mapping values" in problem else None
        state.issue(rel, at, f"broken YAML: {problem}", hint or _yaml_hint(problem))
        return None
    except yaml.YAMLError as exc:
        state.issue(rel, None, f"broken YAML: {exc}")
        return None
    except RecursionError:
        state.issue(rel, None, "broken YAML: nested too deeply")
        return None


_KEY_LINE = re.compile(r"^( *)(?:- +)?([A-Za-z_][A-Za-z0-9_]*) *:(?: |$)")


def _indent_hint(text: str, line: int | None) -> str | None:
    """A hint when "mapping values are not allowed" comes from a key indented deeper than the
    key above it (a wrongly indented key), not from a value containing ': '.

    Examples
    --------
    >>> _indent_hint("id: atp\\nname: 客单价\\n  definition: 平均金额\\n", 3)
    "line 3: key 'definition' is indented 2 more spaces than 'name' above it; keys of one mapping must line up (remove the extra indentation)"
    >>> _indent_hint("id: atp\\nname: a: b\\n", 2) is None
    True
    """  # noqa: E501
    if line is None:
        return None
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = _KEY_LINE.match(lines[line - 1])
    if here is None:
        return None
    for prev in reversed(lines[: line - 1]):
        if not prev.strip() or prev.lstrip().startswith("#"):
            continue
        above = _KEY_LINE.match(prev)
        if above is None or prev.rstrip().endswith(":"):
            return None  # the line above opens a nested block or is not a key: no verdict
        extra = len(here.group(1)) - len(above.group(1))
        if extra <= 0:
            return None
        return (
            f"line {line}: key {here.group(2)!r} is indented {extra} more spaces than "
            f"{above.group(2)!r} above it; keys of one mapping must line up "
            "(remove the extra indentation)"
        )
    return None


def _yaml_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "appears twice" in problem:
        return "remove one of the two keys"
    if "mapping values" in problem:
        return "quote values that contain ': ' (e.g. \"a: b\")"
    return "check indentation and quoting near this line"


def _read_manifest(state: _State) -> CatalogManifest | None:
    path = state.root / MANIFEST
    if not path.is_file():
        state.issue(
            MANIFEST,
            None,
            f"not a kpigraph catalog: {MANIFEST} is missing in {state.root}",
            "run 'kpigraph init DIR' to scaffold one, or point at the catalog directory",
        )
        return None
    data = _read_file(state, path)
    if data is None:
        return None
    if not isinstance(data, LDict):
        state.issue(MANIFEST, None, "expected a mapping with at least 'name'")
        return None
    return _validate(state, CatalogManifest, data, MANIFEST, "catalog settings")


def _entries(state: _State, data: Any, rel: str, section: str) -> list[Any]:
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
            f"expected a list of {section}",
            f"write '- id: ...' items, or '{section}:' followed by such a list",
        )
        return []
    return list(data)


def _read_sections(state: _State) -> None:
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
    state: _State, path: Path, filename: str, section: str, model: type[BaseNode]
) -> None:
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None and len(state.issues) > before:
        state.unverifiable.add(model.kind)
    for item in _entries(state, data, filename, section):
        if not isinstance(item, LDict):
            state.issue(
                filename, getattr(data, "line", None), f"each of {section} must be a mapping"
            )
            continue
        if model is Dashboard and "kind" in item:
            # 'kind' is the dashboard's kind (mobile, pc, big screen); stored as 'type'.
            item["type"] = item.pop("kind")
            item.key_lines["type"] = item.key_lines.get("kind", item.line)
        node = _validate_node(state, model, item, filename)
        if node is not None:
            state.add_node(node, filename, item.line, item)


def _read_sources(state: _State) -> None:
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


def _read_sources_file(state: _State, path: Path) -> None:
    filename = _rel(state, path)
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None and len(state.issues) > before:
        state.unverifiable.update({NodeKind.SYSTEM, NodeKind.TABLE, NodeKind.FIELD})
    for sys_item in _entries(state, data, filename, "systems"):
        if not isinstance(sys_item, LDict):
            state.issue(filename, None, "each system must be a mapping with id, name and tables")
            continue
        tables = sys_item.pop("tables", None) or []
        views = sys_item.pop("views", None) or LList()  # tables defined by SQL (lint reads through)
        system = _validate_node(state, System, sys_item, filename)
        if system is None:
            _declare_unreadable_sources(state, sys_item.get("id"), [*tables, *views])
            continue
        state.add_node(system, filename, sys_item.line, sys_item)
        if not isinstance(tables, LList) or not isinstance(views, LList):
            state.issue(
                filename, sys_item.line, f"system {system.id!r}: 'tables'/'views' must be lists"
            )
            continue
        for tbl_item in [*tables, *views]:
            if not isinstance(tbl_item, LDict):
                state.issue(filename, tables.line, "each table must be a mapping with id and name")
                continue
            if any(tbl_item is v for v in views) and not tbl_item.get("sql"):
                state.issue(
                    filename, tbl_item.line, "a view needs 'sql:' (the SELECT that defines it)"
                )
            fields = tbl_item.pop("fields", None) or LList()  # a view may list none
            table = _read_child(state, filename, Table, tbl_item, system.id, "system")
            if table is None:
                _declare_unreadable_sources(state, system.id, [tbl_item | {"fields": fields}])
                continue
            state.add_edge(system.ref, table.ref, Relation.HAS_TABLE)
            if not isinstance(fields, LList):
                state.issue(filename, tbl_item.line, f"table {table.id!r}: 'fields' must be a list")
                continue
            for fld_item in fields:
                if isinstance(fld_item, str):  # a bare field name
                    named = LDict(id=fld_item)
                    named.line, named.key_lines = fields.line, {}
                    fld_item = named
                if not isinstance(fld_item, LDict):
                    state.issue(filename, fields.line, "each field must be a mapping or a name")
                    continue
                field = _read_child(state, filename, FieldNode, fld_item, table.id, "table")
                if field is not None:
                    state.add_edge(table.ref, field.ref, Relation.HAS_FIELD)


def _declare_unreadable_sources(state: _State, system_id: Any, tables: list[Any]) -> None:
    """Tables and fields under a system or table entry that failed validation: references to
    them are not reported again."""
    if not isinstance(system_id, str):
        state.unverifiable.update({NodeKind.TABLE, NodeKind.FIELD})
        return
    for tbl in tables:
        if not isinstance(tbl, dict) or not isinstance(tbl.get("id"), str):
            continue
        table_id = f"{system_id}.{tbl['id']}"
        state.declared_unreadable(NodeKind.TABLE, table_id)
        for fld in tbl.get("fields") or []:
            fid = fld if isinstance(fld, str) else fld.get("id") if isinstance(fld, dict) else None
            if isinstance(fid, str):
                state.declared_unreadable(NodeKind.FIELD, f"{table_id}.{fid}")


_ID_LINE = re.compile(
    r"^\s*(?:-\s+)?id\s*:\s*['\"]?([A-Za-z][A-Za-z0-9_]*)['\"]?\s*(?:#.*)?$", re.M
)


def _ids_in_text(path: Path) -> set[str]:
    """The ids a YAML file that does not parse probably declares (``id: xxx`` lines), so
    that references to them are not reported as unknown on top of the parse error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = f.write_text("metrics:\\n  - id: sessions\\n\\tname: x\\n  - {id: gmv}\\n")
    >>> sorted(_ids_in_text(f))
    ['gmv', 'sessions']
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return set(_ID_LINE.findall(text)) | set(re.findall(r"\{\s*id\s*:\s*([a-z][a-z0-9_]*)", text))


def _read_child(
    state: _State,
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
    node = _validate_node(state, model, item, filename)
    if node is not None:
        state.add_node(node, filename, item.line, item)
    return node


def _read_metrics(state: _State) -> set[Path]:
    files = _metric_paths(state.root)
    for path in files:
        _per_file(state, path, partial(_read_metric_file, state, path))
    return set(files)


def _read_metric_file(state: _State, path: Path) -> None:
    rel = _rel(state, path)
    before = len(state.issues)
    data = _read_file(state, path)
    if data is None:
        if len(state.issues) > before:
            # the file is broken: its metrics are unknown, not missing
            for node_id in _ids_in_text(path):
                state.declared_unreadable(NodeKind.METRIC, node_id)
        return
    if isinstance(data, LDict) and "metrics" in data and "id" not in data:
        extra = sorted(set(data) - {"metrics"})
        if extra:
            state.issue(
                rel,
                data.key_lines[extra[0]],
                f"unknown top-level key {extra[0]!r} next to 'metrics'",
                "a metrics file holds one metric, or only a 'metrics:' list",
            )
        items = data["metrics"]
        if not isinstance(items, LList):
            state.issue(rel, data.key_lines["metrics"], "'metrics' must be a list of metrics")
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
            "expected a metric (a mapping with id and name) or a 'metrics:' list",
        )
        return
    for item in items:
        if not isinstance(item, LDict):
            state.issue(rel, items.line, "each metric must be a mapping with id and name")
            continue
        metric = _validate_node(state, Metric, item, rel)
        if metric is not None:
            state.add_node(metric, rel, item.line, item)


def _check_unexpected_files(state: _State, metric_files: set[Path]) -> None:
    known = {MANIFEST, *SECTION_FILES}
    for path in sorted(state.root.glob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml") and path.name not in known:
            state.issue(
                path.name,
                None,
                f"unexpected file {path.name!r}",
                f"top-level files are {', '.join(sorted(known))}; metrics go under metrics/",
            )


# ---------------------------------------------------------------------------------------------
# validation helpers


def _validate(state: _State, model: type[M], data: LDict, rel: str, what: str) -> M | None:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        _report_validation(state, model, data, rel, what, exc)
        return None


def _validate_node(state: _State, model: type[BaseNode], data: LDict, rel: str) -> BaseNode | None:
    kind = model.kind
    node_id = data.get("id")
    label = f"{kind.value.lower()} {node_id!r}" if isinstance(node_id, str) else kind.value.lower()
    ok = True
    if "id" not in data:
        state.issue(
            rel,
            data.line,
            f"{kind.value.lower()} is missing required key 'id'",
            "add 'id: some_slug' (lower-case letters, digits, '_')",
        )
        ok = False
    elif not isinstance(node_id, str) or not is_valid_id(kind, node_id):
        state.issue(
            rel,
            data.key_lines.get("id", data.line),
            f"invalid {kind.value.lower()} id {node_id!r}",
            id_rule(kind) + "; put display names in 'name'",
        )
        ok = False
    node = _validate(state, model, data, rel, label)
    if node is None and isinstance(node_id, str):
        state.declared_unreadable(kind, node_id)
    return node if ok else None


def _report_validation(
    state: _State, model: type[BaseModel], data: LDict, rel: str, what: str, exc: ValidationError
) -> None:
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(data, loc)
        dotted = ".".join(str(p) for p in loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(model, loc[:-1])
            hint = did_you_mean(closest(key, allowed)) or (
                "allowed keys: " + ", ".join(sorted(allowed)) if allowed else None
            )
            if not key.replace("_", "").isalnum():
                hint = (
                    'a value with a comma inside {...} must be quoted, e.g. type: "decimal(12,2)"'
                )
            state.issue(rel, line, f"{what}: unknown key {dotted!r}", hint)
        elif etype == "missing":
            state.issue(rel, line, f"{what}: missing required key {dotted!r}", "add it")
        elif loc and loc[0] == "id" and etype.startswith("string"):
            continue  # reported by _validate_node with the id rule
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            state.issue(rel, line, f"{what}: {dotted or 'value'}: {msg}", _value_hint(err))


def _value_hint(err: Any) -> str | None:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"use {ctx['expected']}"
    if err["type"] in ("list_type",):
        return "write a YAML list: [a, b] or one '- item' per line"
    if err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return "write a mapping: key: value"
    return None


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, for typo suggestions."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fld = getattr(current, "model_fields", {}).get(part)
        if fld is None:
            return []
        current = _inner_model(fld.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------------------------
# references → edges


@dataclass
class _Index:
    ids: dict[NodeKind, set[str]]
    aliases: dict[NodeKind, dict[str, str]]
    unreadable: dict[NodeKind, set[str]] = field(default_factory=dict)
    unverifiable: set[NodeKind] = field(default_factory=set)

    def has(self, kind: NodeKind, node_id: str) -> bool:
        return node_id in self.ids[kind]

    def excused(self, kind: NodeKind, node_id: str) -> bool:
        """Declared where reading failed (already reported): not a further error."""
        return kind in self.unverifiable or node_id in self.unreadable.get(kind, ())

    def suggest(self, kind: NodeKind, word: str) -> list[str]:
        return closest(word, self.ids[kind], self.aliases[kind])


def _build_index(state: _State) -> _Index:
    ids: dict[NodeKind, set[str]] = {k: set() for k in NodeKind}
    aliases: dict[NodeKind, dict[str, str]] = {k: {} for k in NodeKind}
    for ref, node in state.nodes.items():
        ids[ref.kind].add(ref.id)
        names: list[str | None] = [node.name]
        if isinstance(node, Metric):
            names += [node.name_en, node.abbr]
        if isinstance(node, FieldNode | Table):
            names.append(ref.id.rsplit(".", 1)[-1])
        for alias in names:
            if alias:
                aliases[ref.kind].setdefault(alias.strip().lower(), ref.id)
    return _Index(ids, aliases, state.unreadable, state.unverifiable)


def _resolve_metric_references(state: _State) -> None:
    index = _build_index(state)
    metrics = [n for n in state.nodes.values() if isinstance(n, Metric)]
    for metric in metrics:
        ref = metric.ref
        origin = state.origins[ref]
        raw = state.raw[ref]

        def check(
            kind: NodeKind,
            target: str,
            loc: tuple[str | int, ...],
            what: str,
            *,
            _origin: _Origin = origin,
            _raw: LDict = raw,
            _metric: Metric = metric,
        ) -> NodeRef | None:
            if index.has(kind, target):
                if kind is not NodeKind.METRIC or target != _metric.id or what == "formula":
                    return NodeRef(kind, target)
            elif index.excused(kind, target):
                return None
            line = line_of(_raw, loc) or _origin.line  # only for an error: no lookups otherwise
            if not index.has(kind, target):
                hint = did_you_mean(index.suggest(kind, target)) or _empty_hint(kind, index)
                state.issue(
                    _origin.file,
                    line,
                    f"metric {_metric.id!r}: {what} refers to unknown {kind.value.lower()} "
                    f"{target!r}",
                    hint,
                )
                return None
            if kind is NodeKind.METRIC and target == _metric.id and what != "formula":
                state.issue(_origin.file, line, f"metric {_metric.id!r}: {what} refers to itself")
                return None
            return NodeRef(kind, target)

        for attr, rel in (("owner", Relation.OWNS), ("reviewer", Relation.REVIEWS)):
            dept = getattr(metric, attr)
            if dept is not None:
                dref = check(NodeKind.DEPARTMENT, dept, (attr,), attr)
                if dref:
                    state.add_edge(dref, ref, rel)
        for i, fid in enumerate(metric.fields):
            fref = check(NodeKind.FIELD, fid, ("fields", i), "fields")
            if fref:
                state.add_edge(fref, ref, Relation.FEEDS)
        for i, did in enumerate(metric.dimensions):
            dref = check(NodeKind.DIMENSION, did, ("dimensions", i), "dimensions")
            if dref:
                state.add_edge(ref, dref, Relation.SLICED_BY)
        for i, bid in enumerate(metric.dashboards):
            bref = check(NodeKind.DASHBOARD, bid, ("dashboards", i), "dashboards")
            if bref:
                state.add_edge(ref, bref, Relation.SHOWN_ON)
        for i, cause in enumerate(metric.causes):
            cref = check(NodeKind.METRIC, cause.metric, ("causes", i, "metric"), "causes")
            if cref:
                props = cause.model_dump(exclude={"metric"}, exclude_none=True)
                state.add_edge(ref, cref, Relation.CAUSES, props)
        if metric.rolls_up_to:
            pref = check(NodeKind.METRIC, metric.rolls_up_to, ("rolls_up_to",), "rolls_up_to")
            if pref:
                state.add_edge(ref, pref, Relation.ROLLS_UP_TO)
        for i, pid in enumerate(metric.parallel):
            check(NodeKind.METRIC, pid, ("parallel", i), "parallel")
        for attr, rel in (("formula", Relation.INPUT_TO), ("drivers", Relation.DRIVES)):
            expr = getattr(metric, attr)
            if not expr:
                continue
            line = line_of(raw, (attr,)) or origin.line
            try:
                parsed = parse_formula(expr)
            except FormulaSyntaxError as exc:
                state.issue(
                    origin.file,
                    line,
                    f"metric {metric.id!r}: {attr} syntax error: {exc.reason} at column "
                    f"{exc.column} in {expr!r}",
                    "formulas use metric ids, numbers, + - * / and parentheses",
                )
                continue
            roles = dict(parsed.inputs())
            bad = False
            for occ in parsed.references():
                if not index.has(NodeKind.METRIC, occ.name) and index.excused(
                    NodeKind.METRIC, occ.name
                ):
                    bad = True
                elif not index.has(NodeKind.METRIC, occ.name):
                    bad = True
                    hint = did_you_mean(index.suggest(NodeKind.METRIC, occ.name))
                    state.issue(
                        origin.file,
                        line,
                        f"metric {metric.id!r}: {attr} refers to unknown metric {occ.name!r} "
                        f"(column {occ.column})",
                        hint or "formulas refer to metrics by id",
                    )
                elif attr == "drivers" and occ.name == metric.id:
                    bad = True
                    state.issue(
                        origin.file,
                        line,
                        f"metric {metric.id!r}: drivers refers to the metric itself",
                        "drivers is an identity over other metrics, e.g. 'visits * atp'",
                    )
            if bad:
                continue
            for name, role in roles.items():
                state.add_edge(NodeRef(NodeKind.METRIC, name), ref, rel, {"role": role.value})


def _empty_hint(kind: NodeKind, index: _Index) -> str:
    if not index.ids[kind]:
        where = {
            NodeKind.DEPARTMENT: "departments.yaml",
            NodeKind.DIMENSION: "dimensions.yaml",
            NodeKind.DASHBOARD: "dashboards.yaml",
            NodeKind.FIELD: "sources.yaml",
        }.get(kind, "the catalog")
        return f"no {kind.value.lower()} is defined; add it to {where}"
    if kind is NodeKind.FIELD:
        return "field ids are 'system.table.field' as declared in sources.yaml"
    return f"define it, or use an existing {kind.value.lower()} id"


def _check_cycles(state: _State, rel: Relation, what: str) -> None:
    g: nx.DiGraph[NodeRef] = nx.DiGraph()
    g.add_edges_from((s, t) for (s, t, r) in state.edges if r is rel)
    for component in nx.strongly_connected_components(g):
        members = sorted(component, key=str)
        if len(members) == 1 and not g.has_edge(members[0], members[0]):
            continue
        cycle_edges = nx.find_cycle(g.subgraph(component), source=members[0])
        path = [e[0].id for e in cycle_edges] + [cycle_edges[0][0].id]
        first = cycle_edges[-1][1]
        origin = state.origins[first]
        attr = "formula" if rel is Relation.INPUT_TO else "rolls_up_to"
        line = line_of(state.raw[first], (attr,)) or origin.line
        state.issue(
            origin.file,
            line,
            f"{what} cycle: {' → '.join(path)}",
            f"a metric cannot depend on itself; break the cycle in one of these {attr}s",
        )


def iter_metric_ids(graph: CatalogGraph) -> Iterable[str]:
    """The metric ids of a loaded graph, in catalog order."""
    return (n.id for n in graph.nodes if n.kind is NodeKind.METRIC)


ProgressFn = Callable[[int, int], None]
