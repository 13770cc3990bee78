"""`export dbt`: MetricFlow YAML that dbt-semantic-interfaces parses back, and that imports
back to the same metrics (formulas and cards)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.catalog_writer import CatalogWriteError
from loaders.dbt import import_dbt, read_dbt
from loaders.dbt.export import export_dbt

# the exporter's and importer's notes read here are the English ones (the language in use)
pytestmark = pytest.mark.usefixtures("english")

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"
PROJECT = ROOT / "tests" / "fixtures" / "dbt_project"

CARD_KEYS = (
    "name",
    "name_en",
    "level",
    "domain",
    "status",
    "definition",
    "formula",
    "caliber",
    "unit",
    "benchmarks",
    "caveats",
    "history",
    "version",
    "tags",
)


@pytest.mark.parametrize("catalog", ["automotive_aftersales", "nev_sales"])
def test_demo_catalog_to_dbt_and_back(catalog: str, tmp_path: Path) -> None:
    report = export_dbt(CATALOGS / catalog, tmp_path / "dbt")
    original = {n.id: n for n in load_catalog(CATALOGS / catalog).nodes if isinstance(n, Metric)}
    assert report.counts["metrics"] + len(report.skipped) == len(original)
    assert report.counts["parsed_back"] == report.counts["metrics"]
    # dbt-semantic-interfaces models accept every metric and semantic model written
    project = read_dbt(tmp_path / "dbt")
    assert {m.name for m, _, _ in project.metrics} == set(original) - set(report.skipped)
    import_dbt(tmp_path / "dbt", tmp_path / "back")
    back = {n.id: n for n in load_catalog(tmp_path / "back").nodes if isinstance(n, Metric)}
    for mid, metric in original.items():
        if mid in report.skipped:
            continue
        for key in CARD_KEYS:
            assert getattr(back[mid], key) == getattr(metric, key), (mid, key)


def test_ratio_derived_simple_shapes(tmp_path: Path) -> None:
    export_dbt(CATALOGS / "automotive_aftersales", tmp_path / "dbt")
    doc = yaml.safe_load((tmp_path / "dbt" / "models" / "metrics.yml").read_text())
    by_name = {m["name"]: m for m in doc["metrics"]}
    atp = by_name["atp"]
    assert atp["type"] == "ratio"
    assert atp["type_params"] == {
        "numerator": {"name": "revenue"},
        "denominator": {"name": "visits"},
    }
    assert atp["label"] == "客单价"
    assert atp["config"]["group"] == "ops"
    assert atp["config"]["meta"]["kpigraph"]["caliber"]["time"].startswith("统计自然月")
    simple = [m for m in doc["metrics"] if m["type"] == "simple"]
    assert simple
    stub = yaml.safe_load((tmp_path / "dbt" / "models" / "dms" / "dms_orders.yml").read_text())
    semantic = stub["semantic_models"][0]
    assert semantic["model"] == "ref('dms_orders')"
    measures = {m["name"] for m in semantic["measures"]}
    for metric in simple:
        if metric["type_params"]["measure"]["name"] in measures:
            break
    else:
        pytest.fail("no simple metric's measure is on the dms_orders stub")


def test_imported_dbt_exports_its_own_definitions(tmp_path: Path) -> None:
    import_dbt(PROJECT, tmp_path / "cat")
    export_dbt(tmp_path / "cat", tmp_path / "dbt")
    doc = yaml.safe_load((tmp_path / "dbt" / "models" / "metrics.yml").read_text())
    by_name = {m["name"]: m for m in doc["metrics"]}
    growth = by_name["revenue_growth_mom"]["type_params"]
    assert growth["expr"] == "(revenue - revenue_last_month) / revenue_last_month"
    assert growth["metrics"][1] == {
        "name": "revenue",
        "alias": "revenue_last_month",
        "offset_window": "1 month",
    }
    assert "revenue_last_month" not in by_name  # the input metric folds back into its user
    assert by_name["visits"]["filter"].startswith("{{ Dimension('service_order__order_type') }}")
    conv = by_name["visit_to_order_rate"]["type_params"]["conversion_type_params"]
    assert conv["window"] == "7 days"


def test_export_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "dbt"
    out.mkdir()
    (out / "x").write_text("mine")
    with pytest.raises(CatalogWriteError):
        export_dbt(CATALOGS / "automotive_aftersales", out)
    assert [p.name for p in out.iterdir()] == ["x"]


@pytest.mark.parametrize("catalog", ["automotive_aftersales", "nev_sales"])
def test_metricflow_validator_flags_only_tables_without_time(catalog: str, tmp_path: Path) -> None:
    """dbt-semantic-interfaces' own semantic validation of the export: the only errors are the
    stubs whose table has no time column (MetricFlow needs one; the report says so)."""
    from dbt_semantic_interfaces.implementations.project_configuration import (
        PydanticProjectConfiguration,
    )
    from dbt_semantic_interfaces.implementations.semantic_manifest import (
        PydanticSemanticManifest,
    )
    from dbt_semantic_interfaces.transformations.semantic_manifest_transformer import (
        PydanticSemanticManifestTransformer,
    )
    from dbt_semantic_interfaces.validations.semantic_manifest_validator import (
        SemanticManifestValidator,
    )

    report = export_dbt(CATALOGS / catalog, tmp_path / "dbt")
    project = read_dbt(tmp_path / "dbt")
    manifest = PydanticSemanticManifestTransformer.transform(
        PydanticSemanticManifest(
            semantic_models=[sm for sm, _ in project.semantic_models],
            metrics=[m for m, _, _ in project.metrics],
            project_configuration=PydanticProjectConfiguration(),
        )
    )
    result = SemanticManifestValidator[PydanticSemanticManifest]().validate_semantic_manifest(
        manifest
    )
    untimed = [n for n in report.notes if "no date/time column" in n]
    assert len(result.errors) == len(untimed)
    assert all("Aggregation time dimension" in e.message for e in result.errors)


def test_aggregation_last_is_a_non_additive_sum(tmp_path: Path) -> None:
    """A balance ('aggregation: last') is summed across members but not over time."""
    from tests.helpers import write_catalog

    root = write_catalog(
        tmp_path / "c",
        {
            "sources.yaml": (
                "- id: erp\n  name: ERP\n  tables:\n    - id: balances\n      name: 余额表\n"
                "      fields:\n        - {id: balance, name: 余额, type: decimal}\n"
                "        - {id: as_of, name: 日期, type: date}\n"
                "- id: dms\n  name: DMS\n  tables:\n    - id: orders\n      name: 工单表\n"
                "      fields:\n        - {id: amount, name: 金额, type: decimal}\n"
                "        - {id: order_id, name: 工单号, type: string}\n"
            ),
            "metrics/balance.yaml": (
                "id: balance\nname: 账户余额\naggregation: last\nfields: [erp.balances.balance]\n"
            ),
        },
    )
    report = export_dbt(root, tmp_path / "dbt")
    assert report.counts["parsed_back"] == 4
    stub = yaml.safe_load((tmp_path / "dbt" / "models" / "erp" / "balances.yml").read_text())
    (measure,) = stub["semantic_models"][0]["measures"]
    assert measure["agg"] == "sum"
    assert measure["non_additive_dimension"] == {"name": "as_of", "window_choice": "max"}
