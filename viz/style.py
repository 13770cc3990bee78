"""How each node kind and relation type looks, in one place (graph, legend, pages). Labels
are message ids: show them through :func:`core.i18n._`."""

from __future__ import annotations

from typing import Any

from core.i18n import N_
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation

#: metric levels; the other kinds are coloured apart from every level, also for red-green
#: colour-blind readers (tests/unit/test_map_relations.py simulates it)
LEVEL_COLORS = {"L0": "#d1495b", "L1": "#edae49", "L2": "#66a182", "L3": "#8ecae6", None: "#b8c0cc"}

#: Every shape draws its label inside the node (shapes that put it below overlap neighbours).
KIND_STYLE: dict[NodeKind, dict[str, Any]] = {
    NodeKind.METRIC: {"shape": "box", "color": "#edae49", "label": N_("metric")},
    NodeKind.FIELD: {"shape": "ellipse", "color": "#9ad1d4", "label": N_("field")},
    NodeKind.TABLE: {"shape": "box", "color": "#d8c3a5", "label": N_("table")},
    NodeKind.SYSTEM: {
        "shape": "box",
        "color": "#007ea7",
        "label": N_("system"),
        "font": {"color": "#ffffff"},
    },
    NodeKind.DASHBOARD: {"shape": "ellipse", "color": "#c9ada7", "label": N_("dashboard")},
    NodeKind.DEPARTMENT: {
        "shape": "box",
        "color": "#4a4e69",
        "label": N_("department"),
        "font": {"color": "#ffffff"},
    },
    NodeKind.DIMENSION: {"shape": "ellipse", "color": "#8cb369", "label": N_("dimension")},
}

EDGE_STYLE: dict[Relation, dict[str, Any]] = {
    Relation.INPUT_TO: {
        "color": "#1d3557",
        "dashes": False,
        "width": 2,
        "label": N_("formula input"),
    },
    Relation.DRIVES: {"color": "#7b2cbf", "dashes": [8, 4], "width": 2, "label": N_("driver")},
    Relation.CAUSES: {
        "color": "#2a9d8f",
        "dashes": [2, 4],
        "width": 2,
        "label": N_("causal (+/−)"),
    },
    Relation.ROLLS_UP_TO: {
        "color": "#8d99ae",
        "dashes": [1, 6],
        "width": 2,
        "label": N_("hierarchy"),
    },
    Relation.FEEDS: {
        "color": "#219ebc",
        "dashes": False,
        "width": 1,
        "label": N_("field binding"),
    },
    Relation.HAS_TABLE: {
        "color": "#adb5bd",
        "dashes": False,
        "width": 1,
        "label": N_("system → table"),
    },
    Relation.HAS_FIELD: {
        "color": "#adb5bd",
        "dashes": False,
        "width": 1,
        "label": N_("table → field"),
    },
    Relation.SHOWN_ON: {
        "color": "#9d8189",
        "dashes": False,
        "width": 1,
        "label": N_("shown on dashboard"),
    },
    Relation.OWNS: {"color": "#4a4e69", "dashes": [4, 4], "width": 1, "label": N_("owns")},
    Relation.REVIEWS: {"color": "#4a4e69", "dashes": [1, 3], "width": 1, "label": N_("reviews")},
    Relation.SLICED_BY: {
        "color": "#8cb369",
        "dashes": [1, 3],
        "width": 1,
        "label": N_("sliced by"),
    },
}
NEGATIVE_CAUSE_COLOR = "#e63946"


def node_url(ref: str) -> str:
    """The stable page URL of a node: metrics at /metrics/{id}, the rest at /nodes/{ref}."""
    kind, _, node_id = ref.partition(":")
    return f"/metrics/{node_id}" if kind == NodeKind.METRIC.value else f"/nodes/{ref}"
