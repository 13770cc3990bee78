"""Validation of catalog definitions — the public unit that ``kpigraph load``, change-request
proposals and applies, the importers and write-back all call (issue #23).

:class:`CatalogState` collects nodes with where they came from and every problem found, so one
pass reports all of them with file, line and a hint; :func:`validate_node` checks one raw
mapping against its model (unknown keys with suggestions, ids, types);
:mod:`loaders.references` then resolves references and checks cycles over the state.
:func:`replace_metric` validates one proposed metric definition against a stored graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef, id_rule, is_valid_id
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from loaders.suggest import closest, did_you_mean
from loaders.yaml_lines import LDict, line_of

if TYPE_CHECKING:
    from loaders.catalog_cache import FileCache
    from loaders.prefetch import Prefetch

M = TypeVar("M", bound=BaseModel)

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


#: Edge types a metric's own keys produce; the others (containment) come from sources.yaml.
METRIC_DERIVED = frozenset(
    {
        Relation.FEEDS,
        Relation.INPUT_TO,
        Relation.DRIVES,
        Relation.CAUSES,
        Relation.ROLLS_UP_TO,
        Relation.SHOWN_ON,
        Relation.OWNS,
        Relation.REVIEWS,
        Relation.SLICED_BY,
    }
)


@dataclass
class Origin:
    file: str
    line: int | None


@dataclass
class CatalogState:
    root: Path
    issues: list[CatalogIssue] = field(default_factory=list)
    nodes: dict[NodeRef, BaseNode] = field(default_factory=dict)
    origins: dict[NodeRef, Origin] = field(default_factory=dict)
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
        self.origins[ref] = Origin(file, line)
        self.raw[ref] = raw

    def add_edge(
        self, source: NodeRef, target: NodeRef, rel: Relation, props: dict[str, Any] | None = None
    ) -> None:
        key = (source, target, rel)
        if key not in self.edges:  # typed values from the validated nodes: no re-validation
            self.edges[key] = make_edge(source, target, rel, props or {})


def validate_model(
    state: CatalogState, model: type[M], data: LDict, rel: str, what: str
) -> M | None:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        report_validation(state, model, data, rel, what, exc)
        return None


def validate_node(
    state: CatalogState, model: type[BaseNode], data: LDict, rel: str
) -> BaseNode | None:
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
    node = validate_model(state, model, data, rel, label)
    if node is None and isinstance(node_id, str):
        state.declared_unreadable(kind, node_id)
    return node if ok else None


def report_validation(
    state: CatalogState,
    model: type[BaseModel],
    data: LDict,
    rel: str,
    what: str,
    exc: ValidationError,
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
            continue  # reported by validate_node with the id rule
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


def plain_mapping(data: dict[str, Any], line: int = 0) -> LDict:
    """``data`` as a mapping without source lines (a stored or proposed definition)."""
    out = LDict(data)
    out.line = line
    out.key_lines = {}
    return out


def replace_metric(
    graph: CatalogGraph, metric: LDict | None, drop: NodeRef | None, *, where: str
) -> CatalogGraph:
    """``graph`` with the metric ``metric`` (raw mapping) put in place of ``drop`` (or added,
    or only ``drop`` removed when ``metric`` is ``None``), validated and re-linked by the
    catalog's own rules; problems are reported against ``where``.

    Raises
    ------
    CatalogError
        Naming the field and what to do.
    """
    from loaders.references import check_cycles, resolve_metric_references

    state = CatalogState(Path(where))
    stored = "stored catalog"
    for node in graph.nodes:
        if node.ref == drop:
            continue
        state.nodes[node.ref] = node
        state.origins[node.ref] = Origin(stored, None)
        state.raw[node.ref] = plain_mapping(node.props())
    for edge in graph.edges:
        if edge.type not in METRIC_DERIVED:
            state.edges[(edge.source, edge.target, edge.type)] = edge
    if metric is not None:
        proposed = validate_node(state, Metric, metric, where)
        if proposed is not None:
            state.add_node(proposed, where, metric.line or None, metric)
    if state.issues:
        raise CatalogError(state.issues)
    resolve_metric_references(state)
    check_cycles(state, Relation.INPUT_TO, "formula")
    check_cycles(state, Relation.ROLLS_UP_TO, "rolls_up_to hierarchy")
    if state.issues:
        raise CatalogError(state.issues)
    new = CatalogGraph(
        name=graph.name,
        nodes=tuple(state.nodes.values()),
        edges=tuple(state.edges.values()),
        meta=dict(graph.meta),
    )
    new.meta["summary"] = new.summary()
    return new
