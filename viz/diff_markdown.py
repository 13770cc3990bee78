"""A diff report as Markdown, written to be pasted as a pull-request comment.

Catalog text is escaped: table pipes, HTML (GitHub renders it), backticks and line breaks
cannot break out of their cell or inject markup.
"""

from __future__ import annotations

import re
from typing import Any

from analysis.compare import change_text, display
from analysis.diff import AffectedNode, DiffReport
from analysis.results import Via
from graph_schema.revisions import ChangeOp, NodeChange

MAX_ROWS = 200
MAX_VALUE = 120
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#!~])")


def md(value: Any, limit: int = MAX_VALUE) -> str:
    """Text safe inside a Markdown table cell.

    Examples
    --------
    >>> md("a|b <script>")
    'a\\\\|b &lt;script&gt;'
    """
    text = display(value) if not isinstance(value, str) else value
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(value: Any) -> str:
    """Text inside a code span: backticks and line breaks removed, nothing else escaped
    (backslashes show literally in code spans); the HTML-significant ``<``/``&`` stay inert.

    Examples
    --------
    >>> code("Metric:mobile_board`x")
    '`Metric:mobile_board x`'
    """
    text = " ".join(str(value).replace("`", " ").split())[:MAX_VALUE]
    return f"`{text}`"


def _counts(c: Any) -> str:
    return f"+{c.added} −{c.removed} ~{c.modified}"


def diff_markdown(report: DiffReport) -> str:
    """The whole report: summary, version verdicts, changes, impact, approvals."""
    lines = [f"### kpigraph diff: {code(report.old)} → {code(report.new)}", ""]
    if report.empty:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    classes = ", ".join(f"{n} {c}" for c, n in sorted(report.classes.items())) or "none"
    lines.append(
        f"**Metrics changed by class:** {classes} · nodes {_counts(report.node_counts)} · "
        f"edges {_counts(report.edge_counts)}"
    )
    lines.append("")
    if report.problems:
        lines.append("**❌ Version rules broken** — the load would be refused:")
        lines += [f"- {md(p, 300)}" for p in report.problems]
    else:
        lines.append("✅ Versions follow the rules.")
    lines.append("")
    metrics = [c for c in report.nodes if c.ref.startswith("Metric:")]
    others = [c for c in report.nodes if not c.ref.startswith("Metric:")]
    if metrics:
        lines += ["#### Metrics", "", "| metric | change | class | version | changes |"]
        lines.append("|---|---|---|---|---|")
        for c in metrics[:MAX_ROWS]:
            lines.append(
                f"| {code(c.ref.split(':', 1)[1])} | {c.op.value} | "
                f"{_class(c)} | {_version(c)} | {_fields(c)} |"
            )
        lines += [*_more(len(metrics)), ""]
    if others:
        lines += ["#### Other nodes", ""]
        lines += [f"- {c.op.value} {code(c.ref)} {_fields(c)}" for c in others[:MAX_ROWS]]
        lines += [*_more(len(others)), ""]
    if report.edges:
        lines += ["#### Edges", ""]
        for e in report.edges[:MAX_ROWS]:
            sign = {ChangeOp.ADDED: "+", ChangeOp.REMOVED: "−"}.get(e.op, "~")
            lines.append(f"- {sign} {code(e.source)} —{e.type}→ {code(e.target)}")
        lines += [*_more(len(report.edges)), ""]
    lines += _impact(report)
    return "\n".join(lines).rstrip() + "\n"


def _more(n: int) -> list[str]:
    return [f"- … and {n - MAX_ROWS} more"] if n > MAX_ROWS else []


def _class(c: NodeChange) -> str:
    return f"**{c.change_class.value}**" if c.change_class else "—"


def _version(c: NodeChange) -> str:
    if c.op is not ChangeOp.MODIFIED:
        return md(c.new_version or c.old_version or "—")
    text = f"{md(c.old_version or '—')} → {md(c.new_version or '—')}"
    if c.version_ok is False:
        return f"{text} ❌ needs {md(c.required_version)}"
    return text


def _fields(c: NodeChange) -> str:
    if c.op is not ChangeOp.MODIFIED:
        return ""
    parts = [f"{md(f.field)}: {md(change_text(f.old, f.new), 200)}" for f in c.fields[:6]]
    if len(c.fields) > 6:
        parts.append(f"… {len(c.fields) - 6} more")
    return "<br>".join(parts)


def _impact(report: DiffReport) -> list[str]:
    imp = report.impact
    lines = ["#### Impact", ""]
    for via, title in ((Via.DEFINITION, "Recomputed"), (Via.INFLUENCE, "Influenced")):
        group: list[AffectedNode] = [n for n in [*imp.metrics, *imp.dashboards] if n.via is via]
        lines.append(f"**{title} (via {via.value})** — {len(group)}")
        lines += [
            f"- {code(n.ref)} {md(n.name)}{f' ({n.level})' if n.level else ''} — "
            f"{' → '.join(p.split(':', 1)[1] for p in n.path)}"
            for n in group[:MAX_ROWS]
        ]
        lines += [*_more(len(group)), ""]
    flags = []
    if imp.touches_l0:
        flags.append("⚠ recomputes an L0 (north-star) metric")
    if imp.influences_l0:
        flags.append("influences an L0 metric")
    if flags:
        lines += ["; ".join(flags), ""]
    if imp.approvals:
        lines += ["#### Approvals required", ""]
        lines += [
            f"- **{md(a.name)}** ({code(a.approver)}, {a.role}) — {md(a.reason, 300)}"
            for a in imp.approvals
        ]
        lines.append("")
    if imp.departments:
        lines += ["#### Departments to notify", ""]
        lines += [
            f"- {md(d.name)} ({code(d.ref)}): owns {len(d.owns)}, reviews {len(d.reviews)}"
            for d in imp.departments
        ]
    return lines
