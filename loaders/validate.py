"""Validation of catalog definitions, one node at a time (issue #23).

:class:`CatalogState` collects nodes with where they came from and every problem found, so one
pass reports all of them with file, line and a hint; :func:`validate_node` checks one raw
mapping against its model (unknown keys with suggestions, ids, types);
:func:`loaders.delta_check.check_delta` — the unit ``kpigraph load``, change-request proposals
and applies, the importers, git sources and ``pull`` all validate through — then checks the
definitions against the graph they change (duplicate ids, references, cycles).
:func:`replace_metric` validates one metric definition put in place in a whole graph;
:func:`loaders.metric_check.check_metric` does the same against a published graph reading only
what the metric needs (what proposals and applies use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.i18n import N_, _
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef, id_rule, is_valid_id
from graph_schema.limits import MAX_DEFINITION, MAX_TEXT
from graph_schema.models import BaseNode, Edge, FieldNode, Metric, Table
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

    def issue(
        self,
        file: str,
        line: int | None,
        message: str,
        hint: str | None = None,
        *,
        field: str | None = None,
    ) -> None:
        """Note one problem; ``message`` and ``hint`` are worded in the language in use (the
        catalog's: :func:`speaking_catalog_language`), ``field`` is the key it is about."""
        self.issues.append(CatalogIssue(file, line, message, hint, self.stage, field))

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
                _(
                    "duplicate {kind} id {id} (first defined at {where})",
                    kind=kind_word(ref.kind),
                    id=repr(ref.id),
                    where=where,
                ),
                _("ids must be unique; rename one of them"),
                field="id",
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


#: node kinds in words (message ids)
KIND_WORDS = {
    NodeKind.METRIC: N_("metric"),
    NodeKind.DIMENSION: N_("dimension"),
    NodeKind.FIELD: N_("field"),
    NodeKind.DEPARTMENT: N_("department"),
    NodeKind.DASHBOARD: N_("dashboard"),
    NodeKind.SYSTEM: N_("system"),
    NodeKind.TABLE: N_("table"),
}


def kind_word(kind: NodeKind) -> str:
    """A node kind in words, in the language in use.

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     kind_word(NodeKind.METRIC)
    '指标'
    """
    word = KIND_WORDS.get(kind)
    return _(word) if word else kind.value.lower()


def node_label(kind: NodeKind, node_id: object) -> str:
    """``metric 'atp'`` (指标 'atp'): what a message is about."""
    if isinstance(node_id, str):
        return _("{kind} {id}", kind=kind_word(kind), id=repr(node_id))
    return kind_word(kind)


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
    ok = True
    if "id" not in data:
        state.issue(
            rel,
            data.line,
            _("{kind} is missing required key 'id'", kind=kind_word(kind)),
            _("add 'id: some_slug' (lower-case letters, digits, '_')"),
            field="id",
        )
        ok = False
    elif not isinstance(node_id, str) or not is_valid_id(kind, node_id):
        state.issue(
            rel,
            data.key_lines.get("id", data.line),
            _("invalid {kind} id {id}", kind=kind_word(kind), id=repr(node_id)),
            _("{rule}; put display names in 'name'", rule=id_rule(kind)),
            field="id",
        )
        ok = False
    try:  # validate_model, with the label worded only for a message (not per node)
        node: BaseNode | None = plain_text_node(model, data) or model.model_validate(dict(data))
    except ValidationError as exc:
        report_validation(state, model, data, rel, node_label(kind, node_id), exc)
        # unknown keys (reported above) mean nothing: the node without them is checked on
        # (its references, formula, SQL), so one pass reports all of its problems
        node = _without_unknown_keys(model, data)
    if node is None and isinstance(node_id, str):
        state.declared_unreadable(kind, node_id)
    return node if ok else None


#: models whose every field is a text (``str`` or ``Text``, optional or not) with no check of
#: its own: :func:`plain_text_node` builds them (a large estate's 370,000 fields and tables)
_PLAIN_TEXT_FIELDS: dict[type[BaseNode], frozenset[str]] = {
    FieldNode: frozenset({"id", "name", "table", "type", "description"}),
    Table: frozenset({"id", "name", "system", "description", "sql"}),
}
_PLAIN_REQUIRED: dict[type[BaseNode], frozenset[str]] = {
    FieldNode: frozenset({"id", "name", "table"}),
    Table: frozenset({"id", "name", "system"}),
}

_FIELD_NAMES = {model: tuple(model.model_fields) for model in _PLAIN_TEXT_FIELDS}


def plain_text_node(model: type[BaseNode], data: LDict) -> BaseNode | None:
    """``model.model_validate(data)`` without pydantic, for the models of
    :data:`_PLAIN_TEXT_FIELDS` when every value is already a plain text that validation would
    keep as it is (no surrounding white space, within :data:`~graph_schema.limits.MAX_TEXT`
    and the definition within :data:`~graph_schema.limits.MAX_DEFINITION`, as
    :func:`~graph_schema.limits.definition_size` counts it); ``None`` for anything else —
    pydantic then validates it and words any problem (the same object either way: a unit
    test compares them).

    Examples
    --------
    >>> item = plain_mapping({"id": "s.t.f", "name": "金额", "table": "s.t"})
    >>> plain_text_node(FieldNode, item) == FieldNode.model_validate(dict(item))
    True
    >>> plain_text_node(FieldNode, plain_mapping({"id": "s.t.f", "name": " x", "table": "s.t"}))
    """
    allowed = _PLAIN_TEXT_FIELDS.get(model)
    if allowed is None:
        return None
    keys = data.keys()
    if not (_PLAIN_REQUIRED[model] <= keys and keys <= allowed):
        return None
    size = 1
    for key, value in data.items():
        if type(value) is not str or len(value) > MAX_TEXT or value.strip() != value:
            return None
        size += len(key) + (len(value) or 1)
    if size > MAX_DEFINITION:
        return None
    node = model.__new__(model)
    values = dict.fromkeys(_FIELD_NAMES[model])
    values.update(data)
    _set(node, "__dict__", values)
    _set(node, "__pydantic_fields_set__", set(data))
    _set(node, "__pydantic_extra__", None)
    _set(node, "__pydantic_private__", None)
    return node


def _without_unknown_keys(model: type[BaseNode], data: LDict) -> BaseNode | None:
    """``data`` as ``model`` with its unknown top-level keys left out, when that is all that
    was wrong; else None."""
    known = {name for name, field in model.model_fields.items()} | {
        field.alias for field in model.model_fields.values() if field.alias
    }
    kept = {k: v for k, v in data.items() if k in known}
    if len(kept) == len(data):
        return None
    try:
        return model.model_validate(kept)
    except ValidationError:
        return None


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
                _("allowed keys: {keys}", keys=", ".join(sorted(allowed))) if allowed else None
            )
            if not key.replace("_", "").isalnum():
                hint = _(
                    "a value with a comma inside {braces} must be quoted, "
                    'e.g. type: "decimal(12,2)"',
                    braces="{...}",
                )
            state.issue(
                rel,
                line,
                _("{what}: unknown key {key}", what=what, key=repr(dotted)),
                hint,
                field=dotted,
            )
        elif etype == "missing":
            state.issue(
                rel,
                line,
                _("{what}: missing required key {key}", what=what, key=repr(dotted)),
                _("add it"),
                field=dotted,
            )
        elif loc and loc[0] == "id" and etype.startswith("string"):
            continue  # reported by validate_node with the id rule
        else:
            state.issue(
                rel,
                line,
                _(
                    "{what}: {field}: {problem}",
                    what=what,
                    field=dotted or _("value"),
                    problem=value_problem(err),
                ),
                _value_hint(err),
                field=dotted or None,
            )


#: pydantic's error types in words (message ids; ``{name}`` fields from the error's context)
VALUE_PROBLEMS = {
    "missing": N_("is required"),
    "string_type": N_("should be text"),
    "int_type": N_("should be a whole number"),
    "int_parsing": N_("should be a whole number"),
    "int_from_float": N_("should be a whole number"),
    "float_type": N_("should be a number"),
    "float_parsing": N_("should be a number"),
    "bool_type": N_("should be true or false"),
    "bool_parsing": N_("should be true or false"),
    "list_type": N_("should be a list"),
    "dict_type": N_("should be a mapping"),
    "model_type": N_("should be a mapping"),
    "model_attributes_type": N_("should be a mapping"),
    "enum": N_("should be one of {expected}"),
    "literal_error": N_("should be one of {expected}"),
    "string_too_long": N_("is longer than {max_length} characters"),
    "string_too_short": N_("should not be empty"),
    "too_long": N_("has more than {max_length} items"),
    "too_short": N_("should have at least {min_length} items"),
    "greater_than_equal": N_("should be at least {ge}"),
    "less_than_equal": N_("should be at most {le}"),
    "greater_than": N_("should be greater than {gt}"),
    "less_than": N_("should be less than {lt}"),
    "string_pattern_mismatch": N_("does not have the expected form"),
}


def value_problem(err: Any) -> str:
    """What is wrong with a value, in the language in use (pydantic's own words for an
    error type not listed in :data:`VALUE_PROBLEMS`, and for the models' own checks).

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     value_problem({"type": "int_type", "msg": "Input should be a valid integer"})
    '应为整数'
    """
    problem = VALUE_PROBLEMS.get(err["type"])
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if "expected" in ctx:  # "'L0', 'L1' or 'L2'"
        ctx["expected"] = ctx["expected"].replace(" or ", _(" or "))
    if problem is not None:
        try:
            return _(problem).format(**ctx)
        except (KeyError, IndexError, ValueError):
            pass
    return str(err["msg"]).removeprefix("Value error, ")


def _value_hint(err: Any) -> str | None:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return _("use {expected}", expected=ctx["expected"])
    if err["type"] in ("list_type",):
        return _("write a YAML list: [a, b] or one '- item' per line")
    if err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return _("write a mapping: key: value")
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
    stored = _("stored catalog")
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
    check_cycles(state, Relation.INPUT_TO)
    check_cycles(state, Relation.ROLLS_UP_TO)
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
