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


MF = ROOT.parent / "shared" / "data" / "metricflow_simple_manifest"
if not MF.is_dir():  # a clone elsewhere than the workspace
    MF = Path("/work/shared/data/metricflow_simple_manifest")


def _semantic_models(project_dir: Path) -> dict[str, dict[str, object]]:
    """Each semantic model of a dbt project as MetricFlow parses it, with where it lives
    (``node_relation``: schema as spelled, alias, relation name)."""
    from loaders.dbt.sources import compact

    return {
        sm.name: compact(sm, {"metadata"}) for sm, _origin in read_dbt(project_dir).semantic_models
    }


def _metrics(project_dir: Path) -> dict[str, dict[str, object]]:
    """Each metric of a dbt project as MetricFlow parses it: name, label, type, inputs (their
    names, aliases, filters, offsets), filter — without the card kpigraph adds under
    ``config.meta``; descriptions compared without surrounding blank lines (the catalog's
    definition is the stripped text)."""
    from loaders.dbt.sources import compact

    out: dict[str, dict[str, object]] = {}
    for m, _raw, _origin in read_dbt(project_dir).metrics:
        data = compact(m, {"metadata", "config"})
        if isinstance(data.get("description"), str):
            data["description"] = data["description"].strip()
        out[m.name] = data
    return out


def test_metricflow_round_trip_keeps_every_semantic_model(tmp_path: Path) -> None:
    """import → export of MetricFlow's own manifest writes back all 12 semantic models with
    their entities, dimensions and every measure — those no metric uses too (it wrote 9,
    without entities, before tables kept them under extra.dbt)."""
    import_dbt(MF, tmp_path / "c")
    report = export_dbt(tmp_path / "c", tmp_path / "dbt")
    original, exported = _semantic_models(MF), _semantic_models(tmp_path / "dbt")
    assert len(original) == 12
    assert report.counts["semantic_models"] == 12
    assert exported == original
    # where they live as MetricFlow spelled it: schema_name $source_schema, not source_schema
    assert {sm["node_relation"]["schema_name"] for sm in exported.values()} == {"$source_schema"}  # type: ignore[index]
    # every metric back under its own name, with the same inputs, aliases, filters and
    # offsets; the 3 that measures make (create_metric: true) made by their measures again,
    # not written beside them
    assert _metrics(tmp_path / "dbt") == _metrics(MF)
    assert len(_metrics(MF)) == 110
    assert report.counts["measure_metrics"] == 3
    assert not [n for n in report.notes if "no date/time column" in n]
    # MetricFlow's own validation finds in the export exactly what it finds in the original
    # (its custom 'alien_day' grain, which only its project configuration declares)
    assert _validation_errors(tmp_path / "dbt") == _validation_errors(MF)
    # imported again, no metric gains a definition it did not have (an empty description was
    # written as the metric's name, and read back as its definition)
    import_dbt(tmp_path / "dbt", tmp_path / "c2")
    before = {
        n.id: n.definition for n in load_catalog(tmp_path / "c").nodes if isinstance(n, Metric)
    }
    after = {
        n.id: n.definition for n in load_catalog(tmp_path / "c2").nodes if isinstance(n, Metric)
    }
    assert {m: after[m] for m in before if m in after} == {
        m: before[m] for m in before if m in after
    }


def test_metricflow_import_export_import_gives_the_same_catalog(tmp_path: Path) -> None:
    """import → export → import of MetricFlow's manifest gives back the same catalog: the
    input metrics two metrics share keep their ids (they were named after whichever metric
    came first, and the export writes the metrics in another order), and the system keeps
    its name ``$source_schema``."""
    import_dbt(MF, tmp_path / "c")
    export_dbt(tmp_path / "c", tmp_path / "dbt")
    import_dbt(tmp_path / "dbt", tmp_path / "c2")
    first, second = load_catalog(tmp_path / "c"), load_catalog(tmp_path / "c2")
    metrics = {n.id: n for n in first.nodes if isinstance(n, Metric)}
    again = {n.id: n for n in second.nodes if isinstance(n, Metric)}
    assert set(again) == set(metrics)
    for mid, metric in metrics.items():
        for key in ("name", "formula", "fields", "dimensions", "definition", "caliber", "extra"):
            assert getattr(again[mid], key) == getattr(metric, key), (mid, key)
    shared = metrics["bookings_mom"].formula or ""
    assert "bookings_mom_bookings_1_month_ago" in shared  # the first by name of its two users
    assert [(n.id, n.name) for n in second.nodes if type(n).__name__ == "System"] == [
        ("source_schema", "$source_schema")
    ]


def _validation_errors(project_dir: Path) -> list[str]:
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

    project = read_dbt(project_dir)
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
    return sorted(e.message for e in result.errors)


def test_a_new_metric_on_an_imported_table_joins_its_semantic_model(tmp_path: Path) -> None:
    """A metric defined in kpigraph after the import, over a column of an imported semantic
    model, becomes a measure of that model, beside the measures it had."""
    import_dbt(MF, tmp_path / "c")
    table = next(n for n in load_catalog(tmp_path / "c").nodes if n.id.endswith(".fct_bookings"))
    (tmp_path / "c" / "metrics" / "zz_new.yaml").write_text(
        f"id: paid_bookings_value\nname: Paid booking value\nfields: [{table.id}.booking_value]\n",
        encoding="utf-8",
    )
    export_dbt(tmp_path / "c", tmp_path / "dbt")
    exported = _semantic_models(tmp_path / "dbt")["bookings_source"]
    original = _semantic_models(MF)["bookings_source"]
    names = [m["name"] for m in exported["measures"]]  # type: ignore[union-attr]
    assert names == [m["name"] for m in original["measures"]] + ["paid_bookings_value"]  # type: ignore[union-attr]
    assert exported["entities"] == original["entities"]
