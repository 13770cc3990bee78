"""The values inside a node: text fields, enumerations and the small frozen models a metric's
definition is made of (统计口径, cause links, 行业基准, 版本记录, 咨询联系).

:mod:`graph_schema.models` builds the node models from these; they are re-exported there.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.i18n import _
from graph_schema.limits import MAX_EXTRA_KEYS, bounded_text, count_keys
from graph_schema.semver import check_semver


def _to_text(value: Any) -> Any:
    """YAML turns ``1.0``, ``2023-09-01`` and ``1200`` into numbers and dates; keep them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | dt.date | dt.datetime):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


#: Text of one field: at most 64 KiB (graph_schema.limits.MAX_TEXT).
Text = Annotated[str, BeforeValidator(_to_text), AfterValidator(bounded_text)]


def _to_list(value: Any) -> Any:
    """Allow a single string where a list of strings is expected."""
    return [value] if isinstance(value, str) else value


TextList = Annotated[list[Text], BeforeValidator(_to_list)]
#: A semantic version (``1.1.0``); anything else is a validation error (see graph_schema.semver).
SemverText = Annotated[Text, AfterValidator(check_semver)]
#: Bounds on a metric's free-form ``extra``: a few lines of YAML aliases expand to billions of
#: values when the metric is stored, and deeper nesting than this cannot be serialised.
EXTRA_MAX_VALUES = 100_000
EXTRA_MAX_DEPTH = 32


def bounded_extra(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` unchanged, or ``ValueError`` when it holds too many values or nests too deep
    (each use of a YAML alias counts again: that is what storing it costs).

    Examples
    --------
    >>> bounded_extra({"dbt": {"filter": ["a", "b"]}})
    {'dbt': {'filter': ['a', 'b']}}
    >>> row = ["x"] * 1000
    >>> from core.i18n import use
    >>> with use("en"):
    ...     bounded_extra({"a": [row] * 1000})
    Traceback (most recent call last):
    ...
    ValueError: holds over 100000 values (each use of a YAML alias counts); keep extra small
    """
    if count_keys(value) > MAX_EXTRA_KEYS:
        raise ValueError(
            _(
                "holds over {MAX_EXTRA_KEYS} keys (counted at every depth); keep extra small",
                MAX_EXTRA_KEYS=MAX_EXTRA_KEYS,
            )
        )
    budget = EXTRA_MAX_VALUES
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ValueError(
                _(
                    "holds over {EXTRA_MAX_VALUES} values (each use of a YAML alias counts); "
                    "keep extra small",
                    EXTRA_MAX_VALUES=EXTRA_MAX_VALUES,
                )
            )
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list | tuple):
            continue
        if depth >= EXTRA_MAX_DEPTH:
            raise ValueError(
                _(
                    "nests deeper than {EXTRA_MAX_DEPTH} levels; flatten it",
                    EXTRA_MAX_DEPTH=EXTRA_MAX_DEPTH,
                )
            )
        stack.extend((child, depth + 1) for child in children)
    return value


class Frozen(BaseModel):
    """Immutable, unknown keys refused (a typo in a catalog file is an error)."""

    # defer_build: a model's validator is built on its first use, not at import — a command
    # that validates only metrics (a one-file `kpigraph load`) builds no other model's (#23)
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )


class Level(StrEnum):
    L0 = "L0"
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class Priority(StrEnum):
    """优先级 (seed 001, 指标梳理清单): which metrics to define first — P0 before P1 before P2."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class Role(StrEnum):
    """The metric's place in the system (seed 002's five elements: 北极星指标 / 关键指标 /
    过程指标): the north star, a key metric it decomposes into, a process metric that moves it."""

    NORTH_STAR = "north_star"
    KEY = "key"
    PROCESS = "process"


class Horizon(StrEnum):
    """What the metric tells about time (seed 001: 先行指标 预测未来 / 过程指标 监控当下 /
    结果指标 评估过去)."""

    LEADING = "leading"
    PROCESS = "process"
    LAGGING = "lagging"


#: The Chinese words a catalog may write instead of the values (北极星 for north_star, ...).
ROLE_WORDS: dict[str, str] = {
    "北极星": "north_star",
    "北极星指标": "north_star",
    "north-star": "north_star",
    "关键": "key",
    "关键指标": "key",
    "过程": "process",
    "过程指标": "process",
}
HORIZON_WORDS: dict[str, str] = {
    "先行": "leading",
    "先行指标": "leading",
    "过程": "process",
    "过程指标": "process",
    "结果": "lagging",
    "结果指标": "lagging",
}


def words_to_values(table: dict[str, str]) -> Any:
    def translate(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return table.get(text, text.lower())
        return value

    return translate


def upper_priority(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class Scope(Frozen):
    """What a part of a metric counts (统计口径: ✅ includes / ❌ excludes)."""

    includes: TextList = Field(default_factory=list)
    excludes: TextList = Field(default_factory=list)


class Caliber(Frozen):
    """统计口径: numerator / denominator scope (or the scope of a plain count), time and rules."""

    numerator: Scope | None = None
    denominator: Scope | None = None
    scope: Scope | None = None
    time: Text | None = None
    rules: TextList = Field(default_factory=list)


class CauseLink(Frozen):
    """A causal / leading-indicator link from this metric to ``metric``."""

    metric: str
    polarity: Literal["+", "-"] = "+"
    lag: Text | None = None
    evidence: Text | None = None

    @field_validator("polarity", mode="before")
    @classmethod
    def _polarity(cls, value: Any) -> Any:
        return {"−": "-", "positive": "+", "negative": "-"}.get(value, value)


class Aggregation(StrEnum):
    """How observed values of a metric without a formula roll up (over members and periods)."""

    SUM = "sum"
    AVG = "avg"
    LAST = "last"
    NONE = "none"


class Benchmark(Frozen):
    """行业基准: one reference range, ``min <= value <= max`` (either bound may be open).

    The older shape ``{segment, average: "1200-1800", excellent: ">2000", source}`` still loads:
    it becomes one range per given level (see :func:`graph_schema.benchmarks.structured`).
    """

    label: Text
    min: float | None = None
    max: float | None = None
    source: Text | None = None


class VersionEntry(Frozen):
    """版本记录: one released version of the definition."""

    version: SemverText
    date: Text | None = None
    change: Text | None = None
    author: Text | None = None


class Contacts(Frozen):
    """咨询联系."""

    business: Text | None = None
    technical: Text | None = None
    data_support: Text | None = None
