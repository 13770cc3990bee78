"""The validated graph a loader produces and a store loads."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Edge, Metric


@dataclass(frozen=True)
class CatalogGraph:
    """Nodes and edges of one catalog, already validated (every edge end exists).

    ``meta`` carries catalog-level facts (name, language, description, source directory).
    """

    name: str
    nodes: tuple[BaseNode, ...]
    edges: tuple[Edge, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self, recent: int = 10) -> dict[str, Any]:
        """Facets for overview pages, computed once at load: metric counts by level and by
        domain, the L0 (north-star) metrics, and the most recently changed metrics."""
        metrics = [n for n in self.nodes if isinstance(n, Metric)]
        levels = Counter(m.level.value if m.level else "—" for m in metrics)
        domains = Counter(m.domain or "—" for m in metrics)
        dated = sorted(
            ((m.updated, m.id) for m in metrics if m.updated),
            key=lambda x: (x[0], x[1]),
            reverse=True,
        )
        return {
            "levels": dict(sorted(levels.items())),
            "domains": dict(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))),
            "north_star": sorted(m.id for m in metrics if m.level and m.level.value == "L0"),
            "recent": [{"id": mid, "date": date} for date, mid in dated[:recent]],
        }

    @cached_property
    def texts(self) -> tuple[list[str], list[str]]:
        """Each node's and each edge's properties as the stores keep them (JSON, in the order
        of ``nodes`` and ``edges``), serialised once: a first load's stored rows and its
        revision 1 change records share them (at L half a million nodes and 1.2 million
        edges; each serialisation of them costs seconds)."""
        encode = stored_text
        nodes = self.__dict__.pop("_node_texts", None)
        if nodes is None or len(nodes) != len(self.nodes):
            nodes = [encode(n.props()) for n in self.nodes]
        edges = [encode(e.props) if e.props else "{}" for e in self.edges]
        return nodes, edges

    def keep_node_texts(self, texts: list[str]) -> None:
        """The stored text of each node (in the order of ``nodes``), made already from the same
        properties (a publish's digest pass): :attr:`texts` takes them instead of serialising
        every node again. Call it before :attr:`texts` is first read."""
        self.__dict__["_node_texts"] = texts

    def counts(self) -> dict[str, int]:
        """Node counts by kind and the edge count, for summaries."""
        by_kind = Counter(n.kind.value for n in self.nodes)
        out = {k.value: by_kind.get(k.value, 0) for k in NodeKind}
        out["edges"] = len(self.edges)
        return out


#: ``json.dumps(props, ensure_ascii=False)``: the text of a stored row
stored_text = json.JSONEncoder(ensure_ascii=False).encode
