"""Response models of the HTTP API (the analysis results are reused as they are)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analysis.results import RelationGroup


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorBody(_Out):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no node Metric:revenu; did you mean Metric:revenue?"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(_Out):
    error: ErrorBody


class MetricSummary(_Out):
    ref: str = Field(examples=["Metric:atp"])
    id: str = Field(examples=["atp"])
    name: str = Field(examples=["客单价"])
    name_en: str | None = Field(default=None, examples=["Average Ticket Price"])
    abbr: str | None = Field(default=None, examples=["ATP"])
    level: str | None = Field(default=None, examples=["L1"])
    domain: str | None = Field(default=None, examples=["门店运营"])
    owner: str | None = None
    reviewer: str | None = None
    status: str = "active"
    definition: str | None = None
    priority: str | None = Field(default=None, examples=["P0"])
    role: str | None = Field(default=None, examples=["key"])
    horizon: str | None = Field(default=None, examples=["lagging"])


class MetricPage(_Out):
    total: int
    limit: int
    offset: int
    items: list[MetricSummary]


class MetricCardOut(_Out):
    """The full definition card (every template field) plus direct neighbours by relation."""

    ref: str
    metric: dict[str, Any] = Field(description="every field of the definition template")
    upstream: list[str] = Field(description="metrics feeding this one (formula, drivers, causes)")
    downstream: list[str] = Field(description="metrics this one feeds")
    parallel: list[str] = Field(description="peer metrics named in 'parallel'")
    neighbours: list[RelationGroup]


class ListedNode(_Out):
    ref: str
    id: str
    name: str
    metrics: int = Field(description="number of linked metrics")
    props: dict[str, Any] = Field(default_factory=dict)


class DepartmentOut(_Out):
    ref: str
    id: str
    name: str
    owns: int
    reviews: int
    metrics: int = Field(description="metrics owned or reviewed")


class NodeList(_Out):
    total: int
    items: list[ListedNode]


class DepartmentList(_Out):
    total: int
    items: list[DepartmentOut]


class FieldOut(_Out):
    ref: str
    id: str
    name: str
    type: str | None = None
    description: str | None = None
    metrics: int = Field(description="metrics this field feeds")


class TableOut(_Out):
    ref: str
    id: str
    name: str
    description: str | None = None
    fields: list[FieldOut]


class SystemOut(_Out):
    ref: str
    id: str
    name: str
    description: str | None = None
    tables: list[TableOut]
    metrics: int = Field(description="distinct metrics fed by the system's fields")


class SystemList(_Out):
    total: int
    limit: int
    offset: int
    items: list[SystemOut]


class Health(_Out):
    status: str = Field(examples=["ok"])
    backend: str = Field(examples=["embedded"])
    catalog: str | None = None
    loaded_at: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    detail: str | None = None
