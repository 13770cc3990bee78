"""Charts as server-side SVG (no script, no CDN): the explain waterfall, the metric tree, the
contribution bars of the dimension table and the metric page's trend line.

Every piece of text is escaped; the returned :class:`~markupsafe.Markup` can go into a
template as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

from core.i18n import _, current
from viz.labels import change_class_word

UP = "#2a9d8f"
DOWN = "#e63946"
TOTAL = "#457b9d"
INK = "#1d3557"
MUTED = "#6c757d"


def fmt(value: float | None, unit: str | None = None) -> str:
    """Compact number in the language in use: ``1,234,567`` → ``123.5万`` (zh) / ``1.23M`` (en);
    values under 1 keep four significant digits.

    Examples
    --------
    >>> fmt(2507598.0), fmt(-262262.0), fmt(1536.518), fmt(0.004532)
    ('250.8万', '-26.2万', '1,536.52', '0.004532')
    >>> from core.i18n import use
    >>> with use("en"):
    ...     fmt(2507598.0), fmt(-262262.0)
    ('2.51M', '-262,262')
    """
    if value is None:
        return "—"
    a = abs(value)
    zh = current() == "zh"
    if zh and a >= 1e8:
        text = f"{value / 1e8:,.2f}亿"
    elif zh and a >= 1e5:
        text = f"{value / 1e4:,.1f}万"
    elif a >= 1e9:
        text = f"{value / 1e9:,.2f}B"
    elif a >= 1e6:
        text = f"{value / 1e6:,.2f}M"
    elif a >= 1e5:
        text = f"{value:,.0f}"
    elif a >= 1 or a == 0:
        text = f"{value:,.2f}"
    else:  # rates and shares: four significant digits
        text = f"{value:.4g}"
    return text


def signed(value: float | None) -> str:
    return "—" if value is None else ("+" if value > 0 else "") + fmt(value)


def _text(
    x: float,
    y: float,
    s: str,
    *,
    anchor: str = "middle",
    size: int = 12,
    color: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{color}" font-weight="{weight}">{escape(s)}</text>'
    )


def waterfall_svg(
    start: tuple[str, float],
    steps: Sequence[tuple[str, float]],
    end: tuple[str, float],
    *,
    width: int = 760,
    height: int = 300,
    fmt: Callable[[float], str] = fmt,
    signed: Callable[[float], str] = signed,
    axis_note: str = "(轴不从0开始)",
) -> Markup:
    """Base value, each first-level contribution as a floating bar, the new value. The value
    axis does not start at zero (small changes stay visible); it says so (``axis_note``).
    ``fmt`` and ``signed`` write the totals and the steps (the caller's number style)."""
    labels = [start[0], *(s[0] for s in steps), end[0]]
    running = [start[1]]
    for _name, c in steps:
        running.append(running[-1] + c)
    lo, hi = min([*running, end[1]]), max([*running, end[1]])
    pad = (hi - lo) * 0.25 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 70, 20, 24, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    slot = plot_w / n
    bar = slot * 0.56

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    label = _("waterfall")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" class="chart waterfall">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="#dee2e6"/>',
        _text(left - 6, top + 4, fmt(hi), anchor="end", size=10, color=MUTED),
        _text(left - 6, top + plot_h, fmt(lo), anchor="end", size=10, color=MUTED),
        _text(4, height - 6, axis_note, anchor="start", size=9, color=MUTED),
    ]
    bars: list[tuple[float, float, str, str]] = [(lo, start[1], TOTAL, fmt(start[1]))]
    prev = start[1]
    for _name, c in steps:
        bars.append((prev, prev + c, UP if c >= 0 else DOWN, signed(c)))
        prev += c
    bars.append((lo, end[1], TOTAL, fmt(end[1])))
    for i, ((a, b, color, label), name) in enumerate(zip(bars, labels, strict=True)):
        x = left + i * slot + (slot - bar) / 2
        y0, y1 = sorted((y(a), y(b)))
        parts.append(
            f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar:.1f}" height="{max(y1 - y0, 1):.1f}" '
            f'fill="{color}" rx="2"><title>{escape(name)}: {escape(label)}</title></rect>'
        )
        parts.append(_text(x + bar / 2, y0 - 5, label, size=11, color=color, weight="600"))
        if 0 < i < n - 1:
            parts.append(
                f'<line x1="{x - (slot - bar):.1f}" y1="{y(a):.1f}" x2="{x:.1f}" y2="{y(a):.1f}" '
                f'stroke="{MUTED}" stroke-dasharray="3,3"/>'
            )
        parts.append(_text(x + bar / 2, top + plot_h + 16, name[:10], size=11))
    parts.append("</svg>")
    return Markup("".join(parts))


def tree_svg(root: dict[str, Any], *, width: int = 760, row: int = 46) -> Markup:
    """The metric tree: one box per node (name, change, contribution), indented by depth and
    joined by elbow lines, coloured by the sign of the contribution. A node's
    ``title_text``, ``detail_text`` and ``contribution_text``, when given, are drawn as is."""
    rows: list[tuple[int, dict[str, Any], int | None]] = []

    def walk(node: dict[str, Any], depth: int, parent: int | None) -> None:
        index = len(rows)
        rows.append((depth, node, parent))
        for child in node.get("children", []):
            walk(child, depth + 1, index)

    walk(root, 0, None)
    height = row * len(rows) + 10
    indent, box_w, box_h = 34, 600, row - 10
    label = _("metric tree")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" class="chart tree">'
    ]
    for i, (depth, node, parent) in enumerate(rows):
        x, y = 6 + depth * indent, 5 + i * row
        if parent is not None:
            px, py = 6 + rows[parent][0] * indent + 12, 5 + parent * row + box_h
            parts.append(
                f'<path d="M{px},{py} V{y + box_h / 2} H{x}" fill="none" stroke="#adb5bd"/>'
            )
        c = node.get("contribution") or 0.0
        color = UP if c > 0 else DOWN if c < 0 else MUTED
        fill = "#e9f5f3" if c > 0 else "#fdecee" if c < 0 else "#f1f3f5"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" '
            f'stroke="{color}"/>'
        )
        method = f" · {node['method']}" if node.get("method") else ""
        title = node.get("title_text") or f"{node['name']}{method}"
        parts.append(_text(x + 10, y + 16, title, anchor="start", size=13, weight="600"))
        detail = (
            node.get("detail_text") or f"{fmt(node.get('base_value'))} → {fmt(node.get('value'))}"
        )
        parts.append(_text(x + 10, y + 31, detail, anchor="start", size=11, color=MUTED))
        share = node.get("share")
        contrib = node.get("contribution_text") or (
            signed(c) + (f"（{share:+.1%}）" if share is not None else "")
        )
        parts.append(
            _text(x + box_w - 10, y + 23, contrib, anchor="end", size=13, color=color, weight="600")
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_svg(value: float, max_abs: float, *, width: int = 120, height: int = 14) -> Markup:
    """A signed horizontal bar centred on zero (the dimension table's contribution column)."""
    mid = width / 2
    length = 0.0 if not max_abs else abs(value) / max_abs * (mid - 2)
    x = mid if value >= 0 else mid - length
    color = UP if value >= 0 else DOWN
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'class="chart bar"><line x1="{mid}" y1="0" x2="{mid}" y2="{height}" stroke="#adb5bd"/>'
        f'<rect x="{x:.1f}" y="2" width="{length:.1f}" height="{height - 4}" fill="{color}"/></svg>'
    )


def trend_svg(
    points: Sequence[tuple[str, float]],
    *,
    width: int = 360,
    height: int = 90,
    marks: Sequence[Any] = (),
) -> Markup:
    """A small line of the last months, the latest point marked and labelled; ``marks``
    (:class:`analysis.definition_marks.DefinitionMark`) drawn where the definition changed."""
    if not points:
        return Markup("")
    values = [v for _period, v in points]
    lo, hi = min(values), max(values)
    span = hi - lo or abs(hi) or 1.0
    marks = [m for m in marks if m.period and m.period > points[0][0]]
    left, right, top, bottom = 4, 64, 22 if marks else 10, 18  # room above for mark labels
    step = (width - left - right) / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + (hi - v) / span * (height - top - bottom)

    coords = [xy(i, v) for i, v in enumerate(values)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    lx, ly = coords[-1]
    label = _("trend")
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'role="img" aria-label="{escape(label)}" class="chart trend">'
        f'<path d="{path}" fill="none" stroke="{TOTAL}" stroke-width="2"/>'
        f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="3.5" fill="{INK}"/>'
        + _text(lx + 6, ly + 4, fmt(values[-1]), anchor="start", size=11, weight="600")
        + _text(left, height - 3, points[0][0], anchor="start", size=10, color=MUTED)
        + _text(lx, height - 3, points[-1][0], anchor="end", size=10, color=MUTED)
        + _definition_marks(points, marks, lambda i: xy(i, lo)[0], step, top, height - bottom)
        + "</svg>"
    )


MARK_COLORS = {"major": "#d1495b", "minor": "#edae49"}


def _definition_marks(
    points: Sequence[tuple[str, float]],
    marks: Sequence[Any],
    x_of: Any,
    step: float,
    top: float,
    bottom: float,
) -> str:
    """A dashed line before the first month computed under each new definition (at the right
    edge when it came after the last month shown), its version on top, details on hover."""
    out = []
    periods = [p for p, _ in points]
    for mark in marks:
        later = [i for i, p in enumerate(periods) if p >= mark.period]
        x = x_of(later[0]) - step / 2 if later else x_of(len(periods) - 1) + min(step / 2, 8)
        anchor = "middle" if later else "end"  # after the last month: label left of the line
        color = MARK_COLORS.get(mark.change_class, MUTED)
        cls = change_class_word(mark.change_class)  # 重大变更 / major change
        about = f"{mark.version} {cls} {mark.date or ''} " + _(", ").join(mark.fields)
        out.append(
            f'<g class="def-mark" data-version="{escape(mark.version)}" '
            f'data-class="{escape(mark.change_class)}" data-period="{escape(mark.period)}">'
            f"<title>{escape(about.strip())}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 8:.1f}" y2="{bottom:.1f}" '
            f'stroke="{color}" stroke-width="1.5" stroke-dasharray="3,2"/>'
            + _text(x, 10, f"v{mark.version}", anchor=anchor, size=9, color=color)
            + "</g>"
        )
    return "".join(out)
