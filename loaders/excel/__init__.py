"""Excel in and out: :func:`export_excel` writes a catalog as an ``.xlsx`` in seed 001's
template, :func:`import_excel` reads one (edited by a committee) back into a catalog."""

from loaders.excel.read import import_excel, read_workbook
from loaders.excel.sheets import ExcelImportError
from loaders.excel.write import ExcelExportError, export_excel, workbook

__all__ = [
    "ExcelExportError",
    "ExcelImportError",
    "export_excel",
    "import_excel",
    "read_workbook",
    "workbook",
]
