"""Every lint rule, positive and negative, on small hand-written catalogs."""

# ruff: noqa: E501  (catalog YAML and SQL fixtures read best on one line)

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from analysis.lint import LintReport, lint_catalog, lint_definition, run_rules
from core import i18n
from graph_schema.rules import DEFAULT_RULES, RULE_IDS
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Severity
from loaders.catalog import load_catalog


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages asserted here are the English ones (the zh catalogue is checked in
    tests/unit/test_i18n.py)."""
    with i18n.use("en"):
        yield


SOURCES = """\
- id: dms
  name: DMS
  tables:
    - id: dms_orders
      name: 工单表
      fields:
        - {id: order_id, name: 工单号}
        - {id: order_status, name: 状态}
        - {id: total_amount, name: 金额}
        - {id: store_id, name: 门店}
  views:
    - id: v_done
      name: 已完成工单
      sql: SELECT order_id, total_amount AS amount FROM dms_orders WHERE order_status = 'completed'
      fields:
        - {id: order_id, name: 工单号}
        - {id: amount, name: 金额}
"""

# a complete, clean base: an L0 with everything, an L1 under it shown on the board
BASE = """\
- id: revenue
  name: 营收
  level: L0
  owner: finance
  reviewer: finance
  version: 1.0.0
  caliber: {time: 自然月}
  benchmarks: [{label: 行业, min: 1}]
  fields: [dms.dms_orders.total_amount, dms.dms_orders.order_status]
  sql: SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed'
  dashboards: [board]
- id: visits
  name: 进厂台次
  level: L1
  owner: ops
  caliber: {time: 自然月}
  benchmarks: [{label: 行业, min: 1}]
  fields: [dms.dms_orders.order_id, dms.dms_orders.order_status]
  sql: |
    SELECT COUNT(DISTINCT order_id)
    FROM dms_orders
    WHERE order_status = 'completed'
  rolls_up_to: revenue
"""


def catalog(tmp: Path, metrics: str = "", manifest: str = "", sources: str = SOURCES) -> Path:
    files = {
        "kpigraph.yaml": "name: t\n" + textwrap.dedent(manifest),
        "departments.yaml": "- {id: ops, name: 运营部}\n- {id: finance, name: 财务部}\n",
        "dimensions.yaml": "- {id: time, name: 时间}\n",
        "dashboards.yaml": "- {id: board, name: 看板, kind: pc}\n",
        "sources.yaml": sources,
        "metrics/all.yaml": "metrics:\n" + textwrap.indent(BASE + textwrap.dedent(metrics), "  "),
    }
    for rel, text in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp


def of(report: LintReport, rule: str) -> list[LintIssue]:
    return [i for i in report.issues if i.rule == rule]


def lint(tmp: Path, metrics: str = "", manifest: str = "", sources: str = SOURCES) -> LintReport:
    return lint_catalog(catalog(tmp, metrics, manifest, sources))


def test_the_base_catalog_is_clean(tmp_path: Path) -> None:
    report = lint(tmp_path)
    assert [i for i in report.issues if i.severity is not Severity.INFO] == []
    # the base table's store_id is read by nothing: an orphan field, and only that
    assert [(i.rule, i.refs) for i in report.issues] == [
        ("orphans.field", ("Field:dms.dms_orders.store_id",))
    ]


def test_rule_ids_are_unique_and_documented() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS))
    for rule in DEFAULT_RULES:
        assert rule.id.count(".") == 1 and rule.summary and rule.severity in Severity


# -- conflict ---------------------------------------------------------------------------------

FIVE_STORES = "".join(
    f"""\
- id: atp_{s}
  name: 客单价
  formula: revenue / visits{extra}
  rolls_up_to: revenue
"""
    for s, extra in [("a", ""), ("b", " * 1"), ("c", " + 0"), ("d", " - 0"), ("e", " / 1")]
)


def test_conflict_name_lists_all_five_stores(tmp_path: Path) -> None:
    [issue] = of(lint(tmp_path, FIVE_STORES), "conflict.name")
    assert issue.severity is Severity.ERROR
    assert issue.refs == tuple(f"Metric:atp_{s}" for s in "abcde")
    assert "5 metrics with the same name '客单价'" in issue.message
    assert issue.file == "metrics/all.yaml" and issue.line
    assert "metrics/all.yaml:" in issue.message  # every member says where it is


def test_conflict_name_ignoring_bracketed_qualifiers_is_a_warning(tmp_path: Path) -> None:
    metrics = """\
- {id: atp_a, name: 客单价（A店口径）, rolls_up_to: revenue}
- {id: atp_b, name: 客单价(B店口径), rolls_up_to: revenue}
"""
    [issue] = of(lint(tmp_path, metrics), "conflict.name")
    assert issue.severity is Severity.WARNING and len(issue.refs) == 2


def test_conflict_name_negative(tmp_path: Path) -> None:
    metrics = "- {id: atp, name: 客单价, rolls_up_to: revenue}\n"
    assert of(lint(tmp_path, metrics), "conflict.name") == []


def test_conflict_name_en_and_abbr(tmp_path: Path) -> None:
    metrics = """\
- {id: a1, name: 甲, name_en: Ticket, abbr: ATP, rolls_up_to: revenue}
- {id: a2, name: 乙, name_en: ticket, abbr: atp, rolls_up_to: revenue}
- {id: a3, name: 丙, name_en: Other, abbr: OTH, rolls_up_to: revenue}
"""
    report = lint(tmp_path, metrics)
    [en] = of(report, "conflict.name-en")
    [abbr] = of(report, "conflict.abbr")
    assert en.refs == abbr.refs == ("Metric:a1", "Metric:a2")
    assert en.severity is Severity.WARNING


def test_conflict_definition_equal_and_near_equal(tmp_path: Path) -> None:
    metrics = """\
- {id: atp, name: 客单价, formula: revenue / visits, rolls_up_to: revenue}
- {id: avg_ticket, name: 平均客单价, formula: "revenue/visits", rolls_up_to: revenue}
- id: done_amount
  name: 完成金额
  sql: SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed' AND 1 = 1
  dashboards: [board]
- id: store_part
  name: 门店营收
  sql: SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed' AND 1 = 2
  rolls_up_to: revenue
"""
    issues = of(lint(tmp_path, metrics), "conflict.definition")
    # a breakdown under its parent differs by a filter on purpose: not a conflict
    assert not [i for i in issues if set(i.refs) == {"Metric:store_part", "Metric:revenue"}]
    groups = sorted(i.refs for i in issues)
    assert ("Metric:atp", "Metric:avg_ticket") in groups
    near = next(i for i in issues if set(i.refs) == {"Metric:done_amount", "Metric:revenue"})
    assert "near-equal sql" in near.message


def test_conflict_definition_negative(tmp_path: Path) -> None:
    metrics = "- {id: atp, name: 客单价, formula: revenue / visits, rolls_up_to: revenue}\n"
    assert of(lint(tmp_path, metrics), "conflict.definition") == []


# -- naming -----------------------------------------------------------------------------------

NAMING = """\
lint:
  naming:
    atomic: [订单数, 营收, 进厂台次]
"""


def test_naming_pattern(tmp_path: Path) -> None:
    metrics = """\
- {id: new_orders_30d, name: 近30天新增订单数, atomic: 订单数, qualifiers: [新增], window: 近30天, rolls_up_to: revenue}
- {id: bad_name, name: 新订单, atomic: 订单数, qualifiers: [新增], rolls_up_to: revenue}
"""
    [issue] = of(lint(tmp_path, metrics, NAMING), "naming.pattern")
    assert issue.refs == ("Metric:bad_name",) and "'新增订单数'" in issue.message
    assert issue.fix and "新增订单数" in issue.fix


def test_naming_pattern_is_configurable_and_atomic_may_be_a_metric(tmp_path: Path) -> None:
    manifest = NAMING + '    pattern: "{atomic}（{qualifiers}）"\n    joiner: "、"\n'
    metrics = """\
- {id: r1, name: 营收（线上、新客）, atomic: revenue, qualifiers: [线上, 新客], rolls_up_to: revenue}
"""
    assert of(lint(tmp_path, metrics, manifest), "naming.pattern") == []


def test_naming_atomic_unknown(tmp_path: Path) -> None:
    metrics = (
        "- {id: x, name: 新增线索数, atomic: 线索数, qualifiers: [新增], rolls_up_to: revenue}\n"
    )
    [issue] = of(lint(tmp_path, metrics, NAMING), "naming.atomic-unknown")
    assert issue.severity is Severity.ERROR and "'线索数'" in issue.message
    ok = "- {id: x, name: 新增订单数, atomic: 订单数, qualifiers: [新增], rolls_up_to: revenue}\n"
    assert of(lint(tmp_path, ok, NAMING), "naming.atomic-unknown") == []


def test_naming_uncomposed(tmp_path: Path) -> None:
    metrics = """\
- {id: anything, name: 随便一个名字, rolls_up_to: revenue}
- {id: new_orders, name: 新增订单数, rolls_up_to: revenue}
- {id: orders, name: 订单数, rolls_up_to: revenue}
- {id: order_rate, name: 订单转化率, formula: orders / visits, rolls_up_to: revenue}
"""
    issues = of(lint(tmp_path, metrics, NAMING), "naming.uncomposed")
    assert sorted(i.refs for i in issues) == [("Metric:anything",), ("Metric:new_orders",)]
    composed = next(i for i in issues if i.refs == ("Metric:new_orders",))
    assert composed.fix and "atomic: 订单数" in composed.fix
    # without a declared atomic list the rule has nothing to check against
    assert of(lint(tmp_path, metrics), "naming.uncomposed") == []


# -- levels -----------------------------------------------------------------------------------


def test_levels_rollup_to_lower_level(tmp_path: Path) -> None:
    metrics = """\
- {id: detail, name: 明细, level: L3, definition: d, rolls_up_to: revenue}
- {id: top, name: 顶层, level: L1, caliber: {time: t}, sql: SELECT 1, owner: ops, benchmarks: [{label: x}], rolls_up_to: detail}
"""
    report = lint(tmp_path, metrics)
    [issue] = of(report, "levels.rollup-lower")
    assert issue.refs == ("Metric:top", "Metric:detail") and issue.severity is Severity.ERROR
    assert issue.line == _line_of(tmp_path, "rolls_up_to: detail")


def test_levels_rollup_same_level_is_info_and_upward_is_fine(tmp_path: Path) -> None:
    metrics = "- {id: v2, name: 台次2, level: L1, rolls_up_to: visits}\n"
    [issue] = of(lint(tmp_path, metrics), "levels.rollup-lower")
    assert issue.severity is Severity.INFO
    assert of(lint(tmp_path), "levels.rollup-lower") == []  # visits L1 → revenue L0


def test_levels_l0_governance(tmp_path: Path) -> None:
    metrics = "- {id: ns, name: 北极星, level: L0, owner: ops, rolls_up_to: revenue}\n"
    [issue] = of(lint(tmp_path, metrics), "levels.l0-governance")
    assert issue.severity is Severity.WARNING and "reviewer, version" in issue.message
    assert of(lint(tmp_path), "levels.l0-governance") == []


# -- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_rules(tmp_path: Path) -> None:
    metrics = """\
- {id: old, name: 旧指标, status: deprecated, dashboards: [board], rolls_up_to: revenue}
- {id: wip, name: 草稿指标, status: draft, rolls_up_to: revenue}
- {id: uses_old, name: 用旧, formula: old * 2, rolls_up_to: revenue}
- {id: uses_wip, name: 用草稿, formula: wip + visits, rolls_up_to: revenue}
- {id: draft_user, name: 草稿用旧, status: draft, formula: old + 1, rolls_up_to: revenue}
"""
    report = lint(tmp_path, metrics)
    [dep] = of(report, "lifecycle.depends-on-deprecated")
    assert dep.refs == ("Metric:uses_old", "Metric:old")  # the draft user is not flagged
    [draft] = of(report, "lifecycle.depends-on-draft")
    assert draft.refs == ("Metric:uses_wip", "Metric:wip")
    [board] = of(report, "lifecycle.dashboard-deprecated")
    assert board.refs == ("Metric:old", "Dashboard:board")
    clean = lint(tmp_path)
    assert not [i for i in clean.issues if i.rule.startswith("lifecycle.")]


# -- orphans ----------------------------------------------------------------------------------


def test_orphans(tmp_path: Path) -> None:
    metrics = "- {id: lonely, name: 孤儿}\n- {id: gone, name: 已废弃, status: deprecated}\n"
    report = lint(tmp_path, metrics)
    assert [i.refs for i in of(report, "orphans.metric")] == [("Metric:lonely",)]
    assert [i.refs for i in of(report, "orphans.field")] == [("Field:dms.dms_orders.store_id",)]
    assert all(i.severity is Severity.INFO for i in report.issues if i.rule.startswith("orph"))


def test_orphan_field_read_only_by_sql_is_not_an_orphan(tmp_path: Path) -> None:
    metrics = "- {id: s, name: 门店数, sql: SELECT COUNT(DISTINCT store_id) FROM dms_orders, rolls_up_to: revenue}\n"
    assert of(lint(tmp_path, metrics), "orphans.field") == []


# -- card -------------------------------------------------------------------------------------


def test_card_incomplete_per_level(tmp_path: Path) -> None:
    metrics = """\
- {id: l1, name: 一级, level: L1, owner: ops, rolls_up_to: revenue}
- {id: l2, name: 二级, level: L2, rolls_up_to: revenue}
- {id: l2ok, name: 二级好, level: L2, definition: 有定义, rolls_up_to: revenue}
"""
    issues = of(lint(tmp_path, metrics), "card.incomplete")
    assert {i.refs[0]: i.message for i in issues} == {
        "Metric:l1": "L1 metric 'l1' misses caliber, sql, benchmarks",
        "Metric:l2": "L2 metric 'l2' misses definition",
    }
    manifest = "lint:\n  card: {L1: [owner], L2: []}\n"
    assert of(lint(tmp_path, metrics, manifest), "card.incomplete") == []


# -- SQL vs fields ----------------------------------------------------------------------------


def test_sql_field_not_read_and_column_not_declared(tmp_path: Path) -> None:
    metrics = """\
- id: done
  name: 已完成金额
  fields: [dms.dms_orders.total_amount, dms.dms_orders.store_id]
  sql: SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed'
  rolls_up_to: revenue
"""
    report = lint(tmp_path, metrics)
    [unread] = of(report, "sql.field-not-read")
    assert "dms.dms_orders.store_id" in unread.message and unread.severity is Severity.WARNING
    [undeclared] = of(report, "sql.column-not-declared")
    assert "dms.dms_orders.order_status" in undeclared.message
    assert undeclared.line == _line_of(tmp_path, "dms.dms_orders.store_id]")


def test_sql_through_a_view_accepts_view_or_base_fields(tmp_path: Path) -> None:
    metrics = """\
- {id: via_view, name: 视图营收, fields: [dms.v_done.amount], sql: SELECT SUM(amount) FROM v_done, rolls_up_to: revenue}
- {id: via_base, name: 视图营收2, fields: [dms.dms_orders.total_amount], sql: SELECT SUM(amount) + 0 FROM v_done, rolls_up_to: revenue}
"""
    report = lint(tmp_path, metrics)
    assert of(report, "sql.field-not-read") == []
    [missing] = of(report, "sql.column-not-declared")
    assert missing.refs == ("Metric:via_base",) and "order_status" in missing.message


def test_sql_unknown_table_and_column(tmp_path: Path) -> None:
    metrics = """\
- {id: a, name: 甲, sql: SELECT SUM(x) FROM ods_orders, rolls_up_to: revenue}
- {id: b, name: 乙, sql: SELECT SUM(bogus) FROM dms_orders, rolls_up_to: revenue}
"""
    report = lint(tmp_path, metrics)
    [table] = of(report, "sql.unknown-table")
    assert "'ods_orders'" in table.message and table.severity is Severity.ERROR
    [column] = of(report, "sql.unknown-column")
    assert "dms.dms_orders.bogus" in column.message
    assert report.has_errors


def test_sql_parse_error_points_at_the_line(tmp_path: Path) -> None:
    metrics = """\
- id: broken
  name: 坏SQL
  sql: |
    SELECT SUM(total_amount)
    FROM dms_orders
    WHERE AND order_status
  rolls_up_to: revenue
"""
    [issue] = of(lint(tmp_path, metrics), "sql.parse-error")
    assert issue.severity is Severity.ERROR
    assert issue.line == _line_of(tmp_path, "WHERE AND order_status")
    assert "SQL does not parse at line 3" in issue.message


def test_sql_dialect_from_catalog_and_system(tmp_path: Path) -> None:
    metrics = "- {id: bt, name: 反引号, fields: [dms.dms_orders.total_amount], sql: 'SELECT SUM(`total_amount`) FROM dms_orders', rolls_up_to: revenue}\n"
    assert of(lint(tmp_path, metrics, "dialect: postgres\n"), "sql.parse-error")
    assert not of(lint(tmp_path, metrics, "dialect: mysql\n"), "sql.parse-error")
    hive_sources = SOURCES.replace("  name: DMS\n", "  name: DMS\n  dialect: hive\n", 1)
    assert not of(lint(tmp_path, metrics, "dialect: postgres\n", hive_sources), "sql.parse-error")
    [bad] = of(lint(tmp_path, metrics, "dialect: cobol\n"), "sql.dialect")
    assert "unknown SQL dialect 'cobol'" in bad.message and bad.file == "kpigraph.yaml"
    cobol_sources = SOURCES.replace("  name: DMS\n", "  name: DMS\n  dialect: cobol\n", 1)
    [bad] = of(lint(tmp_path, metrics, "", cobol_sources), "sql.dialect")
    assert bad.refs == ("System:dms",) and bad.file == "sources.yaml" and bad.line == 3


# -- config, safety, single definitions -------------------------------------------------------


def test_config_disable_and_severity(tmp_path: Path) -> None:
    metrics = "- {id: lonely, name: 孤儿}\n"
    assert of(lint(tmp_path, metrics, "lint: {disable: [orphans]}\n"), "orphans.metric") == []
    report = lint(tmp_path, metrics, "lint: {severity: {orphans.metric: error}}\n")
    assert [i.severity for i in of(report, "orphans.metric")] == [Severity.ERROR]
    report = lint(tmp_path, metrics, "lint: {severity: {orphans: 'off'}}\n")
    assert not [i for i in report.issues if i.rule.startswith("orphans")]


def test_config_mistakes_are_lint_config_errors(tmp_path: Path) -> None:
    report = lint(tmp_path, "", "lint: {disable: [orphan.metrc], colour: red}\n")
    [issue] = of(report, "lint.config")
    assert "colour" in issue.message and issue.file == "kpigraph.yaml"
    report = lint(tmp_path, "", "lint: {disable: [orphan.metrc]}\n")
    assert "unknown rule 'orphan.metrc'" in of(report, "lint.config")[0].message
    report = lint(tmp_path, "", "lint: {severity: {orphans: loud}}\n")
    assert of(report, "lint.config")


class _Boom(LintRule):
    id = "test.boom"
    severity = Severity.WARNING
    summary = "always crashes"

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        raise KeyError("nope")


def test_a_crashing_rule_is_an_issue_not_a_traceback(tmp_path: Path) -> None:
    report = lint_catalog(catalog(tmp_path), rules=(_Boom(), *DEFAULT_RULES))
    [crash] = of(report, "lint.rule-crashed")
    assert "test.boom crashed: KeyError" in crash.message
    assert of(report, "orphans.field")  # the other rules still ran
    ctx = LintContext(nodes={}, edges=[])
    assert [i.rule for i in run_rules(ctx, [_Boom()])] == ["lint.rule-crashed"]


def test_lint_definition_of_a_proposed_metric(tmp_path: Path) -> None:
    graph = load_catalog(catalog(tmp_path, "", NAMING))
    issues = lint_definition(
        graph,
        {"id": "rev2", "name": "营收", "level": "L0", "rolls_up_to": "visits", "formula": "nope"},
    )
    rules = {i.rule for i in issues}
    assert {"conflict.name", "levels.rollup-lower", "levels.l0-governance"} <= rules
    assert "lint.unknown-ref" in rules  # formula refers to an unknown metric
    assert all(i.file is None for i in issues)
    # replacing an existing metric with a clean definition: nothing about it
    fine = graph_metric(graph, "visits")
    assert [i.rule for i in lint_definition(graph, fine)] == []
    # a change that breaks it is caught
    worse = fine.model_copy(update={"fields": ["dms.dms_orders.store_id"]})
    found = {i.rule for i in lint_definition(graph, worse)}
    assert {"sql.field-not-read", "sql.column-not-declared"} <= found


def graph_metric(graph, metric_id: str):  # type: ignore[no-untyped-def]
    return next(n for n in graph.nodes if n.id == metric_id)


def _line_of(root: Path, needle: str) -> int:
    lines = (root / "metrics/all.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize("rule", [r.id for r in DEFAULT_RULES if not r.mandatory])
def test_every_rule_can_be_disabled(tmp_path: Path, rule: str) -> None:
    metrics = FIVE_STORES + "- {id: lonely, name: 孤儿}\n"
    report = lint(tmp_path, metrics, f"lint: {{disable: [{rule}]}}\n")
    assert of(report, rule) == []


def test_the_sql_sandbox_rules_cannot_be_disabled(tmp_path: Path) -> None:
    """sql.unsafe and sql.parse-error are mandatory (tests/security has the hostile SQL)."""
    assert {r.id for r in DEFAULT_RULES if r.mandatory} == {"sql.unsafe", "sql.parse-error"}
    metrics = FIVE_STORES + (
        "- {id: evil, name: 恶意, sql: \"SELECT content FROM read_text('/etc/passwd')\"}\n"
    )
    config = "lint: {disable: [sql.unsafe, sql], severity: {sql.unsafe: info}}\n"
    [issue] = of(lint(tmp_path, metrics, config), "sql.unsafe")
    assert issue.severity.value == "error" and "read_text" in issue.message


def test_views_are_checked_where_they_are_declared(tmp_path: Path) -> None:
    bad_views = SOURCES + (
        "    - {id: v_broken, name: 坏视图, sql: 'SELECT FROM WHERE'}\n"
        "    - {id: v_lost, name: 丢表视图, sql: 'SELECT a FROM ods_lost'}\n"
        "    - {id: v_typo, name: 错列视图, sql: 'SELECT totl_amount FROM dms_orders'}\n"
        "    - {id: v_mysql, name: 反引号视图, sql: 'SELECT `order_id` FROM dms_orders'}\n"
    )
    report = lint(tmp_path, "", "dialect: mysql\n", bad_views)
    [parse] = of(report, "sql.parse-error")
    assert parse.refs == ("Table:dms.v_broken",) and parse.file == "sources.yaml"
    assert parse.line == _line_in(tmp_path / "sources.yaml", "v_broken")
    [table] = of(report, "sql.unknown-table")
    assert table.refs == ("Table:dms.v_lost",) and "'ods_lost'" in table.message
    [column] = of(report, "sql.unknown-column")
    assert column.refs == ("Table:dms.v_typo",) and "dms.dms_orders.totl_amount" in column.message
    # the backtick view parses in the catalog's dialect (mysql)


def test_a_view_without_sql_is_a_load_error(tmp_path: Path) -> None:
    from graph_schema.errors import CatalogError

    with pytest.raises(CatalogError, match="a view needs 'sql:'"):
        load_catalog(catalog(tmp_path, "", "", SOURCES + "    - {id: v_empty, name: 空视图}\n"))


def _line_in(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)
