"""Explain, by dimension: each member's contribution (additive metrics) or rate and mix effects
(ratios of additive metrics), concentration ranking and the two-dimension drill. The rules are
written out in :mod:`analysis.explain`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from analysis.decompose import linear_terms
from analysis.explain_types import PeriodPair, ValueSource
from core.i18n import N_, _
from graph_schema.errors import InvalidQueryError
from graph_schema.formula import BinOp, parse_formula
from graph_schema.models import Aggregation, Metric

#: the member key of what the members leave unexplained (a message id: shown through ``_``)
OTHER = N_("(unallocated)")
DRILL_MEMBERS = 10


def ratio_parts(metric: Metric) -> tuple[dict[str, float], dict[str, float]] | None:
    """``(numerator terms, denominator terms)`` when the formula is ``N / D`` with ``N`` and
    ``D`` sums of metrics, else ``None``.

    Examples
    --------
    >>> ratio_parts(Metric(id="atp", name="客单价", formula="revenue / visits"))
    ({'revenue': 1.0}, {'visits': 1.0})
    """
    if not metric.formula:
        return None
    root = parse_formula(metric.formula).root
    if not (isinstance(root, BinOp) and root.op == "/"):
        return None
    num, den = linear_terms(root.left), linear_terms(root.right)
    if num is None or den is None or num[0] != 0 or den[0] != 0:
        return None
    return num[1], den[1]


def metric_kind(source: ValueSource, metric: Metric, _depth: int = 0) -> str | None:
    """``"additive"``, ``"ratio"`` (a quotient of additive metrics) or ``None``."""
    if _depth > 20:
        return None
    if not metric.formula:
        agg = metric.aggregation or Aggregation.SUM
        return "additive" if agg in (Aggregation.SUM, Aggregation.LAST) else None
    linear = linear_terms(parse_formula(metric.formula).root)
    if linear is not None and linear[0] == 0:
        ok = all(metric_kind(source, source.metric(n), _depth + 1) == "additive" for n in linear[1])
        return "additive" if ok else None
    parts = ratio_parts(metric)
    if parts is not None:
        names = [*parts[0], *parts[1]]
        ok = all(metric_kind(source, source.metric(n), _depth + 1) == "additive" for n in names)
        return "ratio" if ok else None
    return None


def _summed(
    pair: PeriodPair, terms: Mapping[str, float], grain: tuple[str, ...]
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    now: dict[tuple[str, ...], float] = {}
    old: dict[tuple[str, ...], float] = {}
    for name, coeff in terms.items():
        f1, f0 = pair.frames(name, grain)
        for out, frame in ((now, f1), (old, f0)):
            for key, cell in frame.items():
                out[key] = out.get(key, 0.0) + coeff * cell[pair.period]
    return now, old


def summed_frames(
    pair: PeriodPair, terms: Mapping[str, float], grain: tuple[str, ...]
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    """``(now, base)`` of ``Σ c_k·x_k`` by member of ``grain`` (members absent from a period
    are absent from its map)."""
    return _summed(pair, terms, grain)


def additive_members(
    pair: PeriodPair, metric_id: str, grain: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Member contribution of an additive metric: ``x_m,₁ − x_m,₀`` (absent = 0)."""
    now, old = _summed(pair, {metric_id: 1.0}, grain)
    rows = []
    for key in sorted(set(now) | set(old)):
        v1, v0 = now.get(key, 0.0), old.get(key, 0.0)
        rows.append(
            {
                "key": key,
                "value": v1,
                "base_value": v0,
                "contribution": v1 - v0,
                "weight": v1,
                "base_weight": v0,
            }
        )
    return rows


def rate_mix(
    numerator: Mapping[tuple[str, ...], tuple[float, float]],
    denominator: Mapping[tuple[str, ...], tuple[float, float]],
) -> list[dict[str, Any]]:
    """Midpoint rate/mix split of ``R = ΣN / ΣD`` by member; inputs map a member to
    ``(value now, value at base)``.

    ``w = D_m / ΣD``, ``r = N_m / D_m``; ``rate = w̄·Δr``, ``mix = (r̄ − R̄)·Δw`` — centred on
    the overall rate ``R̄ = (R₁ + R₀)/2``, the same total as ``r̄·Δw`` since ``Σ Δw = 0``, but
    a traffic shift no longer shows as large mix terms that cancel across members; a member
    without denominator in one period takes its other period's ratio there (all mix).

    Examples
    --------
    Two stores; S1 ticket 100 → 110 on 50 → 50 visits, S2 ticket 200 → 200 on 50 → 100 visits
    (R 150 → 170, R̄ = 160); S1 mix (105 − 160)·(−1/6), S2 mix (200 − 160)·(1/6):

    >>> rows = rate_mix({("S1",): (5500, 5000), ("S2",): (20000, 10000)},
    ...                 {("S1",): (50, 50), ("S2",): (100, 50)})
    >>> [(r["key"][0], round(r["rate"], 4), round(r["mix"], 4)) for r in rows]
    [('S1', 4.1667, 9.1667), ('S2', 0.0, 6.6667)]
    """
    d1 = sum(v[0] for v in denominator.values())
    d0 = sum(v[1] for v in denominator.values())
    kept = [k for k in denominator if denominator[k][0] or denominator[k][1]]
    n1 = sum(numerator.get(k, (0.0, 0.0))[0] for k in kept)
    n0 = sum(numerator.get(k, (0.0, 0.0))[1] for k in kept)
    # centring keeps the total only where both periods' weights sum to 1
    mean_rate = (n1 / d1 + n0 / d0) / 2 if d1 and d0 else 0.0
    rows = []
    for key in sorted(set(numerator) | set(denominator)):
        n1, n0 = numerator.get(key, (0.0, 0.0))
        den1, den0 = denominator.get(key, (0.0, 0.0))
        if den1 == 0 and den0 == 0:
            continue
        r1 = n1 / den1 if den1 else n0 / den0
        r0 = n0 / den0 if den0 else r1
        w1 = den1 / d1 if d1 else 0.0
        w0 = den0 / d0 if d0 else 0.0
        rate = (w1 + w0) / 2 * (r1 - r0)
        mix = ((r1 + r0) / 2 - mean_rate) * (w1 - w0)
        rows.append(
            {
                "key": key,
                "value": r1 if den1 else None,
                "base_value": r0 if den0 else None,
                "contribution": rate + mix,
                "rate": rate,
                "mix": mix,
                "weight": w1,
                "base_weight": w0,
            }
        )
    return rows


def ratio_members(pair: PeriodPair, metric: Metric, grain: tuple[str, ...]) -> list[dict[str, Any]]:
    parts = ratio_parts(metric)
    assert parts is not None
    n1, n0 = _summed(pair, parts[0], grain)
    d1, d0 = _summed(pair, parts[1], grain)
    num = {k: (n1.get(k, 0.0), n0.get(k, 0.0)) for k in set(n1) | set(n0)}
    den = {k: (d1.get(k, 0.0), d0.get(k, 0.0)) for k in set(d1) | set(d0)}
    return rate_mix(num, den)


def concentration(rows: Sequence[Mapping[str, Any]], change: float) -> dict[str, Any]:
    """Fewest members (largest contribution first, in the direction of the change) reaching
    80 % of it (``explained_by`` of ``member_count``), the share of the change those members'
    contributions add up to (``top_share``: above 1 where the other members moved against
    the change), and surprise (Σ of the Jensen–Shannon terms of their weight shares).

    Examples
    --------
    >>> rows = [{"contribution": -90.0, "weight": 10, "base_weight": 100},
    ...         {"contribution": -10.0, "weight": 90, "base_weight": 100}]
    >>> c = concentration(rows, -100.0)
    >>> c["explained_by"], c["member_count"], round(c["top_share"], 2)
    (1, 2, 0.9)
    """
    n = len(rows)
    if not n or change == 0:
        return {"explained_by": n, "member_count": n, "top_share": None, "surprise": 0.0}
    sign = 1.0 if change > 0 else -1.0
    ordered = sorted(rows, key=lambda r: -sign * r["contribution"])
    tw1 = sum(r["weight"] for r in rows) or 1.0
    tw0 = sum(r["base_weight"] for r in rows) or 1.0
    cumulative, k, surprise = 0.0, 0, 0.0
    for row in ordered:
        k += 1
        cumulative += row["contribution"]
        surprise += _js(row["base_weight"] / tw0, row["weight"] / tw1)
        if cumulative / change >= 0.8:
            break
    return {
        "explained_by": k,
        "member_count": n,
        "top_share": cumulative / change,
        "surprise": surprise,
    }


def deviations(rows: Sequence[Mapping[str, Any]], change: float, ratio: bool) -> list[float]:
    """Each member's deviation from the expected: what it moved beyond its share of the
    total's move. Additive: ``d_m = Δx_m − x_m,₀·ΔV/V₀`` (``V₀ = Σ x_m,₀``; where ``V₀ = 0``,
    ``Δx_m`` less an equal share); ratio: ``d_m = C_m − ΔR·p_m`` with
    ``p_m = w̄_m·r̄_m / Σ w̄·r̄``. Both sum to 0 over the members when they sum to the change.

    Examples
    --------
    Six stores of 100 each, one falls to 10 (ΔV = −90, V₀ = 600): it deviates by
    −90 + 100·90/600 = −75, each other store by +15.

    >>> rows = [{"contribution": -90.0, "base_value": 100.0}] + [
    ...     {"contribution": 0.0, "base_value": 100.0}] * 5
    >>> [round(d, 6) for d in deviations(rows, -90.0, False)][:2]
    [-75.0, 15.0]
    """
    if not rows:
        return []
    if ratio:
        mass = [
            (r["weight"] + r["base_weight"])
            / 2
            * ((r["value"] if r["value"] is not None else r["base_value"] or 0.0)
               + (r["base_value"] if r["base_value"] is not None else r["value"] or 0.0))
            / 2
            for r in rows
        ]  # fmt: skip
    else:
        mass = [r["base_value"] or 0.0 for r in rows]
    total = sum(mass)
    if total == 0:
        return [r["contribution"] - change / len(rows) for r in rows]
    return [r["contribution"] - change * m / total for r, m in zip(rows, mass, strict=True)]


def deviation_score(rows: Sequence[Mapping[str, Any]], change: float, ratio: bool) -> float:
    """``max_m |d_m|``: the largest deviation from the expected (:func:`deviations`), in the
    metric's units — what dimensions are ranked by (a dimension with more members, or finer
    ones, does not score higher by having them: splitting a member splits its deviation)."""
    devs = deviations(rows, change, ratio)
    return max((abs(d) for d in devs), default=0.0)


def _js(p: float, q: float) -> float:
    m = (p + q) / 2
    out = 0.0
    for x in (p, q):
        if x > 0 and m > 0:
            out += 0.5 * x * math.log(x / m)
    return out


def _members_json(
    rows: Sequence[Mapping[str, Any]], change: float, ratio: bool, grain: Sequence[str]
) -> list[dict[str, Any]]:
    out = []
    for r in sorted(rows, key=lambda r: -abs(r["contribution"])):
        item: dict[str, Any] = {
            "member": " · ".join(r["key"]),
            "value": r["value"],
            "base_value": r["base_value"],
            "contribution": r["contribution"],
            "share": r["contribution"] / change if change else None,
        }
        if len(grain) > 1:
            item["members"] = dict(zip(grain, r["key"], strict=True))
        if ratio:
            item["rate"], item["mix"] = r["rate"], r["mix"]
        out.append(item)
    return out


def _rows(
    source: ValueSource,
    pair: PeriodPair,
    metric: Metric,
    kind: str,
    grain: tuple[str, ...],
    change: float,
) -> list[dict[str, Any]]:
    rows = (
        additive_members(pair, metric.id, grain)
        if kind == "additive"
        else ratio_members(pair, metric, grain)
    )
    gap = change - sum(r["contribution"] for r in rows)
    if abs(gap) > 1e-9 * max(abs(change), 1.0) * 1e3:
        rows.append(
            {
                "key": (OTHER,) * len(grain),
                "value": None,
                "base_value": None,
                "contribution": gap,
                "rate": 0.0,
                "mix": 0.0,
                "weight": 0.0,
                "base_weight": 0.0,
            }
        )
    return rows


def dimension_views(
    source: ValueSource,
    pair: PeriodPair,
    metric: Metric,
    dims: Sequence[str],
    change: float,
    notes: list[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``dimensions`` (ranked) and ``drill`` parts of an explanation."""
    if not dims:
        return [], []
    kind = metric_kind(source, metric)
    if kind is None:
        notes.append(
            _(
                "{metric} is neither additive nor a ratio of additive metrics, so its change is "
                "not split by dimension members",
                metric=metric.name,
            )
        )
        return [], []
    from analysis.explain_hierarchy import hierarchy_of, top_level_view
    from analysis.explain_time import is_time, time_view
    from graph_schema.hierarchy import HierarchyError

    ratio = kind == "ratio"
    views = []
    top: dict[str, set[tuple[str, ...]]] = {}
    column: dict[str, str] = {}  # a hierarchy's data column in the two-dimension drill
    for dim in dims:
        if is_time(source, dim):  # the calendar: months of the quarter, then their days
            try:
                views.append(time_view(source, pair, metric, kind, change))
            except InvalidQueryError as exc:
                notes.append(f"by {dim}: {exc.message}")
            continue
        hierarchy = hierarchy_of(source, dim)
        if hierarchy is not None:  # ranked at its top level, drilled down its levels
            try:
                view = top_level_view(pair, metric, kind, hierarchy, change)
            except HierarchyError:
                raise  # a member missing from the mapping: an error, not a note
            except InvalidQueryError as exc:
                notes.append(f"by {dim}: {exc.message}")
                continue
            ordered = sorted(
                view["members"], key=lambda m: -(1 if change >= 0 else -1) * m["contribution"]
            )
            top[dim] = {(m["member"],) for m in ordered[: view["explained_by"]]}
            column[dim] = hierarchy.levels[0]
            views.append(view)
            continue
        try:
            rows = _rows(source, pair, metric, kind, (dim,), change)
        except InvalidQueryError as exc:
            notes.append(_("by {dimension}: {why}", dimension=dim, why=exc.message))
            continue
        if any(r["key"] == (OTHER,) for r in rows):
            notes.append(
                _(
                    "by {dimension}: the members do not add up to the total; the gap is shown as "
                    "{other}",
                    dimension=dim,
                    other=_(OTHER),
                )
            )
        real = [r for r in rows if r["key"] != (OTHER,)]
        conc = concentration(real, change)
        score = deviation_score(real, change, ratio)
        ordered = sorted(rows, key=lambda r: -(1 if change >= 0 else -1) * r["contribution"])
        top[dim] = {r["key"] for r in ordered[: conc["explained_by"]]}
        views.append(
            {
                "dimension": dim,
                "method": "rate_mix" if ratio else "additive",
                **conc,
                "deviation": score,
                "deviation_share": score / abs(change) if change else None,
                "members": _members_json(rows, change, ratio, (dim,)),
            }
        )
    views.sort(key=lambda v: (-v["deviation"], v["explained_by"], -v["surprise"]))
    drill: list[dict[str, Any]] = []
    across = [v["dimension"] for v in views if v["dimension"] in top]  # not time: no column
    first = across[0] if across else None
    for second in across[1:]:
        assert first is not None
        try:
            grain = (column.get(first, first), column.get(second, second))
            rows = _rows(source, pair, metric, kind, grain, change)
        except InvalidQueryError as exc:
            notes.append(
                _("drill {first} × {second}: {why}", first=first, second=second, why=exc.message)
            )
            continue
        real = [r for r in rows if r["key"][0] != OTHER]
        if len({r["key"][0] for r in real}) == len(real):
            continue  # each member of the first lies in one member of the second: nothing new
        keep = [r for r in rows if (r["key"][0],) in top[first] or (r["key"][1],) in top[second]]
        members = _members_json(keep, change, ratio, (first, second))[:DRILL_MEMBERS]
        drill.append({"dimensions": [first, second], "members": members})
        break
    return views, drill
