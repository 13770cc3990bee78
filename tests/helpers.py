"""Small helpers shared by tests and doctests."""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "catalogs"
DEMO = CATALOGS / "automotive_aftersales"

#: ``cli_load(catalog, cache_dir, db, lang=None)`` (the ``cli_load`` fixture of
#: tests/security): ``kpigraph load catalog`` in a child process
CliLoad = Callable[..., subprocess.CompletedProcess[str]]


@functools.cache
def demo_store() -> EmbeddedStore:
    """An embedded store holding the after-sales demo (cached per process; read-only use)."""
    store = EmbeddedStore(Path(tempfile.mkdtemp(prefix="kpigraph-demo-")) / "demo.sqlite")
    store.load(load_catalog(DEMO))
    return store


BASE_FILES: dict[str, str] = {
    "kpigraph.yaml": "name: test catalog\n",
    "departments.yaml": "- {id: ops, name: 运营部}\n- {id: finance, name: 财务部}\n",
    "dimensions.yaml": "- {id: time, name: 时间}\n",
    "dashboards.yaml": "- {id: board, name: 看板, kind: pc}\n",
    "sources.yaml": (
        "- id: dms\n  name: DMS\n  tables:\n    - id: orders\n      name: 工单表\n"
        "      fields:\n        - {id: amount, name: 金额, type: decimal}\n"
        "        - {id: order_id, name: 工单号, type: string}\n"
    ),
    "metrics/revenue.yaml": (
        "id: revenue\nname: 营收\nlevel: L0\nowner: finance\n"
        "fields: [dms.orders.amount]\ndashboards: [board]\n"
    ),
    "metrics/visits.yaml": (
        "id: visits\nname: 进厂台次\nlevel: L1\nowner: ops\nfields: [dms.orders.order_id]\n"
    ),
    "metrics/atp.yaml": (
        "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
        "formula: revenue / visits\n"
    ),
}


def write_catalog(root: Path, files: dict[str, str | bytes | None] | None = None) -> Path:
    """Write the small valid base catalog into ``root``, with ``files`` overriding or adding
    files (``None`` deletes one). Returns ``root``."""
    merged: dict[str, str | bytes | None] = {**BASE_FILES, **(files or {})}
    for rel, content in merged.items():
        path = root / rel
        if content is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def synthetic_graph(n_metrics: int, name: str = "synthetic"):
    """A large valid graph built in memory: a chain of formula metrics each fed by a field."""
    from graph_schema.graph import CatalogGraph
    from graph_schema.ids import NodeRef
    from graph_schema.models import Edge, FieldNode, Metric, System, Table
    from graph_schema.relations import Relation

    system = System(id="syn", name="合成系统")
    table = Table(id="syn.t", name="表", system="syn")
    nodes: list = [system, table]
    edges: list = [Edge(source=system.ref, target=table.ref, type=Relation.HAS_TABLE)]
    for i in range(n_metrics):
        f = FieldNode(id=f"syn.t.f{i}", name=f"字段{i}", table="syn.t")
        m = Metric(id=f"m{i}", name=f"指标{i}", definition=f"合成指标 {i}")
        nodes += [f, m]
        edges.append(Edge(source=table.ref, target=f.ref, type=Relation.HAS_FIELD))
        edges.append(Edge(source=f.ref, target=m.ref, type=Relation.FEEDS))
        if i:
            edges.append(
                Edge(
                    source=NodeRef.parse(f"m{i - 1}"),
                    target=m.ref,
                    type=Relation.INPUT_TO,
                    props={"role": "term"},
                )
            )
    return CatalogGraph(name=name, nodes=tuple(nodes), edges=tuple(edges))
