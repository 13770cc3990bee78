"""Records of the programme of seed 001 (issue 28) kept in the ledger: what a user has read and
the quiz results (第五步 推广和培训: "要求新员工第一周内通读一遍", "转正考试包含指标定义题")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProgressKind(StrEnum):
    READ = "read"  #: key: a metric id; a user marked its card read
    QUIZ = "quiz"  #: key: the quiz seed; data: {score, total, answers, department}
    REVIEW = "review"  #: key: the review id (2026-Q4); data: {decisions, opened_by, closed_at}


class ProgressRecord(BaseModel):
    """One record of a user's progress; ``(user, kind, key)`` is unique (a later write of the
    same key replaces it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    user: str = Field(min_length=1, max_length=200)
    kind: ProgressKind
    key: str = Field(min_length=1, max_length=200)
    at: str
    data: dict[str, Any] = Field(default_factory=dict)
