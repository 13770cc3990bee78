"""Write a catalog as MetricFlow YAML for a dbt project (``kpigraph export dbt``).

Per metric:

* imported from dbt (``extra.dbt`` holds its definition) → that definition, as it was;
* ``formula: a / b`` → a ``ratio`` metric; any other formula → a ``derived`` metric whose
  ``expr`` is the formula (kpigraph's grammar is a subset of SQL arithmetic);
* no formula, ``fields`` → a ``simple`` metric over a measure on the first field's table
  (``agg: sum``, or ``average`` for ``aggregation: avg``) — a stub to check;
* neither → not exported (listed in the report), and so are the metrics built on it.

Every metric also carries its whole card under ``config.meta.kpigraph``, so ``kpigraph import
dbt`` restores it. A table imported from dbt keeps its semantic models (entities, dimensions,
every measure, used or not) under ``extra.dbt`` and they are written back as they were, with the
measures of metrics defined since added. Other tables that measures read become semantic model
stubs (``model: ref('<table>')``, entities left for you to add); each beside a ``models:`` entry
documenting the columns.
The output is parsed back with dbt-semantic-interfaces before it is moved into place.

dbt renders every string of a schema file as Jinja (descriptions later, in ``process_docs``);
a catalog's text is written by whoever edits the catalog or proposes a change, so text that
would open a Jinja tag (``{{``, ``{%``, ``{#``) is written inert (:func:`inert`): a
definition ``{{ env_var('AWS_SECRET_ACCESS_KEY') }}`` put the secret into dbt's manifest.
``filter`` and ``where`` (MetricFlow's own templates, which dbt does not render) are kept.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.i18n import _
from graph_schema.formula import BinOp, Ref, parse_formula
from graph_schema.graph import CatalogGraph
from graph_schema.models import Department, FieldNode, Metric, Table
from loaders.catalog import load_catalog
from loaders.catalog_writer import CatalogWriteError, dump_yaml, node_doc, swap_into_place
from loaders.dbt.read import INERT_BRACE, read_dbt
from loaders.dbt.report import counts_line
from loaders.dbt.sources import slug
from loaders.dbt.to_catalog import dbt_to_doc

#: kpigraph ``aggregation`` → MetricFlow ``agg``; ``last`` is a sum that is not additive over
#: time (a balance: the period's last value), ``none`` has no MetricFlow equivalent (noted).
_AGG = {"sum": "sum", "avg": "average", "last": "sum", "none": "sum"}
_LAST: dict[str, Any] = {}  # marker: "the last value over the stub's time dimension"
_TIME_TYPES = ("date", "time", "timestamp", "datetime")
#: column names that hold a period even when typed as text (``period: '2024-06'``)
_TIME_NAME = re.compile(r"(?:^|_)(?:date|dt|ds|time|at|month|period|day)$")
#: a brace that opens a Jinja tag, expression or comment
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")
#: MetricFlow's templates (``{{ Dimension('…') }}``): dbt does not render them
_TEMPLATE_KEYS = frozenset({"filter", "where"})


def inert(value: Any, key: str | None = None, *, meta: bool = False) -> Any:
    """``value`` with every string that dbt would render as Jinja written so that it renders
    as itself: each ``{`` opening a tag becomes ``{{ '{' }}``. Strings under ``filter`` and
    ``where`` are MetricFlow's templates and stay as they are, except below ``meta`` (a card's
    own field named so is text like any other).

    >>> inert({"label": "{{ env_var('X') }}", "n": 1, "filter": "{{ Dimension('d') }} > 0"})
    {'label': "{{ '{' }}{ env_var('X') }}", 'n': 1, 'filter': "{{ Dimension('d') }} > 0"}
    >>> inert({"meta": {"kpigraph": {"filter": "{{ x }}"}}})
    {'meta': {'kpigraph': {'filter': "{{ '{' }}{ x }}"}}}
    >>> inert(["{% raw %}", "a {#b#}", "{plain}"])
    ["{{ '{' }}% raw %}", "a {{ '{' }}#b#}", '{plain}']
    """
    if isinstance(value, str):
        kept = key in _TEMPLATE_KEYS and not meta
        return value if kept else _JINJA_OPEN.sub(INERT_BRACE, value)
    if isinstance(value, dict):
        return {
            k: inert(v, k if isinstance(k, str) else None, meta=meta or k == "meta")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [inert(v, key, meta=meta) for v in value]
    return value


@dataclass
class ExportReport:
    out: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [_("wrote {path}", path=self.out), counts_line(self.counts)]
        out += [
            _("not exported: {id} ({why})", id=mid, why=why) for mid, why in self.skipped.items()
        ]
        out += [_("note: {note}", note=n) for n in self.notes]
        return out


@dataclass
class _Stub:
    table: Table
    measures: list[dict[str, Any]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    semantic_name: str | None = None  # a metric names its semantic model (newer dbt spec)


def export_dbt(
    catalog_dir: str | Path, out_dir: str | Path, *, force: bool = False
) -> ExportReport:
    """Write ``catalog_dir`` as dbt / MetricFlow YAML under ``out_dir`` (see module doc)."""
    graph = load_catalog(catalog_dir)
    files, report = dbt_files(graph)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise CatalogWriteError(
            _("{path} exists and is not empty; choose another -o or --force", path=out)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text, encoding="utf-8")
        # the official models must accept what we wrote, and every measure must resolve
        _doc, back = dbt_to_doc(read_dbt(tmp))
        report.counts["parsed_back"] = back.counts["metrics"]
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.out = str(out)
    return report


def dbt_files(graph: CatalogGraph) -> tuple[dict[str, str], ExportReport]:
    """Relative path → YAML text of the dbt files for ``graph``, and what was (not) exported."""
    report = ExportReport(out="")
    metrics = [n for n in graph.nodes if isinstance(n, Metric)]
    tables = {n.id: n for n in graph.nodes if isinstance(n, Table)}
    fields = {n.id: n for n in graph.nodes if isinstance(n, FieldNode)}
    departments = {n.id: n for n in graph.nodes if isinstance(n, Department)}
    stubs: dict[str, _Stub] = {}
    out_metrics: list[dict[str, Any]] = []
    exported: set[str] = set()
    inputs_only = {m.id for m in metrics if "input_of" in (m.extra.get("dbt") or {})}
    made_by_measures = 0

    def stub_for(table_id: str) -> _Stub:
        if table_id not in stubs:
            stubs[table_id] = _Stub(tables[table_id])
        return stubs[table_id]

    for metric in _in_dependency_order(metrics):
        if metric.id in inputs_only:
            continue  # folded back into the metric using it (its extra.dbt says how)
        original = metric.extra.get("dbt") or {}
        spec = _spec_from_extra(metric, original, fields, stub_for) if "type" in original else None
        if spec is None:
            spec = _spec_from_card(metric, fields, stub_for, report)
        if spec is None:
            continue
        missing = [i for i in _inputs(spec) if i not in exported]
        if missing:
            report.skipped[metric.id] = _("uses {ids}, not exported", ids=_(", ").join(missing))
            continue
        card = {k: v for k, v in node_doc(metric).items() if k not in ("id", "extra")}
        name = spec.get("name", metric.id)
        if _measure_made_it(original, spec, card):
            exported.add(name)  # its measure's create_metric: true makes it again
            made_by_measures += 1
            continue
        spec.pop("name", None)
        meta: dict[str, Any] = {"kpigraph": card}
        config: dict[str, Any] = {"meta": meta}
        if metric.owner:
            config["group"] = metric.owner
        # no definition, no description: an import would read one back as the definition;
        # no label where the name is the label (dbt shows a metric's name then)
        described = {"description": metric.definition} if metric.definition else {}
        labelled = {"label": metric.name} if metric.name != name else {}
        out_metrics.append({"name": name, **labelled, **described, **spec, "config": config})
        exported.add(name)
    files: dict[str, str] = {}
    project = slug(graph.name, "kpigraph")
    files["dbt_project.yml"] = dump_yaml(
        inert({"name": project, "version": "1.0.0", "config-version": 2, "profile": project})
    )
    for node in tables.values():  # imported from dbt: its semantic models, used or not
        if kept_semantic_models(node):
            stub_for(node.id)
    for table_id, stub in sorted(stubs.items()):
        system, table = table_id.split(".", 1)
        columns = [f for f in fields.values() if f.table == table_id]
        files[f"models/{system}/{table}.yml"] = dump_yaml(inert(_stub_doc(stub, columns, report)))
    owners = sorted({m["config"]["group"] for m in out_metrics if "group" in m["config"]})
    groups = [
        {"name": d, "owner": {"name": departments[d].name}} for d in owners if d in departments
    ]
    doc: dict[str, Any] = {"version": 2}
    if groups:
        doc["groups"] = groups
    doc["metrics"] = out_metrics
    files["models/metrics.yml"] = dump_yaml(inert(doc))
    report.counts = {
        "metrics": len(out_metrics),
        **({"measure_metrics": made_by_measures} if made_by_measures else {}),
        "semantic_models": len(stubs),
        "skipped": len(report.skipped),
    }
    return files, report


#: what an import puts on the card of a metric its measure's ``create_metric: true`` made
_PROXY_CARD = {"name", "definition", "fields", "aggregation", "dimensions"}


def _measure_made_it(original: dict[str, Any], spec: dict[str, Any], card: dict[str, Any]) -> bool:
    """Whether the metric is the one MetricFlow makes of a measure with ``create_metric:
    true``, unchanged since the import: the measure, written back, makes it again (a metric
    written beside it would be one the original project did not have)."""
    measure = original.get("measure")
    if not isinstance(measure, dict) or not measure.get("create_metric"):
        return False
    name = measure.get("name")
    bare = {"name": name, "type": "simple", "type_params": {"measure": {"name": name}}}
    return (
        spec == bare
        and set(card) <= _PROXY_CARD
        and card.get("name") == (measure.get("label") or name)
        and card.get("definition") == measure.get("description")
    )


def _in_dependency_order(metrics: list[Metric]) -> list[Metric]:
    by_id = {m.id: m for m in metrics}
    done: dict[str, Metric] = {}

    def visit(m: Metric, trail: frozenset[str]) -> None:
        if m.id in done or m.id in trail:
            return
        if m.formula:
            for ref in parse_formula(m.formula).references():
                if ref.name in by_id:
                    visit(by_id[ref.name], trail | {m.id})
        done[m.id] = m

    for m in metrics:
        visit(m, frozenset())
    return list(done.values())


def _inputs(spec: dict[str, Any]) -> list[str]:
    params = spec.get("type_params") or {}
    names = [params[k]["name"] for k in ("numerator", "denominator") if k in params]
    names += [m["name"] for m in params.get("metrics") or []]
    cumulative = params.get("cumulative_type_params") or {}
    if isinstance(cumulative.get("metric"), dict):
        names.append(cumulative["metric"]["name"])
    return names


def _spec_from_extra(
    metric: Metric, original: dict[str, Any], fields: dict[str, FieldNode], stub_for: Any
) -> dict[str, Any]:
    """The metric's own dbt definition, and its measures back on their tables' stubs."""
    spec = {k: v for k, v in original.items() if k not in ("measure", "measures", "meta")}
    params = (original.get("type_params") or {}).get("metric_aggregation_params")
    if isinstance(params, dict) and metric.fields and metric.fields[0] in fields:
        stub = stub_for(fields[metric.fields[0]].table)
        stub.semantic_name = stub.semantic_name or params.get("semantic_model")
    measures = [original["measure"]] if isinstance(original.get("measure"), dict) else []
    measures += [m for m in original.get("measures") or [] if isinstance(m, dict)]
    for measure in measures:
        table = measure.get("table")
        if table is None and metric.fields and metric.fields[0] in fields:
            table = fields[metric.fields[0]].table
        if table is None:
            continue
        stub = stub_for(table)
        if measure["name"] not in stub.names:
            stub.names.add(measure["name"])
            stub.measures.append({k: v for k, v in measure.items() if k != "table"})
    return spec


def _spec_from_card(
    metric: Metric, fields: dict[str, FieldNode], stub_for: Any, report: ExportReport
) -> dict[str, Any] | None:
    if metric.formula:
        parsed = parse_formula(metric.formula)
        root = parsed.root
        if (
            isinstance(root, BinOp)
            and root.op == "/"
            and isinstance(root.left, Ref)
            and isinstance(root.right, Ref)
        ):
            return {
                "name": metric.id,
                "type": "ratio",
                "type_params": {
                    "numerator": {"name": root.left.name},
                    "denominator": {"name": root.right.name},
                },
            }
        names = [name for name, _role in parsed.inputs()]
        return {
            "name": metric.id,
            "type": "derived",
            "type_params": {"expr": metric.formula, "metrics": [{"name": n} for n in names]},
        }
    bound = [fields[f] for f in metric.fields if f in fields]
    if not bound:
        report.skipped[metric.id] = _("no formula and no fields: nothing for MetricFlow to compute")
        return None
    column = bound[0]
    stub = stub_for(column.table)
    name, n = metric.id, 2
    while name in stub.names:
        name, n = f"{metric.id}_{n}", n + 1
    stub.names.add(name)
    aggregation = getattr(metric, "aggregation", None)
    how = str(getattr(aggregation, "value", aggregation) or "sum")
    measure: dict[str, Any] = {
        "name": name,
        "agg": _AGG.get(how, "sum"),
        "expr": column.id.rsplit(".", 1)[1],
    }
    if how == "last":
        measure["non_additive_dimension"] = _LAST  # resolved to the stub's time dimension
    elif how == "none":
        report.notes.append(
            _("{id}: aggregation none has no MetricFlow agg; wrote sum", id=metric.id)
        )
    stub.measures.append(measure)
    if len(bound) > 1:
        report.notes.append(
            _(
                "{id}: measure reads {field} only (of {n} fields); check expr/agg",
                id=metric.id,
                field=column.id,
                n=len(bound),
            )
        )
    return {"name": metric.id, "type": "simple", "type_params": {"measure": {"name": name}}}


_GRANULARITIES = {
    "nanosecond",
    "microsecond",
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
}


def _dim_name(column: str, model: str) -> str:
    """A dimension name MetricFlow accepts (``month`` is a reserved granularity word)."""
    return f"{model}_{column}" if column.lower() in _GRANULARITIES else column


def _stub_doc(stub: _Stub, columns: list[FieldNode], report: ExportReport) -> dict[str, Any]:
    table = stub.table
    local = table.id.split(".", 1)[1]
    kept = kept_semantic_models(table)
    model = {
        "name": local,
        "description": table.description or table.name,
        "config": {"schema": table.system},
        "columns": [
            {"name": c.id.rsplit(".", 1)[1]}
            | ({"description": c.description or c.name} if (c.description or c.name) else {})
            | ({"data_type": c.type} if c.type else {})
            for c in columns
        ],
    }
    if kept:  # imported from dbt: written back as it was, where it was
        relation = next((sm["node_relation"] for sm in kept if "node_relation" in sm), None)
        if isinstance(relation, dict) and relation.get("schema_name"):
            model["config"] = _model_config(relation, local)
        return {"version": 2, "models": [model], "semantic_models": _as_kept(kept, stub, local)}
    times = [
        c.id.rsplit(".", 1)[1]
        for c in columns
        if (c.type and any(t in c.type.lower() for t in _TIME_TYPES))
        or _TIME_NAME.search(c.id.rsplit(".", 1)[1])
    ]
    for measure in stub.measures:  # imported from dbt: the measure names its time dimension
        if measure.get("agg_time_dimension") and measure["agg_time_dimension"] not in times:
            times.append(measure["agg_time_dimension"])
    names = {m.pop("semantic_model", None) for m in stub.measures}
    name = names.pop() if len(names) == 1 and None not in names else local
    name = stub.semantic_name or name
    semantic: dict[str, Any] = {"name": name, "description": table.description or table.name}
    semantic["model"] = f"ref('{local}')"
    # MetricFlow wants a primary entity for a model with dimensions; one row of the table
    semantic["primary_entity"] = name
    if times:
        semantic["defaults"] = {"agg_time_dimension": _dim_name(times[0], name)}
        semantic["dimensions"] = [
            {"name": _dim_name(t, name), "type": "time", "type_params": {"time_granularity": "day"}}
            | ({"expr": t} if _dim_name(t, name) != t else {})
            for t in times
        ]
    else:
        report.notes.append(
            _(
                "semantic model {name}: no date/time column; add a time dimension "
                "(MetricFlow aggregates every measure over one)",
                name=local,
            )
        )
    for measure in stub.measures:
        if measure.get("non_additive_dimension") is _LAST:
            if times:
                measure["non_additive_dimension"] = {
                    "name": _dim_name(times[0], name),
                    "window_choice": "max",
                }
            else:
                del measure["non_additive_dimension"]
    semantic["measures"] = stub.measures
    return {"version": 2, "models": [model], "semantic_models": [semantic]}


def _model_config(relation: dict[str, Any], local: str) -> dict[str, Any]:
    """The dbt model config that places model ``local`` where the imported semantic model's
    ``node_relation`` was: its schema as spelled (``$source_schema``), database and alias."""
    config: dict[str, Any] = {}
    if relation.get("database"):
        config["database"] = relation["database"]
    config["schema"] = relation["schema_name"]
    if relation.get("alias") and relation["alias"] != local:
        config["alias"] = relation["alias"]
    return config


def kept_semantic_models(table: Table) -> list[dict[str, Any]]:
    """The dbt semantic models an import kept on ``table`` (``extra.dbt.semantic_models``)."""
    kept = ((table.extra or {}).get("dbt") or {}).get("semantic_models")
    return [sm for sm in kept if isinstance(sm, dict)] if isinstance(kept, list) else []


def _as_kept(kept: list[dict[str, Any]], stub: _Stub, local: str) -> list[dict[str, Any]]:
    """The semantic models as imported (entities, dimensions, every measure), on the model
    ``ref('<table>')``, with the measures of metrics defined since the import added to the
    first."""
    out = [
        {k: v for k, v in sm.items() if k != "node_relation"} | {"model": f"ref('{local}')"}
        for sm in kept
    ]
    known = {m.get("name") for sm in out for m in sm.get("measures") or []}
    added = [
        {k: v for k, v in m.items() if k != "semantic_model"}
        for m in stub.measures
        if m.get("name") not in known
    ]
    time = (out[0].get("defaults") or {}).get("agg_time_dimension")
    for measure in added:
        if measure.get("non_additive_dimension") is _LAST:
            if time:
                measure["non_additive_dimension"] = {"name": time, "window_choice": "max"}
            else:
                del measure["non_additive_dimension"]
    if added:
        out[0]["measures"] = [*(out[0].get("measures") or []), *added]
    return out
