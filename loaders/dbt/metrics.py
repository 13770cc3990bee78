"""Map dbt / MetricFlow metrics onto kpigraph metrics, over the sources
:class:`loaders.dbt.sources.SourceMapper` maps (the table of what goes where is in
:mod:`loaders.dbt.to_catalog`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbt_semantic_interfaces.implementations.metric import PydanticMetric, PydanticMetricInput

from core.i18n import _
from graph_schema.models import Metric
from loaders.catalog_writer import CatalogDoc
from loaders.dbt.expr import UntranslatableExpr, sql_to_formula
from loaders.dbt.read import DbtProject
from loaders.dbt.report import ImportReport
from loaders.dbt.sources import Measure, SourceMapper, columns_of, compact, slug

_MAPPED = {
    "name",
    "type",
    "type_params.measure.name",
    "type_params.numerator.name",
    "type_params.denominator.name",
    "type_params.expr",
    "type_params.metrics[].name",
    "type_params.metrics[].alias",
    "type_params.numerator.alias",
    "type_params.denominator.alias",
    "measure.name",
    "measure.expr",
    "measure.semantic_model",
    "measure.create_metric",
    "measure.table",
    "type_params.metric_aggregation_params.semantic_model",
    "measure.agg_time_dimension",
    "measures[].name",
    "measures[].expr",
    "measures[].semantic_model",
    "measures[].table",
    "measures[].agg_time_dimension",
    "type_params.conversion_type_params.base_measure.name",
    "type_params.conversion_type_params.conversion_measure.name",
}
#: Metric keys that refer to other nodes: not restored from ``meta.kpigraph`` (they would have to
#: resolve in the imported catalog).
_REFERENCE_KEYS = {
    "id",
    "owner",
    "reviewer",
    "fields",
    "dimensions",
    "dashboards",
    "causes",
    "rolls_up_to",
    "parallel",
    "formula",
    "drivers",
    "extra",
}
_ADDITIVE = {"sum", "count", "sum_boolean"}


def _leaf_paths(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        return [
            p for k, v in data.items() for p in _leaf_paths(v, f"{prefix}.{k}" if prefix else k)
        ]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return sorted({p for item in data for p in _leaf_paths(item, f"{prefix}[]")})
    return [prefix]


class MetricMapper(SourceMapper):
    """The sources (see :class:`SourceMapper`), then the metrics over them."""

    def __init__(self, project: DbtProject, system: str | None) -> None:
        super().__init__(project, system)
        self.report = ImportReport(source=project.source, notes=self.notes)
        self.departments: dict[str, dict[str, Any]] = {}
        self.metric_ids: dict[str, str] = {}
        self.metric_dims: dict[str, list[str]] = {}
        self.docs: dict[str, tuple[str, dict[str, Any]]] = {}  # id → (file, doc)
        self.synthetic: dict[str, str] = {}  # signature → id

    # -- metrics ---------------------------------------------------------------------------

    def unique_metric_id(self, wanted: str) -> str:
        mid, n = wanted, 2
        while mid in self.docs or mid in self.metric_ids.values():
            mid, n = f"{wanted}_{n}", n + 1
        return mid

    def read_metrics(self) -> None:
        metrics = list(self.project.metrics)
        names = {m.name for m, _r, _o in metrics}
        for sm, origin in self.project.semantic_models:  # create_metric: true → a simple metric
            for measure in sm.measures:
                if measure.create_metric and measure.name not in names:
                    proxy = PydanticMetric.parse_obj(
                        {
                            "name": measure.name,
                            "type": "simple",
                            "description": measure.description,
                            "label": measure.label,
                            "type_params": {"measure": measure.name},
                        }
                    )
                    metrics.append((proxy, {}, origin))
                    names.add(measure.name)
                    self.report.counts["measure_metrics"] = (
                        self.report.counts.get("measure_metrics", 0) + 1
                    )
        for m, _raw, origin in sorted(metrics, key=lambda t: t[0].name):  # see below
            if m.name in self.metric_ids:
                self.problems.append(
                    _("{where}: metric {name} is defined twice", where=origin, name=repr(m.name))
                )
                continue
            self.metric_ids[m.name] = self.unique_metric_id(slug(m.name, "m"))
            if self.metric_ids[m.name] != m.name:
                self.report.notes.append(
                    _(
                        "metric {name} imported as id {id}",
                        name=repr(m.name),
                        id=repr(self.metric_ids[m.name]),
                    )
                )
        done: set[str] = set()
        # by depth, then by name, not in the order of the files: an input two metrics share
        # is named after the same one of them however the project lists them (an export
        # writes them in another order, and its import must give the same ids back)
        index = {x.name: x for x, _raw, _origin in metrics}
        for m, raw, origin in sorted(metrics, key=lambda t: (_depth(t[0], index), t[0].name)):
            if m.name in done:
                continue
            done.add(m.name)
            self.metric(m, raw, str(origin))

    def metric(self, m: PydanticMetric, raw: dict[str, Any], where: str) -> None:
        mid = self.metric_ids[m.name]
        doc: dict[str, Any] = {"id": mid, "name": m.label or m.name}
        if m.description:
            doc["definition"] = m.description.strip()
        extra = compact(m, {"metadata", "description", "label", "config"})
        tp = m.type_params
        kind = m.type.value
        folder = kind
        dims: list[str] | None = None
        rules: list[str] = []
        if m.filter:
            rules += [f"filter: {f.where_sql_template}" for f in m.filter.where_filters]
        if kind in ("simple", "cumulative"):
            measure_name = tp.measure.name if tp.measure else None
            if (
                measure_name is None
                and tp.cumulative_type_params
                and tp.cumulative_type_params.metric
            ):
                doc["formula"] = self.input(mid, tp.cumulative_type_params.metric, "input", where)
                dims = self.metric_dims.get(doc["formula"])
            elif measure_name is None and tp.metric_aggregation_params:
                # dbt's newer spec: the metric aggregates a semantic model's column itself
                params = tp.metric_aggregation_params
                table = self.sm_table.get(params.semantic_model)
                if table is None:
                    self.problems.append(
                        _(
                            "{where}: metric {name} aggregates semantic model {model}, which "
                            "is not defined",
                            where=where,
                            name=repr(m.name),
                            model=repr(params.semantic_model),
                        )
                    )
                else:
                    # imported as a measure of the old spec is: its columns (the time
                    # dimension's when its expr reads none, e.g. '1') and its roll-up rule
                    agg = params.agg.value.lower()
                    columns = [
                        self.field(table, c, f"metric {m.name} ({agg})")
                        for c in columns_of(tp.expr, m.name)
                    ]
                    time_cols, default_time = self.sm_time.get(params.semantic_model, ({}, None))
                    time_dim = params.agg_time_dimension or default_time
                    if not columns and time_dim in time_cols:
                        columns = [time_cols[time_dim]]
                        self.report.notes.append(
                            _(
                                "metric {name} (expr {expr}) reads no column; bound to its "
                                "time dimension {time}",
                                name=m.name,
                                expr=repr(tp.expr),
                                time=repr(time_dim),
                            )
                        )
                    doc["fields"] = columns
                    dims = self.sm_dims.get(params.semantic_model)
                    folder = params.semantic_model
                    data = compact(params, {"semantic_model", "agg"})
                    how = _aggregation(Measure(None, columns, agg, data))  # type: ignore[arg-type]
                    if how and "aggregation" in Metric.model_fields:
                        doc["aggregation"] = how
            elif measure_name is None:
                self.problems.append(
                    _("{where}: metric {name} names no measure", where=where, name=repr(m.name))
                )
            else:
                measure = self.measure(measure_name, m.name, where)
                if measure is not None:
                    doc["fields"] = list(measure.fields)
                    dims = self.sm_dims.get(measure.semantic_model.name)
                    folder = measure.semantic_model.name
                    extra["measure"] = measure.data
                    how = _aggregation(measure) if kind == "simple" else None
                    if how and "aggregation" in Metric.model_fields:
                        doc["aggregation"] = how
                if tp.measure and tp.measure.filter:
                    rules += [
                        f"filter: {f.where_sql_template}" for f in tp.measure.filter.where_filters
                    ]
        elif kind == "ratio" and tp.numerator and tp.denominator:
            num = self.input(mid, tp.numerator, "numerator", where)
            den = self.input(mid, tp.denominator, "denominator", where)
            doc["formula"] = f"{num} / {den}"
            dims = self.common_dims([num, den])
        elif kind == "derived" and tp.expr:
            names = {}
            for inp in tp.metrics or []:
                names[inp.alias or inp.name] = self.input(
                    mid, inp, slug(inp.alias or inp.name), where
                )
            notes: list[str] = []
            try:
                doc["formula"] = sql_to_formula(tp.expr, names, notes)
                dims = self.common_dims(list(names.values()))
            except UntranslatableExpr as exc:
                self.report.notes.append(
                    _(
                        "metric {name}: expr {expr} not a formula: {problem}",
                        name=repr(m.name),
                        expr=repr(tp.expr),
                        problem=exc,
                    )
                )
                extra["formula_untranslated"] = True
            self.report.notes += [
                _("metric {name}: {note}", name=repr(m.name), note=n) for n in notes
            ]
        elif kind == "conversion" and tp.conversion_type_params:
            ctp = tp.conversion_type_params
            fields: list[str] = []
            for in_measure in (ctp.base_measure, ctp.conversion_measure):
                measure = self.measure(in_measure.name, m.name, where) if in_measure else None
                if measure:
                    extra.setdefault("measures", []).append(measure.data)
                    fields += [f for f in measure.fields if f not in fields]
                    dims = (
                        dims if dims is not None else self.sm_dims.get(measure.semantic_model.name)
                    )
            for in_metric in (ctp.base_metric, ctp.conversion_metric):
                if in_metric is not None:
                    self.report.notes.append(
                        _(
                            "metric {name}: conversion input {input} kept in extra",
                            name=repr(m.name),
                            input=repr(in_metric.name),
                        )
                    )
            doc["fields"] = fields
        if rules:
            doc["caliber"] = {"rules": rules}
        if dims:
            doc["dimensions"] = list(dims)
        self.metric_dims[mid] = list(dims or [])
        rest = self.owner(doc, m, raw)
        if rest:
            extra["meta"] = rest
        tags = raw.get("tags") or (raw.get("config") or {}).get("tags")
        if isinstance(tags, list) and tags:
            doc["tags"] = [str(t) for t in tags]
        doc["extra"] = {"dbt": extra}
        unmapped = sorted(
            {
                p
                for p in _leaf_paths(extra)
                if p not in _MAPPED and not p.startswith("meta.kpigraph")
            }
        )
        if unmapped:
            self.report.extra[mid] = unmapped
        self.docs[mid] = (f"{slug(folder, 'm')}/{mid}.yaml", doc)

    def measure(self, name: str, metric: str, where: str) -> Measure | None:
        measure = self.measures.get(name)
        if measure is None:
            self.problems.append(
                _(
                    "{where}: metric {metric} uses measure {name}, which no semantic model defines",
                    where=where,
                    metric=repr(metric),
                    name=repr(name),
                )
            )
        return measure

    def common_dims(self, ids: list[str]) -> list[str]:
        sets = [self.metric_dims.get(i, []) for i in ids]
        if not sets:
            return []
        return [d for d in sets[0] if all(d in s for s in sets[1:])]

    def input(self, parent: str, inp: PydanticMetricInput, role: str, where: str) -> str:
        base = self.metric_ids.get(inp.name)
        if base is None:
            self.problems.append(
                _(
                    "{where}: metric {parent} uses unknown metric {name}",
                    where=where,
                    parent=repr(parent),
                    name=repr(inp.name),
                )
            )
            return slug(inp.name, "m")
        mods: dict[str, Any] = {}
        if inp.filter:
            mods["filter"] = [f.where_sql_template for f in inp.filter.where_filters]
        if inp.offset_window:
            mods["offset_window"] = inp.offset_window.window_string
        if inp.offset_to_grain:
            mods["offset_to_grain"] = inp.offset_to_grain
        if not mods:
            return base
        signature = json.dumps([base, inp.alias, mods], sort_keys=True)
        if signature in self.synthetic:
            return self.synthetic[signature]
        wanted = slug(inp.alias, "m") if inp.alias else f"{parent}_{role}"
        sid = self.unique_metric_id(
            wanted if wanted not in self.metric_ids.values() else f"{parent}_{wanted}"
        )
        self.synthetic[signature] = sid
        what = ", ".join(f"{k} {v}" for k, v in mods.items())
        doc: dict[str, Any] = {
            "id": sid,
            "name": f"{parent}: {inp.alias or role}",
            "definition": f"{inp.name} with {what} (an input of {parent}, made by the dbt import)",
            "formula": base,
        }
        if "filter" in mods:
            doc["caliber"] = {"rules": [f"filter: {f}" for f in mods["filter"]]}
        if self.metric_dims.get(base):
            doc["dimensions"] = list(self.metric_dims[base])
        self.metric_dims[sid] = list(self.metric_dims.get(base, []))
        doc["extra"] = {"dbt": {"input_of": parent, "metric": inp.name} | mods}
        self.report.extra[sid] = sorted(mods)
        self.docs[sid] = (f"inputs/{sid}.yaml", doc)
        self.report.counts["input_metrics"] = self.report.counts.get("input_metrics", 0) + 1
        return sid

    def owner(self, doc: dict[str, Any], m: PydanticMetric, raw: dict[str, Any]) -> dict[str, Any]:
        """Set ``owner`` (a department) from the group or ``meta.owner``; return other meta."""
        meta: dict[str, Any] = dict(m.config.meta) if m.config else {}
        meta.update(raw.get("meta") or {})
        group = raw.get("group") or (raw.get("config") or {}).get("group")
        owner = meta.pop("owner", None)
        kp = meta.pop("kpigraph", None)
        if group:
            gid = slug(str(group), "g")
            info = self.project.groups.get(str(group), {})
            desc = " ".join(str(info[k]) for k in ("name", "email") if info.get(k))
            self.departments.setdefault(
                gid, {"id": gid, "name": str(group)} | ({"description": desc} if desc else {})
            )
            doc["owner"] = gid
            if owner:
                doc["contacts"] = {"business": str(owner)}
            elif desc:
                doc["contacts"] = {"business": desc}
        elif owner:
            oid = slug(str(owner), "o")
            self.departments.setdefault(oid, {"id": oid, "name": str(owner)})
            doc["owner"] = oid
        for key in [k for k in meta if k in Metric.model_fields and k not in _REFERENCE_KEYS]:
            if _valid_metric_key(key, meta[key]):  # meta: {level: L0, domain: ...}
                doc[key] = meta.pop(key)
        if isinstance(kp, dict):  # written by 'kpigraph export dbt': the card's own keys
            for key, value in kp.items():
                if key not in _REFERENCE_KEYS and _valid_metric_key(key, value):
                    doc[key] = value
                elif key not in _REFERENCE_KEYS:
                    meta.setdefault("kpigraph", {})[key] = value
        return meta

    # -- document --------------------------------------------------------------------------

    def doc(self, name: str) -> CatalogDoc:
        systems = []
        for system in self.systems.values():
            tables = []
            for table in system["tables"]:
                fields = []
                for fdoc in table["fields"].values():
                    roles = fdoc.pop("_roles", [])
                    if roles and "description" not in fdoc:
                        fdoc["description"] = "; ".join(dict.fromkeys(roles))
                    fields.append(fdoc)
                tables.append(
                    {k: v for k, v in table.items() if k != "fields"}
                    | ({"fields": fields} if fields else {})
                )
            systems.append({**system, "tables": tables})
        doc = CatalogDoc(
            manifest={
                "name": name,
                "language": "en",
                "description": f"Imported from dbt ({Path(self.project.source).name})",
            },
            departments=sorted(self.departments.values(), key=lambda d: d["id"]),
            dimensions=sorted(self.dimensions.values(), key=lambda d: d["id"]),
            systems=systems,
        )
        for path, mdoc in self.docs.values():
            doc.metric_files.setdefault(path, []).append(mdoc)
        return doc


def _aggregation(measure: Measure) -> str | None:
    """kpigraph's ``aggregation`` for a measure: additive sums are ``sum``, a sum not additive
    over time (window_choice max) is ``last`` (a balance), an average is ``avg``; other
    aggregations (count_distinct, percentiles, min/max) have no equivalent and stay unset."""
    non_additive = measure.data.get("non_additive_dimension")
    if measure.agg in _ADDITIVE and isinstance(non_additive, dict):
        return "last" if non_additive.get("window_choice", "min") == "max" else None
    if measure.agg in _ADDITIVE:
        return "sum"
    return "avg" if measure.agg == "average" else None


def _valid_metric_key(key: str, value: Any) -> bool:
    """Whether ``key: value`` is a valid metric key on its own (so ``meta`` may carry it)."""
    if key not in Metric.model_fields:
        return False
    try:
        Metric.model_validate({"id": "m", "name": "m", key: value})
    except ValueError:
        return False
    return True


def _depth(
    m: PydanticMetric, index: dict[str, PydanticMetric], seen: frozenset[str] = frozenset()
) -> int:
    """How many metric layers lie under ``m`` (inputs are mapped before the metrics using them)."""
    if m.name in seen:
        return 0
    inputs = [i.name for i in m.input_metrics] if m.type.value in ("ratio", "derived") else []
    ctp = m.type_params.cumulative_type_params
    if ctp and ctp.metric:
        inputs.append(ctp.metric.name)
    return 1 + max(
        (_depth(index[i], index, seen | {m.name}) for i in inputs if i in index), default=0
    )
