"""Map dbt / MetricFlow definitions (see :mod:`loaders.dbt.read`) onto a kpigraph catalog.

=============================  ============================================================
dbt / MetricFlow               kpigraph
=============================  ============================================================
schema (node_relation)         System (``$source_schema`` → ``source_schema``)
semantic model / dbt model     Table ``schema.alias`` with its columns as Fields
entity, dimension, measure     Field (the column it reads: ``expr`` or its name)
categorical dimension          Dimension ``entity__dim``; time dimensions → ``metric_time``
simple / cumulative metric     Metric with ``fields`` = its measure's columns (FEEDS)
ratio metric                   ``formula: numerator / denominator``
derived metric                 ``formula``: its ``expr`` over input ids (NULLIF/CAST dropped)
conversion metric              Metric with ``fields`` = base and conversion measures' columns
input with filter / offset     an input Metric (``formula: base``) holding the filter/offset
group / ``meta.owner``         Department, the metric's ``owner``
everything else                ``extra.dbt`` on the metric, listed in the report
=============================  ============================================================
"""

from __future__ import annotations

from pathlib import Path

from core.i18n import _
from loaders.catalog_writer import CatalogDoc, write_catalog
from loaders.dbt.metrics import MetricMapper
from loaders.dbt.read import DbtImportError, DbtProject, read_dbt
from loaders.dbt.report import ImportReport


def dbt_to_doc(
    project: DbtProject, *, name: str | None = None, system: str | None = None
) -> tuple[CatalogDoc, ImportReport]:
    """The catalog document for ``project`` and the report of what was mapped where."""
    mapper = MetricMapper(project, system)
    mapper.read_sources()
    mapper.read_metrics()
    if mapper.problems:
        raise DbtImportError(mapper.problems)
    title = name or project.project_name or Path(project.source).name or "dbt"
    doc = mapper.doc(title)
    used = {
        m.get("name")
        for _p, d in mapper.docs.values()
        for m in [d["extra"]["dbt"].get("measure") or {}, *d["extra"]["dbt"].get("measures", [])]
    }
    unused = sorted(set(mapper.measures) - used)
    if unused:
        mapper.report.notes.append(
            _(
                "{n} measure(s) no metric uses ({names}): kept only as their columns' descriptions",
                n=len(unused),
                names=", ".join(unused[:8]) + (", …" if len(unused) > 8 else ""),
            )
        )
    metrics = [m for _p, m in mapper.docs.values()]
    report = mapper.report
    report.counts = {
        "metrics": len(project.metrics) + report.counts.get("measure_metrics", 0),
        **report.counts,
        "semantic_models": len(project.semantic_models),
        "systems": len(doc.systems),
        "tables": len(mapper.tables),
        "fields": sum(len(t.get("fields", [])) for s in doc.systems for t in s["tables"]),
        "dimensions": len(doc.dimensions),
        "departments": len(doc.departments),
        "catalog_metrics": len(metrics),
    }
    return doc, report


def import_dbt(
    path: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    system: str | None = None,
    force: bool = False,
) -> ImportReport:
    """Read ``path`` (see :func:`loaders.dbt.read.read_dbt`) and write a catalog at ``out_dir``.

    Nothing is written unless the whole catalog validates.
    """
    project = read_dbt(path)
    doc, report = dbt_to_doc(project, name=name, system=system)
    write_catalog(
        doc,
        out_dir,
        force=force,
        header=(
            f"Imported by 'kpigraph import dbt' from {Path(path).name}.\n"
            "What the metric template cannot hold is kept under each metric's extra.dbt."
        ),
    )
    report.out = str(out_dir)
    return report
