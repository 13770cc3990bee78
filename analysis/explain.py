"""Root cause: why did a metric move between a base and a period?

:func:`explain` answers with three views, each exact where it claims to be:

**Tree** — the change is split along the metric's ``drivers`` identity (or, without one or
where it refers back to a metric above in the tree, its ``formula``) by the rules of
:mod:`analysis.decompose` (sum, LMDI-I, exact Shapley), and again inside each input that
has its own drivers/formula, down to ``depth``. An input with its own decomposition splits
*its* contribution among its inputs: each input's contribution is its own split times the
node's *scale* (contribution per unit of the node's own change; 1 at the root), and the input's
scale for the level below is ``scale · s_k`` with ``s_k = c_k`` (sum), ``W·e_k / L(x_k,₁, x_k,₀)``
(LMDI-I, ``W = L(V₁, V₀)``) or ``φ_k / Δx_k`` (Shapley) — see :func:`input_scales`. For LMDI
this is the same as applying LMDI-I to the whole product at once, and a node whose value did
not move (``L(a, a) = a``) still splits into its inputs' offsetting effects. A factor that
cancels (``g*h/g``) is simplified away before the split and gets 0. Where the
identity does not hold in the data (``Δ_node ≠ Σ c_j``), the difference is a ``residual``
row, never hidden. Contributions are in the root metric's units; the children of a node
(residual included) sum to the node's contribution.

**Dimensions** — for each dimension, each member's contribution. An additive metric: the
member's change ``x_m,₁ − x_m,₀``. A ratio of additive metrics ``R = N / D``: with
``w_m = D_m / ΣD`` and ``r_m = N_m / D_m``, ``R = Σ w_m·r_m`` and the midpoint rule
``ΔR = Σ (w̄_m·Δr_m + r̄_m·Δw_m)`` (bars: the mean of the two periods) holds exactly; the first
term is the member's **rate** effect, the second its **mix** effect, centred on the overall
rate: ``mix = (r̄_m − R̄)·Δw_m`` (same total, since ``Σ Δw_m = 0``; a member gains mix only by
growing while its rate is above the average). Dimensions are ranked by their largest
**deviation from the expected**: ``d_m = Δx_m − x_m,₀·ΔV/V₀`` (what the member moved beyond
its share of the total's move; for a ratio ``d_m = C_m − ΔR·w̄_m·r̄_m / Σ w̄·r̄``), as
``max |d_m| / |ΔV|`` — a finer dimension does not score higher by having more members.
The two top dimensions are drilled together.

**Causes** — along CAUSES edges into the metric and its first-level inputs: the cause's change
over the same two periods shifted by the edge's lag, and the Pearson correlation of the two
series' month-over-month changes at that lag — evidence, not proof.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.decompose import (
    DecompositionError,
    Split,
    linear_terms,
    log_mean,
    power_terms,
    split_change,
)
from analysis.explain_causes import cause_rows as _cause_rows
from analysis.explain_dims import dimension_views
from analysis.explain_localize import localize_metric
from analysis.explain_types import (
    Frame,
    PeriodPair,
    TreeNode,
    ValueSource,
    base_period,
    calendar_of,
    partial_period_notes,
    shift_month,
)
from core.i18n import N_, _
from graph_schema.errors import InvalidQueryError, NoTotalError, NoValuesError
from graph_schema.formula import Formula, parse_formula
from graph_schema.models import Metric

__all__ = [
    "Explanation",
    "Frame",
    "PeriodPair",
    "TreeNode",
    "ValueSource",
    "base_period",
    "explain",
    "expression_of",
    "expressions_of",
    "shift_month",
]


@dataclass
class Explanation:
    metric: str
    name: str
    unit: str | None
    period: str
    base: str
    base_period: str | None
    value: float
    base_value: float
    method: str | None
    tree: list[TreeNode]
    dimensions: list[dict[str, Any]]
    drill: list[dict[str, Any]]
    causes: list[dict[str, Any]]
    notes: list[str]
    root_causes: list[dict[str, Any]] | None = None

    @property
    def change(self) -> float:
        return self.value - self.base_value

    @property
    def change_pct(self) -> float | None:
        return self.change / abs(self.base_value) if self.base_value else None

    def to_json(self) -> dict[str, Any]:
        out = {
            "metric": self.metric,
            "name": self.name,
            "unit": self.unit,
            "period": self.period,
            "base": self.base,
            "base_period": self.base_period,
            "value": self.value,
            "base_value": self.base_value,
            "change": self.change,
            "change_pct": self.change_pct,
            "method": self.method,
            "tree": [n.to_json() for n in self.tree],
            "dimensions": self.dimensions,
            "drill": self.drill,
            "causes": self.causes,
            "notes": self.notes,
        }
        if self.root_causes is not None:
            out["root_causes"] = self.root_causes
        return out


#: the two expressions a metric's change is split by (message ids)
KINDS = {"drivers": N_("driver identity"), "formula": N_("formula")}


def expressions_of(metric: Metric) -> list[tuple[str, Formula]]:
    """The metric's drivers identity, then its formula (the order the tree tries them)."""
    out = []
    if metric.drivers:
        out.append(("drivers", parse_formula(metric.drivers)))
    if metric.formula:
        out.append(("formula", parse_formula(metric.formula)))
    return out


def _no_values(
    source: ValueSource, metric_id: str, period: str, base_p: str | None
) -> NoValuesError:
    """The error of an explain whose metric has no total for a compared period (HTTP 422
    ``no_values``): which periods, and the first and last month it has values for, if the
    source can say."""
    details: dict[str, Any] = {"metric": metric_id, "period": period, "base": base_p}
    if base_p is None:
        message = _("metric {metric} has no targets for {period}", metric=metric_id, period=period)
    else:
        message = _(
            "metric {metric} has no values for {period} and {base} together",
            metric=metric_id,
            period=period,
            base=base_p,
        )
    stored: Callable[[str], list[str]] | None = getattr(source, "periods", None)
    try:
        have = stored(metric_id) if stored is not None else []
    except InvalidQueryError:
        have = []
    if have:
        details["periods"] = [have[0], have[-1]]
        message = _(
            "{text}; it has values for {first} … {last}",
            text=message,
            first=have[0],
            last=have[-1],
        )
    return NoValuesError(message, details)


def expression_of(metric: Metric) -> tuple[str, Formula] | None:
    found = expressions_of(metric)
    return found[0] if found else None


def explain(
    source: ValueSource,
    metric_id: str,
    period: str,
    base: str = "mom",
    *,
    by: Sequence[str] | None = None,
    depth: int = 3,
    causes: Sequence[Mapping[str, Any]] = (),
    series: Callable[[str], dict[str, float]] | None = None,
    localize: bool = False,
) -> Explanation:
    """Explain the change of ``metric_id`` from ``base`` to ``period`` (see the module doc).

    ``by`` defaults to the metric's dimensions (except time: ``by=["time"]`` drills the
    calendar); ``causes`` are CAUSES edges
    ``{"cause", "effect", "polarity", "lag"}`` the caller read from the graph; ``series``
    gives a metric's monthly totals (for correlations); ``localize`` adds the root-cause set
    across the dimensions (:mod:`analysis.localize`).
    """
    metric = source.metric(metric_id)
    base_p = base_period(period, base, calendar_of(source))
    pair = PeriodPair(source, period, base_p)
    notes: list[str] = []
    try:
        total = pair.total(metric_id)
    except NoTotalError as exc:  # a rate by members only: nothing to split; say what to ask
        members_by = str(exc.details.get("by") or "")
        raise NoTotalError(
            _(
                "explain splits the change of a total, and {metric} has none: its values are "
                "given by {by} only, and a rate is not summed. See each member's own change "
                "with: kpigraph eval {metric} --period {period} --by {option}; or have its "
                "SQL give the total too: GROUP BY GROUPING SETS ((period, {by}), (period))",
                metric=metric_id,
                by=members_by,
                period=period,
                option=members_by.replace(", ", ","),
            ),
            exc.details,
        ) from None
    if total is None:
        raise _no_values(source, metric_id, period, base_p)
    value, base_value = total
    change = value - base_value
    root = TreeNode(None, metric.name, value, base_value, change, change, 1.0 if change else None)
    notes += partial_period_notes(source, metric_id, [period, *([base_p] if base_p else [])])
    _grow(source, pair, metric, root, 1.0, change, depth, (metric_id,), notes)
    # time is a dimension of every metric: drilled (the calendar, analysis.explain_time) only
    # when asked for by name
    dims = list(by) if by is not None else [d for d in metric.dimensions if d != "time"]
    dimensions, drill = dimension_views(source, pair, metric, dims, change, notes)
    dims = [d for d in dims if d != "time"]
    cause_rows = _cause_rows(source, metric_id, root, period, base_p, causes, series, notes)
    root_causes = None
    if localize and not dims and by is not None and "time" in by:
        # nothing to search: a "no combination moved" would say it was searched
        notes.append(
            _(
                "localize: time is drilled down its calendar, not searched for combinations — "
                "add other dimensions to --by (by=) to search them"
            )
        )
    elif localize:
        root_causes = localize_metric(source, pair, metric, dims, notes)
    return Explanation(
        metric_id,
        metric.name,
        metric.unit,
        period,
        base,
        base_p,
        value,
        base_value,
        root.method,
        root.children,
        dimensions,
        drill,
        cause_rows,
        notes,
        root_causes,
    )


def input_scales(
    formula: Formula, split: Split, now: Mapping[str, float], old: Mapping[str, float]
) -> dict[str, float | None]:
    """Contribution per unit of each input's own change, ``s_k = C_k / Δx_k``, defined also
    where ``Δx_k = 0``.

    - sum: ``s_k = c_k``;
    - LMDI-I: ``C_k = W·e_k·ln(x_k,₁/x_k,₀)`` and ``Δx_k = L(x_k,₁, x_k,₀)·ln(x_k,₁/x_k,₀)``, so
      ``s_k = W·e_k / L(x_k,₁, x_k,₀)`` with ``W = L(V₁, V₀)`` — also for an input that did not
      move (``L(a, a) = a``), so a node whose own value did not move still passes its parent's
      weight to its inputs' offsetting moves;
    - Shapley: ``φ_k / Δx_k``; ``None`` (not defined) where ``Δx_k = 0`` (``φ_k = 0`` then).

    Examples
    --------
    ``V = m·n`` from 12 to 12 with ``m`` 2 → 4 and ``n`` 6 → 3: ``W = L(12, 12) = 12``;
    ``s_m = 12 / L(4, 2) = 12·ln 2 / 2``:

    >>> from graph_schema.formula import parse_formula
    >>> f, now, old = parse_formula("m * n"), {"m": 4, "n": 3}, {"m": 2, "n": 6}
    >>> s = input_scales(f, split_change(f, now, old), now, old)
    >>> round(s["m"] * (4 - 2), 4), round(s["n"] * (3 - 6), 4)
    (8.3178, -8.3178)
    """
    out: dict[str, float | None] = {}
    names = [n for n, _ in formula.inputs()]
    if split.method == "sum":
        linear = linear_terms(formula.root)
        assert linear is not None
        return {n: linear[1].get(n, 0.0) for n in names}
    if split.method == "lmdi":
        power = power_terms(formula.root)
        assert power is not None
        const, powers = power
        v1 = abs(const) * math.prod(now[k] ** e for k, e in powers.items())
        v0 = abs(const) * math.prod(old[k] ** e for k, e in powers.items())
        weight = math.copysign(log_mean(v1, v0), const)
        for n in names:
            e = powers.get(n, 0)
            out[n] = weight * e / log_mean(now[n], old[n]) if e else 0.0
        return out
    for n in names:
        d = now[n] - old[n]
        out[n] = split.contributions.get(n, 0.0) / d if d else None
    return out


def _grow(
    source: ValueSource,
    pair: PeriodPair,
    metric: Metric,
    node: TreeNode,
    scale: float,
    root_change: float,
    depth: int,
    path: tuple[str, ...],
    notes: list[str],
) -> None:
    """Split ``node`` (whose contribution is ``scale × its own change``) among its inputs.

    Each input's contribution is its own split times ``scale``; its scale for the level below
    is ``scale · s_k`` (:func:`input_scales`), so a node that did not move still splits its
    inputs' offsetting moves, as LMDI-I does when applied to the whole product at once.
    """
    candidates = expressions_of(metric)
    if depth <= 0 or not candidates:
        return
    # the first of drivers / formula that does not refer back to a metric above in the tree
    usable = [(k, f) for k, f in candidates if not any(n in path for n, _ in f.inputs())]
    if not usable:
        if len(path) > 1:
            kind, formula = candidates[0]
            back = [source.metric(n).name for n, _ in formula.inputs() if n in path]
            notes.append(
                _(
                    "{metric}: not broken down further — its {kind} refers back to {names} "
                    "above it in the tree",
                    metric=metric.name,
                    kind=_(KINDS[kind]),
                    names=_(", ").join(back),
                )
            )
        return
    kind, formula = usable[0]
    names = [n for n, _ in formula.inputs()]
    values = {n: pair.total(n) for n in names}
    missing = [n for n, v in values.items() if v is None]
    if missing:
        listed = _(", ").join(source.metric(n).name for n in missing)
        if pair.base_p is None:
            note = _(
                "{metric}: not broken down — no targets for {names}",
                metric=metric.name,
                names=listed,
            )
        else:
            note = _(
                "{metric}: not broken down — no values for {names}",
                metric=metric.name,
                names=listed,
            )
        notes.append(note)
        return
    now = {n: v[0] for n, v in values.items() if v}
    old = {n: v[1] for n, v in values.items() if v}
    try:
        split = split_change(formula, now, old)
    except DecompositionError as exc:
        notes.append(_("{metric}: not broken down — {why}", metric=metric.name, why=exc.message))
        return
    node.method = split.method
    if split.method == "shapley":
        notes.append(
            _(
                "{metric}: split by exact Shapley values — LMDI needs every value positive and "
                "{formula} a product or quotient",
                metric=metric.name,
                formula=formula.text,
            )
        )
    cancelled = [n for n in names if n not in split.contributions]
    if cancelled:
        notes.append(
            _(
                "{metric}: {names} cancel(s) out of {formula} (contribution 0)",
                metric=metric.name,
                names=_(", ").join(cancelled),
                formula=formula.text,
            )
        )
    own = node.change or 0.0
    explained = sum(split.contributions.values())
    residual = own - explained
    scales = input_scales(formula, split, now, old)
    big = 1e-9 * _scale(now, old)
    if own == 0 and any(abs(c) > big for c in split.contributions.values()):
        notes.append(
            _("{metric} did not change; its inputs' moves offset each other", metric=metric.name)
        )
    children = source_metrics(source, names)
    for name in names:
        child_metric = children[name]
        c = split.contributions.get(name, 0.0) * scale
        v1, v0 = now[name], old[name]
        child = TreeNode(
            f"Metric:{name}",
            child_metric.name,
            v1,
            v0,
            v1 - v0,
            c,
            c / root_change if root_change else None,
        )
        s_k = scales.get(name)
        if s_k is None:
            if depth > 1 and expressions_of(child_metric):
                notes.append(
                    _(
                        "{child} did not change and {metric} is split by Shapley values, so its "
                        "inputs' offsetting moves are not shown",
                        child=child_metric.name,
                        metric=metric.name,
                    )
                )
            s_k = 0.0
        _grow(
            source, pair, child_metric, child, scale * s_k, root_change, depth - 1,
            (*path, name), notes,
        )  # fmt: skip
        node.children.append(child)
    tolerance = 1e-9 * max(abs(node.value or 0), abs(node.base_value or 0), abs(own), 1.0)
    if abs(residual) > tolerance:
        c = residual * scale
        node.children.append(
            TreeNode(
                None,
                _("residual"),
                None,
                None,
                residual,
                c,
                c / root_change if root_change else None,
                "residual",
            )
        )
        notes.append(
            _(
                "{metric}: the {kind} identity does not hold in the data — {residual} of its "
                "change is not explained by {formula} (shown as a residual row)",
                metric=metric.name,
                kind=_(KINDS[kind]),
                residual=_fmt(residual),
                formula=formula.text,
            )
        )


def source_metrics(source: ValueSource, names: Sequence[str]) -> dict[str, Metric]:
    return {n: source.metric(n) for n in names}


def _scale(now: Mapping[str, float], old: Mapping[str, float]) -> float:
    return max([abs(v) for v in (*now.values(), *old.values())] + [1.0])


def _fmt(x: float) -> str:
    return f"{x:,.4g}"
