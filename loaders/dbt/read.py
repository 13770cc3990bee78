"""Read dbt / MetricFlow definitions into the official dbt-semantic-interfaces models.

Three inputs, none of which needs ``dbt`` to run:

* ``semantic_manifest.json`` — MetricFlow's manifest (``PydanticSemanticManifest``);
* ``target/manifest.json`` — dbt's manifest: its ``semantic_models``, ``metrics``, ``groups`` and
  its models' columns (``nodes``);
* a directory of YAML: a dbt project (``semantic_models:``, ``metrics:``, ``models:`` and
  ``groups:`` lists in schema files) or MetricFlow's own layout (one ``semantic_model:`` or
  ``metric:`` per ``---`` document).

Every semantic model and metric is validated by ``PydanticSemanticModel`` / ``PydanticMetric``;
a failure is a :class:`DbtImportError` naming the file (and line, for YAML) and the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dbt_semantic_interfaces.implementations.metric import PydanticMetric
from dbt_semantic_interfaces.implementations.node_relation import PydanticNodeRelation
from dbt_semantic_interfaces.implementations.semantic_model import PydanticSemanticModel

from core.confined import escapes
from core.i18n import _
from graph_schema.errors import KpigraphError
from graph_schema.limits import definition_size
from loaders.yaml_lines import LDict, LList, line_of, load_yaml_all

#: Largest input file read (a big dbt manifest.json is tens of MiB).
MAX_INPUT_BYTES = 512 * 1024 * 1024
#: Largest YAML file of a project directory, and the most characters one of its documents
#: may stand for once its aliases (``*a``) are written out: ten lines of aliases can stand
#: for 10⁹ items, which the official models would build one by one (minutes, gigabytes)
MAX_YAML_BYTES = 32 * 1024 * 1024

_REF_RE = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)""")


class DbtImportError(KpigraphError):
    """A dbt / MetricFlow input cannot be read. ``problems`` lists each ``where: what``."""

    code = "dbt_import"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}", {"problems": problems})


@dataclass
class Origin:
    """Where a definition was read: file and (for YAML) line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class DbtModel:
    """A dbt model (a warehouse table) with its documented columns."""

    name: str
    schema: str | None = None
    database: str | None = None
    alias: str | None = None
    description: str | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DbtProject:
    """What was read: semantic models and metrics (validated), plus what dbt adds around them."""

    source: str
    semantic_models: list[tuple[PydanticSemanticModel, Origin]] = field(default_factory=list)
    metrics: list[tuple[PydanticMetric, dict[str, Any], Origin]] = field(default_factory=list)
    #: semantic model name → the dbt model it is built on (``model: ref('x')``)
    model_of: dict[str, str] = field(default_factory=dict)
    models: dict[str, DbtModel] = field(default_factory=dict)
    #: group name → its owner ({name, email})
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    project_name: str | None = None
    notes: list[str] = field(default_factory=list)


def read_dbt(path: str | Path) -> DbtProject:
    """Read a dbt manifest, a semantic manifest or a project directory (see module doc).

    Raises
    ------
    DbtImportError
        The input is missing, corrupt, or a definition fails the dbt-semantic-interfaces models.
    """
    src = Path(path)
    if not src.exists():
        raise DbtImportError([_("{path}: no such file or directory", path=src)])
    if src.is_dir():
        return _read_directory(src)
    data = _read_json(src)
    if not isinstance(data, dict):
        raise DbtImportError(
            [_("{path}: expected a JSON object (a dbt or semantic manifest)", path=src)]
        )
    if "nodes" in data:
        return _read_dbt_manifest(src, data)
    if "semantic_models" in data or "metrics" in data:
        return _read_semantic_manifest(src, data)
    raise DbtImportError(
        [
            _(
                "{path}: neither a dbt manifest (no 'nodes') nor a semantic manifest "
                "(no 'semantic_models' / 'metrics')",
                path=src,
            ),
        ]
    )


def _read_json(src: Path) -> Any:
    size = src.stat().st_size
    if size > MAX_INPUT_BYTES:
        mib = f"{size / 1_048_576:.0f}"
        raise DbtImportError([_("{path}: file is {mib} MiB, over the limit", path=src, mib=mib)])
    raw = src.read_bytes()
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        text = _("{path}: not UTF-8 text (byte offset {offset})", path=src, offset=exc.start)
        raise DbtImportError([text]) from None
    except json.JSONDecodeError as exc:
        raise DbtImportError(
            [
                _(
                    "{path}:{line}: corrupt JSON: {problem} (column {column}); "
                    "regenerate it with 'dbt parse'",
                    path=src,
                    line=exc.lineno,
                    problem=exc.msg,
                    column=exc.colno,
                ),
            ]
        ) from None
    except RecursionError:
        raise DbtImportError(
            [
                _(
                    "{path}: JSON nested too deeply to be a dbt manifest; regenerate it with "
                    "'dbt parse'",
                    path=src,
                )
            ]
        ) from None


def _pydantic_problems(where: Origin, what: str, raw: Any, exc: Exception) -> list[str]:
    """One line per validation error, at the line of the offending key when YAML told us."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        out = []
        for err in errors():
            parts = tuple(err.get("loc", ()))
            loc = ".".join(str(p) for p in parts)
            line = (line_of(raw, parts) if where.line else None) or where.line
            place = Origin(where.file, line)
            out.append(f"{place}: {what}: {loc or 'value'}: {err.get('msg')}")
        if out:
            return out
    return [f"{where}: {what}: {exc}"]


def _semantic_model(raw: Any, where: Origin, problems: list[str]) -> PydanticSemanticModel | None:
    if not isinstance(raw, dict):
        problems.append(_("{where}: a semantic model must be a mapping", where=where))
        return None
    try:
        model: PydanticSemanticModel = PydanticSemanticModel.parse_obj(_plain(raw))
        return model
    except Exception as exc:  # pydantic v1 ValidationError, dsi ParsingException
        name = raw.get("name", "?")
        problems += _pydantic_problems(where, f"semantic model {name!r}", raw, exc)
        return None


def _metric(raw: Any, where: Origin, problems: list[str]) -> PydanticMetric | None:
    if not isinstance(raw, dict):
        problems.append(_("{where}: a metric must be a mapping", where=where))
        return None
    try:
        return PydanticMetric.parse_obj(_dbt_metric(_plain(raw)))
    except Exception as exc:  # pydantic v1 ValidationError, dsi ParsingException
        name = raw.get("name", "?")
        problems += _pydantic_problems(where, f"metric {name!r}", raw, exc)
        return None


def _dbt_metric(raw: dict[str, Any]) -> dict[str, Any]:
    """dbt accepts ``numerator: revenue`` and ``metrics: [revenue]`` where MetricFlow wants
    ``{name: revenue}``; dbt's ``filter`` may also sit in a ``config``."""
    params = raw.get("type_params")
    if not isinstance(params, dict):
        return raw
    params = dict(params)
    for key in ("numerator", "denominator"):
        if isinstance(params.get(key), str):
            params[key] = {"name": params[key]}
    if isinstance(params.get("metrics"), list):
        params["metrics"] = [{"name": m} if isinstance(m, str) else m for m in params["metrics"]]
    cumulative = params.get("cumulative_type_params")
    if isinstance(cumulative, dict) and isinstance(cumulative.get("metric"), str):
        params["cumulative_type_params"] = {**cumulative, "metric": {"name": cumulative["metric"]}}
    return {**raw, "type_params": params}


def _plain(value: Any) -> Any:
    """LDict/LList → dict/list (dsi deep-copies its input)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _finish(project: DbtProject, problems: list[str]) -> DbtProject:
    if problems:
        raise DbtImportError(problems)
    if not project.metrics and not project.semantic_models:
        raise DbtImportError(
            [
                _(
                    "{path}: no semantic models and no metrics found (nothing to import)",
                    path=project.source,
                )
            ]
        )
    return project


# ---------------------------------------------------------------------------------------------
# JSON manifests


def _read_semantic_manifest(src: Path, data: dict[str, Any]) -> DbtProject:
    project = DbtProject(source=str(src))
    problems: list[str] = []
    for i, raw in enumerate(data.get("semantic_models") or []):
        sm = _semantic_model(raw, Origin(f"{src} semantic_models[{i}]"), problems)
        if sm is not None:
            project.semantic_models.append((sm, Origin(str(src))))
    for i, raw in enumerate(data.get("metrics") or []):
        where = Origin(f"{src} metrics[{i}]")
        m = _metric(raw, where, problems)
        if m is not None:
            project.metrics.append((m, raw, Origin(str(src))))
    if data.get("saved_queries"):
        project.notes.append(_("{n} saved queries not imported", n=len(data["saved_queries"])))
    return _finish(project, problems)


def _read_dbt_manifest(src: Path, data: dict[str, Any]) -> DbtProject:
    project = DbtProject(source=str(src))
    problems: list[str] = []
    meta = data.get("metadata") or {}
    project.project_name = meta.get("project_name")
    for node in (data.get("nodes") or {}).values():
        if not isinstance(node, dict) or node.get("resource_type") not in ("model", "seed"):
            continue
        columns = [
            {k: c.get(k) for k in ("name", "description", "data_type") if c.get(k)}
            for c in (node.get("columns") or {}).values()
            if isinstance(c, dict) and c.get("name")
        ]
        project.models[node["name"]] = DbtModel(
            name=node["name"],
            schema=node.get("schema"),
            database=node.get("database"),
            alias=node.get("alias") or node["name"],
            description=node.get("description") or None,
            columns=columns,
        )
    for uid, raw in sorted((data.get("semantic_models") or {}).items()):
        where = Origin(f"{src} {uid}")
        sm = _semantic_model(raw, where, problems)
        if sm is None:
            continue
        project.semantic_models.append((sm, Origin(raw.get("original_file_path") or str(src))))
        ref = _REF_RE.search(str(raw.get("model") or ""))
        if ref:
            project.model_of[sm.name] = ref.group(2) or ref.group(1)
    for uid, raw in sorted((data.get("metrics") or {}).items()):
        m = _metric(raw, Origin(f"{src} {uid}"), problems)
        if m is not None:
            project.metrics.append((m, raw, Origin(raw.get("original_file_path") or str(src))))
    for raw in (data.get("groups") or {}).values():
        if isinstance(raw, dict) and raw.get("name"):
            project.groups[raw["name"]] = dict(raw.get("owner") or {})
    if data.get("saved_queries"):
        project.notes.append(_("{n} saved queries not imported", n=len(data["saved_queries"])))
    return _finish(project, problems)


# ---------------------------------------------------------------------------------------------
# a directory of YAML (dbt project, or MetricFlow's layout)

_SKIP_DIRS = {"target", "dbt_packages", "dbt_modules", "logs", "node_modules"}


def _yaml_files(root: Path, problems: list[str]) -> list[Path]:
    """The project's YAML files; one reached through a symbolic link out of ``root`` (a file,
    or a linked directory) is a problem, never read: the project is someone else's repository."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIP_DIRS for p in rel[:-1]) or rel[-1].startswith("."):
            continue
        if path.suffix in (".yml", ".yaml") and escapes(root, path):
            problems.append(_linked_out(root, path))
        elif path.is_file() and path.suffix in (".yml", ".yaml"):
            out.append(path)
    return out


def _linked_out(root: Path, path: Path) -> str:
    return _(
        "{path}: a link to a file outside the dbt project; copy the file into the project "
        "instead of linking to it",
        path=path.relative_to(root),
    )


def _read_directory(root: Path) -> DbtProject:
    project = DbtProject(source=str(root))
    problems: list[str] = []
    dbt_project = root / "dbt_project.yml"
    if escapes(root, dbt_project):
        problems.append(_linked_out(root, dbt_project))
    elif dbt_project.is_file():
        docs = _load_docs(root, dbt_project, problems)
        if docs and isinstance(docs[0], dict):
            project.project_name = docs[0].get("name")
    for path in _yaml_files(root, problems):
        if path == dbt_project:
            continue
        rel = str(path.relative_to(root))
        for doc in _load_docs(root, path, problems):
            if not isinstance(doc, LDict):
                if doc is not None:
                    project.notes.append(
                        _("{where}: skipped a document that is not a mapping", where=rel)
                    )
                continue
            _read_document(project, rel, doc, problems)
    _place_on_models(project)
    return _finish(project, problems)


def _place_on_models(project: DbtProject) -> None:
    """A semantic model written ``model: ref('x')`` lives where dbt would build model ``x``:
    its configured schema (``$source_schema`` stays as written), database and alias — as dbt
    fills ``node_relation`` in its manifest. Without a configured schema it stays
    ``__dbt_schema__`` (the profile's, which only dbt knows)."""
    for i, (sm, origin) in enumerate(project.semantic_models):
        model = project.models.get(project.model_of.get(sm.name, ""))
        if model is None or not model.schema or sm.node_relation.schema_name != "__dbt_schema__":
            continue
        relation = PydanticNodeRelation(
            alias=model.alias or sm.node_relation.alias,
            schema_name=model.schema,
            database=model.database,
        )
        project.semantic_models[i] = (sm.copy(update={"node_relation": relation}), origin)


def _load_docs(root: Path, path: Path, problems: list[str]) -> list[Any]:
    rel = str(path.relative_to(root))
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            mib = f"{size / 1_048_576:.0f}"
            problems.append(_("{path}: file is {mib} MiB, over the limit", path=rel, mib=mib))
            return []
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(
            _("{path}: not UTF-8 text (byte offset {offset})", path=rel, offset=exc.start)
        )
        return []
    except OSError as exc:
        problems.append(_("{path}: cannot read: {problem}", path=rel, problem=exc.strerror))
        return []
    try:
        docs = load_yaml_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problems.append(
            _("{where}: broken YAML: {problem}", where=f"{rel}{line}", problem=exc.problem or exc)
        )
        return []
    except yaml.YAMLError as exc:
        problems.append(_("{where}: broken YAML: {problem}", where=rel, problem=exc))
        return []
    if definition_size(docs, MAX_YAML_BYTES) > MAX_YAML_BYTES:
        problems.append(
            _(
                "{path}: its YAML aliases (*name) stand for over {mib} MiB once written out; "
                "write the definitions without aliases",
                path=rel,
                mib=MAX_YAML_BYTES // 1_048_576,
            )
        )
        return []
    _render_inert_braces(docs)
    return docs


#: ``{`` as written where it would open a Jinja tag (``kpigraph export dbt``); dbt renders it
#: as ``{``
INERT_BRACE = "{{ '{' }}"


def _render_inert_braces(value: Any) -> None:
    """Every :data:`INERT_BRACE` in the strings of ``value`` read as the ``{`` dbt renders
    it as (in place: the containers keep their line numbers).

    >>> doc = {"label": "{{ '{' }}{ x }}", "items": ["a{{ '{' }}%b"]}
    >>> _render_inert_braces(doc)
    >>> doc
    {'label': '{{ x }}', 'items': ['a{%b']}
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                value[key] = item.replace(INERT_BRACE, "{")
            else:
                _render_inert_braces(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                value[i] = item.replace(INERT_BRACE, "{")
            else:
                _render_inert_braces(item)


def _items(doc: LDict, key: str, rel: str, problems: list[str]) -> list[tuple[Any, Origin]]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, LList):
        where = f"{rel}:{doc.key_lines.get(key, doc.line)}"
        problems.append(_("{where}: '{key}' must be a list", where=where, key=key))
        return []
    return [(item, Origin(rel, line)) for item, line in zip(value, value.item_lines, strict=True)]


def _read_document(project: DbtProject, rel: str, doc: LDict, problems: list[str]) -> None:
    # MetricFlow's layout: one element per document
    if "semantic_model" in doc:
        sm = _semantic_model(doc["semantic_model"], Origin(rel, doc.line), problems)
        if sm is not None:
            project.semantic_models.append((sm, Origin(rel, doc.line)))
    if "metric" in doc:
        m = _metric(doc["metric"], Origin(rel, doc.line), problems)
        if m is not None:
            project.metrics.append((m, _plain(doc["metric"]), Origin(rel, doc.line)))
    if "saved_query" in doc:
        project.notes.append(_("{where}: saved query not imported", where=f"{rel}:{doc.line}"))
    # dbt's layout: lists in schema files
    for raw, where in _items(doc, "semantic_models", rel, problems):
        dbt_raw = _dbt_semantic_model(raw, project)
        sm = _semantic_model(dbt_raw, where, problems)
        if sm is not None:
            project.semantic_models.append((sm, where))
    for raw, where in _items(doc, "metrics", rel, problems):
        m = _metric(raw, where, problems)
        if m is not None:
            project.metrics.append((m, _plain(raw), where))
    for raw, _where in _items(doc, "models", rel, problems):
        if isinstance(raw, dict) and raw.get("name"):
            config = raw.get("config") or {}
            columns = [
                {k: c.get(k) for k in ("name", "description", "data_type") if c.get(k)}
                for c in raw.get("columns") or []
                if isinstance(c, dict) and c.get("name")
            ]
            project.models[raw["name"]] = DbtModel(
                name=raw["name"],
                schema=config.get("schema"),
                database=config.get("database"),
                alias=config.get("alias") or raw["name"],
                description=raw.get("description"),
                columns=columns,
            )
    for raw, _where in _items(doc, "groups", rel, problems):
        if isinstance(raw, dict) and raw.get("name"):
            project.groups[str(raw["name"])] = _plain(raw.get("owner") or {})


def _dbt_semantic_model(raw: Any, project: DbtProject) -> Any:
    """dbt writes ``model: ref('orders')`` where MetricFlow wants a ``node_relation``."""
    if not isinstance(raw, dict) or "node_relation" in raw:
        return raw
    out = {k: v for k, v in raw.items() if k != "model"}
    ref = _REF_RE.search(str(raw.get("model") or ""))
    if ref:
        model = ref.group(2) or ref.group(1)
        project.model_of[str(raw.get("name"))] = model
        out["node_relation"] = {"alias": model, "schema_name": "__dbt_schema__"}
    return out
