"""`import dbt`: MetricFlow's own test manifest, a dbt project, dbt's manifest.json and
semantic_manifest.json → a catalog that validates and loads; bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from dbt_semantic_interfaces.implementations.project_configuration import (
    PydanticProjectConfiguration,
)
from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest

from analysis.lineage import lineage
from analysis.results import Direction
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.catalog_writer import CatalogWriteError
from loaders.dbt import DbtImportError, import_dbt, read_dbt
from store.embedded import EmbeddedStore

# the exporter's and importer's notes read here are the English ones (the language in use)
pytestmark = pytest.mark.usefixtures("english")

ROOT = Path(__file__).resolve().parents[2]
MF = ROOT.parent / "shared" / "data" / "metricflow_simple_manifest"
if not MF.is_dir():  # the shared data sits beside the work tree
    MF = Path("/work/shared/data/metricflow_simple_manifest")
PROJECT = ROOT / "tests" / "fixtures" / "dbt_project"
MANIFEST = ROOT / "tests" / "fixtures" / "dbt_manifest" / "manifest.json"


def _metric_names(directory: Path) -> set[str]:
    names = set()
    for path in directory.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and isinstance(doc.get("metric"), dict):
                names.add(doc["metric"]["name"])
    return names


@pytest.fixture(scope="module")
def mf_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("mf") / "catalog"
    report = import_dbt(MF, out)
    return out, report


def test_metricflow_manifest_every_metric_imported(mf_catalog: tuple[Path, object]) -> None:
    out, report = mf_catalog
    graph = load_catalog(out)
    ids = {n.id for n in graph.nodes if n.kind is NodeKind.METRIC}
    names = _metric_names(MF)
    assert len(names) == 110
    assert names <= ids  # every metric, under its own name (all are valid ids)
    # + 3 measures with create_metric: true, + inputs carrying a filter or an offset
    assert report.counts["metrics"] == 113  # type: ignore[attr-defined]
    assert len(ids) == report.counts["catalog_metrics"]  # type: ignore[attr-defined]
    counts = graph.counts()
    assert counts["Table"] == 12
    assert counts["System"] == 1


def test_metricflow_formulas_and_extra(mf_catalog: tuple[Path, object]) -> None:
    out, report = mf_catalog
    graph = load_catalog(out)
    metrics = {n.id: n for n in graph.nodes if isinstance(n, Metric)}
    assert metrics["bookings_per_booker"].formula == "bookings / bookers"  # ratio
    assert metrics["booking_fees_per_booker"].formula == "booking_value * 0.05 / bookers"
    # NULLIF(x, 0) as a divisor is x (kpigraph gives no value for a division by zero)
    assert metrics["booking_value_per_view"].formula == "booking_value / views"
    # an aliased input with an offset becomes its own input metric, holding the offset
    growth = metrics["bookings_growth_2_weeks"]
    assert growth.formula == "bookings - bookings_2_weeks_ago"
    offset = metrics["bookings_2_weeks_ago"]
    assert offset.formula == "bookings"
    assert offset.extra["dbt"]["offset_window"] == "14 days"
    # what the template cannot hold is kept and reported
    cumulative = metrics["trailing_2_months_revenue"].extra["dbt"]
    assert cumulative["type_params"]["cumulative_type_params"]["window"] == "2 month"
    summary = report.extra_summary()  # type: ignore[attr-defined]
    assert summary["filter"] >= 9
    assert "type_params.cumulative_type_params.window" in summary
    # simple metrics FEED from their measure's column
    assert metrics["booking_value"].fields == ["source_schema.fct_bookings.booking_value"]
    assert metrics["bookers"].fields == ["source_schema.fct_bookings.guest_id"]


def test_metricflow_derived_lineage_reaches_measure_columns(
    mf_catalog: tuple[Path, object], tmp_path: Path
) -> None:
    out, _ = mf_catalog
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(out))
    result = lineage(store, NodeRef.parse("booking_fees_per_booker"), Direction.UPSTREAM, depth=5)
    reached = {n.ref for n in result.nodes}
    assert "Field:source_schema.fct_bookings.booking_value" in reached
    assert "Field:source_schema.fct_bookings.guest_id" in reached  # bookers: count_distinct
    nested = lineage(
        store, NodeRef.parse("instant_plus_non_referred_bookings_pct"), Direction.UPSTREAM, 6
    )
    assert "Field:source_schema.fct_bookings.referrer_id" in {n.ref for n in nested.nodes}


def test_dbt_project_directory(tmp_path: Path) -> None:
    report = import_dbt(PROJECT, tmp_path / "c")
    graph = load_catalog(tmp_path / "c")
    metrics = {n.id: n for n in graph.nodes if isinstance(n, Metric)}
    assert metrics["atp"].name == "客单价"
    assert metrics["atp"].formula == "revenue / visits"  # dbt's 'numerator: revenue' shorthand
    assert metrics["atp"].owner == "store_ops"  # the dbt group
    assert metrics["atp"].contacts and "ops@example.com" in (metrics["atp"].contacts.business or "")
    assert metrics["revenue"].level and metrics["revenue"].level.value == "L0"  # meta.level
    assert metrics["revenue"].fields == ["dms.fct_service_orders.total_amount"]
    assert metrics["parts_share"].formula == "parts_revenue * 1.0 / revenue"
    assert metrics["revenue_last_month"].formula == "revenue"
    assert metrics["paying_customers"].fields == ["dms.fct_service_orders.customer_id"]
    conv = metrics["visit_to_order_rate"]
    assert conv.fields == ["crm.fct_store_visits.visit_id", "dms.fct_service_orders.order_id"]
    assert conv.extra["dbt"]["type_params"]["conversion_type_params"]["window"] == "7 days"
    fields = {n.id: n for n in graph.nodes if n.kind is NodeKind.FIELD}
    assert fields["dms.fct_service_orders.total_amount"].type == "decimal(12,2)"  # type: ignore[attr-defined]
    depts = {n.id: n.name for n in graph.nodes if n.kind is NodeKind.DEPARTMENT}
    assert depts["finance"] == "finance"
    assert "售后配件部" in depts.values()  # meta.owner with a Chinese name
    assert report.counts["metrics"] == 9


def test_dbt_manifest_json(tmp_path: Path) -> None:
    import_dbt(MANIFEST, tmp_path / "c")
    graph = load_catalog(tmp_path / "c")
    metrics = {n.id: n for n in graph.nodes if isinstance(n, Metric)}
    assert metrics["atp"].formula == "revenue / visits"
    # the system is the warehouse schema dbt built the model in
    assert metrics["revenue"].fields == ["analytics_dms.fct_service_orders.total_amount"]
    systems = {n.id: n.name for n in graph.nodes if n.kind is NodeKind.SYSTEM}
    assert systems["analytics_dms"] == "warehouse.analytics_dms"


def test_semantic_manifest_json(tmp_path: Path) -> None:
    project = read_dbt(MF)
    manifest = PydanticSemanticManifest(
        semantic_models=[sm for sm, _ in project.semantic_models],
        metrics=[m for m, _, _ in project.metrics],
        project_configuration=PydanticProjectConfiguration(),
    )
    path = tmp_path / "semantic_manifest.json"
    path.write_text(manifest.json())
    report = import_dbt(path, tmp_path / "c")
    graph = load_catalog(tmp_path / "c")
    ids = {n.id for n in graph.nodes if n.kind is NodeKind.METRIC}
    assert _metric_names(MF) <= ids
    assert report.counts["metrics"] == 113


def test_corrupt_manifest_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text(MANIFEST.read_text()[:5000])
    with pytest.raises(DbtImportError, match=r"manifest.json:\d+: corrupt JSON"):
        import_dbt(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_invalid_definitions_are_named(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.yml").write_text(
        "metrics:\n  - name: a\n    type: simple\n    type_params: {measure: nope}\n"
        "  - name: b\n    type: sideways\n    type_params: {}\n"
    )
    with pytest.raises(DbtImportError) as err:
        import_dbt(project, tmp_path / "out")
    assert "models/m.yml:6: metric 'b': type" in str(err.value.problems)
    assert not (tmp_path / "out").exists()
    (project / "models" / "m.yml").write_text(
        "metrics:\n  - name: a\n    type: simple\n    type_params: {measure: nope}\n"
    )
    with pytest.raises(DbtImportError, match="measure 'nope', which no semantic model defines"):
        import_dbt(project, tmp_path / "out")
    (project / "models" / "m.yml").write_text("metrics:\n  - name: a\n   type: [\n")
    with pytest.raises(DbtImportError, match=r"models/m.yml:\d+: broken YAML"):
        import_dbt(project, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_a_manifest_and_missing_input(tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(DbtImportError, match="neither a dbt manifest"):
        import_dbt(other, tmp_path / "out")
    with pytest.raises(DbtImportError, match="no such file"):
        import_dbt(tmp_path / "missing", tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DbtImportError, match="nothing to import"):
        import_dbt(empty, tmp_path / "out")


def test_existing_output_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "c"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CatalogWriteError, match="not empty"):
        import_dbt(PROJECT, out)
    assert (out / "keep.txt").read_text() == "mine"
    import_dbt(PROJECT, out, force=True)
    assert not (out / "keep.txt").exists()
    assert load_catalog(out).counts()["Metric"] == 10


def test_metricflow_import_is_lint_clean_of_errors(mf_catalog: tuple[Path, object]) -> None:
    """The import adds no conflicts of its own (input metrics are named after their user)."""
    from analysis.lint import lint_catalog

    out, _ = mf_catalog
    report = lint_catalog(out)
    assert not report.has_errors, [i.message for i in report.issues if i.severity.value == "error"]


def test_system_and_name_options(tmp_path: Path) -> None:
    """--system names the system of every table (MetricFlow's schema is '$source_schema')."""
    import_dbt(MF, tmp_path / "c", name="MetricFlow 测试", system="warehouse")
    graph = load_catalog(tmp_path / "c")
    assert graph.name == "MetricFlow 测试"
    assert {n.id for n in graph.nodes if n.kind is NodeKind.SYSTEM} == {"warehouse"}
    booking_value = next(n for n in graph.nodes if n.id == "booking_value")
    assert booking_value.fields == ["warehouse.fct_bookings.booking_value"]  # type: ignore[attr-defined]


def test_metric_that_aggregates_a_column_itself(tmp_path: Path) -> None:
    """dbt's newer spec: a simple metric with its own agg/expr on a semantic model."""
    project = tmp_path / "proj"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.yml").write_text(
        "semantic_models:\n"
        "  - name: orders\n    model: ref('fct_orders')\n"
        "    defaults: {agg_time_dimension: ordered_at}\n"
        "    entities: [{name: order, type: primary, expr: order_id}]\n"
        "    dimensions: [{name: ordered_at, type: time, type_params: {time_granularity: day}}]\n"
        "metrics:\n"
        "  - name: gross_sales\n    label: 销售额\n    type: simple\n"
        "    type_params:\n      expr: amount\n"
        "      metric_aggregation_params: {semantic_model: orders, agg: sum}\n"
    )
    import_dbt(project, tmp_path / "c")
    graph = load_catalog(tmp_path / "c")
    sales = next(n for n in graph.nodes if n.id == "gross_sales")
    assert isinstance(sales, Metric) and sales.fields == [
        "dbt.fct_orders.amount"
    ]  # no dbt_project.yml: system "dbt"
    # and it goes back out as it came in
    from loaders.dbt.export import export_dbt

    report = export_dbt(tmp_path / "c", tmp_path / "dbt")
    assert report.counts["parsed_back"] == 1


def test_newer_spec_metrics_roll_up_and_bind_like_measures(tmp_path: Path) -> None:
    """metric_aggregation_params: aggregation as the measure spec gives it (average → avg,
    a balance → last) and an expr of '1' bound to the time dimension's column."""
    project = tmp_path / "proj"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.yml").write_text(
        "semantic_models:\n"
        "  - name: bookings\n    model: ref('fct_bookings')\n"
        "    defaults: {agg_time_dimension: ds}\n"
        "    entities: [{name: booking, type: primary, expr: booking_id}]\n"
        "    dimensions: [{name: ds, type: time, type_params: {time_granularity: day}}]\n"
        "metrics:\n"
        "  - name: average_booking_value\n    type: simple\n"
        "    type_params:\n      expr: booking_value\n"
        "      metric_aggregation_params: {semantic_model: bookings, agg: average}\n"
        "  - name: current_account_balance_by_user\n    type: simple\n"
        "    type_params:\n      expr: txn_value\n"
        "      metric_aggregation_params:\n        semantic_model: bookings\n        agg: sum\n"
        "        non_additive_dimension: {name: ds, window_choice: max}\n"
        "  - name: bookings\n    type: simple\n"
        "    type_params:\n      expr: '1'\n"
        "      metric_aggregation_params: {semantic_model: bookings, agg: sum}\n"
    )
    import_dbt(project, tmp_path / "c")
    graph = load_catalog(tmp_path / "c")
    metrics = {n.id: n for n in graph.nodes if isinstance(n, Metric)}
    assert str(metrics["average_booking_value"].aggregation.value) == "avg"  # type: ignore[union-attr]
    assert str(metrics["current_account_balance_by_user"].aggregation.value) == "last"  # type: ignore[union-attr]
    assert str(metrics["bookings"].aggregation.value) == "sum"  # type: ignore[union-attr]
    assert metrics["bookings"].fields == ["dbt.fct_bookings.ds"]
