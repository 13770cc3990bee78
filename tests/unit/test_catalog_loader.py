"""The catalog loader: demo catalogs load; every kind of bad input is a clear, located error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graph_schema.errors import CatalogError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.relations import Relation
from loaders.catalog import load_catalog
from tests.helpers import CATALOGS, DEMO, write_catalog

#: the messages read here are the English ones (the base catalog is zh)
pytestmark = pytest.mark.usefixtures("english")


def issues_of(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    return [str(i) for i in info.value.issues]


def edge_set(graph) -> set[tuple[str, str, str]]:
    return {(str(e.source), str(e.target), e.type.value) for e in graph.edges}


# -- the demo catalogs -----------------------------------------------------------------------


def test_demo_aftersales_loads_with_seed_metrics() -> None:
    graph = load_catalog(DEMO)
    ids = {n.id for n in graph.nodes if n.kind is NodeKind.METRIC}
    required = {
        "net_profit",
        "revenue",
        "gross_profit",
        "gross_margin",
        "operating_cost",
        "visits",
        "atp",
        "maintenance_visits",
        "repair_visits",
        "bodyshop_visits",
        "labor_rate",
        "parts_per_visit",
        "value_added_penetration",
        "customer_satisfaction",
        "retention_rate",
        "repurchase_rate",
        "campaign_conversion_rate",
        "labor_cost",
        "rent_fixed_cost",
        "other_cost",
    }
    assert required <= ids
    edges = edge_set(graph)
    # formula, driver identity and causal chain of seed 001
    assert ("Metric:revenue", "Metric:atp", "INPUT_TO") in edges
    assert ("Metric:visits", "Metric:atp", "INPUT_TO") in edges
    assert ("Metric:visits", "Metric:revenue", "DRIVES") in edges
    assert ("Metric:atp", "Metric:revenue", "DRIVES") in edges
    for a, b in [
        ("customer_satisfaction", "retention_rate"),
        ("retention_rate", "repurchase_rate"),
        ("repurchase_rate", "revenue"),
    ]:
        assert (f"Metric:{a}", f"Metric:{b}", "CAUSES") in edges
    assert ("Field:dms.dms_orders.total_amount", "Metric:atp", "FEEDS") in edges
    assert ("Department:ops", "Metric:atp", "OWNS") in edges
    assert ("Department:finance", "Metric:atp", "REVIEWS") in edges


def test_atp_card_is_the_full_seed_template() -> None:
    graph = load_catalog(DEMO)
    atp = next(n for n in graph.nodes if n.ref == NodeRef.parse("atp"))
    assert isinstance(atp, Metric)
    assert (atp.name, atp.name_en, atp.abbr, atp.level) == (
        "客单价",
        "Average Ticket Price",
        "ATP",
        "L1",
    )
    assert atp.caliber and atp.caliber.numerator and atp.caliber.denominator
    assert "保险理赔代收款（只算门店实际收入）" in atp.caliber.numerator.excludes
    assert atp.caliber.denominator.includes == ["保养", "维修", "钣喷"]
    assert len(atp.caliber.rules) == 2
    assert atp.sql and "COUNT(DISTINCT o.order_id)" in atp.sql
    assert [b.label for b in atp.benchmarks][:2] == ["豪华品牌 行业平均", "豪华品牌 优秀"]
    assert (atp.benchmarks[2].min, atp.benchmarks[2].max) == (1200, 1800)
    assert len(atp.caveats) == 3 and len(atp.special_cases) == 3
    assert [(h.version, h.date) for h in atp.history] == [
        ("1.0.0", "2023-09-01"),
        ("1.1.0", "2024-03-01"),
    ]
    assert atp.contacts and atp.contacts.business == "运营部 张经理"
    assert atp.contacts.technical == "IT部 李工程师"


def test_formula_roles_become_edge_props() -> None:
    graph = load_catalog(DEMO)
    roles = {
        (str(e.source), str(e.target)): e.props["role"]
        for e in graph.edges
        if e.type is Relation.INPUT_TO
    }
    assert roles[("Metric:revenue", "Metric:atp")] == "numerator"
    assert roles[("Metric:visits", "Metric:atp")] == "denominator"
    assert roles[("Metric:operating_cost", "Metric:net_profit")] == "term"
    assert roles[("Metric:gross_margin", "Metric:gross_profit")] == "factor"


def test_nev_sales_demo_loads() -> None:
    graph = load_catalog(CATALOGS / "nev_sales")
    counts = graph.counts()
    assert counts["System"] == 5 and counts["Metric"] >= 30
    names = {n.name for n in graph.nodes}
    assert {"客户管家", "APP", "新售后系统", "智慧展厅", "手工导入"} <= names
    assert {"客流建卡率", "试乘试驾率", "订单成交率", "退订率"} <= names


def test_small_catalog_loads(tmp_path: Path) -> None:
    graph = load_catalog(write_catalog(tmp_path))
    assert graph.counts()["Metric"] == 3
    assert ("Field:dms.orders.amount", "Metric:revenue", "FEEDS") in edge_set(graph)


# -- bad input -------------------------------------------------------------------------------


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/bad.yaml": "id: bad\nname: [unclosed\nlevel: L1\n"})
    issues = issues_of(tmp_path)
    assert any(i.startswith("metrics/bad.yaml:") and "broken YAML" in i for i in issues)


def test_tab_indentation_hint(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/tab.yaml": "id: tab\n\tname: x\n"})
    issues = issues_of(tmp_path)
    assert any("metrics/tab.yaml:2" in i and "tabs" in i for i in issues)


def test_missing_id_and_name(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/a.yaml": "name: 无ID\n", "metrics/b.yaml": "id: no_name\n"})
    issues = issues_of(tmp_path)
    assert any("metrics/a.yaml:1" in i and "missing required key 'id'" in i for i in issues)
    assert any("metrics/b.yaml:1" in i and "missing required key 'name'" in i for i in issues)


@pytest.mark.parametrize(
    "bad_id", ["客单价", "ATP", "1st", "a-b", "a b", "x'); DROP TABLE nodes;--"]
)
def test_invalid_id_characters(tmp_path: Path, bad_id: str) -> None:
    write_catalog(tmp_path, {"metrics/x.yaml": f'id: "{bad_id}"\nname: x\n'})
    issues = issues_of(tmp_path)
    assert any("metrics/x.yaml:1" in i and "invalid metric id" in i for i in issues)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/other/atp_copy.yaml": "id: atp\nname: 另一个客单价\n"})
    issues = issues_of(tmp_path)
    assert any("duplicate metric id 'atp'" in i and "metrics/atp.yaml:1" in i for i in issues), (
        issues
    )


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    write_catalog(
        tmp_path, {"metrics/atp.yaml": "id: atp\nname: 客单价\nformla: revenue / visits\n"}
    )
    issues = issues_of(tmp_path)
    assert any("metrics/atp.yaml:3" in i and "'formla'" in i and "'formula'" in i for i in issues)


def test_unknown_nested_key(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {"metrics/atp.yaml": "id: atp\nname: 客单价\ncaliber:\n  numerator:\n    include: [a]\n"},
    )
    issues = issues_of(tmp_path)
    assert any("metrics/atp.yaml:5" in i and "'includes'" in i for i in issues), issues


def test_unknown_references_with_suggestions(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/atp.yaml": (
                "id: atp\nname: 客单价\nowner: opps\nfields: [dms.orders.amout]\n"
                "formula: revenu / visits\ndimensions: [tme]\ndashboards: [bord]\n"
                "causes: [{metric: 营收}]\n"
            )
        },
    )
    issues = "\n".join(issues_of(tmp_path))
    assert "metrics/atp.yaml:3" in issues and "unknown department 'opps'" in issues
    assert "did you mean 'ops'" in issues
    assert "unknown field 'dms.orders.amout'" in issues and "'dms.orders.amount'" in issues
    assert "metrics/atp.yaml:5" in issues and "unknown metric 'revenu' (column 1)" in issues
    assert "'revenue'" in issues
    assert "unknown dimension 'tme'" in issues and "unknown dashboard 'bord'" in issues
    # a display name where an id belongs: suggest the id that carries that name
    assert "unknown metric '营收'" in issues


def test_formula_syntax_error_points_at_column(tmp_path: Path) -> None:
    write_catalog(
        tmp_path, {"metrics/atp.yaml": "id: atp\nname: 客单价\nformula: revenue / (visits\n"}
    )
    issues = issues_of(tmp_path)
    assert any(
        "metrics/atp.yaml:3" in i and "missing ')'" in i and "column 18" in i for i in issues
    ), issues


def test_formula_cycle_is_named(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/revenue.yaml": "id: revenue\nname: 营收\nformula: atp * visits\n",
        },
    )
    issues = issues_of(tmp_path)
    cycle = [i for i in issues if "formula cycle" in i]
    assert cycle and ("atp → revenue → atp" in cycle[0] or "revenue → atp → revenue" in cycle[0])


def test_self_reference_in_formula_is_a_cycle(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/visits.yaml": "id: visits\nname: v\nformula: visits + 1\n"})
    assert any("formula cycle: visits → visits" in i for i in issues_of(tmp_path))


def test_drives_and_causes_may_form_cycles(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/revenue.yaml": (
                "id: revenue\nname: 营收\ndrivers: visits * atp\n"
                "causes: [{metric: visits, polarity: '+'}]\n"
            ),
            "metrics/visits.yaml": "id: visits\nname: 进厂台次\ncauses: [{metric: revenue}]\n",
        },
    )
    graph = load_catalog(tmp_path)
    edges = edge_set(graph)
    assert ("Metric:atp", "Metric:revenue", "DRIVES") in edges
    assert ("Metric:revenue", "Metric:atp", "INPUT_TO") in edges


def test_rolls_up_to_cycle(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/visits.yaml": "id: visits\nname: v\nrolls_up_to: atp\n",
            "metrics/atp.yaml": "id: atp\nname: a\nrolls_up_to: visits\n",
        },
    )
    assert any("rolls_up_to hierarchy cycle" in i for i in issues_of(tmp_path))


def test_not_utf8(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/gbk.yaml": "id: gbk\nname: 客单价\n".encode("gbk")})
    issues = issues_of(tmp_path)
    assert any("metrics/gbk.yaml:2" in i and "not UTF-8" in i and "iconv" in i for i in issues)


def test_empty_catalog(tmp_path: Path) -> None:
    (tmp_path / "kpigraph.yaml").write_text("name: empty\n", encoding="utf-8")
    issues = issues_of(tmp_path)
    assert any("defines no metrics" in i for i in issues)


def test_not_a_catalog(tmp_path: Path) -> None:
    issues = issues_of(tmp_path)
    assert any("kpigraph.yaml is missing" in i and "kpigraph init" in i for i in issues)
    with pytest.raises(CatalogError, match="no such directory"):
        load_catalog(tmp_path / "nope")


def test_huge_garbage_file_is_refused_quickly(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/garbage.yaml": b"\xde\xad\xbe\xef" * (10 * 1024 * 1024 // 4)})
    started = time.perf_counter()
    issues = issues_of(tmp_path)
    assert time.perf_counter() - started < 5  # generous: it must not parse 10 MB
    assert any("metrics/garbage.yaml" in i and "limited to" in i for i in issues)


def test_binary_file(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/bin.yaml": b"id: x\x00\x01\x02"})
    assert any("binary" in i for i in issues_of(tmp_path))


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metrics/dup.yaml": "id: dup\nname: a\nname: b\n"})
    issues = issues_of(tmp_path)
    assert any("metrics/dup.yaml:3" in i and "appears twice" in i for i in issues), issues


def test_unexpected_top_level_file(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"metric.yaml": "id: x\nname: y\n"})
    assert any("unexpected file 'metric.yaml'" in i for i in issues_of(tmp_path))


def test_wrong_types(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {"metrics/atp.yaml": "id: atp\nname: a\nlevel: L9\nstatus: live\ncauses: revenue\n"},
    )
    issues = "\n".join(issues_of(tmp_path))
    assert "metrics/atp.yaml:3" in issues and "level" in issues
    assert "metrics/atp.yaml:4" in issues and "status" in issues
    assert "metrics/atp.yaml:5" in issues and "causes" in issues


def test_all_errors_in_one_pass(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/a.yaml": "id: a\nname: a\nformla: x\n",
            "metrics/b.yaml": "id: b\nname: [\n",
            "metrics/c.yaml": "id: c\nname: c\nowner: nobody\n",
        },
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    files = {i.file for i in info.value.issues}
    assert {"metrics/a.yaml", "metrics/b.yaml", "metrics/c.yaml"} <= files


def test_flow_mapping_comma_hint(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "sources.yaml": "- id: s\n  name: S\n  tables:\n    - id: t\n      name: T\n"
            "      fields:\n        - {id: f, name: F, type: decimal(12,2)}\n"
        },
    )
    issues = "\n".join(issues_of(tmp_path))
    assert "sources.yaml:7" in issues and "must be quoted" in issues


def test_injection_looking_names_are_plain_text(tmp_path: Path) -> None:
    evil = "') DETACH DELETE n // <img src=x onerror=alert(1)>"
    write_catalog(
        tmp_path, {"metrics/evil.yaml": f'id: evil\nname: "{evil}"\ndefinition: "{evil}"\n'}
    )
    graph = load_catalog(tmp_path)
    node = next(n for n in graph.nodes if n.id == "evil")
    assert node.name == evil


def test_many_metrics_in_one_list_file(tmp_path: Path) -> None:
    items = "".join(
        f"  - {{id: m{i}, name: 指标{i}, formula: m{i - 1} + 1}}\n" for i in range(1, 2000)
    )
    write_catalog(tmp_path, {"metrics/bulk.yaml": "metrics:\n  - {id: m0, name: 指标0}\n" + items})
    graph = load_catalog(tmp_path)
    assert graph.counts()["Metric"] == 2003


def test_sources_directory_one_file_per_system(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "sources.yaml": None,
            "sources/dms.yaml": (
                "- id: dms\n  name: DMS\n  tables:\n    - id: orders\n      name: 工单表\n"
                "      fields: [{id: amount, name: 金额}, {id: order_id, name: 工单号}]\n"
            ),
            "sources/crm.yaml": (
                "- id: crm\n  name: CRM\n  tables: [{id: c, name: C, fields: [x]}]\n"
            ),
        },
    )
    graph = load_catalog(tmp_path)
    assert {n.id for n in graph.nodes if n.kind is NodeKind.SYSTEM} == {"dms", "crm"}
    assert ("Table:crm.c", "Field:crm.c.x", "HAS_FIELD") in edge_set(graph)
    write_catalog(tmp_path, {"sources/dup.yaml": "- {id: crm, name: again}\n"})
    assert any(
        "sources/dup.yaml:1" in i and "duplicate system id 'crm'" in i for i in issues_of(tmp_path)
    )
