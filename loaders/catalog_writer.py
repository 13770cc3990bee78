"""Write a catalog directory (metrics as code) as YAML a person would write by hand.

Importers (dbt / MetricFlow, Excel) build a :class:`CatalogDoc` — plain dicts in the catalog's
own shape — and :func:`write_catalog` writes it in the catalog layout (``kpigraph.yaml``,
``departments.yaml``, ``dimensions.yaml``, ``sources.yaml``, ``dashboards.yaml``,
``metrics/**.yaml``). Nothing is half-written: the files go to a temporary directory beside the
target, the result is loaded with :func:`loaders.catalog.load_catalog` (so it validates), and only
then is the directory renamed into place.

:func:`doc_from_graph` goes the other way, from a loaded graph back to a document; exporters
use it, so every key of a node model is carried (``model_dump``), including keys added later.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.i18n import _
from graph_schema.errors import CatalogError, CatalogIssue, KpigraphError
from graph_schema.graph import CatalogGraph
from graph_schema.models import (
    BaseNode,
    Dashboard,
    Department,
    Dimension,
    FieldNode,
    Metric,
    System,
    Table,
)
from loaders.yaml_lines import LDict, load_yaml


def manifest_keys() -> list[str]:
    """Keys of ``kpigraph.yaml`` (those of :class:`loaders.catalog.CatalogManifest`)."""
    from loaders.catalog import CatalogManifest

    return list(CatalogManifest.model_fields)


class CatalogWriteError(KpigraphError):
    """The target cannot be written (it exists and is not empty, or is not a directory)."""

    code = "catalog_write"


@dataclass
class CatalogDoc:
    """A catalog as plain data, in the shape of its YAML files.

    ``systems`` nest tables and fields with *local* ids (``{id: dms, tables: [{id: dms_orders,
    fields: [{id: order_id}]}]}``); ``metric_files`` maps a path under ``metrics/`` to the
    metrics it holds (one metric → a single mapping, several → a ``metrics:`` list).
    """

    manifest: dict[str, Any]
    departments: list[dict[str, Any]] = field(default_factory=list)
    dimensions: list[dict[str, Any]] = field(default_factory=list)
    systems: list[dict[str, Any]] = field(default_factory=list)
    dashboards: list[dict[str, Any]] = field(default_factory=list)
    metric_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def metrics(self) -> list[dict[str, Any]]:
        return [m for items in self.metric_files.values() for m in items]


# ---------------------------------------------------------------------------------------------
# YAML as people write it


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # people do not write &anchors / *aliases: repeat the value

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # indent list items under their key ("tables:\n  - id: ..."), as the demo catalogs do
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        # block literal for SQL and multi-line text; trailing spaces would force quoting
        text = "\n".join(line.rstrip() for line in value.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)
# mappings and lists read by the catalog loader are dict/list subclasses that carry line numbers
_Dumper.add_multi_representer(dict, yaml.representer.SafeRepresenter.represent_dict)
_Dumper.add_multi_representer(list, yaml.representer.SafeRepresenter.represent_list)


def dump_yaml(data: Any) -> str:
    """YAML text: unicode kept, keys in the given order, block style, lists indented.

    >>> print(dump_yaml({"id": "atp", "name": "客单价", "fields": ["dms.t.a"], "v": "1.0"}))
    id: atp
    name: 客单价
    fields:
      - dms.t.a
    v: '1.0'
    <BLANKLINE>
    """
    return yaml.dump(
        data,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=4096,
        default_flow_style=False,
    )


# ---------------------------------------------------------------------------------------------
# graph → document


def node_doc(node: BaseNode) -> dict[str, Any]:
    """The keys a person would write for ``node``: every model field not at its default."""
    data = node.model_dump(mode="json", exclude_defaults=True)
    data["id"] = node.id
    data["name"] = node.name
    head = {"id": data.pop("id"), "name": data.pop("name")}
    return head | data


def doc_from_graph(graph: CatalogGraph, *, layout: str = "domain") -> CatalogDoc:
    """A document holding every node of ``graph`` (the inverse of loading).

    ``layout`` places metrics: ``"domain"`` one file per metric under a folder per domain
    (``metrics/<domain>/<id>.yaml``, no folder when the domain is not a safe name), ``"flat"``
    one file per metric directly under ``metrics/``.
    """
    manifest = {k: graph.meta[k] for k in manifest_keys() if graph.meta.get(k) is not None}
    manifest.setdefault("name", graph.name)
    doc = CatalogDoc(manifest=manifest)
    tables: dict[str, dict[str, Any]] = {}
    systems: dict[str, dict[str, Any]] = {}
    for node in graph.nodes:
        data = node_doc(node)
        if isinstance(node, Department):
            doc.departments.append(data)
        elif isinstance(node, Dimension):
            doc.dimensions.append(data)
        elif isinstance(node, Dashboard):
            if "type" in data:  # the catalog file calls it 'kind'
                data = {("kind" if k == "type" else k): v for k, v in data.items()}
            doc.dashboards.append(data)
        elif isinstance(node, System):
            data["tables"] = []
            systems[node.id] = data
            doc.systems.append(data)
        elif isinstance(node, Metric):
            path = metric_path(node, layout)
            doc.metric_files.setdefault(path, []).append(data)
    for node in graph.nodes:
        if isinstance(node, Table):
            data = node_doc(node)
            data.pop("system", None)
            data["id"] = node.id.split(".", 1)[1]
            data["fields"] = []
            tables[node.id] = data
            systems[node.system]["tables"].append(data)
    for node in graph.nodes:
        if isinstance(node, FieldNode):
            data = node_doc(node)
            data.pop("table", None)
            data["id"] = node.id.rsplit(".", 1)[1]
            tables[node.table]["fields"].append(data)
    for tdata in tables.values():
        if not tdata["fields"]:
            del tdata["fields"]
    return doc


def metric_path(metric: Metric, layout: str) -> str:
    folder = metric.domain if layout == "domain" and metric.domain else ""
    if folder and not _safe_folder(folder):
        folder = ""
    return f"{folder}/{metric.id}.yaml" if folder else f"{metric.id}.yaml"


def _safe_folder(name: str) -> bool:
    return (
        len(name) <= 64
        and name not in (".", "..")
        and not any(c in name for c in '/\\:*?"<>|\0')
        and name.strip() == name
        and name.isprintable()
    )


# ---------------------------------------------------------------------------------------------
# writing


def render_files(doc: CatalogDoc) -> dict[str, str]:
    """Relative path → YAML text of every file of the catalog."""
    files = {"kpigraph.yaml": dump_yaml(doc.manifest)}
    for name, items in (
        ("departments.yaml", doc.departments),
        ("dimensions.yaml", doc.dimensions),
        ("sources.yaml", doc.systems),
        ("dashboards.yaml", doc.dashboards),
    ):
        if items:
            files[name] = dump_yaml(items)
    for rel, metrics in doc.metric_files.items():
        body: Any = metrics[0] if len(metrics) == 1 else {"metrics": metrics}
        files[f"metrics/{rel}"] = dump_yaml(body)
    return files


Relocate = Callable[[CatalogIssue, "str | None"], CatalogIssue]
"""Points an issue of the written catalog back at the source: given the issue and the
top-level key of the written file at the issue's line (``owner``), returns the issue to report."""


def write_catalog(
    doc: CatalogDoc,
    out_dir: str | Path,
    *,
    force: bool = False,
    header: str | None = None,
    relocate: Relocate | None = None,
) -> CatalogGraph:
    """Write ``doc`` as a catalog directory at ``out_dir`` and return the loaded graph.

    ``header`` (e.g. "imported from dbt by kpigraph") is written as a comment on top of
    ``kpigraph.yaml``. ``relocate`` rewrites each issue when the written catalog does not
    validate (the files are gone by the time the caller sees the error).

    Raises
    ------
    CatalogWriteError
        ``out_dir`` exists and is not empty (unless ``force``), or is a file.
    CatalogError
        The written catalog does not validate; nothing is left at ``out_dir``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CatalogWriteError(
            _("{out} exists and is not a directory; choose another -o path", out=out)
        )
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CatalogWriteError(
            _(
                "{out} exists and is not empty; choose a new directory or pass --force "
                "to replace it",
                out=out,
            )
        )
    from loaders.catalog import load_catalog  # imported here: catalog imports nothing from us

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for rel, text in render_files(doc).items():
            if rel == "kpigraph.yaml" and header:
                text = "".join(f"# {line}\n" for line in header.splitlines()) + text
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            graph = load_catalog(tmp)
        except CatalogError as exc:
            if relocate is None:
                raise
            raise CatalogError(
                [relocate(i, _key_at(tmp / i.file, i.line)) for i in exc.issues]
            ) from None
        swap_into_place(tmp, out)
        graph.meta["source"] = str(out.resolve())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return graph


def _key_at(path: Path, line: int | None) -> str | None:
    """The top-level key of the YAML mapping in ``path`` that holds ``line``."""
    if line is None or not path.is_file():
        return None
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    if not isinstance(data, LDict):
        return None
    keys = [(n, k) for k, n in data.key_lines.items() if n <= line]
    return max(keys)[1] if keys else None


def swap_into_place(tmp: Path, out: Path) -> None:
    if out.is_dir():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
