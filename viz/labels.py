"""Words the pages show around catalog text (statuses, node kinds, counts), through the one
message catalogue (:mod:`core.i18n`) in the language in use."""

from __future__ import annotations

from markupsafe import Markup

from core.i18n import N_, _, ngettext

#: statuses of a metric (message ids, extracted by pybabel)
STATUSES = {"active": N_("active"), "draft": N_("draft"), "deprecated": N_("deprecated")}
#: words the values engine and the quality checks answer with, shown through ``tr``
VALUE_WORDS = {
    "derived": N_("derived"),
    "observed": N_("observed"),
    "sql": N_("sql"),
    "within": N_("within"),
    "below": N_("below"),
    "above": N_("above"),
    "between": N_("between"),
    "missing_period": N_("missing_period"),
    "anomaly": N_("anomaly"),
    "benchmark": N_("benchmark"),
    "identity": N_("identity"),
    "upstream": N_("upstream"),
    "downstream": N_("downstream"),
    "both": N_("both"),
    # roles of a formula's inputs (graph_schema.formula.Role)
    "numerator": N_("numerator"),
    "denominator": N_("denominator"),
    "factor": N_("factor"),
    "term": N_("term"),
    "argument": N_("argument"),
    # change requests: actions, timeline events, how an impact reaches a node
    "create": N_("create"),
    "update": N_("update"),
    "deprecate": N_("deprecate"),
    "submit": N_("submit"),
    "approve": N_("approve"),
    "reject": N_("reject"),
    "withdraw": N_("withdraw"),
    "apply": N_("apply"),
    "conflict": N_("conflict"),
    "writeback": N_("writeback"),
    "writeback_failed": N_("writeback_failed"),
    # a request's status after an event (the timeline: 提交 → 已提交)
    "submitted": N_("submitted"),
    "owner_approved": N_("owner_approved"),
    "approved": N_("approved"),
    "applied": N_("applied"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
    "definition": N_("definition"),
    "influence": N_("influence"),
    # diffs: what happened to a node, who approves
    "added": N_("added"),
    "removed": N_("removed"),
    "modified": N_("modified"),
    "owner": N_("owner"),
    "reviewer": N_("reviewer"),
    "committee": N_("committee"),
    # how a metric's observed values roll up (graph_schema.models.Aggregation)
    "sum": N_("sum"),
    "avg": N_("average"),
    "last": N_("last value"),
    "none": N_("not aggregated"),
    # where the graph is kept (core.settings backend kinds)
    "embedded": N_("embedded"),
    "neo4j": N_("Neo4j"),
}


def translate(word: object, lang: str | None = None) -> str:
    """``word`` in the language in use (``lang`` is accepted for old callers and ignored:
    the language is chosen per request / command); unknown words stay as they are.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("zh"):
    ...     translate("active"), translate("whatever")
    ('启用', 'whatever')
    >>> with use("en"):
    ...     translate("active")
    'active'
    """
    return _(str(word))


def word(value: object) -> str:
    """An enum value the engines and models use (``avg``, ``active``) in words; ``—`` for none.

    >>> from core.i18n import use
    >>> with use("en"):
    ...     word("avg"), word("active"), word(None)
    ('average', 'active', '—')
    """
    if value is None or value == "":
        return "—"
    key = str(value)
    return _(VALUE_WORDS.get(key) or STATUSES.get(key) or key)


def count_label(kind: object, n: int) -> str:
    """``n`` things of ``kind`` (a node kind's name, or ``edges``) in words.

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     count_label("Metric", 12), count_label("edges", 3)
    ('12 个指标', '3 条关系')
    >>> with use("en"):
    ...     count_label("System", 1), count_label("System", 2)
    ('1 system', '2 systems')
    """
    forms = {
        "Metric": lambda: ngettext("%(num)s metric", "%(num)s metrics", n),
        "Dimension": lambda: ngettext("%(num)s dimension", "%(num)s dimensions", n),
        "System": lambda: ngettext("%(num)s system", "%(num)s systems", n),
        "Table": lambda: ngettext("%(num)s table", "%(num)s tables", n),
        "Field": lambda: ngettext("%(num)s field", "%(num)s fields", n),
        "Department": lambda: ngettext("%(num)s department", "%(num)s departments", n),
        "Dashboard": lambda: ngettext("%(num)s dashboard", "%(num)s dashboards", n),
        "edges": lambda: ngettext("%(num)s relation", "%(num)s relations", n),
    }
    form = forms.get(str(kind))
    return form() % {"num": n} if form else f"{n} {kind}"


#: change classes of a metric's definition (graph_schema.versions): the word, and what it means
CHANGE_CLASSES = {
    "major": (
        N_("major change"),
        N_(
            "the number is defined differently (formula, unit, caliber, fields, SQL): "
            "figures before and after do not compare"
        ),
    ),
    "minor": (
        N_("minor change"),
        N_("the number stays the same; its description, links or governance change"),
    ),
    "patch": (N_("wording"), N_("wording only (definition text, examples, caveats)")),
}


def change_class_tag(value: object) -> Markup:
    """A change class (``major``, a ``ChangeClass``) as a coloured tag in words, what it
    means on hover; empty for none.

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     print(change_class_tag("major")[:60])
    <span class="tag cls-major" title="数值的定义变了（公式、单位、口径、字段、SQL）：
    """
    key = str(getattr(value, "value", value) or "")
    if key not in CHANGE_CLASSES:
        return Markup("") if not key else Markup('<span class="tag">%s</span>') % key
    label, meaning = CHANGE_CLASSES[key]
    return Markup('<span class="tag cls-%s" title="%s">%s</span>') % (key, _(meaning), _(label))


def change_class_word(value: object) -> str:
    """A change class in words (plain text: CLI, notifications)."""
    key = str(getattr(value, "value", value) or "")
    return _(CHANGE_CLASSES[key][0]) if key in CHANGE_CLASSES else key


def revision_message(message: object) -> str:
    """A revision's message in the language in use: the ones change requests write
    (``change request #1: 排除延保代收款``) worded by the catalogue; others as written.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("zh"):
    ...     revision_message("change request #1: 排除延保代收款"), revision_message("r1")
    ('变更申请 #1：排除延保代收款', 'r1')
    """
    import re

    text = "" if message is None else str(message)
    found = re.fullmatch(r"change request #([0-9]+): (.*)", text, flags=re.S)
    if found is None:
        return text
    return _("change request #{number}: {reason}", number=found[1], reason=found[2])
