"""Models of revisions: what changed in the graph, field by field, and why.

A *revision* is recorded by every load (and every applied change request) that changes the
graph. It carries who, when, why, from where, and the node and edge changes against the
revision before it. These are the JSON contract of ``/api/revisions`` and ``kpigraph history``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChangeClass(StrEnum):
    """How far a metric's definition moved (seed 001, 第六步: 大版本 / 小版本 / 补丁版本)."""

    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"

    @property
    def rank(self) -> int:
        """Major 3, minor 2, patch 1: the larger wins when several fields change."""
        return {"major": 3, "minor": 2, "patch": 1}[self.value]


class ChangeOp(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class FieldChange(_Model):
    """One field of a node or edge: its value before and after (``None`` when absent)."""

    field: str
    old: Any = None
    new: Any = None
    change_class: ChangeClass | None = None


class NodeChange(_Model):
    """A node added, removed or modified. For metrics, the change class and versions.

    ``old`` / ``new`` are the node's whole stored properties before and after (``None`` when
    it did not exist); ``fields`` lists the fields that differ.
    """

    ref: str
    op: ChangeOp
    fields: list[FieldChange] = Field(default_factory=list)
    change_class: ChangeClass | None = None
    old_version: str | None = None
    new_version: str | None = None
    required_version: str | None = None
    version_ok: bool | None = None
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None


class EdgeChange(_Model):
    """An edge added, removed, or with changed properties (role, polarity, lag...)."""

    source: str
    target: str
    type: str
    op: ChangeOp
    fields: list[FieldChange] = Field(default_factory=list)
    old: dict[str, Any] | None = Field(default=None, description="properties before, if any")
    new: dict[str, Any] | None = Field(default=None, description="properties after, if any")

    @property
    def key(self) -> str:
        return f"{self.source}|{self.type}|{self.target}"


class RevisionDraft(_Model):
    """What the caller of a load knows about it; the store adds number, time and changes.

    ``source`` holds the catalog path and, in a git work tree, ``git_commit`` and ``dirty``.
    ``auto_versions`` lists the metrics versioned automatically (id → version written).
    """

    author: str | None = None
    message: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    version_check: bool = True
    auto_versions: dict[str, str] = Field(default_factory=dict)


class ChangeCounts(_Model):
    added: int = 0
    removed: int = 0
    modified: int = 0


class RevisionSummary(_Model):
    """One revision without its change list (what a history listing shows)."""

    number: int
    created_at: str
    catalog: str | None = None
    author: str | None = None
    message: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    version_check: bool = True
    auto_versions: dict[str, str] = Field(default_factory=dict)
    nodes: ChangeCounts = Field(default_factory=ChangeCounts)
    edges: ChangeCounts = Field(default_factory=ChangeCounts)


class Revision(RevisionSummary):
    """One revision with its node and edge changes."""

    node_changes: list[NodeChange] = Field(default_factory=list)
    edge_changes: list[EdgeChange] = Field(default_factory=list)

    def summary(self) -> RevisionSummary:
        return RevisionSummary.model_validate(
            self.model_dump(exclude={"node_changes", "edge_changes"})
        )


class NodeHistoryEntry(_Model):
    """One revision that touched a node, with what it did to it."""

    revision: RevisionSummary
    change: NodeChange


def count_changes(changes: list[NodeChange] | list[EdgeChange]) -> ChangeCounts:
    """Added / removed / modified counts of a change list.

    Examples
    --------
    >>> count_changes([NodeChange(ref="Metric:a", op=ChangeOp.ADDED)])
    ChangeCounts(added=1, removed=0, modified=0)
    """
    ops = [c.op for c in changes]
    return ChangeCounts(
        added=ops.count(ChangeOp.ADDED),
        removed=ops.count(ChangeOp.REMOVED),
        modified=ops.count(ChangeOp.MODIFIED),
    )
