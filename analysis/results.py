"""Result shapes of the analyses. They are the JSON contract shared by the CLI and the API."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Direction(StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class EdgeOut(_Out):
    source: str
    target: str
    type: str
    props: dict[str, Any] | None = None


class LineageNode(_Out):
    ref: str
    kind: str
    id: str
    name: str
    depth: int = Field(description="shortest hop distance in the direction that reaches it")
    side: str = Field(description="upstream, downstream or both (reached both ways)")
    level: str | None = None


class LineageResult(_Out):
    root: str
    direction: Direction
    depth: int
    nodes: list[LineageNode]
    edges: list[EdgeOut]
    truncated: bool = False


class Via(StrEnum):
    """Why an impact reaches a node: recomputed from the root, or read differently."""

    DEFINITION = "definition"
    INFLUENCE = "influence"


class ImpactMetric(_Out):
    ref: str
    name: str
    level: str | None
    depth: int
    via: Via = Field(
        default=Via.DEFINITION,
        description="definition: recomputed (reached by FEEDS/HAS_FIELD/HAS_TABLE/INPUT_TO/"
        "SHOWN_ON alone); influence: read differently (needs DRIVES/CAUSES/ROLLS_UP_TO)",
    )
    path: list[str] = Field(default_factory=list, description="a shortest route from the root")


class ImpactDashboard(_Out):
    ref: str
    name: str
    depth: int
    via: Via = Via.DEFINITION
    path: list[str] = Field(default_factory=list)


class ImpactDepartment(_Out):
    ref: str
    name: str
    owns: list[str]
    reviews: list[str]


class ImpactReport(_Out):
    root: str
    metrics: list[ImpactMetric]
    dashboards: list[ImpactDashboard]
    departments: list[ImpactDepartment]
    touches_l0: bool = Field(description="an L0 metric other than the root is recomputed")
    influences_l0: bool = Field(
        default=False, description="an L0 metric is reached via influence only"
    )


class PathNode(_Out):
    ref: str
    kind: str
    id: str
    name: str


class PathEdge(EdgeOut):
    forward: bool = Field(
        description="true when the edge points along the path (from the earlier node to the "
        "later one); false when the path walks it backwards"
    )


class PathOut(_Out):
    length: int
    nodes: list[PathNode]
    edges: list[PathEdge] = Field(description="every edge joining consecutive nodes")


class PathsResult(_Out):
    source: str
    target: str
    max_depth: int
    mode: str = Field(
        description="directed: chains source → target along the edges; reversed: no such "
        "chain, these run target → source; any-direction: edges taken either way"
    )
    paths: list[PathOut]


class NeighbourOut(_Out):
    ref: str
    kind: str
    name: str
    props: dict[str, Any] | None = None


class RelationGroup(_Out):
    relation: str
    incoming: list[NeighbourOut]
    outgoing: list[NeighbourOut]


class NodeCard(_Out):
    ref: str
    kind: str
    node: dict[str, Any]
    neighbours: list[RelationGroup]
