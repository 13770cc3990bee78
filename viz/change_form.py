"""The structured change form: the metric definition template (指标定义模板, seed 001) as form
sections, and where a validation message belongs in it.

The form edits the same mapping the YAML view shows and submits it through the same public
path (``POST /changes`` with ``definition``): the server validates it once, in
:mod:`governance.proposal`. Nothing here validates; it only describes the form and places the
messages the one validation unit returns next to the field they name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from core.i18n import N_, _
from graph_schema.errors import CatalogIssue
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Aggregation, Horizon, Level, Priority, Role, Status
from store.base import GraphStore
from viz.labels import translate
from viz.programme_words import programme_word

#: (path, label msgid, widget, extra) per field, grouped in the template's sections. Widgets:
#: text, textarea, number, select (``options``), ref (``kind``: one node), refs (a list of
#: nodes), list (a list of texts), rows (a list of mappings, ``columns``), formula (text with a
#: metric picker that inserts ids).
SECTIONS: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = (
    (
        N_("Basics"),
        (
            {"path": "name", "label": N_("Name"), "widget": "text"},
            {"path": "name_en", "label": N_("English name"), "widget": "text"},
            {"path": "abbr", "label": N_("Abbreviation"), "widget": "text"},
            {"path": "level", "label": N_("Level"), "widget": "select", "enum": Level},
            {"path": "domain", "label": N_("Domain"), "widget": "text"},
            {"path": "status", "label": N_("Status"), "widget": "select", "enum": Status},
            {"path": "owner", "label": N_("Owner"), "widget": "ref", "kind": "Department"},
            {"path": "reviewer", "label": N_("Reviewer"), "widget": "ref", "kind": "Department"},
            {"path": "priority", "label": N_("Priority"), "widget": "select", "enum": Priority},
            {"path": "role", "label": N_("Metric role"), "widget": "select", "enum": Role},
            {
                "path": "horizon",
                "label": N_("Leading, process or lagging"),
                "widget": "select",
                "enum": Horizon,
            },
        ),
    ),
    (
        N_("Definition"),
        (
            {"path": "definition", "label": N_("What it measures"), "widget": "textarea"},
            {"path": "meaning", "label": N_("Business meaning"), "widget": "textarea"},
            {"path": "formula", "label": N_("Formula"), "widget": "formula", "kind": "Metric"},
            {"path": "drivers", "label": N_("Driver breakdown"), "widget": "text"},
            {"path": "unit", "label": N_("Unit"), "widget": "text"},
            {
                "path": "aggregation",
                "label": N_("Aggregation"),
                "widget": "select",
                "enum": Aggregation,
            },
            {"path": "example", "label": N_("Worked example"), "widget": "textarea"},
        ),
    ),
    (
        N_("Scope of the count"),
        (
            {
                "path": "caliber.numerator.includes",
                "label": N_("Numerator includes"),
                "widget": "list",
            },
            {
                "path": "caliber.numerator.excludes",
                "label": N_("Numerator excludes"),
                "widget": "list",
            },
            {
                "path": "caliber.denominator.includes",
                "label": N_("Denominator includes"),
                "widget": "list",
            },
            {
                "path": "caliber.denominator.excludes",
                "label": N_("Denominator excludes"),
                "widget": "list",
            },
            {"path": "caliber.scope.includes", "label": N_("Scope includes"), "widget": "list"},
            {"path": "caliber.scope.excludes", "label": N_("Scope excludes"), "widget": "list"},
            {"path": "caliber.time", "label": N_("Time range"), "widget": "text"},
            {"path": "caliber.rules", "label": N_("Counting rules"), "widget": "list"},
        ),
    ),
    (
        N_("Data source"),
        (
            {"path": "data_source", "label": N_("Main source"), "widget": "text"},
            {"path": "fields", "label": N_("Fields"), "widget": "refs", "kind": "Field"},
            {"path": "sql", "label": N_("How it is queried"), "widget": "textarea", "mono": True},
        ),
    ),
    (
        N_("Dimensions and related metrics"),
        (
            {
                "path": "dimensions",
                "label": N_("Dimensions"),
                "widget": "refs",
                "kind": "Dimension",
            },
            {"path": "rolls_up_to", "label": N_("Rolls up to"), "widget": "ref", "kind": "Metric"},
            {
                "path": "parallel",
                "label": N_("Parallel metrics"),
                "widget": "refs",
                "kind": "Metric",
            },
            {
                "path": "causes",
                "label": N_("Causes (leading indicators)"),
                "widget": "rows",
                "columns": (
                    {"key": "metric", "label": N_("Metric"), "widget": "ref", "kind": "Metric"},
                    {
                        "key": "polarity",
                        "label": N_("Direction"),
                        "widget": "select",
                        "options": (("+", "+"), ("-", "−")),
                    },
                    {"key": "lag", "label": N_("Lag"), "widget": "text"},
                    {"key": "evidence", "label": N_("Evidence"), "widget": "text"},
                ),
            },
            {
                "path": "dashboards",
                "label": N_("Dashboards"),
                "widget": "refs",
                "kind": "Dashboard",
            },
        ),
    ),
    (
        N_("Use and caveats"),
        (
            {"path": "use_cases", "label": N_("Use cases"), "widget": "list"},
            {
                "path": "benchmarks",
                "label": N_("Industry benchmarks"),
                "widget": "rows",
                "columns": (
                    {"key": "label", "label": N_("Benchmark"), "widget": "text"},
                    {"key": "min", "label": N_("Min"), "widget": "number"},
                    {"key": "max", "label": N_("Max"), "widget": "number"},
                    {"key": "source", "label": N_("Source"), "widget": "text"},
                ),
            },
            {"path": "caveats", "label": N_("Common mistakes"), "widget": "list"},
            {"path": "special_cases", "label": N_("Special cases"), "widget": "list"},
        ),
    ),
    (
        N_("Upkeep and contacts"),
        (
            {"path": "update_frequency", "label": N_("Update frequency"), "widget": "text"},
            {"path": "review_policy", "label": N_("Review policy"), "widget": "text"},
            {"path": "contacts.business", "label": N_("Business contact"), "widget": "text"},
            {"path": "contacts.technical", "label": N_("Technical contact"), "widget": "text"},
            {"path": "contacts.data_support", "label": N_("Data support"), "widget": "text"},
            {"path": "tags", "label": N_("Tags"), "widget": "list"},
        ),
    ),
)

#: words the form's script shows (buttons, states), in the page's language
WORDS = {
    "add": N_("Add a row"),
    "remove": N_("Remove"),
    "search": N_("Search to add…"),
    "replace": N_("Search to choose…"),
    "insert": N_("Insert a metric…"),
    "clear": N_("Clear"),
    "none_found": N_("Nothing found"),
    "yaml_error": N_("The YAML is not valid; fix it before switching to the form:"),
    "unknown": N_("not in the catalog"),
    "kept": N_("Kept as they are (edit them in the YAML view):"),
}


#: how observed values roll up (Metric.aggregation), in words
AGGREGATION_WORDS = {
    "sum": N_("sum (add up)"),
    "avg": N_("average"),
    "last": N_("last value of the period"),
    "none": N_("does not add up"),
}


def _options(field: dict[str, Any]) -> list[list[str]]:
    """``[value, words]`` per choice: the value is what the file says, the words what people
    read (the YAML view shows the value)."""
    if "options" in field:
        return [list(o) for o in field["options"]]
    words = []
    for member in field["enum"]:
        value = member.value
        if field["path"] in ("role", "horizon"):
            label = programme_word(value, "horizon" if field["path"] == "horizon" else "role")
        elif field["path"] == "status":
            label = translate(value)
        elif field["path"] == "aggregation":
            label = _(AGGREGATION_WORDS[value])
        else:
            label = value
        words.append([value, label])
    return words


def _field(field: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: v for k, v in field.items() if k not in ("enum", "options", "columns", "label")
    }
    out["label"] = _(field["label"])
    if "enum" in field or "options" in field:
        out["options"] = _options(field)
    if "columns" in field:
        out["columns"] = [_field({**c, "path": c["key"]}) for c in field["columns"]]
    return out


def form_schema() -> dict[str, Any]:
    """The sections, fields and words of the form, translated, as the page's script reads them.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("zh"):
    ...     schema = form_schema()
    >>> schema["sections"][0]["fields"][6]
    {'path': 'owner', 'widget': 'ref', 'kind': 'Department', 'label': '责任部门'}
    """
    return {
        "sections": [
            {"title": _(title), "fields": [_field(f) for f in fields]} for title, fields in SECTIONS
        ],
        "words": {k: _(v) for k, v in WORDS.items()},
    }


def form_paths() -> list[str]:
    """Every field path the form has, deepest first (where a message is placed)."""
    paths = [f["path"] for _title, fields in SECTIONS for f in fields]
    return sorted(paths, key=lambda p: -p.count("."))


#: ``metric 'atp': level: …`` / ``metric 'atp': owner refers to …`` / ``benchmarks.0.min: …``
_ISSUE = re.compile(r"^(?:metric '[^']*': )?([a-z_]+(?:\.[a-z0-9_]+)*)[: ]")


def field_of(message: str) -> str | None:
    """The form field a validation message is about, or ``None`` (shown above the form).

    Examples
    --------
    >>> field_of("metric 'atp': level: Input should be 'L0', 'L1', 'L2' or 'L3'")
    'level'
    >>> field_of("metric 'atp': benchmarks.0.min: Input should be a valid number")
    'benchmarks'
    >>> field_of("metric 'atp': caliber.numerator.includes: Input should be a valid list")
    'caliber.numerator.includes'
    >>> field_of("metric 'atp': owner refers to unknown department 'nobody'")
    'owner'
    >>> field_of("the file is at 1.1.0") is None
    True
    """
    found = _ISSUE.match(message)
    return form_field(found.group(1)) if found else None


def form_field(named: str) -> str | None:
    """The form field that holds the key ``named`` (``benchmarks.0.min`` → ``benchmarks``).

    >>> form_field("caliber.numerator.includes"), form_field("nothing_here")
    ('caliber.numerator.includes', None)
    """
    for path in form_paths():
        if named == path or named.startswith(path + "."):
            return path
    return None


def placed(issues: Iterable[CatalogIssue | str]) -> tuple[dict[str, list[str]], list[str]]:
    """Validation messages by form field, and the ones no field owns (shown above the form)."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for issue in issues:
        if isinstance(issue, CatalogIssue):
            text = str(issue.message) + (f" — {issue.hint}" if issue.hint else "")
            # the key the loader named, whatever language the message is in
            where = form_field(issue.field) if issue.field else field_of(str(issue.message))
        else:
            text, where = issue, None
        if where is None:
            general.append(str(issue))
        else:
            by_field.setdefault(where, []).append(text)
    return by_field, general


#: metric properties that hold node ids, and the kind of node each names
REFERENCE_KINDS: dict[str, NodeKind] = {
    "owner": NodeKind.DEPARTMENT,
    "reviewer": NodeKind.DEPARTMENT,
    "fields": NodeKind.FIELD,
    "dimensions": NodeKind.DIMENSION,
    "rolls_up_to": NodeKind.METRIC,
    "parallel": NodeKind.METRIC,
    "dashboards": NodeKind.DASHBOARD,
}


def ref_names(store: GraphStore, data: dict[str, Any]) -> dict[str, str]:
    """``Kind:id`` → name for every node the definition names, so the form shows 财务部, not
    ``finance`` (an id the store does not have is left out: the form marks it)."""
    refs: set[NodeRef] = set()
    for key, kind in REFERENCE_KINDS.items():
        value = data.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and len(item) <= 300:
                refs.add(NodeRef(kind, item))
    for cause in data.get("causes") or []:
        if isinstance(cause, dict) and isinstance(cause.get("metric"), str):
            refs.add(NodeRef(NodeKind.METRIC, cause["metric"]))
    try:
        found = store.get_nodes(list(refs)) if refs else {}
    except Exception:  # a name is a nicety; the form still works without
        return {}
    return {str(ref): node.name for ref, node in found.items()}
