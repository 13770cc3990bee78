"""Typed exceptions, each named after the failure it reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.i18n import N_, Said, _


class KpigraphError(Exception):
    """Base of every error kpigraph raises on purpose. ``code`` is stable for the API.

    ``message`` is worded when it is read: an error raised with a :class:`core.i18n.Said`
    (``said``) speaks the language in use where it is reported, not where it was raised (an
    engine that keeps an error for later requests, in whatever language they ask)."""

    code = "error"

    def __init__(self, message: str | Said, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.said: str | Said = message
        self.details = details or {}

    @property
    def message(self) -> str:
        return str(self.said)

    @message.setter
    def message(self, value: str | Said) -> None:
        self.said = value

    def __str__(self) -> str:
        return self.message


class InvalidRefError(KpigraphError, ValueError):
    """A node reference is malformed (unknown kind, bad id)."""

    code = "invalid_ref"


class NodeNotFoundError(KpigraphError, LookupError):
    """A well-formed reference names no node in the store."""

    code = "not_found"

    def __init__(
        self,
        ref: str,
        suggestions: list[str] | None = None,
        *,
        search_hint: bool = False,
        names: Mapping[str, str] | None = None,
    ) -> None:
        hint = (
            _("; did you mean {names}?", names=named_list(suggestions, names))
            if suggestions
            else ""
        )
        if search_hint:
            hint += _(" (or try: kpigraph search {ref})", ref=ref)
        super().__init__(
            _("no node {ref}", ref=ref) + hint, {"ref": ref, "suggestions": suggestions or []}
        )
        self.ref = ref
        self.suggestions = suggestions or []


class AmbiguousRefError(KpigraphError, LookupError):
    """A name (or abbreviation) typed for a node matches several nodes."""

    code = "ambiguous_ref"

    def __init__(
        self, text: str, candidates: list[str], names: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(
            _(
                "{text} names {n} nodes; use one of their refs: {refs}",
                text=repr(text),
                n=len(candidates),
                refs=named_list(candidates, names),
            ),
            {"text": text, "candidates": candidates},
        )
        self.candidates = candidates


def named_list(refs: list[str], names: Mapping[str, str] | None = None) -> str:
    """Refs (or ids) as a list in the language in use, each with its name where it has one
    other than itself: ``Metric:atp (客单价), Metric:atp_store`` in English,
    ``Metric:atp（客单价）、Metric:atp_store`` in Chinese."""
    names = names or {}
    return _(", ").join(
        _("{ref} ({name})", ref=r, name=names[r]) if names.get(r, r) != r else r for r in refs
    )


class InvalidQueryError(KpigraphError, ValueError):
    """A query parameter is out of range (depth, relation name, kind name...)."""

    code = "invalid_query"


class NoValuesError(InvalidQueryError):
    """There are no values for what was asked (no data for the metric, period or member)."""

    code = "no_values"


class NoTotalError(NoValuesError):
    """A rate (``aggregation: none``) whose values are given by some dimensions only: its
    total is not among them and a rate is never summed. ``details["by"]`` names the
    dimensions its values are by (ask by them: ``--by``)."""

    code = "no_total"


class FormulaSyntaxError(KpigraphError, ValueError):
    """A formula or drivers expression does not parse. ``column`` is 1-based."""

    code = "formula_syntax"

    def __init__(self, message: str, expression: str, column: int, **values: object) -> None:
        reason = message.format(**values) if values else message
        pointer = " " * (column - 1) + "^"
        super().__init__(f"{reason} at column {column}\n    {expression}\n    {pointer}")
        self.reason = reason
        self.expression = expression
        self.column = column
        #: ``message`` is a message id with ``{name}`` fields: :meth:`reason_in_words`
        self.template = message
        self.values = values

    def reason_in_words(self) -> str:
        """What is wrong, in the language in use (``reason`` is the English)."""
        return _(self.template, **self.values)


@dataclass(frozen=True)
class CatalogIssue:
    """One problem found in a catalog: where it is, what is wrong, what to do."""

    file: str
    line: int | None
    #: worded when shown (a :class:`Said` keeps its language open: an engine keeps a values
    #: file's issues for later requests, each read in its own language)
    message: str | Said
    hint: str | Said | None = None
    #: 0: a file or an entry cannot be read (a root cause); 1: what follows from the rest
    #: (references, cycles). Root causes are listed first.
    stage: int = 0
    #: the key the problem is about (``owner``, ``benchmarks.0.min``), when it is one: the
    #: change form puts the message beside that field, whatever language it is worded in
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}: {self.message}{hint}"

    def worded(self) -> dict[str, object]:
        """The issue's fields, message and hint worded in the language in use."""
        hint = None if self.hint is None else str(self.hint)
        return {**self.__dict__, "message": str(self.message), "hint": hint}


class CatalogError(KpigraphError):
    """A catalog failed validation. Carries every issue found in one pass."""

    code = "catalog_invalid"

    def __init__(self, issues: list[CatalogIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.stage, i.file, i.line or 0, str(i.message)))
        count = len(self.issues)
        first: object = self.issues[0] if self.issues else Said.of(N_("no details"))
        more = Said.of(N_(" (and {count} more)"), count=count - 1) if count > 1 else ""
        said = Said.join(first, more)
        # worded when read (in the language in use then) when an issue is: a values file's
        # issues an engine keeps for later requests; else worded now, as raised
        lazy = any(isinstance(i.message, Said) or isinstance(i.hint, Said) for i in self.issues)
        super().__init__(said if lazy else str(said), {"issues": [i.worded() for i in self.issues]})


class StoreError(KpigraphError):
    """The store failed for a reason other than bad input."""

    code = "store_error"


class BackendUnavailableError(StoreError):
    """The storage backend cannot be reached (Neo4j down, database file unreadable)."""

    code = "backend_unavailable"


class EmptyStoreError(StoreError):
    """Nothing has been loaded yet."""

    code = "empty_store"

    def __init__(self, where: str) -> None:
        super().__init__(
            _("no catalog loaded in {where}; run 'kpigraph load CATALOG_DIR' first", where=where),
            {"where": where},
        )


class ConflictError(KpigraphError):
    """A write lost a race: the head revision moved since the writer read it. Nothing was
    changed; read again and retry."""

    code = "conflict"


class RevisionNotFoundError(KpigraphError, LookupError):
    """No revision has this number."""

    code = "revision_not_found"

    def __init__(self, number: int, head: int) -> None:
        latest = (
            _("revisions are 1 to {head}", head=head) if head else _("no revision is recorded yet")
        )
        super().__init__(
            _("no revision {number}; {latest}", number=number, latest=latest),
            {"number": number, "head": head},
        )


class VersionError(KpigraphError):
    """Changed metrics whose declared version is not bumped as their change class requires
    (or goes backwards). ``problems`` says, per metric, the exact version to write."""

    code = "version_not_bumped"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        n = len(problems) - 1
        more = _(" (and {count} more)", count=n) if n else ""
        super().__init__(f"{problems[0]}{more}", {"problems": problems})


class SourceSpecError(KpigraphError, ValueError):
    """A diff side (catalog directory, ``git:REV[:PATH]``, ``store``, revision) is malformed
    or names nothing."""

    code = "invalid_source"
