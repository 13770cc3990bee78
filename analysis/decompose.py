"""Exact decomposition rules: how much of a change in ``V = f(x_1, …, x_n)`` each input explains.

Every rule returns contributions that sum to ``V₁ − V₀`` (up to floating-point rounding):

- **sum** — ``V = c₀ + Σ c_k·x_k``: the contribution of ``x_k`` is ``c_k·(x_k,₁ − x_k,₀)``.
- **LMDI-I** — ``V = c·Π x_k^e_k`` (a product or quotient, ``c ≠ 0``) with every input positive:
  ``C_k = L(V₁, V₀)·e_k·ln(x_k,₁ / x_k,₀)`` where ``L(a, b) = (a − b) / (ln a − ln b)`` and
  ``L(a, a) = a`` (the logarithmic mean). ``e_k = −1`` for a divisor. Because
  ``Σ e_k·ln(x_k,₁/x_k,₀) = ln(V₁/V₀)``, the sum is ``L·ln(V₁/V₀) = V₁ − V₀`` (``c < 0``: on
  ``|V|``, signs flipped). Factors that cancel (``g*h/g``, ``(a*b)/(a*c)``) are simplified
  away first: they get 0, and Shapley, where needed, runs on the simplified product.
- **Shapley** — any other form, or a zero/negative value where LMDI needs a logarithm:
  ``φ_k = Σ_{S ⊆ N∖{k}} |S|!·(n − |S| − 1)!/n! · [f(S ∪ {k}) − f(S)]`` where ``f(S)`` evaluates
  the formula with the inputs in ``S`` at their new values and the others at their old ones.
  Exact, ``2ⁿ`` evaluations; refused above :data:`MAX_SHAPLEY_INPUTS` inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.formula import BinOp, Expr, Formula, Neg, Num, Ref

MAX_SHAPLEY_INPUTS = 12


class DecompositionError(InvalidQueryError):
    """A change cannot be split by any exact rule (too many inputs, undefined values)."""

    code = "decomposition_refused"


@dataclass(frozen=True)
class Split:
    """Contributions of each input to ``V₁ − V₀`` and the rule that produced them."""

    method: str
    contributions: dict[str, float]


def log_mean(a: float, b: float) -> float:
    """The logarithmic mean ``L(a, b) = (a − b) / (ln a − ln b)``, ``L(a, a) = a``.

    Examples
    --------
    >>> round(log_mean(110.0, 100.0), 6)
    104.920587
    >>> log_mean(5.0, 5.0)
    5.0
    """
    if a == b:
        return a
    gap = math.log(a) - math.log(b)
    if gap == 0.0 or abs(a - b) <= 1e-12 * max(a, b):  # equal to machine precision
        return (a + b) / 2
    return (a - b) / gap


def linear_terms(expr: Expr) -> tuple[float, dict[str, float]] | None:
    """``(c₀, {x_k: c_k})`` when ``expr`` is ``c₀ + Σ c_k·x_k``, else ``None``.

    Examples
    --------
    >>> from graph_schema.formula import parse_formula
    >>> linear_terms(parse_formula("a - b + 2 * a").root)
    (0.0, {'a': 3.0, 'b': -1.0})
    >>> linear_terms(parse_formula("a * b").root) is None
    True
    """
    if isinstance(expr, Num):
        return expr.value, {}
    if isinstance(expr, Ref):
        return 0.0, {expr.name: 1.0}
    if isinstance(expr, Neg):
        inner = linear_terms(expr.operand)
        return None if inner is None else (-inner[0], {k: -v for k, v in inner[1].items()})
    assert isinstance(expr, BinOp)
    left, right = linear_terms(expr.left), linear_terms(expr.right)
    if left is None or right is None:
        return None
    if expr.op in "+-":
        sign = 1.0 if expr.op == "+" else -1.0
        coeffs = dict(left[1])
        for k, v in right[1].items():
            coeffs[k] = coeffs.get(k, 0.0) + sign * v
        return left[0] + sign * right[0], coeffs
    if expr.op == "*" and (not left[1] or not right[1]):
        const, (c0, terms) = (left[0], right) if not left[1] else (right[0], left)
        return const * c0, {k: const * v for k, v in terms.items()}
    if expr.op == "/" and not right[1] and right[0] != 0:
        return left[0] / right[0], {k: v / right[0] for k, v in left[1].items()}
    return None


def power_terms(expr: Expr) -> tuple[float, dict[str, int]] | None:
    """``(c, {x_k: e_k})`` when ``expr`` is ``c·Π x_k^e_k`` (only ``*``, ``/``), else ``None``.

    Examples
    --------
    >>> from graph_schema.formula import parse_formula
    >>> power_terms(parse_formula("revenue / visits").root)
    (1.0, {'revenue': 1, 'visits': -1})
    >>> power_terms(parse_formula("a + b").root) is None
    True
    """
    if isinstance(expr, Num):
        return expr.value, {}
    if isinstance(expr, Ref):
        return 1.0, {expr.name: 1}
    if isinstance(expr, Neg):
        inner = power_terms(expr.operand)
        return None if inner is None else (-inner[0], inner[1])
    assert isinstance(expr, BinOp)
    if expr.op not in "*/":
        return None
    left, right = power_terms(expr.left), power_terms(expr.right)
    if left is None or right is None or (expr.op == "/" and right[0] == 0):
        return None
    sign = 1 if expr.op == "*" else -1
    powers = dict(left[1])
    for k, e in right[1].items():
        powers[k] = powers.get(k, 0) + sign * e
    const = left[0] * right[0] if expr.op == "*" else left[0] / right[0]
    return const, {k: e for k, e in powers.items() if e != 0}


def split_sum(
    coeffs: Mapping[str, float], now: Mapping[str, float], base: Mapping[str, float]
) -> Split:
    """Sum rule: ``C_k = c_k·(x_k,₁ − x_k,₀)``.

    Examples
    --------
    >>> split_sum({"a": 1, "b": -1}, {"a": 120, "b": 30}, {"a": 100, "b": 40}).contributions
    {'a': 20.0, 'b': 10.0}
    """
    return Split("sum", {k: float(c * (now[k] - base[k])) for k, c in coeffs.items()})


def split_lmdi(powers: Mapping[str, int], v1: float, v0: float, now: Mapping[str, float],
               base: Mapping[str, float]) -> Split:  # fmt: skip
    """LMDI-I: ``C_k = L(V₁, V₀)·e_k·ln(x_k,₁/x_k,₀)``; every value must be positive.

    Examples
    --------
    Revenue = visits × ticket; visits 1000 → 1100, ticket 100 → 95 (V 100000 → 104500):

    ``L = 4500 / ln(1.045) = 102234.1``; ``C_v = L·ln(1.1) = 9743.89``,
    ``C_t = L·ln(0.95) = −5243.89``; together 4500:

    >>> now, old = {"v": 1100, "t": 95}, {"v": 1000, "t": 100}
    >>> s = split_lmdi({"v": 1, "t": 1}, 104500, 100000, now, old)
    >>> {k: round(c, 2) for k, c in s.contributions.items()}
    {'v': 9743.89, 't': -5243.89}
    """
    weight = log_mean(v1, v0)
    return Split("lmdi", {k: weight * e * math.log(now[k] / base[k]) for k, e in powers.items()})


def split_shapley(
    formula: Formula,
    now: Mapping[str, float],
    base: Mapping[str, float],
    *,
    only: Sequence[str] | None = None,
    evaluate: Callable[[Mapping[str, float]], float] | None = None,
) -> Split:
    """Exact Shapley values over the referenced inputs (``2ⁿ`` evaluations).

    Raises
    ------
    DecompositionError
        Above :data:`MAX_SHAPLEY_INPUTS` inputs, or where the formula is undefined (a division
        by zero) for some mix of old and new values.

    Examples
    --------
    ``V = a·b`` with ``a`` 0 → 10 and ``b`` 5 → 6: ``φ_a = ½(10·5 − 0·5) + ½(10·6 − 0·6) = 55``,
    ``φ_b = ½(0·6 − 0·5) + ½(10·6 − 10·5) = 5``:

    >>> from graph_schema.formula import parse_formula
    >>> split_shapley(parse_formula("a * b"), {"a": 10, "b": 6}, {"a": 0, "b": 5}).contributions
    {'a': 55.0, 'b': 5.0}
    """
    names = list(only) if only is not None else [n for n, _ in formula.inputs()]
    value_of = evaluate or formula.evaluate
    n = len(names)
    if n > MAX_SHAPLEY_INPUTS:
        raise DecompositionError(
            _(
                "an exact Shapley split of {n} inputs needs 2^{n2} evaluations; the "
                "limit is {MAX_SHAPLEY_INPUTS} inputs — give the metric a drivers "
                "identity with fewer terms",
                n=n,
                n2=n,
                MAX_SHAPLEY_INPUTS=MAX_SHAPLEY_INPUTS,
            )
        )
    values = []
    for mask in range(1 << n):
        point = {x: (now[x] if mask >> i & 1 else base[x]) for i, x in enumerate(names)}
        value = value_of(point)
        if math.isnan(value):
            raise DecompositionError(
                _(
                    "{text} is undefined (division by zero) for a mix of old and new values",
                    text=formula.text,
                )
            )
        values.append(value)
    weights = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    out: dict[str, float] = {}
    for i, x in enumerate(names):
        bit = 1 << i
        total = 0.0
        for mask in range(1 << n):
            if not mask & bit:
                total += weights[mask.bit_count()] * (values[mask | bit] - values[mask])
        out[x] = total
    return Split("shapley", out)


def split_change(formula: Formula, now: Mapping[str, float], base: Mapping[str, float]) -> Split:
    """Split ``f(now) − f(base)`` among the formula's inputs with the first rule that applies:
    sum, then LMDI-I (every value positive), then exact Shapley.

    Examples
    --------
    >>> from graph_schema.formula import parse_formula
    >>> split_change(parse_formula("a + b"), {"a": 3, "b": 5}, {"a": 1, "b": 6})
    Split(method='sum', contributions={'a': 2.0, 'b': -1.0})
    >>> split_change(parse_formula("a / b"), {"a": 0, "b": 5}, {"a": 10, "b": 5}).method
    'shapley'
    """
    linear = linear_terms(formula.root)
    if linear is not None:
        return split_sum(linear[1], now, base)
    power = power_terms(formula.root)
    if power is not None:
        const, powers = power
        positive = all(now[k] > 0 and base[k] > 0 for k in powers)
        if positive and const != 0:
            v1, v0 = _product(const, powers, now), _product(const, powers, base)
            # LMDI-I on |V| (a negative constant flips every contribution's sign with V)
            split = split_lmdi(powers, abs(v1), abs(v0), now, base)
            sign = 1.0 if const > 0 else -1.0
            return Split("lmdi", {k: sign * c for k, c in split.contributions.items()})
        # the simplified product: a factor that cancels (g*h/g) is no input at all
        return split_shapley(
            formula, now, base, only=list(powers),
            evaluate=lambda point: _product(const, powers, point),
        )  # fmt: skip
    return split_shapley(formula, now, base)


def _product(const: float, powers: Mapping[str, int], point: Mapping[str, float]) -> float:
    """``c·Π x_k^e_k``; ``nan`` where a divisor is zero."""
    out = const
    for k, e in powers.items():
        x = float(point[k])
        if e < 0 and x == 0:
            return math.nan
        out *= x**e
    return out
