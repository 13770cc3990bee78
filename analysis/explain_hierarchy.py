"""Explain by a dimension hierarchy (区域: 战区 → 省份 → 城市, seed 002): rank at the top level,
then drill down where the change concentrates.

The rules are today's drill's (:mod:`analysis.explain_dims`): each member's contribution
(additive metrics: ``Δx_m``; ratios of additive metrics: the rate/mix split), members ordered
by contribution in the direction of the change, the fewest reaching 80 % of it
(:func:`~analysis.explain_dims.concentration`). At each level the drill follows the member at
the top of that order, then looks at its children only (their contributions, their
concentration against the parent's contribution), down to the finest level: the path
(``南区 → 广东 → 深圳``) says where the change lives.

Members are paths (coarsest level first). The values give a column per level, or a column of
one level and the hierarchy's mapping file places each member under its parents (members of an
additive metric add up, so a finer level's values are summed to the coarser one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.explain_dims import (
    DRILL_MEMBERS,
    concentration,
    deviation_score,
    rate_mix,
    ratio_parts,
)
from analysis.explain_types import PeriodPair, ValueSource
from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.hierarchy import Hierarchy, HierarchyError
from graph_schema.models import Metric

Path = tuple[str, ...]


def hierarchy_of(source: ValueSource, dimension: str) -> Hierarchy | None:
    """The hierarchy a dimension declares, if the value source knows hierarchies."""
    lookup = getattr(source, "hierarchy", None)
    found = lookup(dimension) if lookup is not None else None
    return found if isinstance(found, Hierarchy) else None


def _by_path(
    pair: PeriodPair, name: str, h: Hierarchy, depth: int
) -> tuple[dict[Path, float], dict[Path, float]]:
    """``(now, base)`` of metric ``name`` by path of the first ``depth`` levels."""
    try:
        f1, f0 = pair.frames(name, tuple(h.levels[:depth]))
        raw = [({k: c[pair.period] for k, c in f.items()}) for f in (f1, f0)]
        if depth > 1:
            _check_parents(h, depth, [*raw[0], *raw[1]])
        return raw[0], raw[1]
    except HierarchyError:
        raise
    except InvalidQueryError:
        if not h.paths:
            raise
    # a column of one level and the mapping: the finest level the values have, mapped up
    for level in reversed(h.levels[depth - 1 :]):
        try:
            f1, f0 = pair.frames(name, (level,))
        except InvalidQueryError:
            continue
        out: list[dict[Path, float]] = []
        for frame in (f1, f0):
            summed: dict[Path, float] = {}
            for (member,), cell in frame.items():
                path = h.path_of(level, member)[:depth]
                summed[path] = summed.get(path, 0.0) + cell[pair.period]
            out.append(summed)
        return out[0], out[1]
    raise InvalidQueryError(
        _(
            "{name} has no values by any level of {dimension} ({levels})",
            name=name,
            dimension=h.dimension,
            levels=", ".join(h.levels),
        ),
        {"metric": name, "dimension": h.dimension},
    )


def _check_parents(h: Hierarchy, depth: int, keys: list[Path]) -> None:
    """A member of the values' level columns lies under one parent."""
    seen: dict[str, Path] = {}
    for key in keys:
        known = seen.setdefault(key[-1], key[:-1])
        if known != key[:-1]:
            raise HierarchyError(
                _(
                    "{dimension}: {level} {member} lies under {one} and {other} in the values; "
                    "a member has one parent",
                    dimension=h.dimension,
                    level=h.levels[depth - 1],
                    member=repr(key[-1]),
                    one=" / ".join(known),
                    other=" / ".join(key[:-1]),
                ),
                {"dimension": h.dimension, "member": key[-1]},
            )


def _summed(
    pair: PeriodPair, terms: Mapping[str, float], h: Hierarchy, depth: int
) -> tuple[dict[Path, float], dict[Path, float]]:
    now: dict[Path, float] = {}
    old: dict[Path, float] = {}
    for name, coeff in terms.items():
        f1, f0 = _by_path(pair, name, h, depth)
        for out, frame in ((now, f1), (old, f0)):
            for key, value in frame.items():
                out[key] = out.get(key, 0.0) + coeff * value
    return now, old


def level_rows(
    pair: PeriodPair, metric: Metric, kind: str, h: Hierarchy, depth: int
) -> list[dict[str, Any]]:
    """Every member of level ``depth`` (1 = the top) with its contribution, keyed by path."""
    if kind == "additive":
        now, old = _summed(pair, {metric.id: 1.0}, h, depth)
        return [
            {
                "key": key,
                "value": now.get(key, 0.0),
                "base_value": old.get(key, 0.0),
                "contribution": now.get(key, 0.0) - old.get(key, 0.0),
                "weight": now.get(key, 0.0),
                "base_weight": old.get(key, 0.0),
            }
            for key in sorted(set(now) | set(old))
        ]
    parts = ratio_parts(metric)
    assert parts is not None
    n1, n0 = _summed(pair, parts[0], h, depth)
    d1, d0 = _summed(pair, parts[1], h, depth)
    num = {k: (n1.get(k, 0.0), n0.get(k, 0.0)) for k in set(n1) | set(n0)}
    den = {k: (d1.get(k, 0.0), d0.get(k, 0.0)) for k in set(d1) | set(d0)}
    return rate_mix(num, den)


def _member(row: Mapping[str, Any], change: float, ratio: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "member": row["key"][-1],
        "path": list(row["key"]),
        "value": row["value"],
        "base_value": row["base_value"],
        "contribution": row["contribution"],
        "share": row["contribution"] / change if change else None,
    }
    if ratio:
        item["rate"], item["mix"] = row["rate"], row["mix"]
    return item


def top_level_view(
    pair: PeriodPair, metric: Metric, kind: str, h: Hierarchy, change: float
) -> dict[str, Any]:
    """The dimension's ranked view at its top level (as a flat dimension's) with the
    ``hierarchy`` drill path."""
    ratio = kind == "ratio"
    rows = level_rows(pair, metric, kind, h, 1)
    conc = concentration(rows, change)
    score = deviation_score(rows, change, ratio)
    members = [
        _member(r, change, ratio) for r in sorted(rows, key=lambda r: -abs(r["contribution"]))
    ]
    return {
        "dimension": h.dimension,
        "level": h.levels[0],
        "method": "rate_mix" if ratio else "additive",
        **conc,
        "deviation": score,
        "deviation_share": score / abs(change) if change else None,
        "members": members,
        "hierarchy": {"levels": list(h.levels), "path": drill_path(pair, metric, kind, h, change)},
    }


def drill_path(
    pair: PeriodPair, metric: Metric, kind: str, h: Hierarchy, change: float
) -> list[dict[str, Any]]:
    """One step per level: the member the drill follows, its contribution and share of the
    change, and its siblings (the parent's children) with the concentration among them."""
    ratio = kind == "ratio"
    sign = 1.0 if change >= 0 else -1.0
    parent: Path = ()
    target = change
    steps: list[dict[str, Any]] = []
    for depth in range(1, len(h.levels) + 1):
        rows = [r for r in level_rows(pair, metric, kind, h, depth) if r["key"][:-1] == parent]
        if not rows or change == 0:
            break
        conc = concentration(rows, target)
        chosen = min(rows, key=lambda r: (-sign * r["contribution"], r["key"]))
        siblings = sorted(rows, key=lambda r: -sign * r["contribution"])[:DRILL_MEMBERS]
        steps.append(
            {
                "level": h.levels[depth - 1],
                "member": chosen["key"][-1],
                "path": list(chosen["key"]),
                "contribution": chosen["contribution"],
                "share": chosen["contribution"] / change,
                "share_of_parent": chosen["contribution"] / target if target else None,
                "explained_by": conc["explained_by"],
                "member_count": conc["member_count"],
                "members": [_member(r, change, ratio) for r in siblings],
            }
        )
        parent, target = chosen["key"], chosen["contribution"]
    return steps
