"""A quiz generated from the definitions (seed 001 第五步: "转正考试包含指标定义题 — 确保新员工
真正掌握").

Questions on the metrics of a reading list, four kinds: the formula written in names, what the
caliber includes or excludes, the owner (责任部门), the level. Each has four options: the right
one and three distractors taken from *sibling* metrics (same parent, same domain, same level —
in that order) and never from text in another language than the answer (a Chinese answer gets
Chinese distractors). The same ``seed`` gives the same quiz, so a quiz is never stored: scoring
generates it again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, _
from graph_schema.graph import CatalogGraph
from graph_schema.models import Department, Metric, Status

#: message ids (the questions are written in the language in use)
PROMPTS = {
    "formula": N_("What is the formula of “{name}”?"),
    "includes": N_("Which of these does the scope of “{name}” include?"),
    "excludes": N_("Which of these does the scope of “{name}” leave out (exclude)?"),
    "owner": N_("Which department owns “{name}”?"),
    "level": N_("What level of metric is “{name}”?"),
}
LEVEL_WORDS = {
    "L0": N_("L0 north-star metric"),
    "L1": N_("L1 first-level metric"),
    "L2": N_("L2 second-level metric"),
    "L3": N_("L3 third-level metric"),
}
PASS_SHARE = 0.8
OPTIONS = 4
_ID = re.compile(r"\b[a-z][a-z0-9_]*\b")
_CJK = re.compile(r"[\u3400-\u9fff]")


def language(text: str) -> str:
    """``zh`` when ``text`` holds a Chinese character, else ``en``.

    >>> language("营收 / 进厂台次"), language("revenue / visits")
    ('zh', 'en')
    """
    return "zh" if _CJK.search(text) else "en"


@dataclass(frozen=True)
class Question:
    id: str
    metric: str
    kind: str
    prompt: str
    options: tuple[str, ...]
    answer: int

    def public(self) -> dict[str, Any]:
        """What the person taking the quiz sees (no answer)."""
        return {
            "id": self.id,
            "metric": self.metric,
            "kind": self.kind,
            "prompt": self.prompt,
            "options": list(self.options),
        }


@dataclass(frozen=True)
class Quiz:
    seed: int
    department: str
    questions: tuple[Question, ...]

    def public(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "department": self.department,
            "questions": [q.public() for q in self.questions],
        }


@dataclass(frozen=True)
class QuizScore:
    score: int
    total: int
    wrong: tuple[str, ...]  # question ids

    @property
    def passed(self) -> bool:
        return self.total > 0 and self.score / self.total >= PASS_SHARE

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "total": self.total,
            "passed": self.passed,
            "wrong": list(self.wrong),
        }


def formula_in_names(formula: str, names: Mapping[str, str]) -> str:
    """``revenue / visits`` → ``营收 / 进厂台次``.

    >>> formula_in_names("revenue / visits", {"revenue": "营收", "visits": "进厂台次"})
    '营收 / 进厂台次'
    """
    return _ID.sub(lambda m: names.get(m.group(), m.group()), formula)


def _siblings(m: Metric, pool: Sequence[Metric]) -> list[Metric]:
    """Other metrics of ``pool``: same parent first, then same domain, then same level."""

    def rank(o: Metric) -> tuple[int, str]:
        if m.rolls_up_to and o.rolls_up_to == m.rolls_up_to:
            return (0, o.id)
        if m.domain and o.domain == m.domain:
            return (1, o.id)
        if m.level and o.level == m.level:
            return (2, o.id)
        return (3, o.id)

    return sorted((o for o in pool if o.id != m.id), key=rank)


def _pick(answer: str, candidates: Iterable[str], rng: random.Random) -> list[str] | None:
    """Three distractors in ``answer``'s language, distinct; ``None`` if there are not three.
    Candidates come nearest first; the three are the first distinct ones, then shuffled."""
    lang, seen, out = language(answer), {answer.strip()}, []
    for text in candidates:
        t = text.strip()
        if t and t not in seen and language(t) == lang:
            seen.add(t)
            out.append(t)
        if len(out) == OPTIONS - 1:
            return out
    return None


def _scopes(m: Metric, which: str) -> list[str]:
    c = m.caliber
    if c is None:
        return []
    items: list[str] = []
    for scope in (c.numerator, c.denominator, c.scope):
        if scope is not None:
            items += scope.includes if which == "includes" else scope.excludes
    return items


def _question(
    kind: str,
    m: Metric,
    pool: Sequence[Metric],
    names: Mapping[str, str],
    departments: Mapping[str, str],
    rng: random.Random,
) -> tuple[str, list[str]] | None:
    """(answer, distractors) for one kind of question on ``m``, or ``None``."""
    sib = _siblings(m, pool)
    if kind == "formula" and m.formula:
        answer = formula_in_names(m.formula, names)
        others = [formula_in_names(o.formula, names) for o in sib if o.formula]
    elif kind in ("includes", "excludes"):
        own = _scopes(m, kind)
        if not own:
            return None
        answer = rng.choice(own)
        opposite = _scopes(m, "excludes" if kind == "includes" else "includes")
        forbidden = set(own)
        near = [
            t for o in sib for t in _scopes(o, "excludes" if kind == "includes" else "includes")
        ]
        others = [t for t in [*opposite, *near] if t not in forbidden]
    elif kind == "owner" and m.owner and m.owner in departments:
        answer = departments[m.owner]
        owners = [departments[o.owner] for o in sib if o.owner and o.owner in departments]
        others = [*owners, *sorted(departments.values())]
    elif kind == "level" and m.level:
        answer = _(LEVEL_WORDS[m.level.value])
        others = [_(LEVEL_WORDS[v]) for v in LEVEL_WORDS if v != m.level.value]
    else:
        return None
    picked = _pick(answer, others, rng)
    return (answer, picked) if picked is not None else None


def make_quiz(
    graph: CatalogGraph, metric_ids: Sequence[str], seed: int, department: str = "", n: int = 10
) -> Quiz:
    """Up to ``n`` questions on ``metric_ids`` (a reading list), the same for the same seed.

    Examples
    --------
    >>> from graph_schema.models import Metric, Department
    >>> g = CatalogGraph(name="x", nodes=(
    ...     Department(id="ops", name="运营部"), Department(id="fin", name="财务部"),
    ...     Department(id="it", name="IT部"), Department(id="hr", name="人事部"),
    ...     Metric(id="a", name="客单价", level="L1", owner="ops"),
    ... ), edges=())
    >>> quiz = make_quiz(g, ["a"], seed=7)
    >>> [(q.kind, q.options[q.answer]) for q in quiz.questions]
    [('owner', '运营部'), ('level', 'L1 一级指标')]
    >>> make_quiz(g, ["a"], seed=7) == quiz
    True
    """
    rng = random.Random(seed)
    pool = [n for n in graph.nodes if isinstance(n, Metric) and n.status is not Status.DEPRECATED]
    by_id = {m.id: m for m in pool}
    names = {m.id: m.name for m in pool}
    departments = {d.id: d.name for d in graph.nodes if isinstance(d, Department)}
    order = [by_id[i] for i in metric_ids if i in by_id]
    rng.shuffle(order)
    kinds = ["formula", "includes", "excludes", "owner", "level"]
    questions: list[Question] = []
    asked: dict[str, int] = {}
    # round robin: one question per metric first, then a second, ... until n
    for _round in range(len(kinds)):
        for m in order:
            if len(questions) >= n:
                break
            tried = [k for k in rng.sample(kinds, len(kinds)) if asked.get(f"{m.id}:{k}") is None]
            for kind in tried:
                made = _question(kind, m, pool, names, departments, rng)
                if made is None:
                    asked[f"{m.id}:{kind}"] = -1
                    continue
                answer, distractors = made
                options = [answer, *distractors]
                rng.shuffle(options)
                asked[f"{m.id}:{kind}"] = 1
                questions.append(
                    Question(
                        id=f"q{len(questions) + 1}",
                        metric=m.id,
                        kind=kind,
                        prompt=_(PROMPTS[kind], name=m.name),
                        options=tuple(options),
                        answer=options.index(answer),
                    )
                )
                break
    return Quiz(seed, department, tuple(questions))


def score_quiz(quiz: Quiz, answers: Mapping[str, int]) -> QuizScore:
    """Score ``answers`` (question id → chosen option index) against ``quiz``."""
    wrong = tuple(q.id for q in quiz.questions if answers.get(q.id) != q.answer)
    return QuizScore(len(quiz.questions) - len(wrong), len(quiz.questions), wrong)
