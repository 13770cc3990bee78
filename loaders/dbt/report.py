"""The report of a dbt import (:func:`loaders.dbt.to_catalog.import_dbt`): counts, what went
to ``extra.dbt``, and notes worth reading, in the language in use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.i18n import N_, _, ngettext

#: the report's counts in words (message ids)
COUNT_WORDS = {
    "metrics": N_("metrics"),
    "semantic_models": N_("semantic models"),
    "skipped": N_("skipped"),
    "parsed_back": N_("parsed back"),
    "systems": N_("systems"),
    "tables": N_("tables"),
    "fields": N_("fields"),
    "dimensions": N_("dimensions"),
    "departments": N_("departments"),
    "catalog_metrics": N_("metrics in the catalog"),
    "measure_metrics": N_("metrics made from measures"),
    "input_metrics": N_("input metrics with an offset or filter"),
}


def counts_line(counts: dict[str, int]) -> str:
    """``metrics: 38, semantic models: 7`` in the language in use."""
    return _(", ").join(
        _("{what}: {n}", what=_(COUNT_WORDS[k]) if k in COUNT_WORDS else k, n=v)
        for k, v in counts.items()
    )


@dataclass
class ImportReport:
    """What an import did: counts, what went to ``extra``, and notes worth reading."""

    source: str
    out: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    #: metric id → dotted keys kept only under ``extra.dbt``
    extra: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def extra_summary(self) -> dict[str, int]:
        """How many metrics keep each key only in ``extra``."""
        counter: Counter[str] = Counter(k for keys in self.extra.values() for k in keys)
        return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

    def lines(self, notes: int | None = 20) -> list[str]:
        """The report as text; at most ``notes`` notes (``None``: all)."""
        out = [
            _("imported {source} → {path}", source=self.source, path=self.out)
            if self.out
            else _("read {source}", source=self.source)
        ]
        out.append(counts_line(self.counts))
        summary = self.extra_summary()
        if summary:
            out.append(_("kept under extra.dbt ({n} metrics):", n=len(self.extra)))
            out += [
                "  "
                + ngettext("%(key)s: %(num)s metric", "%(key)s: %(num)s metrics", n)
                % {"key": key, "num": n}
                for key, n in summary.items()
            ]
        shown = self.notes if notes is None else self.notes[:notes]
        out += [_("note: {note}", note=n) for n in shown]
        if len(shown) < len(self.notes):
            more = len(self.notes) - len(shown)
            out.append(_("… and {n} more notes (--json lists them all)", n=more))
        return out
