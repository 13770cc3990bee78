"""The validated graph a loader produces and a store loads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Edge


@dataclass(frozen=True)
class CatalogGraph:
    """Nodes and edges of one catalog, already validated (every edge end exists).

    ``meta`` carries catalog-level facts (name, language, description, source directory).
    """

    name: str
    nodes: tuple[BaseNode, ...]
    edges: tuple[Edge, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Node counts by kind and the edge count, for summaries."""
        by_kind = Counter(n.kind.value for n in self.nodes)
        out = {k.value: by_kind.get(k.value, 0) for k in NodeKind}
        out["edges"] = len(self.edges)
        return out
