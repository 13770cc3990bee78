"""dbt / MetricFlow in and out: :func:`import_dbt` reads a project or manifest into a catalog,
:func:`export_dbt` writes a catalog as MetricFlow YAML."""

from loaders.dbt.read import DbtImportError, read_dbt
from loaders.dbt.report import ImportReport
from loaders.dbt.to_catalog import dbt_to_doc, import_dbt

__all__ = ["DbtImportError", "ImportReport", "dbt_to_doc", "import_dbt", "read_dbt"]
