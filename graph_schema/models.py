"""Frozen pydantic models for nodes and edges.

A node model holds what the catalog says about one node; references to other nodes stay as
plain ids here and become edges (see :mod:`loaders.catalog`). Unknown keys are rejected
(``extra="forbid"``) so that a typo in a catalog file is an error, not silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.i18n import _
from graph_schema.benchmarks import structured_benchmarks
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.limits import check_definition_size
from graph_schema.model_values import EXTRA_MAX_DEPTH as EXTRA_MAX_DEPTH
from graph_schema.model_values import EXTRA_MAX_VALUES as EXTRA_MAX_VALUES
from graph_schema.model_values import HORIZON_WORDS as HORIZON_WORDS
from graph_schema.model_values import ROLE_WORDS as ROLE_WORDS
from graph_schema.model_values import Aggregation as Aggregation
from graph_schema.model_values import Benchmark as Benchmark
from graph_schema.model_values import Caliber as Caliber
from graph_schema.model_values import CauseLink as CauseLink
from graph_schema.model_values import Contacts as Contacts
from graph_schema.model_values import Frozen as Frozen
from graph_schema.model_values import Horizon as Horizon
from graph_schema.model_values import Level as Level
from graph_schema.model_values import Priority as Priority
from graph_schema.model_values import Role as Role
from graph_schema.model_values import Scope as Scope
from graph_schema.model_values import SemverText as SemverText
from graph_schema.model_values import Status as Status
from graph_schema.model_values import Text as Text
from graph_schema.model_values import TextList as TextList
from graph_schema.model_values import VersionEntry as VersionEntry
from graph_schema.model_values import bounded_extra, upper_priority, words_to_values
from graph_schema.relations import Relation
from graph_schema.webhook_policy import check_url


class BaseNode(Frozen):
    """Every node has a kind and an id; ``(kind, id)`` is unique."""

    kind: ClassVar[NodeKind]
    id: str
    name: Text

    @model_validator(mode="before")
    @classmethod
    def _bounded_size(cls, data: Any, info: ValidationInfo) -> Any:
        """A whole definition is bounded too (graph_schema.limits); not re-counted on a read
        from the store."""
        if not (info.context or {}).get("stored"):
            check_definition_size(data)
        return data

    @property
    def ref(self) -> NodeRef:
        return NodeRef(self.kind, self.id)

    def props(self) -> dict[str, Any]:
        """Plain JSON-able properties (what the stores persist)."""
        return self.model_dump(mode="json", exclude_none=True)


class Metric(BaseNode):
    """A defined metric, carrying the whole definition template (指标定义模板)."""

    kind: ClassVar[NodeKind] = NodeKind.METRIC

    # 基本信息
    name_en: Text | None = None
    abbr: Text | None = None
    level: Level | None = None
    domain: Text | None = None
    owner: str | None = None
    reviewer: str | None = None
    status: Status = Status.ACTIVE
    # 指标梳理清单 and the five elements (seeds 001, 002); changing one is a minor version
    priority: Annotated[Priority | None, BeforeValidator(upper_priority)] = None
    role: Annotated[Role | None, BeforeValidator(words_to_values(ROLE_WORDS))] = None
    horizon: Annotated[Horizon | None, BeforeValidator(words_to_values(HORIZON_WORDS))] = None
    # 指标定义
    definition: Text | None = None
    meaning: Text | None = None
    formula: Text | None = None
    drivers: Text | None = None
    unit: Text | None = None
    aggregation: Aggregation | None = None
    example: Text | None = None
    # 统计口径
    caliber: Caliber | None = None
    # 数据来源
    data_source: Text | None = None
    fields: list[str] = Field(default_factory=list)
    sql: Text | None = None
    # 分析维度与关联指标
    dimensions: list[str] = Field(default_factory=list)
    causes: list[CauseLink] = Field(default_factory=list)
    rolls_up_to: str | None = None
    parallel: list[str] = Field(default_factory=list)
    # 使用场景, 看板
    dashboards: list[str] = Field(default_factory=list)
    use_cases: TextList = Field(default_factory=list)
    # 行业基准, 注意事项
    benchmarks: Annotated[list[Benchmark], BeforeValidator(structured_benchmarks)] = Field(
        default_factory=list
    )
    caveats: TextList = Field(default_factory=list)
    special_cases: TextList = Field(default_factory=list)
    # 更新频率, 版本记录, 咨询联系
    update_frequency: Text | None = None
    review_policy: Text | None = None
    version: SemverText | None = None
    history: list[VersionEntry] = Field(default_factory=list)
    contacts: Contacts | None = None
    tags: TextList = Field(default_factory=list)
    # 命名规范 (seed 000): 原子指标 + 业务限定 + 统计维度; checked by the naming lint rules
    atomic: Text | None = None
    qualifiers: TextList = Field(default_factory=list)
    window: Text | None = None
    # what an importer found that the template cannot hold (a dbt metric's filter, window,
    # offsets...), kept under the tool's name (``extra: {dbt: {...}}``) and written back on export
    extra: Annotated[dict[str, Any], AfterValidator(bounded_extra)] = Field(default_factory=dict)

    @property
    def updated(self) -> str | None:
        """The date of the newest history entry, if any."""
        dates = [h.date for h in self.history if h.date]
        return max(dates) if dates else None


def _member_names(value: Any) -> Any:
    """``members:`` keys as the data spells them (YAML numbers become text), at most
    :data:`MEMBERS_MAX` of them."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(
            _(
                "members must be a mapping of member → display name, e.g. {example}",
                example="{wash: 洗车}",
            )
        )
    if len(value) > MEMBERS_MAX:
        raise ValueError(_("lists over {n} members; name only the ones people read", n=MEMBERS_MAX))
    return {str(k).strip(): v for k, v in value.items()}


MEMBERS_MAX = 10_000
MemberKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LevelId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Dimension(BaseNode):
    kind: ClassVar[NodeKind] = NodeKind.DIMENSION
    name_en: Text | None = None
    description: Text | None = None
    #: display names of members (and enum values) as the data spells them:
    #: ``members: {maintenance: 保养, repair: 维修}``; members not listed show as they are
    members: Annotated[dict[MemberKey, Text] | None, BeforeValidator(_member_names)] = None
    #: a hierarchy, coarsest level first: ``levels: [war_zone, province, city]`` (each a
    #: dimension id); the values give a column per level, or ``mapping`` names a CSV file
    #: (relative to the catalog directory) with one column per level, one row per finest member
    levels: Annotated[list[LevelId], Field(min_length=2, max_length=8)] | None = None
    mapping: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None

    @model_validator(mode="after")
    def _levels(self) -> Dimension:
        if self.levels is not None and len(set(self.levels)) != len(self.levels):
            raise ValueError(_("levels repeat a dimension: {levels}", levels=self.levels))
        if self.levels is not None and self.id in self.levels:
            raise ValueError(_("levels name a dimension other than {id} itself", id=repr(self.id)))
        if self.mapping is not None and self.levels is None:
            raise ValueError(_("mapping needs levels (the columns of the mapping file)"))
        parts = (self.mapping or "").replace("\\", "/").split("/")
        if self.mapping is not None and (self.mapping.startswith(("/", "\\")) or ".." in parts):
            raise ValueError(
                _(
                    "mapping {path} must be a path inside the catalog folder",
                    path=repr(self.mapping),
                )
            )
        return self


class Connection(Frozen):
    """Where a system's tables can be queried: the NAME of an environment variable holding a
    SQLAlchemy-style URL (or naming a secrets file that holds it). The URL itself never
    appears in a catalog file."""

    env: str = Field(pattern=r"^KPIGRAPH_CONN_[A-Z0-9_]{1,64}$")


class System(BaseNode):
    kind: ClassVar[NodeKind] = NodeKind.SYSTEM
    description: Text | None = None
    #: SQL dialect of this system's tables (sqlglot name: mysql, postgres, hive, spark, duckdb…)
    dialect: Text | None = None
    #: how values/ reaches the system's tables (``connection: {env: KPIGRAPH_CONN_DMS}``)
    connection: Connection | None = None


class Table(BaseNode):
    kind: ClassVar[NodeKind] = NodeKind.TABLE
    system: str
    description: Text | None = None
    #: a view: the SQL that defines it (lineage goes through it, column by column)
    sql: Text | None = None
    #: what an importer found that the template cannot hold (a dbt semantic model's entities,
    #: dimensions and measures), kept under the tool's name and written back on export;
    #: ``None`` when there is none, so a table's stored properties stay as they were
    extra: Annotated[dict[str, Any], AfterValidator(bounded_extra)] | None = None


class FieldNode(BaseNode):
    """A column of a table (named ``FieldNode`` to keep clear of pydantic's ``Field``)."""

    kind: ClassVar[NodeKind] = NodeKind.FIELD
    table: str
    type: Text | None = None
    description: Text | None = None


class NotifyTarget(Frozen):
    """Where a department is told about change requests: a webhook URL and the body format
    (``json`` generic; ``wecom``, ``dingtalk``, ``feishu``, ``slack`` bot Markdown)."""

    url: str
    format: Literal["json", "wecom", "dingtalk", "feishu", "slack"] = "json"

    @field_validator("url")
    @classmethod
    def _public(cls, value: str, info: ValidationInfo) -> str:
        """Public ``http(s)`` addresses only (:mod:`graph_schema.webhook_policy`); a node read
        back from the store is not checked again here — delivery checks every address."""
        if not (info.context or {}).get("stored"):
            check_url(value)
        return value


def _to_targets(value: Any) -> Any:
    """``notify: URL`` or a list of URLs / ``{url, format}`` mappings."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [{"url": v} if isinstance(v, str) else v for v in value]
    return value


class Department(BaseNode):
    kind: ClassVar[NodeKind] = NodeKind.DEPARTMENT
    description: Text | None = None
    notify: Annotated[list[NotifyTarget], BeforeValidator(_to_targets)] = Field(
        default_factory=list
    )


class Dashboard(BaseNode):
    kind: ClassVar[NodeKind] = NodeKind.DASHBOARD
    type: Text | None = None
    url: Text | None = None
    description: Text | None = None


Node = Metric | Dimension | System | Table | FieldNode | Department | Dashboard

NODE_MODELS: dict[NodeKind, type[BaseNode]] = {
    NodeKind.METRIC: Metric,
    NodeKind.DIMENSION: Dimension,
    NodeKind.SYSTEM: System,
    NodeKind.TABLE: Table,
    NodeKind.FIELD: FieldNode,
    NodeKind.DEPARTMENT: Department,
    NodeKind.DASHBOARD: Dashboard,
}


def node_from_props(kind: NodeKind, props: dict[str, Any]) -> BaseNode:
    """Rebuild a node model from stored properties."""
    return NODE_MODELS[kind].model_validate(props, context={"stored": True})


class Edge(Frozen):
    """A typed, directed edge. ``props`` holds relation attributes (role, polarity, lag...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: NodeRef
    target: NodeRef
    type: Relation
    props: dict[str, Any] = Field(default_factory=dict)

    def sort_key(self) -> tuple[str, str, str]:
        return (str(self.source), str(self.target), self.type.value)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": str(self.source),
            "target": str(self.target),
            "type": self.type.value,
        }
        if self.props:
            out["props"] = dict(sorted(self.props.items()))
        return out
