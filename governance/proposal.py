"""Turning a proposed metric definition into a frozen request: validated exactly as a catalog
file is, with its field-level diff, change class, the version it will get, its impact and the
approvals it needs.

A proposal costs what it changes (issue #23): the definition is validated against the stored
graph through the :class:`~store.base.GraphStore` seam by :func:`loaders.metric_check.check_metric`
(the nodes it refers to, and the metrics it reaches only when it adds formula inputs or a
parent) and linted by scope (:func:`analysis.lint_store.lint_in_store`) — with the errors and
findings the loader's checks and lint give over the whole stored graph with the metric put in
place, so a request that validates here is a graph that ``kpigraph load`` would accept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core import i18n
from core.i18n import N_, _
from graph_schema.empty import is_empty, same
from graph_schema.errors import CatalogError, CatalogIssue, NodeNotFoundError
from graph_schema.governance import Action, Stage
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.limits import MAX_EXPANDED, definition_size
from graph_schema.models import BaseNode, Edge
from graph_schema.revisions import FieldChange
from graph_schema.rules.base import LintIssue
from graph_schema.semver import bump, compare, is_semver
from graph_schema.versions import change_class as classed
from graph_schema.versions import field_changes
from loaders.validate import kind_word, plain_mapping
from loaders.yaml_lines import LDict
from store.base import GraphReader, GraphStore

#: Where the proposed definition "lives", in error messages (a message id: :func:`proposal_file`).
PROPOSAL_FILE = N_("the proposed definition")


def proposal_file() -> str:
    """Where the proposed definition "lives", in the words of the language in use."""
    return _(PROPOSAL_FILE)


#: Fields that carry history, not definition: not diffed (the 版本记录 grows on apply).
NOT_DIFFED = frozenset({"history", "version", "id"})


def field_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field-level, classed changes between two metric definitions (stored properties), as
    :func:`graph_schema.versions.field_changes` computes them for revisions.

    Examples
    --------
    >>> field_diff({"id": "a", "unit": "CNY"}, {"id": "a", "unit": "元", "abbr": "A"})
    [{'field': 'abbr', 'old': None, 'new': 'A', 'change_class': 'minor'}, \
{'field': 'unit', 'old': 'CNY', 'new': '元', 'change_class': 'major'}]
    """

    def strip(props: dict[str, Any] | None) -> dict[str, Any]:
        return {  # absent and empty are alike (graph_schema.empty)
            k: v for k, v in (props or {}).items() if k not in NOT_DIFFED and not is_empty(v)
        }

    changes = field_changes(strip(old), strip(new), classify=True)
    return [c.model_dump(mode="json") for c in changes]


def change_class(diff: list[dict[str, Any]]) -> str | None:
    """The largest class among the changed fields (``None`` when nothing changed)."""
    cls = classed(FieldChange.model_validate(d) for d in diff)
    return cls.value if cls else None


def _ldict(data: dict[str, Any], line: int = 0) -> LDict:
    return plain_mapping(data, line)


class Checker(Protocol):
    """How a proposal is checked against the stored graph: :class:`StoreChecker` (what the
    metric needs, read through the store's seam), or the whole stored graph (the equivalence
    test's reference)."""

    def current(self, ref: NodeRef) -> BaseNode | None:
        """The stored node ``ref`` (``None``: there is none)."""
        ...

    def validate(self, metric: LDict, drop: NodeRef) -> BaseNode:
        """The metric ``metric`` validated in place of ``drop``. Raises :class:`CatalogError`."""
        ...

    def lint(self, definition: dict[str, Any]) -> list[LintIssue]:
        """The lint findings about the metric ``definition`` in the stored graph."""
        ...


class StoreChecker:
    """:class:`Checker` reading one snapshot of the store (one published graph, not a mix)
    for only what the proposed metric needs."""

    def __init__(self, store: GraphStore) -> None:
        snapshot = getattr(store, "snapshot", None)
        self.reader: GraphReader = snapshot() if snapshot is not None else store
        self._scoped: tuple[BaseNode, CatalogGraph] | None = None

    def current(self, ref: NodeRef) -> BaseNode | None:
        return self.reader.get_nodes([ref]).get(ref)

    def validate(self, metric: LDict, drop: NodeRef) -> BaseNode:
        from loaders.metric_check import check_metric

        return check_metric(self.reader, metric, drop, where=proposal_file()).node

    def lint(self, definition: dict[str, Any]) -> list[LintIssue]:
        from analysis.lint import lint_definition
        from analysis.lint_store import scoped_graph
        from graph_schema.models import Metric

        metric = Metric.model_validate(definition)
        if self._scoped is None or self._scoped[0] != metric:  # read once for every language
            self._scoped = (metric, scoped_graph(self.reader, metric))
        return lint_definition(self._scoped[1], metric)


@dataclass
class Proposal:
    """A validated proposal, ready to freeze into a change request."""

    action: Action
    ref: NodeRef
    old: dict[str, Any] | None
    new: dict[str, Any]
    diff: list[dict[str, Any]]
    change_class: str | None
    new_version: str
    impact: dict[str, Any]
    approvals_required: list[Stage]
    lint: list[dict[str, Any]] = field(default_factory=list)
    #: not built any more (a proposal reads what it needs, issue #23): the departments to
    #: notify and the catalog's language are read from the store
    graph: CatalogGraph | None = field(default=None, repr=False)


def propose(
    store: GraphStore,
    action: Action,
    ref: NodeRef,
    definition: dict[str, Any] | None,
    base_version: str | None,
    *,
    checker: Checker | None = None,
) -> Proposal:
    """Validate a proposal against what is stored now, reading what the metric needs
    (``checker``: default :class:`StoreChecker`). Raises :class:`CatalogError` (a field
    named) or :class:`NodeNotFoundError`."""
    if ref.kind is not NodeKind.METRIC:
        raise _invalid(
            "ref",
            _(
                "change requests are about metrics; {ref} is a {kind}",
                ref=ref,
                kind=kind_word(ref.kind),
            ),
        )
    checks = checker if checker is not None else StoreChecker(store)
    current = checks.current(ref)
    if action is Action.CREATE:
        if current is not None:
            raise _invalid("ref", _("{ref} exists already; propose an 'update'", ref=ref))
        raw = dict(definition or {})
    else:
        if current is None:
            raise NodeNotFoundError(str(ref))
        if action is Action.DEPRECATE:
            raw = {**current.props(), "status": "deprecated", **(definition or {})}
        else:
            raw = dict(definition or {})
    if definition_size(raw, MAX_EXPANDED) > MAX_EXPANDED:  # before anything walks it
        raise _invalid(
            "definition",
            _(
                "holds over {n} characters once YAML aliases (*name) are expanded; "
                "write each value out, and keep a definition short",
                n=i18n.number(MAX_EXPANDED, integer=True),
            ),
        )
    raw = {k: v for k, v in raw.items() if not is_empty(v)}  # empty is "not given"
    raw.setdefault("id", ref.id)
    if raw.get("id") != ref.id:
        raise _invalid(
            "id",
            _(
                "the definition's id {id} is not {expected}",
                id=repr(raw.get("id")),
                expected=repr(ref.id),
            ),
        )
    old = current.props() if current is not None else None
    base = (old or {}).get("version")
    if base_version is not None and old is not None and base_version != base:
        raise _invalid(
            "base_version",
            _(
                "{ref} is at version {base}, not {asked}; start from the current definition",
                ref=ref,
                base=base or _("(none)"),
                asked=base_version,
            ),
        )
    # validate first without versions, to learn the class
    raw.pop("version", None) if raw.get("version") is None else None
    declared = raw.get("version")
    if declared is not None and not (isinstance(declared, str) and is_semver(declared)):
        raise _invalid(
            "version",
            _("{version} is not a semantic version (write 1.2.0)", version=repr(declared)),
        )
    new_node = checks.validate(_ldict({**raw, "version": base or "1.0.0"}), ref)
    new_props = {k: v for k, v in new_node.props().items() if k != "version"}
    sent = "history" in raw
    if old is not None and sent and not same(new_props.get("history"), old.get("history")):
        # history is not diffed (nobody approving would see it): the metric's own is kept
        raise _invalid(
            "history",
            _(
                "the history is the metric's record of changes, kept by kpigraph (an applied "
                "request adds its entry); send it as it is, or leave it out"
            ),
        )
    diff = field_diff(old, new_props)
    if old is not None and not diff:
        raise _invalid("definition", _("the proposal changes nothing in {ref}", ref=ref))
    klass = change_class(diff) if old is not None else None
    required = bump(base, klass) if base and klass else (base or "1.0.0")
    if old is None:
        required = "1.0.0"
    version = declared if declared and compare(declared, required) >= 0 else required
    history = list((old.get("history") if old is not None else raw.get("history")) or [])
    final = {**new_props, "version": version, "history": history}
    checks.validate(_ldict(final), ref)
    impact = impact_report(store, ref, new_node) if old is not None else _empty_impact(ref)
    stages = required_stages(old, final, impact)
    lint = in_every_language(lambda: [i.to_json() for i in checks.lint(final)])
    refuse_unsafe_sql(lint)  # the SQL sandbox (issue 21): such a request is never stored
    return Proposal(
        lint=lint,
        action=action,
        ref=ref,
        old=old,
        new=final,
        diff=diff,
        change_class=klass,
        new_version=version,
        impact=impact,
        approvals_required=stages,
    )


#: lint rules whose errors refuse a proposal outright (the SQL sandbox); other lint issues
#: are shown on the request for its reviewers
REFUSING_RULES = frozenset({"sql.unsafe", "sql.parse-error"})


def in_every_language(issues: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Lint issues (JSON) as the language in use words them, each with ``messages``: its
    message and fix in every language of the catalogue, so a change request reads in its
    reader's language long after it was submitted. Issues are paired by rule and refs, in
    order (the rules report in a fixed order)."""
    here = i18n.current()
    out = issues()
    for issue in out:
        issue["messages"] = {here: {"message": issue["message"], "fix": issue.get("fix")}}
    for lang in i18n.LANGUAGES:
        if lang == here:
            continue
        with i18n.use(lang):
            other = issues()
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for o in other:
            groups.setdefault((o["rule"], tuple(o["refs"])), []).append(o)
        for issue in out:
            group = groups.get((issue["rule"], tuple(issue["refs"])))
            if group:
                o = group.pop(0)
                issue["messages"][lang] = {"message": o["message"], "fix": o.get("fix")}
    return out


def refuse_unsafe_sql(lint: list[dict[str, Any]]) -> None:
    """Raise :class:`CatalogError` (field ``sql``) when the proposed metric's SQL may not
    run: it would read files, write, configure the engine or call a refused function."""
    issues = [
        CatalogIssue(proposal_file(), None, f"sql: {i['message']}", i.get("fix"), field="sql")
        for i in lint
        if i.get("rule") in REFUSING_RULES and i.get("severity") == "error"
    ]
    if issues:
        raise CatalogError(issues)


def history_entry(version: str, reason: str, author: str) -> dict[str, Any]:
    return {
        "version": version,
        "date": dt.date.today().isoformat(),
        "change": reason,
        "author": author,
    }


def impact_report(store: GraphStore, ref: NodeRef, new_node: BaseNode | None) -> dict[str, Any]:
    """The impact of changing ``ref`` (:func:`analysis.impact.impact`: every reached metric
    and dashboard with ``via`` definition — recomputed — or influence, and its path), plus
    ``recomputes_l0_l1``: an L0/L1 metric other than the root is recomputed."""
    from analysis.impact import impact

    report = impact(store, ref).model_dump(mode="json")
    report["recomputes_l0_l1"] = any(
        m.get("via") == "definition" and m.get("level") in ("L0", "L1")
        for m in report.get("metrics", [])
    )
    return report


def _empty_impact(ref: NodeRef) -> dict[str, Any]:
    return {
        "root": str(ref),
        "metrics": [],
        "dashboards": [],
        "departments": [],
        "touches_l0": False,
        "recomputes_l0_l1": False,
    }


def required_stages(
    old: dict[str, Any] | None, new: dict[str, Any], impact: dict[str, Any]
) -> list[Stage]:
    """One owner stage per department owning or reviewing the metric (before or after the
    change), then the committee when an L0/L1 metric is changed or recomputed.

    Examples
    --------
    >>> [s.model_dump(exclude_none=True) for s in required_stages(
    ...     {"owner": "ops", "level": "L2"}, {"owner": "ops", "reviewer": "fin", "level": "L2"},
    ...     {"recomputes_l0_l1": True})]
    [{'stage': 'owner', 'department': 'fin'}, {'stage': 'owner', 'department': 'ops'}, \
{'stage': 'committee'}]
    """
    depts = sorted(
        {d for side in (old or {}, new) for d in (side.get("owner"), side.get("reviewer")) if d}
    )
    stages = [Stage(stage="owner", department=d) for d in depts]
    levels = {(old or {}).get("level"), new.get("level")}
    if levels & {"L0", "L1"} or impact.get("recomputes_l0_l1") or impact.get("touches_l0"):
        stages.append(Stage(stage="committee"))
    if not stages:
        stages.append(Stage(stage="committee"))  # nobody owns it: the committee decides
    return stages


def _invalid(field_name: str, message: str) -> CatalogError:
    return CatalogError(
        [CatalogIssue(proposal_file(), None, f"{field_name}: {message}", field=field_name)]
    )


def metric_refs(graph: CatalogGraph) -> list[NodeRef]:
    return [n.ref for n in graph.nodes if n.kind is NodeKind.METRIC]


def edges_of(graph: CatalogGraph, ref: NodeRef) -> list[Edge]:
    return [e for e in graph.edges if ref in (e.source, e.target)]
