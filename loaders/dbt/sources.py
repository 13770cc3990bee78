"""Sources of a dbt / MetricFlow project as catalog systems, tables, fields and dimensions.

A semantic model (or a dbt model) is a Table ``schema.alias`` in the System named after its
schema; the columns its entities, dimensions and measures read (their ``expr``, or their name)
are Fields; a categorical dimension is a Dimension ``entity__dim`` and any time dimension is
``metric_time``. See :mod:`loaders.dbt.to_catalog` for the metrics.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from dbt_semantic_interfaces.implementations.semantic_model import PydanticSemanticModel
from sqlglot import exp

from core.i18n import _
from loaders.dbt.read import DbtProject

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def slug(text: str, lead: str = "x") -> str:
    """A kpigraph id segment from any name.

    >>> slug("Booking Value"), slug("$source_schema"), slug("7d_users"), slug("运营部", "dept")
    ('booking_value', 'source_schema', 'x_7d_users', 'dept_09a11c1e')
    """
    out = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    if not out:  # no ASCII letters at all (a Chinese name): a stable id from its text
        return f"{lead}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return out if out[0].isalpha() else f"{lead}_{out}"


def compact(model: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    """A dsi (pydantic v1) model as JSON data without ``None`` and defaults, written back the
    way people write it: windows as ``"14 days"``, filters as their template text."""
    text = model.json(exclude_none=True, exclude_defaults=True, exclude=exclude or set())
    data: dict[str, Any] = _simplify(json.loads(text))
    return data


def kept_semantic_model(sm: PydanticSemanticModel) -> dict[str, Any]:
    """A semantic model as a table keeps it for ``kpigraph export dbt``: as written, with its
    ``node_relation`` as the project spelled it (``schema_name: $source_schema``), its
    ``relation_name`` only where it is not the one MetricFlow derives."""
    data = compact(sm, {"node_relation", "metadata"})
    rel = sm.node_relation
    if rel.schema_name != "__dbt_schema__":  # written model: ref('x') (placed by its model)
        relation = compact(rel, {"relation_name"})
        derived = ".".join(p for p in (rel.database, rel.schema_name, rel.alias) if p)
        if rel.relation_name and rel.relation_name != derived:
            relation["relation_name"] = rel.relation_name
        data = {"name": data.pop("name"), "node_relation": relation, **data}
    return data


def _simplify(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"count", "granularity"}:
            return f"{value['count']} {value['granularity']}"
        if set(value) == {"where_filters"}:
            texts = [f.get("where_sql_template") for f in value["where_filters"]]
            return texts[0] if len(texts) == 1 else texts
        out = {k: _simplify(v) for k, v in value.items() if k != "input_measures"}
        return {k: v for k, v in out.items() if v not in ([], {})}  # dbt writes metrics: []
    if isinstance(value, list):
        return [_simplify(v) for v in value]
    return value


def columns_of(expr: str | None, name: str) -> list[str]:
    """The columns a measure / dimension / entity reads: its ``expr`` or its name."""
    if expr is None:
        return [name]
    text = expr.strip()
    if _IDENT.match(text):
        return [text]
    try:
        tree = sqlglot.parse_one(text)
    except sqlglot.errors.ParseError:
        return []
    return list(dict.fromkeys(c.name for c in tree.find_all(exp.Column) if c.name))


@dataclass
class Measure:
    semantic_model: PydanticSemanticModel
    fields: list[str]
    agg: str
    data: dict[str, Any]


class SourceMapper:
    """Systems, tables, fields, dimensions and measures of a project (see module doc)."""

    def __init__(self, project: DbtProject, system: str | None) -> None:
        self.project = project
        self.system_override = system
        self.problems: list[str] = []
        self.notes: list[str] = list(project.notes)
        self.systems: dict[str, dict[str, Any]] = {}
        self.tables: dict[str, dict[str, Any]] = {}  # "sys.table" → table doc (fields by id)
        self.dimensions: dict[str, dict[str, Any]] = {}
        self.measures: dict[str, Measure] = {}
        self.sm_dims: dict[str, list[str]] = {}
        self.sm_table: dict[str, str] = {}  # semantic model → its table id
        #: semantic model → (its time dimensions' columns, its default agg_time_dimension)
        self.sm_time: dict[str, tuple[dict[str, str], str | None]] = {}

    # -- sources ---------------------------------------------------------------------------

    def table(self, schema: str, database: str | None, alias: str, name: str, desc: Any) -> str:
        sys_raw = self.system_override or schema
        sys_id = slug(sys_raw, "s")
        if sys_id not in self.systems:
            label = f"{database}.{sys_raw}" if database and not self.system_override else sys_raw
            self.systems[sys_id] = {"id": sys_id, "name": label, "tables": []}
        table_id = f"{sys_id}.{slug(alias, 't')}"
        if table_id not in self.tables:
            doc: dict[str, Any] = {"id": slug(alias, "t"), "name": name}
            if desc:
                doc["description"] = desc
            doc["fields"] = {}
            self.tables[table_id] = doc
            self.systems[sys_id]["tables"].append(doc)
        return table_id

    def field(self, table_id: str, column: str, role: str | None, **props: Any) -> str:
        fid = slug(column, "c")
        fields = self.tables[table_id]["fields"]
        doc = fields.setdefault(fid, {"id": fid, "name": column})
        for key, value in props.items():
            if value and key not in doc:
                doc[key] = value
        if role:
            doc.setdefault("_roles", []).append(role)
        return f"{table_id}.{fid}"

    def read_sources(self) -> None:
        used_models = set()
        templated: set[str] = set()
        for sm, _origin in self.project.semantic_models:
            rel = sm.node_relation
            model = self.project.models.get(self.project.model_of.get(sm.name, ""))
            schema = rel.schema_name
            if schema == "__dbt_schema__":
                schema = (model.schema if model else None) or self.project.project_name or "dbt"
            alias = model.alias if model and model.alias else rel.alias
            table_id = self.table(
                schema, rel.database, alias or sm.name, sm.label or sm.name, sm.description
            )
            if model:
                used_models.add(model.name)
                self.model_columns(table_id, model.columns)
            if "$" in schema:
                templated.add(schema)
            self.read_semantic_model(sm, table_id)
            # as it was, for 'kpigraph export dbt': entities, dimensions and measures no
            # metric uses have no other place in a catalog
            kept = self.tables[table_id].setdefault("extra", {"dbt": {"semantic_models": []}})
            kept["dbt"]["semantic_models"].append(kept_semantic_model(sm))
        for model in self.project.models.values():
            if model.name not in used_models:
                schema = model.schema or self.project.project_name or "dbt"
                tid = self.table(
                    schema, model.database, model.alias or model.name, model.name, model.description
                )
                self.model_columns(tid, model.columns)
        for schema in sorted(templated):
            self.notes.append(
                _(
                    "schema {schema} is a template variable; imported as system {system} "
                    "(pass --system to name it)",
                    schema=repr(schema),
                    system=repr(slug(schema, "s")),
                )
            )

    def model_columns(self, table_id: str, columns: list[dict[str, Any]]) -> None:
        for col in columns:
            self.field(
                table_id,
                col["name"],
                None,
                type=col.get("data_type"),
                description=col.get("description"),
            )

    def read_semantic_model(self, sm: PydanticSemanticModel, table_id: str) -> None:
        primary = sm.primary_entity or next(
            (e.name for e in sm.entities if e.type.value == "primary"), sm.name
        )
        dims: list[str] = []
        time_cols: dict[str, str] = {}
        for ent in sm.entities:
            for col in columns_of(ent.expr, ent.name):
                self.field(table_id, col, f"entity {ent.name} ({ent.type.value})")
        for dim in sm.dimensions:
            grain = dim.type_params.time_granularity if dim.type_params else None
            grain = getattr(grain, "value", grain)
            kind = f"{dim.type.value}, {grain}" if grain else dim.type.value
            cols = [
                self.field(table_id, c, f"dimension {dim.name} ({kind})")
                for c in columns_of(dim.expr, dim.name)
            ]
            if dim.type.value == "time":
                if cols:
                    time_cols[dim.name] = cols[0]
                continue
            did = slug(f"{primary}__{dim.name}", "d")
            self.dimensions.setdefault(
                did,
                {"id": did, "name": dim.label or f"{primary}__{dim.name}"}
                | ({"description": dim.description} if dim.description else {}),
            )
            dims.append(did)
        if time_cols:
            self.dimensions.setdefault(
                "metric_time",
                {
                    "id": "metric_time",
                    "name": "metric_time",
                    "description": "MetricFlow's time axis: each measure's agg_time_dimension",
                },
            )
            dims.append("metric_time")
        self.sm_dims[sm.name] = dims
        self.sm_table[sm.name] = table_id
        default_time = sm.defaults.agg_time_dimension if sm.defaults else None
        self.sm_time[sm.name] = (time_cols, default_time)
        for measure in sm.measures:
            agg = measure.agg.value.lower()
            cols = columns_of(measure.expr, measure.name)
            fields = [self.field(table_id, c, f"measure {measure.name} ({agg})") for c in cols]
            if not fields:
                time_dim = measure.agg_time_dimension or default_time
                if time_dim in time_cols:
                    fields = [time_cols[time_dim]]
                    self.notes.append(
                        _(
                            "measure {name} (expr {expr}) reads no column; bound to its time "
                            "dimension {time}",
                            name=measure.name,
                            expr=repr(measure.expr),
                            time=repr(time_dim),
                        )
                    )
            data = compact(measure, {"metadata"})
            data["semantic_model"] = sm.name
            data["table"] = table_id  # where 'kpigraph export dbt' puts it back
            if default_time and "agg_time_dimension" not in data:
                data["agg_time_dimension"] = default_time
            if measure.name in self.measures:
                self.problems.append(_("measure {name} is defined twice", name=repr(measure.name)))
            self.measures[measure.name] = Measure(sm, fields, agg, data)
