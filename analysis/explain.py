"""Root cause: why did a metric move between a base and a period?

:func:`explain` answers with three views, each exact where it claims to be:

**Tree** — the change is split along the metric's ``drivers`` identity (or, without one or
where it refers back to a metric above in the tree, its ``formula``) by the rules of
:mod:`analysis.decompose` (sum, LMDI-I, exact Shapley), and again inside each input that
has its own drivers/formula, down to ``depth``. An input with its own decomposition splits
*its* contribution among its inputs in proportion to their contributions to its own change:
``C_j = C_child · c_j / Δ_child``; a child whose change is zero passes zero. Where the
identity does not hold in the data (``Δ_node ≠ Σ c_j``), the difference is a ``residual``
row, never hidden. Contributions are in the root metric's units; the children of a node
(residual included) sum to the node's contribution.

**Dimensions** — for each dimension, each member's contribution. An additive metric: the
member's change ``x_m,₁ − x_m,₀``. A ratio of additive metrics ``R = N / D``: with
``w_m = D_m / ΣD`` and ``r_m = N_m / D_m``, ``R = Σ w_m·r_m`` and the midpoint rule
``ΔR = Σ (w̄_m·Δr_m + r̄_m·Δw_m)`` (bars: the mean of the two periods) holds exactly; the first
term is the member's **rate** effect, the second its **mix** effect. Dimensions are ranked by
concentration: the fewest members whose contributions (largest first, in the direction of the
change) reach 80 % of it, as a fraction of the members (``k / n``, smaller first; Adtributor's
explanatory power), ties broken by surprise (the Jensen–Shannon divergence of those members'
shares between the two periods). The two top dimensions are drilled together.

**Causes** — along CAUSES edges into the metric and its first-level inputs: the cause's change
over the same two periods shifted by the edge's lag, and the Pearson correlation of the two
series' month-over-month changes at that lag — evidence, not proof.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from analysis.decompose import DecompositionError, split_change
from graph_schema.errors import InvalidQueryError
from graph_schema.formula import Formula, parse_formula
from graph_schema.models import Metric
from graph_schema.periods import MONTH_PATTERN

Frame = dict[tuple[str, ...], dict[str, float]]


class ValueSource(Protocol):
    """What explain reads (the values engine provides it)."""

    def metric(self, metric_id: str) -> Metric: ...

    def frame(
        self,
        metric_id: str,
        grain: Sequence[str] = (),
        *,
        periods: Iterable[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        where: Mapping[str, str] | None = None,
        monthly: bool = True,
        kind: str = "value",
    ) -> Frame: ...


@dataclass
class TreeNode:
    ref: str | None
    name: str
    value: float | None
    base_value: float | None
    change: float | None
    contribution: float
    share: float | None
    method: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "children"}
        out["children"] = [c.to_json() for c in self.children]
        return out


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

    @property
    def change(self) -> float:
        return self.value - self.base_value

    @property
    def change_pct(self) -> float | None:
        return self.change / abs(self.base_value) if self.base_value else None

    def to_json(self) -> dict[str, Any]:
        return {
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


def shift_month(period: str, months: int) -> str:
    """``YYYY-MM`` moved by ``months``.

    Examples
    --------
    >>> shift_month("2026-01", -1), shift_month("2026-06", -12)
    ('2025-12', '2025-06')
    """
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def base_period(period: str, base: str) -> str | None:
    """The period compared with: ``mom`` → previous month, ``yoy`` → a year before,
    ``target`` → ``None`` (the targets of the same period), else ``base`` itself."""
    if not re.fullmatch(MONTH_PATTERN, period):
        raise InvalidQueryError(f"period {period!r} must be YYYY-MM, a year from 1900 to 2200")
    if base == "mom":
        return shift_month(period, -1)
    if base == "yoy":
        return shift_month(period, -12)
    if base == "target":
        return None
    if not re.fullmatch(MONTH_PATTERN, base):
        raise InvalidQueryError(f"base {base!r} must be mom, yoy, target or a YYYY-MM period")
    return base


class _Pair:
    """Values of metrics at a period and its base, by grain, cached."""

    def __init__(self, source: ValueSource, period: str, base_p: str | None) -> None:
        self.source, self.period, self.base_p = source, period, base_p
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[Frame, Frame]] = {}

    def frames(self, metric_id: str, grain: tuple[str, ...] = ()) -> tuple[Frame, Frame]:
        key = (metric_id, grain)
        if key not in self._cache:
            if self.base_p is None:
                now = self.source.frame(metric_id, grain, periods=[self.period])
                old = self.source.frame(metric_id, grain, periods=[self.period], kind="target")
                base = {k: {self.period: v[self.period]} for k, v in old.items()}
            else:
                both = self.source.frame(metric_id, grain, periods=[self.period, self.base_p])
                now = {
                    k: {self.period: v[self.period]} for k, v in both.items() if self.period in v
                }
                base = {
                    k: {self.period: v[self.base_p]} for k, v in both.items() if self.base_p in v
                }
            self._cache[key] = (_flat(now, self.period), _flat(base, self.period))
        return self._cache[key]

    def total(self, metric_id: str) -> tuple[float, float] | None:
        try:
            now, base = self.frames(metric_id)
        except InvalidQueryError:
            return None
        if () not in now or () not in base:
            return None
        return now[()][self.period], base[()][self.period]


def _flat(frame: Frame, period: str) -> Frame:
    return {k: {period: v[period]} for k, v in frame.items() if period in v}


def expressions_of(metric: Metric) -> list[tuple[str, Formula]]:
    """The metric's drivers identity, then its formula (the order the tree tries them)."""
    out = []
    if metric.drivers:
        out.append(("drivers", parse_formula(metric.drivers)))
    if metric.formula:
        out.append(("formula", parse_formula(metric.formula)))
    return out


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
) -> Explanation:
    """Explain the change of ``metric_id`` from ``base`` to ``period`` (see the module doc).

    ``by`` defaults to the metric's dimensions (except time); ``causes`` are CAUSES edges
    ``{"cause", "effect", "polarity", "lag"}`` the caller read from the graph; ``series``
    gives a metric's monthly totals (for correlations).
    """
    metric = source.metric(metric_id)
    base_p = base_period(period, base)
    pair = _Pair(source, period, base_p)
    notes: list[str] = []
    total = pair.total(metric_id)
    if total is None:
        what = f"targets for {period}" if base_p is None else f"values for {period} and {base_p}"
        raise InvalidQueryError(f"metric {metric_id!r} has no {what}")
    value, base_value = total
    change = value - base_value
    root = TreeNode(None, metric.name, value, base_value, change, change, 1.0 if change else None)
    _grow(source, pair, metric, root, change, depth, (metric_id,), notes)
    dims = [d for d in (by if by is not None else metric.dimensions) if d != "time"]
    from analysis.explain_dims import dimension_views

    dimensions, drill = dimension_views(source, pair, metric, dims, change, notes)
    from analysis.explain_causes import cause_rows as _cause_rows

    cause_rows = _cause_rows(source, metric_id, root, period, base_p, causes, series, notes)
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
    )


def _grow(
    source: ValueSource,
    pair: _Pair,
    metric: Metric,
    node: TreeNode,
    root_change: float,
    depth: int,
    path: tuple[str, ...],
    notes: list[str],
) -> None:
    candidates = expressions_of(metric)
    if depth <= 0 or not candidates:
        return
    # the first of drivers / formula that does not refer back to a metric above in the tree
    usable = [(k, f) for k, f in candidates if not any(n in path for n, _ in f.inputs())]
    if not usable:
        if len(path) > 1:
            kind, formula = candidates[0]
            back = [n for n, _ in formula.inputs() if n in path]
            notes.append(
                f"{metric.name}: not broken down further — its {kind} refers back to "
                f"{', '.join(back)} above it in the tree"
            )
        return
    kind, formula = usable[0]
    names = [n for n, _ in formula.inputs()]
    values = {n: pair.total(n) for n in names}
    missing = [n for n, v in values.items() if v is None]
    if missing:
        what = "targets" if pair.base_p is None else "values"
        notes.append(f"{metric.name}: not broken down — no {what} for {', '.join(missing)}")
        return
    now = {n: v[0] for n, v in values.items() if v}
    old = {n: v[1] for n, v in values.items() if v}
    try:
        split = split_change(formula, now, old)
    except DecompositionError as exc:
        notes.append(f"{metric.name}: not broken down — {exc.message}")
        return
    node.method = split.method
    if split.method == "shapley":
        notes.append(
            f"{metric.name}: split by exact Shapley values — LMDI needs every value positive "
            f"and {formula.text} a product or quotient"
        )
    own = node.change or 0.0
    explained = sum(split.contributions.values())
    residual = own - explained
    scale_ok = own != 0
    factor = node.contribution / own if scale_ok else 0.0
    if not scale_ok and any(abs(c) > 1e-9 * _scale(now, old) for c in split.contributions.values()):
        notes.append(f"{metric.name} did not change; its inputs' moves offset each other")
    children = source_metrics(source, names)
    for name in names:
        child_metric = children[name]
        c = split.contributions[name] * factor
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
        _grow(source, pair, child_metric, child, root_change, depth - 1, (*path, name), notes)
        node.children.append(child)
    tolerance = 1e-9 * max(abs(node.value or 0), abs(node.base_value or 0), abs(own), 1.0)
    if abs(residual) > tolerance:
        c = residual * factor
        node.children.append(
            TreeNode(
                None,
                "残差 residual",
                None,
                None,
                residual,
                c,
                c / root_change if root_change else None,
                "residual",
            )
        )
        notes.append(
            f"{metric.name}: the {kind} identity does not hold in the data — {_fmt(residual)} of "
            f"its change is not explained by {formula.text} (shown as a residual row)"
        )


def source_metrics(source: ValueSource, names: Sequence[str]) -> dict[str, Metric]:
    return {n: source.metric(n) for n in names}


def _scale(now: Mapping[str, float], old: Mapping[str, float]) -> float:
    return max([abs(v) for v in (*now.values(), *old.values())] + [1.0])


def _fmt(x: float) -> str:
    return f"{x:,.4g}"
