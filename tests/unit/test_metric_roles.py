"""priority / role / horizon on a metric (issue 28): validated with file:line, a minor version
change, lint rules, shown on the card and the map."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.lint import lint_catalog
from graph_schema.errors import CatalogError
from graph_schema.models import Horizon, Metric, Priority, Role
from graph_schema.versions import ChangeClass, field_class, judge_version
from loaders.catalog import load_catalog
from tests.helpers import CATALOGS, write_catalog

TEMPLATES = (
    "automotive_aftersales",
    "b2b_distribution",
    "b2b_services",
    "fintech",
    "gaming",
    "manufacturing",
    "nev_sales",
    "retail",
)


def test_values_and_the_seeds_words() -> None:
    m = Metric(id="a", name="甲", priority="p1", role="北极星指标", horizon="先行")
    assert (m.priority, m.role, m.horizon) == (Priority.P1, Role.NORTH_STAR, Horizon.LEADING)
    m = Metric(id="a", name="甲", role="关键", horizon="结果指标")
    assert (m.role, m.horizon) == (Role.KEY, Horizon.LAGGING)
    assert Metric(id="a", name="甲", horizon="过程").horizon is Horizon.PROCESS


@pytest.mark.parametrize(
    ("key", "value"), [("priority", "P9"), ("role", "star"), ("horizon", "future")]
)
def test_a_bad_value_is_a_catalog_error_with_file_and_line(
    tmp_path: Path, key: str, value: str
) -> None:
    root = write_catalog(
        tmp_path, {"metrics/atp.yaml": f"id: atp\nname: 客单价\nlevel: L1\n{key}: {value}\n"}
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    text = str(err.value)
    assert "metrics/atp.yaml:4" in text and key in text


@pytest.mark.parametrize("field", ["priority", "role", "horizon"])
@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_a_change_is_minor(field: str) -> None:
    assert field_class(field) is ChangeClass.MINOR
    verdict = judge_version("atp", "1.1.0", "1.1.0", ChangeClass.MINOR, [_change(field)])
    assert verdict.problem == f"atp: {field} changed (minor) — set version: 1.2.0 (now 1.1.0)"


def _change(field: str):  # type: ignore[no-untyped-def]
    from graph_schema.versions import FieldChange

    return FieldChange(field=field, change_class=ChangeClass.MINOR)


def test_lint_l0_not_north_star_and_leading_without_cause(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path,
        {
            "metrics/revenue.yaml": (
                "id: revenue\nname: 营收\nlevel: L0\nrole: key\nowner: finance\n"
                "fields: [dms.orders.amount]\ndashboards: [board]\n"
            ),
            "metrics/visits.yaml": (
                "id: visits\nname: 进厂台次\nlevel: L1\nhorizon: leading\nowner: ops\n"
                "fields: [dms.orders.order_id]\n"
            ),
        },
    )
    issues = {i.rule: i for i in lint_catalog(root).issues}
    l0 = issues["roles.l0-north-star"]
    assert l0.severity.value == "warning" and l0.file == "metrics/revenue.yaml" and l0.line == 4
    assert "north_star" in l0.message
    lead = issues["roles.leading-without-cause"]
    assert lead.severity.value == "info" and lead.refs == ("Metric:visits",) and lead.line == 4


def test_a_leading_metric_with_a_cause_and_an_l0_without_role_pass(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path,
        {
            "metrics/visits.yaml": (
                "id: visits\nname: 进厂台次\nlevel: L1\nhorizon: 先行\nowner: ops\n"
                "fields: [dms.orders.order_id]\ncauses: [{metric: revenue}]\n"
            ),
        },
    )
    rules = {i.rule for i in lint_catalog(root).issues}
    assert not {"roles.l0-north-star", "roles.leading-without-cause"} & rules


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_names_its_north_star_and_priorities(template: str) -> None:
    graph = load_catalog(CATALOGS / template)
    metrics = [n for n in graph.nodes if isinstance(n, Metric)]
    l0 = [m for m in metrics if m.level is not None and m.level.value == "L0"]
    assert l0 and all(m.role is Role.NORTH_STAR and m.priority is Priority.P0 for m in l0)
    assert all(m.priority is not None for m in metrics if m.level is not None)
    rules = {i.rule for i in lint_catalog(CATALOGS / template).issues}
    assert not {"roles.l0-north-star", "roles.leading-without-cause"} & rules


def test_seed_002_roles_in_the_b2b_template() -> None:
    """Seed 002: sale out is the north star; sale in 出货量 and sale through 批发量 are key;
    签约客户数, 下单客户数, 复购率... are process metrics."""
    graph = load_catalog(CATALOGS / "b2b_distribution")
    role = {n.id: n.role for n in graph.nodes if isinstance(n, Metric)}
    assert role["sale_out_qty"] is Role.NORTH_STAR
    assert role["sale_in_qty"] is role["sale_through_qty"] is Role.KEY
    for m in ("signed_customers", "ordering_customers", "repurchase_customers", "repurchase_rate"):
        assert role[m] is Role.PROCESS
