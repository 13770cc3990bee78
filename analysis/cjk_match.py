"""Closeness of names typed in Chinese: by characters and by sound (pinyin), so that a slip of
the input method (营搜 for 营收, both ``ying s(h)ou``) still finds the metric."""

from __future__ import annotations

import difflib
import functools
import re

CJK = re.compile(r"[\u3400-\u9fff]")


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))


@functools.lru_cache(maxsize=4096)
def pinyin(text: str) -> str:
    """``营收`` → ``ying shou`` (tones dropped; other characters kept as they are).

    >>> pinyin("营收"), pinyin("ATP 营收")
    ('ying shou', 'atp ying shou')
    """
    from pypinyin import lazy_pinyin  # imported on first use: CLI start-up stays light

    return " ".join(w.strip() for w in lazy_pinyin(text.lower()) if w.strip())


def similarity(typed: str, name: str) -> float:
    """How close ``typed`` is to ``name``: the better of the characters' and the sounds'
    similarity (0..1).

    >>> round(similarity("营搜", "营收"), 2) > round(similarity("营搜", "营销费用"), 2)
    True
    """
    typed, name = typed.lower(), name.lower()
    chars = difflib.SequenceMatcher(None, typed, name).ratio()
    if not (has_cjk(typed) or has_cjk(name)):
        return chars
    sound = difflib.SequenceMatcher(None, pinyin(typed), pinyin(name)).ratio()
    return max(chars, sound)


def probes(text: str, limit: int = 6) -> list[str]:
    """Search probes for a CJK name that found nothing: each of its characters.

    >>> probes("营搜")
    ['营', '搜']
    """
    return list(dict.fromkeys(c for c in text if CJK.match(c)))[:limit]
