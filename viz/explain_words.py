"""How an explain report reads to an analyst: numbers in the metric's unit and the catalog's
number style (one scale per column: 万/亿 in zh, thousands separators, integers for counts),
shares in words ("explains 141.7 % of the fall", "offsets 41.7 %"), a real minus sign and
never a "+" beside a negative contribution, method names in words, divisors marked.

Presentation only: every figure comes from the report's JSON (:mod:`analysis.explain`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.i18n import N_, _, current, ngettext

MINUS = "−"
#: units whose values are counted things (shown without decimals)
COUNT_UNITS = frozenset(
    {"台", "台次", "次", "人", "人次", "个", "单", "辆", "家", "位", "笔", "件", "count", "visits"}
)
#: decomposition methods of analysis.decompose, in words
METHODS = {
    "sum": N_("sum of the parts"),
    "lmdi": N_("log-mean split of a product or ratio (LMDI)"),
    "shapley": N_("Shapley split (each input's average effect over every order)"),
    "rate_mix": N_("rate and mix split (midpoint method)"),
    "residual": N_("not explained by the identity"),
}


@dataclass(frozen=True)
class Scale:
    """One number style for a whole column: divide by ``divisor``, add ``suffix``."""

    divisor: float = 1.0
    suffix: str = ""
    decimals: int = 0
    small: bool = False  # values under 1: four significant digits


def column_scale(values: Iterable[float | None], *, count: bool = False) -> Scale:
    """The scale for a column of numbers in the language in use: the largest magnitude picks
    it, so 万 and plain yuan never mix in one column.

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     column_scale([-219000.0, -17717.0])
    Scale(divisor=10000.0, suffix='万', decimals=1, small=False)
    >>> with use("zh"):
    ...     column_scale([1879.0, 12.0], count=True)
    Scale(divisor=1.0, suffix='', decimals=0, small=False)
    >>> with use("en"):
    ...     column_scale([-371578.88, 109317.2])
    Scale(divisor=1.0, suffix='', decimals=0, small=False)
    """
    present = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(present, default=0.0)
    if current() == "zh":
        if top >= 1e8:
            return Scale(1e8, "亿", 2)
        if top >= 1e5:
            return Scale(1e4, "万", 1)
    elif top >= 1e7:
        return Scale(1e6, "M", 2)
    if count:
        return Scale()
    if top >= 1000:
        return Scale()
    if top >= 1 or top == 0:
        return Scale(decimals=2)
    return Scale(small=True)


def number_in(value: float | None, scale: Scale, *, signed: bool = False) -> str:
    """``value`` in ``scale``, with thousands separators and a real minus sign; ``signed`` puts
    "+" before a positive value (never before a negative one).

    >>> number_in(-371578.88, Scale()), number_in(109317.2, Scale(), signed=True)
    ('−371,579', '+109,317')
    >>> number_in(-219000.0, Scale(1e4, "万", 1), signed=True)
    '−21.9万'
    >>> number_in(0.004244, Scale(small=True))
    '0.004244'
    """
    if value is None or not math.isfinite(value):
        return "—"
    x = value / scale.divisor
    text = f"{abs(x):.4g}" if scale.small else f"{abs(x):,.{scale.decimals}f}"
    if text.strip("0.,") == "":
        return "0" + scale.suffix
    sign = MINUS if x < 0 else ("+" if signed else "")
    return f"{sign}{text}{scale.suffix}"


def percent_text(fraction: float, digits: int = 1) -> str:
    """``0.417`` → ``41.7 %`` (the magnitude; words carry the direction)."""
    return f"{abs(fraction) * 100:.{digits}f} %"


def share_words(contribution: float | None, total_change: float | None) -> str:
    """A contribution's part of the total change in words: a part moving with the change
    "explains" it, one moving against it "offsets" it; never a signed percentage.

    >>> from core.i18n import use
    >>> with use("en"):
    ...     share_words(-371578.88, -262262.0), share_words(109317.2, -262262.0)
    ('explains 141.7 % of the fall', 'offsets 41.7 %')
    >>> with use("zh"):
    ...     share_words(-371578.88, -262262.0), share_words(109317.2, -262262.0)
    ('解释了下降的 141.7 %', '抵消了 41.7 %')
    """
    if contribution is None or not total_change:
        return ""
    share = contribution / total_change
    if contribution == 0:
        return _("no effect")
    if share > 0:
        if total_change < 0:
            return _("explains {share} of the fall", share=percent_text(share))
        return _("explains {share} of the rise", share=percent_text(share))
    return _("offsets {share}", share=percent_text(share))


def against_words(name: str, base: str | None) -> str:
    """A sub-period of the time drill with the base's it is set against (by position).

    >>> from core.i18n import use
    >>> with use("en"):
    ...     against_words("2026-05", "2026-02")
    '2026-05 (against 2026-02)'
    """
    return _("{member} (against {base})", member=name, base=base) if base else name


def concentration_words(
    explained_by: int, member_count: int, power: float | None, dimension: str
) -> str:
    """How concentrated the change is along a dimension: "1 of 6 stores explains 84 %"; when
    the top members overshoot the change, the rest offsets the difference.

    >>> from core.i18n import use
    >>> with use("en"):
    ...     concentration_words(1, 6, 0.84, "store")
    '1 of 6 store members explains 84 % of the change'
    >>> with use("en"):
    ...     concentration_words(1, 6, 0.84, "Store")
    '1 of 6 store members explains 84 % of the change'
    >>> with use("en"):
    ...     concentration_words(1, 3, 1.26, "store")
    '1 of 3 store members moves it by 126 % of the change; the others offset 26 %'
    """
    if power is None:
        return ""
    if current() == "en" and dimension[:1].isupper() and not dimension[1:2].isupper():
        dimension = dimension[:1].lower() + dimension[1:]  # "1 of 6 store members", mid-sentence
    head = ngettext(
        "%(k)s of %(n)s %(dimension)s members explains",
        "%(k)s of %(n)s %(dimension)s members explain",
        explained_by,
    ) % {"k": explained_by, "n": member_count, "dimension": dimension}
    if power > 1.0005:
        return _(
            "{head_moves} {share} of the change; the others offset {rest}",
            head_moves=ngettext(
                "%(k)s of %(n)s %(dimension)s members moves it by",
                "%(k)s of %(n)s %(dimension)s members move it by",
                explained_by,
            )
            % {"k": explained_by, "n": member_count, "dimension": dimension},
            share=percent_text(power, 0),
            rest=percent_text(power - 1, 0),
        )
    return _("{head} {share} of the change", head=head, share=percent_text(power, 0))


def method_words(method: str | None) -> str:
    """A decomposition method in words (the id stays for the curious: ``lmdi``).

    >>> from core.i18n import use
    >>> with use("en"):
    ...     method_words("lmdi")
    'log-mean split of a product or ratio (LMDI)'
    """
    if not method:
        return ""
    words = METHODS.get(method)
    return _(words) if words else method


def is_count(unit: str | None, values: Iterable[float | None]) -> bool:
    """A metric of counted things: its unit says so, or every value is a whole number.

    >>> is_count("台次", [1879.0]), is_count("CNY", [1.5, 2.0]), is_count(None, [3.0, 4.0])
    (True, False, True)
    """
    if unit and unit.strip() in COUNT_UNITS:
        return True
    present = [v for v in values if v is not None]
    return bool(present) and all(float(v).is_integer() for v in present)


def inverse_effect(change: float | None, contribution: float | None) -> bool:
    """A divisor (or a negative-weight input): its change and its contribution to the parent
    have opposite signs — a rise lowers the parent.

    >>> inverse_effect(126.31, -3.2), inverse_effect(5.0, 2.0), inverse_effect(None, 1.0)
    (True, False, False)
    """
    if not change or not contribution:
        return False
    return (change > 0) != (contribution > 0)


def cause_change(change: float | None, unit: str | None, base: float | None) -> str:
    """A cause metric's change in its own unit: a percentage metric stored as a fraction moves
    in percentage points; others in their unit.

    >>> from core.i18n import use
    >>> with use("en"):
    ...     cause_change(-0.004244, "%", 0.91), cause_change(-0.6, "分", 85.0)
    ('−0.42 pp', '−0.60 分')
    """
    if change is None:
        return "—"
    if unit and unit.strip() in {"%", "％", "percent"}:  # a change of a percentage: points
        fraction = base is not None and abs(base) <= 1.5  # stored as 0.91, not 91
        points = change * 100 if fraction else change
        return _("{points} pp", points=number_in(points, Scale(decimals=2), signed=True))
    scale = column_scale([change, base])
    text = number_in(change, scale, signed=True)
    return f"{text} {unit}" if unit and unit not in {"CNY", "元"} else text
