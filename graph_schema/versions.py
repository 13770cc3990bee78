"""Change classes and version rules of metric definitions (seed 001, 第六步 版本管理).

* **major** — what the number *is* changes: formula, drivers, unit, aggregation, caliber
  (numerator / denominator / scope includes and excludes, time, rules), source fields, SQL,
  level, and the naming parts (atomic metric, qualifiers, window);
* **minor** — how it is used and owned: dimensions, dashboards, benchmarks, hierarchy,
  causal links, parallel metrics, owner / reviewer, status, names, domain, tags, update
  frequency, data source text, review policy;
* **patch** — wording: definition, meaning, example, caveats, special cases, use cases,
  contacts, the hand-written history.

A field not in these tables (one added to the template later) counts as **minor**.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, _
from graph_schema.revisions import ChangeClass, FieldChange
from graph_schema.semver import bump, compare, is_semver

MAJOR_FIELDS = frozenset(
    {
        "formula",
        "drivers",
        "unit",
        "aggregation",
        "caliber.numerator",
        "caliber.denominator",
        "caliber.scope",
        "caliber.time",
        "caliber.rules",
        "fields",
        "sql",
        "level",
        "atomic",
        "qualifiers",
        "window",
    }
)
PATCH_FIELDS = frozenset(
    {
        "definition",
        "meaning",
        "example",
        "caveats",
        "special_cases",
        "use_cases",
        "contacts",
        "history",
    }
)
#: change classes in words where a version rule is explained (the words of viz.labels)
CLASS_WORDS = {"major": N_("major"), "minor": N_("minor"), "patch": N_("patch")}
#: Not classified: identity and the version itself.
UNCLASSIFIED = frozenset({"id", "version"})
#: Dict-valued fields compared one key deeper (``caliber.numerator``), so the class is precise.
NESTED = frozenset({"caliber"})
#: The version a metric gets when it first appears without one.
FIRST_VERSION = "1.0.0"


def field_class(name: str) -> ChangeClass | None:
    """The change class of one (dotted) metric field.

    Examples
    --------
    >>> field_class("formula"), field_class("dashboards"), field_class("definition")
    (<ChangeClass.MAJOR: 'major'>, <ChangeClass.MINOR: 'minor'>, <ChangeClass.PATCH: 'patch'>)
    >>> field_class("version") is None
    True
    """
    if name in UNCLASSIFIED:
        return None
    if name in MAJOR_FIELDS:
        return ChangeClass.MAJOR
    if name in PATCH_FIELDS:
        return ChangeClass.PATCH
    return ChangeClass.MINOR


def field_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, classify: bool = False
) -> list[FieldChange]:
    """The fields that differ between two property dicts (absent = ``None``), sorted by name.

    With ``classify``, each change carries its metric change class; ``caliber`` is compared
    per part.

    Examples
    --------
    >>> [(c.field, c.old, c.new) for c in field_changes({"a": 1, "b": 2}, {"a": 1, "b": 3})]
    [('b', 2, 3)]
    >>> c = field_changes({"caliber": {"time": "月"}}, {"caliber": {"time": "日"}}, classify=True)
    >>> [(x.field, x.change_class.value) for x in c]
    [('caliber.time', 'major')]
    """
    old, new = old or {}, new or {}
    out: list[FieldChange] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if classify and key in NESTED and isinstance(a or {}, dict) and isinstance(b or {}, dict):
            for sub in field_changes(a or {}, b or {}):
                name = f"{key}.{sub.field}"
                out.append(
                    FieldChange(
                        field=name, old=sub.old, new=sub.new, change_class=field_class(name)
                    )
                )
            continue
        out.append(
            FieldChange(
                field=key, old=a, new=b, change_class=field_class(key) if classify else None
            )
        )
    return out


def change_class(changes: Iterable[FieldChange]) -> ChangeClass | None:
    """The largest class among ``changes`` (``None`` when none is classified).

    Examples
    --------
    >>> change_class([FieldChange(field="definition", change_class=ChangeClass.PATCH),
    ...               FieldChange(field="unit", change_class=ChangeClass.MAJOR)])
    <ChangeClass.MAJOR: 'major'>
    """
    classes = [c.change_class for c in changes if c.change_class is not None]
    return max(classes, key=lambda c: c.rank) if classes else None


def classify_metric(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[ChangeClass | None, list[FieldChange]]:
    """Class and field changes of one metric, from its stored properties before and after.

    Examples
    --------
    >>> cls, changes = classify_metric(
    ...     {"id": "atp", "formula": "revenue / visits", "version": "1.1.0"},
    ...     {"id": "atp", "formula": "labor_revenue / visits", "version": "1.1.0"})
    >>> cls.value, [c.field for c in changes]
    ('major', ['formula'])
    """
    changes = field_changes(old, new, classify=True)
    return change_class(changes), changes


def required_version(old_version: str | None, cls: ChangeClass | None) -> str | None:
    """The least version a metric must carry after a change of class ``cls``.

    Examples
    --------
    >>> required_version("1.1.0", ChangeClass.MAJOR), required_version("1.1.0", None)
    ('2.0.0', '1.1.0')
    """
    if old_version is None or not is_semver(old_version):
        return None
    return bump(old_version, cls.value) if cls else old_version


@dataclass(frozen=True)
class VersionVerdict:
    """Whether a declared version satisfies the rules, and what to write if not."""

    ok: bool
    required: str | None
    problem: str | None = None


def judge_version(
    metric_id: str,
    old_version: str | None,
    new_version: str | None,
    cls: ChangeClass | None,
    changes: list[FieldChange],
) -> VersionVerdict:
    """Check ``new_version`` against the stored ``old_version`` and the change class.

    Examples
    --------
    >>> from core.i18n import use
    >>> changes = [FieldChange(field="formula", change_class=ChangeClass.MAJOR)]
    >>> with use("en"):
    ...     judge_version("atp", "1.1.0", "1.1.0", ChangeClass.MAJOR, changes).problem
    'atp: formula changed (major) — set version: 2.0.0 (now 1.1.0)'
    >>> with use("zh"):
    ...     judge_version("atp", "1.1.0", "1.1.0", ChangeClass.MAJOR, changes).problem
    'atp：formula 有变化（重大变更）— 请把 version 设为 2.0.0（现在是 1.1.0）'
    >>> with use("en"):
    ...     judge_version("atp", "1.1.0", "1.0.0", None, []).problem
    'atp: version goes backwards (1.1.0 → 1.0.0) — set version: 1.1.0 or later'
    >>> judge_version("atp", "1.1.0", "2.0.0", ChangeClass.MAJOR, changes).ok
    True
    """
    required = required_version(old_version, cls)
    if old_version is None or new_version is None or required is None:
        return VersionVerdict(True, required)  # new metric, or versioned automatically
    if compare(new_version, old_version) < 0:
        return VersionVerdict(
            False,
            required,
            _(
                "{metric}: version goes backwards ({old} → {new}) — set version: {required} "
                "or later",
                metric=metric_id,
                old=old_version,
                new=new_version,
                required=required,
            ),
        )
    if cls is None or compare(new_version, required) >= 0:
        return VersionVerdict(True, required)
    fields = ", ".join(dict.fromkeys(c.field for c in changes if c.change_class is cls))
    return VersionVerdict(
        False,
        required,
        _(
            "{metric}: {fields} changed ({cls}) — set version: {required} (now {new})",
            metric=metric_id,
            fields=fields,
            cls=_(CLASS_WORDS[cls.value]) if cls.value in CLASS_WORDS else cls.value,
            required=required,
            new=new_version,
        ),
    )


def auto_version(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """The version for a metric whose catalog entry has no ``version`` key.

    ``1.0.0`` when new (or when the stored one has no version either); otherwise the stored
    version, bumped as the change class requires. ``None`` when ``new`` declares a version.

    Examples
    --------
    >>> auto_version(None, {"id": "x"})
    '1.0.0'
    >>> auto_version({"id": "x", "version": "1.0.0", "unit": "元"}, {"id": "x", "unit": "%"})
    '2.0.0'
    >>> auto_version({"id": "x", "version": "1.2.0"}, {"id": "x"})
    '1.2.0'
    """
    if new.get("version"):
        return None
    stored = (old or {}).get("version")
    if old is None or not stored or not is_semver(stored):
        return FIRST_VERSION
    cls, _fields = classify_metric(old, new)
    return bump(stored, cls.value) if cls else stored
