"""Human-readable rendering of analysis results for the terminal (rich handles CJK widths)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from analysis.results import ImpactReport, LineageResult, NodeCard, PathsResult
from graph_schema.errors import CatalogIssue
from store.base import SearchPage, StoreInfo


def lineage_table(console: Console, result: LineageResult) -> None:
    title = f"{result.direction.value} lineage of {result.root} (depth ≤ {result.depth})"
    table = Table(title=title, title_justify="left")
    for col in ("hop", "side", "kind", "ref", "name", "level"):
        table.add_column(col, no_wrap=col != "name", overflow="fold")
    for n in result.nodes:
        table.add_row(str(n.depth), n.side, n.kind, n.ref, n.name, n.level or "")
    console.print(table)
    if result.truncated:
        console.print("[yellow]truncated: narrow --relations/--kinds or lower --depth[/]")
    console.print(f"{len(result.nodes)} nodes, {len(result.edges)} edges")


def impact_report(console: Console, report: ImpactReport) -> None:
    console.print(Text(f"Impact of changing {report.root}", style="bold"))
    if report.touches_l0:
        console.print("[bold red]⚠ touches an L0 (north-star) metric[/]")
    metrics = Table(title="affected metrics", title_justify="left")
    for col in ("hop", "ref", "name", "level"):
        metrics.add_column(col)
    for m in report.metrics:
        metrics.add_row(str(m.depth), m.ref, m.name, m.level or "")
    console.print(metrics)
    boards = Table(title="dashboards", title_justify="left")
    for col in ("hop", "ref", "name"):
        boards.add_column(col)
    for d in report.dashboards:
        boards.add_row(str(d.depth), d.ref, d.name)
    console.print(boards)
    depts = Table(title="departments to notify", title_justify="left")
    for col in ("ref", "name", "owns", "reviews"):
        depts.add_column(col)
    for dep in report.departments:
        depts.add_row(dep.ref, dep.name, _short(dep.owns), _short(dep.reviews))
    console.print(depts)
    console.print(
        f"{len(report.metrics)} metrics, {len(report.dashboards)} dashboards, "
        f"{len(report.departments)} departments"
    )


def _short(refs: list[str]) -> str:
    return ", ".join(r.split(":", 1)[1] for r in refs)


def paths_table(console: Console, result: PathsResult) -> None:
    if not result.paths:
        console.print(
            f"no path between {result.source} and {result.target} within {result.max_depth} hops"
        )
        return
    for i, path in enumerate(result.paths, 1):
        names = " — ".join(f"{n.name} ({n.ref})" for n in path.nodes)
        console.print(f"[bold]{i}.[/] {path.length} hop(s): {names}")
        for e in path.edges:
            console.print(f"     {e.source} -[{e.type}]-> {e.target}")


_CARD_LABELS: list[tuple[str, str]] = [
    ("name", "中文名称"),
    ("name_en", "英文名称"),
    ("abbr", "缩写"),
    ("level", "指标级别"),
    ("domain", "所属领域"),
    ("owner", "责任部门"),
    ("reviewer", "审核部门"),
    ("status", "状态"),
    ("definition", "定义"),
    ("meaning", "业务含义"),
    ("formula", "计算公式"),
    ("drivers", "驱动拆解"),
    ("unit", "单位"),
    ("example", "计算示例"),
    ("caliber", "统计口径"),
    ("data_source", "数据来源"),
    ("fields", "绑定字段"),
    ("sql", "取数逻辑"),
    ("dimensions", "分析维度"),
    ("rolls_up_to", "上级指标"),
    ("causes", "影响"),
    ("parallel", "平行指标"),
    ("dashboards", "看板"),
    ("use_cases", "使用场景"),
    ("benchmarks", "行业基准"),
    ("caveats", "注意事项"),
    ("special_cases", "特殊情况处理"),
    ("update_frequency", "更新频率"),
    ("review_policy", "定义更新"),
    ("version", "版本"),
    ("history", "版本记录"),
    ("contacts", "咨询联系"),
]

_SCOPE_LABELS = {"numerator": "分子", "denominator": "分母", "scope": "范围"}
_CONTACT_LABELS = {"business": "指标负责人", "technical": "技术负责人", "data_support": "取数支持"}


def _card_value(key: str, value: Any) -> str:
    """Format one template field the way the seed's definition card reads."""
    if key == "caliber" and isinstance(value, dict):
        lines = []
        for part, label in _SCOPE_LABELS.items():
            scope = value.get(part) or {}
            if scope.get("includes"):
                lines.append(f"{label}包含: " + "、".join(scope["includes"]))
            if scope.get("excludes"):
                lines.append(f"{label}不含: " + "、".join(scope["excludes"]))
        if value.get("time"):
            lines.append("时间范围: " + value["time"])
        lines += [f"规则: {r}" for r in value.get("rules", [])]
        return "\n".join(lines)
    if key == "benchmarks":
        return "\n".join(
            f"{b['segment']}: 平均 {b.get('average', '-')}，优秀 {b.get('excellent', '-')}"
            + (f"（{b['source']}）" if b.get("source") else "")
            for b in value
        )
    if key == "history":
        return "\n".join(
            f"V{h['version']} ({h.get('date', '?')}): {h.get('change', '')}" for h in value
        )
    if key == "causes":
        return "\n".join(
            f"{c.get('polarity', '+')} → {c['metric']}"
            + (f"（滞后 {c['lag']}）" if c.get("lag") else "")
            for c in value
        )
    if key == "contacts" and isinstance(value, dict):
        return "\n".join(f"{_CONTACT_LABELS.get(k, k)}: {v}" for k, v in value.items())
    if key == "sql":
        return str(value).rstrip()
    if isinstance(value, list):
        return "\n".join(f"• {_fmt(v)}" for v in value)
    return _fmt(value)


def node_card(console: Console, card: NodeCard) -> None:
    node = card.node
    console.print(Text(f"{card.ref}  {node.get('name', '')}", style="bold"))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    shown = {"id", "kind"}
    for key, label in _CARD_LABELS:
        if node.get(key) not in (None, "", [], {}):
            table.add_row(label, Text(_card_value(key, node[key])))
        shown.add(key)
    for key, value in node.items():
        if key not in shown and value not in (None, "", [], {}):
            table.add_row(key, Text(_card_value(key, value)))
    console.print(table)
    for group in card.neighbours:
        parts = []
        if group.incoming:
            parts.append("← " + ", ".join(f"{n.name}({n.ref})" for n in group.incoming))
        if group.outgoing:
            parts.append("→ " + ", ".join(f"{n.name}({n.ref})" for n in group.outgoing))
        console.print(Text(f"{group.relation} " + "  ".join(parts)), style="magenta")


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def search_table(console: Console, page: SearchPage) -> None:
    table = Table(title=f"{page.total} match(es)", title_justify="left")
    for col in ("ref", "name", "level", "domain"):
        table.add_column(col)
    for node in page.items:
        level = getattr(node, "level", None)
        table.add_row(
            str(node.ref),
            node.name,
            level.value if level else "",
            getattr(node, "domain", "") or "",
        )
    console.print(table)


def store_info(console: Console, info: StoreInfo, where: str) -> None:
    counts = ", ".join(f"{v} {k}" for k, v in info.counts.items() if v)
    console.print(f"loaded catalog {info.catalog!r} into {info.backend} store {where}: {counts}")


def catalog_issues(console: Console, issues: list[CatalogIssue]) -> None:
    for issue in issues:
        console.print(Text(str(issue)), highlight=False)
