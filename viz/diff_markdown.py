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
from core.i18n import _
from graph_schema.revisions import ChangeOp, NodeChange
from viz.labels import change_class_word, translate

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
        lines.append(_("No changes."))
        return "\n".join(lines) + "\n"
    classes = _(", ").join(
        f"{n} {change_class_word(c)}" for c, n in sorted(report.classes.items())
    ) or _("none")
    summary = _(
        "**Metrics changed by class:** {classes} · nodes {nodes} · edges {edges}",
        classes=classes,
        nodes=_counts(report.node_counts),
        edges=_counts(report.edge_counts),
    )
    lines += [summary, ""]
    if report.problems:
        lines.append(_("**❌ Version rules broken** — the load would be refused:"))
        lines += [f"- {md(p, 300)}" for p in report.problems]
    else:
        lines.append(_("✅ Versions follow the rules."))
    lines.append("")
    metrics = [c for c in report.nodes if c.ref.startswith("Metric:")]
    others = [c for c in report.nodes if not c.ref.startswith("Metric:")]
    if metrics:
        header = " | ".join(
            [_("metric"), _("change"), _("Change class"), _("Version"), _("changes")]
        )
        lines += ["#### " + _("Changed metrics"), "", f"| {header} |", "|---|---|---|---|---|"]
        for c in metrics[:MAX_ROWS]:
            lines.append(
                f"| {code(c.ref.split(':', 1)[1])} | {translate(c.op.value)} | "
                f"{_class(c)} | {_version(c)} | {_fields(c)} |"
            )
        lines += [*_more(len(metrics)), ""]
    if others:
        lines += ["#### " + _("Other nodes"), ""]
        lines += [
            f"- {translate(c.op.value)} {code(c.ref)} {_fields(c)}" for c in others[:MAX_ROWS]
        ]
        lines += [*_more(len(others)), ""]
    if report.edges:
        lines += ["#### " + _("Edges"), ""]
        for e in report.edges[:MAX_ROWS]:
            sign = {ChangeOp.ADDED: "+", ChangeOp.REMOVED: "−"}.get(e.op, "~")
            lines.append(f"- {sign} {code(e.source)} —{e.type}→ {code(e.target)}")
        lines += [*_more(len(report.edges)), ""]
    lines += _impact(report)
    return "\n".join(lines).rstrip() + "\n"


def _more(n: int) -> list[str]:
    return ["- " + _("… and {n} more", n=n - MAX_ROWS)] if n > MAX_ROWS else []


def _class(c: NodeChange) -> str:
    return f"**{change_class_word(c.change_class)}**" if c.change_class else "—"


def _version(c: NodeChange) -> str:
    if c.op is not ChangeOp.MODIFIED:
        return md(c.new_version or c.old_version or "—")
    text = f"{md(c.old_version or '—')} → {md(c.new_version or '—')}"
    if c.version_ok is False:
        return f"{text} ❌ " + _("needs {version}", version=md(c.required_version))
    return text


def _fields(c: NodeChange) -> str:
    if c.op is not ChangeOp.MODIFIED:
        return ""
    colon = _(": ")
    parts = [f"{md(f.field)}{colon}{md(change_text(f.old, f.new), 200)}" for f in c.fields[:6]]
    if len(c.fields) > 6:
        parts.append(_("… and {n} more", n=len(c.fields) - 6))
    return "<br>".join(parts)


def _approver(approver: str, role: str) -> str:
    """Who signs: a department's ref and its role; the committee is no ref (its name says it)."""
    if role == "committee":
        return translate(role)
    return f"{code(approver)}, {translate(role)}"


def _impact(report: DiffReport) -> list[str]:
    imp = report.impact
    lines = ["#### " + _("Impact"), ""]
    for via, title in ((Via.DEFINITION, _("Recomputed")), (Via.INFLUENCE, _("Read differently"))):
        group: list[AffectedNode] = [n for n in [*imp.metrics, *imp.dashboards] if n.via is via]
        label = _("{name} ({role})", name=title, role=translate(via.value))
        lines.append(f"**{label}** — {len(group)}")
        lines += [
            f"- {code(n.ref)} {md(n.name)}{f' ({n.level})' if n.level else ''} — "
            f"{' → '.join(p.split(':', 1)[1] for p in n.path)}"
            for n in group[:MAX_ROWS]
        ]
        lines += [*_more(len(group)), ""]
    flags = []
    if imp.touches_l0:
        flags.append("⚠ " + _("recomputes an L0 (north-star) metric"))
    if imp.influences_l0:
        flags.append(_("influences an L0 metric"))
    if flags:
        lines += [_("; ").join(flags), ""]
    if imp.approvals:
        lines += ["#### " + _("Approvals required"), ""]
        lines += [
            f"- **{md(a.name)}** ({_approver(a.approver, a.role)}) — {md(a.reason, 300)}"
            for a in imp.approvals
        ]
        lines.append("")
    if imp.departments:
        lines += ["#### " + _("Departments to notify"), ""]
        lines += [
            f"- {md(d.name)} ({code(d.ref)})"
            + _(": ")
            + _("owns {owns}, reviews {reviews}", owns=len(d.owns), reviews=len(d.reviews))
            for d in imp.departments
        ]
    return lines
