"""Onboarding progress (seed 001 第五步): cards a user marked read and quiz results, kept in the
ledger (``put_progress`` / ``progress``), and the manager's view of who has read and passed.

A record names its user and carries the user's immutable id (``data["uid"]``): a name revoked
and added again is someone else, who does not inherit the old one's reading or quiz passes
(:func:`graph_schema.governance.same_user`; a record without an id matches by name only a user
created before it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from analysis.onboarding import ReadingList
from analysis.quiz import Quiz, QuizScore, score_quiz
from graph_schema.governance import User, same_user
from graph_schema.programme import ProgressKind, ProgressRecord
from store.ledger import Ledger

#: the largest quiz seed accepted (a seed names a quiz; it is not a secret)
MAX_SEED = 2**31 - 1


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _name_and_id(user: User | str) -> tuple[str, dict[str, Any]]:
    """A record's user name, and its ``data`` holding the user's id (a bare name: none)."""
    return (user, {}) if isinstance(user, str) else (user.name, {"uid": user.id})


def _mine(user: User, record: ProgressRecord) -> bool:
    uid = record.data.get("uid")
    return same_user(user, record.user, uid if isinstance(uid, str) else None, record.at)


def mark_read(ledger: Ledger, user: User | str, metric_ids: Iterable[str]) -> None:
    name, data = _name_and_id(user)
    for metric_id in metric_ids:
        ledger.put_progress(
            ProgressRecord(user=name, kind=ProgressKind.READ, key=metric_id, at=now(), data=data)
        )


def read_by(ledger: Ledger, user: User) -> set[str]:
    return {r.key for r in ledger.progress(ProgressKind.READ.value, user.name) if _mine(user, r)}


def record_quiz(ledger: Ledger, user: User | str, quiz: Quiz, answers: dict[str, int]) -> QuizScore:
    """Score ``answers`` and keep the result (a later attempt of the same seed replaces it)."""
    result = score_quiz(quiz, answers)
    name, data = _name_and_id(user)
    data = {**data, **result.to_json(), "department": quiz.department}
    data["answers"] = {k: int(v) for k, v in sorted(answers.items())}
    record = ProgressRecord(
        user=name, kind=ProgressKind.QUIZ, key=str(quiz.seed), at=now(), data=data
    )
    ledger.put_progress(record)
    return result


@dataclass(frozen=True)
class Colleague:
    """One row of the manager's page."""

    user: str
    read: int
    of: int
    best_score: int | None
    best_total: int | None
    passed: bool
    last_quiz_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "read": self.read,
            "of": self.of,
            "best_score": self.best_score,
            "best_total": self.best_total,
            "passed": self.passed,
            "last_quiz_at": self.last_quiz_at,
        }


def team(ledger: Ledger, users: Iterable[User], reading: ReadingList) -> list[Colleague]:
    """Who of the department has read how much of its list and passed its quiz."""
    wanted = {i.id for i in reading.items}
    reads: dict[str, list[ProgressRecord]] = {}
    for r in ledger.progress(ProgressKind.READ.value):
        reads.setdefault(r.user, []).append(r)
    quizzes: dict[str, list[ProgressRecord]] = {}
    for r in ledger.progress(ProgressKind.QUIZ.value):
        if r.data.get("department") == reading.department:
            quizzes.setdefault(r.user, []).append(r)
    out = []
    for u in sorted(users, key=lambda u: u.name):
        if u.department != reading.department or not u.active:
            continue
        mine = [r for r in quizzes.get(u.name, []) if _mine(u, r)]
        read = {r.key for r in reads.get(u.name, []) if _mine(u, r)}
        best = max(mine, key=lambda r: (r.data.get("score", 0), r.at), default=None)
        out.append(
            Colleague(
                user=u.name,
                read=len(read & wanted),
                of=len(wanted),
                best_score=best.data.get("score") if best else None,
                best_total=best.data.get("total") if best else None,
                passed=any(r.data.get("passed") for r in mine),
                last_quiz_at=max((r.at for r in mine), default=None),
            )
        )
    return out
