"""What every lint rule shares: severities, issues, the per-catalog config and the context.

A rule is a small class with an ``id`` (``family.name``), a default ``severity``, a one-line
``summary`` and one method, ``check(ctx)``, yielding :class:`LintIssue`. Rules read the catalog
through :class:`LintContext` only; the SQL facts they need (what a metric's SQL reads) are
computed by the runner (``analysis.lint``) and handed in as :class:`SqlCheck`, so nothing here
parses SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.i18n import _
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Level, Metric
from graph_schema.relations import Relation


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class LintIssue:
    """One finding: which rule, how bad, where, about what, and what to do."""

    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    refs: tuple[str, ...] = ()
    fix: str | None = None

    def where(self) -> str:
        if not self.file:
            return "(catalog)"
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "refs": list(self.refs),
            "fix": self.fix,
        }

    def sort_key(self) -> tuple[int, str, int, str, str]:
        return (self.severity.rank, self.file or "", self.line or 0, self.rule, self.message)


#: 统计口径 sections a card may be required to fill, and how to tell they are filled
CARD_SECTIONS: dict[str, Callable[[Metric], bool]] = {
    "definition": lambda m: bool(m.definition),
    "formula": lambda m: bool(m.formula),
    "caliber": lambda m: m.caliber is not None,
    "sql": lambda m: bool(m.sql or m.formula),  # a derived metric is computed by its formula
    "fields": lambda m: bool(m.fields),
    "owner": lambda m: bool(m.owner),
    "reviewer": lambda m: bool(m.reviewer),
    "unit": lambda m: bool(m.unit),
    "benchmarks": lambda m: bool(m.benchmarks),
    "dimensions": lambda m: bool(m.dimensions),
    "use_cases": lambda m: bool(m.use_cases),
    "caveats": lambda m: bool(m.caveats),
    "update_frequency": lambda m: bool(m.update_frequency),
    "version": lambda m: bool(m.version),
    "contacts": lambda m: m.contacts is not None,
}

_DEFAULT_CARD: dict[Level, list[str]] = {
    Level.L0: ["caliber", "sql", "owner", "benchmarks"],
    Level.L1: ["caliber", "sql", "owner", "benchmarks"],
    Level.L2: ["definition"],
    Level.L3: ["definition"],
}


class NamingConfig(BaseModel):
    """``lint.naming``: 原子指标 + 业务限定 + 统计维度 (seed 000)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    #: how a composed name is built; placeholders {window}, {qualifiers}, {atomic}
    pattern: str = "{window}{qualifiers}{atomic}"
    #: the declared atomic metrics (原子指标), e.g. [订单数, 线索数, 营收]
    atomic: list[str] = Field(default_factory=list)
    #: separator between several qualifiers
    joiner: str = ""


class ConflictConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    #: 0..1; two definitions this similar (after normalising case and spaces) are near-equal
    similarity: float = Field(default=0.9, ge=0.5, le=1.0)


class LintConfig(BaseModel):
    """``lint:`` in kpigraph.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    #: rule ids (``sql.field-not-read``) or families (``orphans``) to turn off
    disable: list[str] = Field(default_factory=list)
    #: rule id or family → error | warning | info | off
    severity: dict[str, str] = Field(default_factory=dict)
    naming: NamingConfig = Field(default_factory=NamingConfig)
    conflict: ConflictConfig = Field(default_factory=ConflictConfig)
    #: level → card sections that must be filled (see CARD_SECTIONS)
    card: dict[Level, list[str]] = Field(default_factory=lambda: dict(_DEFAULT_CARD))

    def severity_of(self, rule_id: str, default: Severity) -> Severity | None:
        """The effective severity of ``rule_id`` (``None``: the rule is off)."""
        family = rule_id.split(".", 1)[0]
        if rule_id in self.disable or family in self.disable:
            return None
        value = self.severity.get(rule_id, self.severity.get(family))
        if value is None:
            return default
        return None if value == "off" else Severity(value)


@dataclass(frozen=True)
class SqlCheck:
    """What the runner found in one metric's SQL (computed with sqlglot in analysis/)."""

    dialect: str | None = None
    #: ``syntax`` or ``dialect`` when the SQL could not be analysed; ``error`` says why
    error_kind: str | None = None
    error: str | None = None
    #: 1-based line inside the SQL where parsing failed
    error_line: int | None = None
    fields: frozenset[str] = frozenset()
    view_fields: frozenset[str] = frozenset()
    #: view column → the base columns behind it
    through_views: dict[str, frozenset[str]] = field(default_factory=dict)
    unknown_tables: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    #: why the SQL may not run at all (:func:`graph_schema.sql_safety.check_metric_sql`),
    #: when it parses; ``None``: it is one read-only query over the catalog's tables
    unsafe: str | None = None
    #: ``unsafe``, ``table`` (an undeclared table name) or ``parse``
    unsafe_kind: str | None = None


@dataclass
class LintContext:
    """The catalog as rules see it."""

    nodes: dict[NodeRef, BaseNode]
    edges: list[Edge]
    config: LintConfig = field(default_factory=LintConfig)
    #: node → (file, line of its mapping)
    origins: Mapping[NodeRef, tuple[str, int | None]] = field(default_factory=dict)
    #: node → line of each of its keys
    key_lines: Mapping[NodeRef, Mapping[str, int]] = field(default_factory=dict)
    #: metric → what its SQL reads (``None``: the metric has no SQL)
    sql: Callable[[Metric], SqlCheck | None] = lambda m: None
    #: when set, only issues about this node are wanted (rules may skip work on the rest)
    focus: NodeRef | None = None
    #: view (a table of sources.yaml with ``sql``) → what its SQL reads
    views: dict[NodeRef, SqlCheck] = field(default_factory=dict)
    #: the catalog's default SQL dialect (kpigraph.yaml ``dialect``)
    dialect: str | None = None
    #: why a dialect name is not usable (``None``: it is)
    dialect_problem: Callable[[str], str | None] = lambda name: None
    _by_type: dict[Relation, list[Edge]] | None = None
    _metrics: list[Metric] | None = None

    def metrics(self) -> Iterator[Metric]:
        if self._metrics is None:
            self._metrics = [n for n in self.nodes.values() if isinstance(n, Metric)]
        return iter(self._metrics)

    def subjects(self) -> Iterator[Metric]:
        """The metrics a per-metric rule reports on: all, or only the focus."""
        if self.focus is None:
            return self.metrics()
        node = self.nodes.get(self.focus)
        return iter([node] if isinstance(node, Metric) else [])

    def of_kind(self, kind: NodeKind) -> Iterator[BaseNode]:
        return (n for r, n in self.nodes.items() if r.kind is kind)

    def edges_of(self, rel: Relation) -> list[Edge]:
        if self._by_type is None:
            self._by_type = {}
            for e in self.edges:
                self._by_type.setdefault(e.type, []).append(e)
        return self._by_type.get(rel, [])

    def metric(self, metric_id: str) -> Metric | None:
        node = self.nodes.get(NodeRef(NodeKind.METRIC, metric_id))
        return node if isinstance(node, Metric) else None

    def where(self, ref: NodeRef, key: str | None = None) -> tuple[str | None, int | None]:
        """File and line of a node, or of one of its keys."""
        file, line = self.origins.get(ref, (None, None))
        if key is not None:
            line = self.key_lines.get(ref, {}).get(key, line)
        return file, line

    def label(self, ref: NodeRef) -> str:
        """``name (id) at file:line`` for messages listing several nodes."""
        node = self.nodes.get(ref)
        file, line = self.where(ref)
        name = node.name if node else ref.id
        if file and line:
            return _("{name} ({id}) at {file}:{line}", name=name, id=ref.id, file=file, line=line)
        return _("{name} ({id})", name=name, id=ref.id)


class Scope(StrEnum):
    """What a rule reads to judge one metric (a delta lints the changed metrics and what
    their rules' scopes say: :mod:`analysis.lint_delta`)."""

    #: the metric alone (and the catalog's settings); SQL rules: its SQL against the sources
    NODE = "node"
    #: the metric and the metrics / dashboards it is linked to (formula, hierarchy, dashboards,
    #: causes, its ``atomic``); every finding names both ends
    NEIGHBOURS = "neighbours"
    #: the metric against every metric sharing a name, an abbreviation or a definition key
    #: (:func:`graph_schema.rules.conflict.index_keys`)
    NAMES = "names"
    #: anything in the graph (a delta lints the whole catalog when such a rule runs)
    GRAPH = "graph"


class LintRule:
    """Base of every rule. Subclasses set the class variables and implement :meth:`check`."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    #: what the rule reads (see :class:`Scope`); unknown: the whole graph
    scope: ClassVar[Scope] = Scope.GRAPH
    #: a mandatory rule always runs at its own severity: ``lint:`` settings cannot turn it
    #: off or lower it (the SQL sandbox)
    mandatory: ClassVar[bool] = False

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        raise NotImplementedError

    def issue(
        self,
        ctx: LintContext,
        ref: NodeRef,
        message: str,
        fix: str | None = None,
        *,
        key: str | None = None,
        refs: Iterable[NodeRef] = (),
        severity: Severity | None = None,
        line: int | None = None,
    ) -> LintIssue:
        file, at = ctx.where(ref, key)
        all_refs = [str(ref), *(str(r) for r in refs if r != ref)]
        return LintIssue(
            rule=self.id,
            severity=severity or self.severity,
            message=message,
            file=file,
            line=line or at,
            refs=tuple(dict.fromkeys(all_refs)),
            fix=fix,
        )
