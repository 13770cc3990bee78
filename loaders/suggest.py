"""'Did you mean' suggestions for unknown ids."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from core.i18n import _


def closest(
    word: str,
    candidates: Iterable[str],
    aliases: Mapping[str, str] | None = None,
    n: int = 3,
) -> list[str]:
    """Up to ``n`` candidate ids close to ``word``.

    ``aliases`` maps other spellings (display names, abbreviations, all lower-cased) to ids, so
    that ``营收`` or ``ATP`` suggests the id that carries that name.

    Examples
    --------
    >>> closest("revenu", ["revenue", "visits", "atp"])
    ['revenue']
    >>> closest("客单价", ["atp"], {"客单价": "atp"})
    ['atp']
    """
    out: list[str] = []
    if aliases:
        hit = aliases.get(word.strip().lower())
        if hit:
            out.append(hit)
    pool = list(candidates)
    for match in difflib.get_close_matches(word, pool, n=n, cutoff=0.6):
        if match not in out:
            out.append(match)
    if len(out) < n:
        low = word.lower()
        for cand in sorted(pool):
            if len(out) >= n:
                break
            if cand not in out and len(low) >= 3 and (low in cand or cand in low):
                out.append(cand)
    return out[:n]


def did_you_mean(suggestions: list[str]) -> str | None:
    """A hint phrase, or ``None`` when there is nothing to suggest."""
    if not suggestions:
        return None
    return _("did you mean {names}?", names=_(" or ").join(repr(s) for s in suggestions))
