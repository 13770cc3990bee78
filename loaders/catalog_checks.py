"""Checks of a catalog being read that stand apart from reading its files: dimension levels
that are dimensions, files at the top that do not belong, and the ids declared in entries or
files that could not be read (so that references to them are not reported again)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.i18n import _
from graph_schema.ids import NodeKind
from graph_schema.models import Dimension
from loaders.validate import CatalogState

SECTION_FILES = ("departments.yaml", "dimensions.yaml", "dashboards.yaml", "sources.yaml")
MANIFEST = "kpigraph.yaml"


def check_levels(state: CatalogState) -> None:
    """Each level of a dimension hierarchy (``levels: [war_zone, province, city]``) is itself
    a dimension of the catalog."""
    dims = {ref.id for ref in state.nodes if ref.kind is NodeKind.DIMENSION}
    for ref, node in state.nodes.items():
        if not isinstance(node, Dimension) or not node.levels:
            continue
        unknown = [level for level in node.levels if level not in dims]
        if unknown:
            origin = state.origins.get(ref)
            state.issue(
                origin.file if origin else "dimensions.yaml",
                origin.line if origin else None,
                _(
                    "dimension {id}: levels {levels} are not dimensions",
                    id=repr(ref.id),
                    levels=", ".join(unknown),
                ),
                _("declare each level as a dimension in dimensions.yaml"),
                field="levels",
            )


def declare_unreadable_sources(state: CatalogState, system_id: Any, tables: list[Any]) -> None:
    """Tables and fields under a system or table entry that failed validation: references to
    them are not reported again."""
    if not isinstance(system_id, str):
        state.unverifiable.update({NodeKind.TABLE, NodeKind.FIELD})
        return
    for tbl in tables:
        if not isinstance(tbl, dict) or not isinstance(tbl.get("id"), str):
            continue
        table_id = f"{system_id}.{tbl['id']}"
        state.declared_unreadable(NodeKind.TABLE, table_id)
        for fld in tbl.get("fields") or []:
            fid = fld if isinstance(fld, str) else fld.get("id") if isinstance(fld, dict) else None
            if isinstance(fid, str):
                state.declared_unreadable(NodeKind.FIELD, f"{table_id}.{fid}")


_ID_LINE = re.compile(
    r"^\s*(?:-\s+)?id\s*:\s*['\"]?([A-Za-z][A-Za-z0-9_]*)['\"]?\s*(?:#.*)?$", re.M
)


def ids_in_text(path: Path) -> set[str]:
    """The ids a YAML file that does not parse probably declares (``id: xxx`` lines), so
    that references to them are not reported as unknown on top of the parse error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = f.write_text("metrics:\\n  - id: sessions\\n\\tname: x\\n  - {id: gmv}\\n")
    >>> sorted(ids_in_text(f))
    ['gmv', 'sessions']
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return set(_ID_LINE.findall(text)) | set(re.findall(r"\{\s*id\s*:\s*([a-z][a-z0-9_]*)", text))


def check_unexpected_files(state: CatalogState, metric_files: set[Path]) -> None:
    known = {MANIFEST, *SECTION_FILES}
    for path in sorted(state.root.glob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml") and path.name not in known:
            state.issue(
                path.name,
                None,
                _("unexpected file {name}", name=repr(path.name)),
                _(
                    "top-level files are {files}; metrics go under metrics/",
                    files=", ".join(sorted(known)),
                ),
            )
