"""Visible text of a page, and what is left of it once the catalog's own words are taken out:
the catalogue-completeness tests read pages with these (tests/unit/test_i18n_pages.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]")
#: words that are the same in every language (names of things, not UI text)
UNIVERSAL = {
    "kpigraph",
    "API",
    "JSON",
    "SQL",
    "YAML",
    "FAQ",
    "ID",
    "L0",
    "L1",
    "L2",
    "L3",
    "MoM",
    "YoY",
    "lint",
    "validate",
    "github",
    "disable",
    "severity",
    "naming",
    "card",
    "lmdi",
    "LMDI",
    "Shapley",
    "vs",
    "pp",
    "ref",
    "r",
    "n",
    "CNY",
    "M",
    "K",
    "pybabel",
    "Token",
    "DMS",
    "dms",
    "MIN",
    "MAX",
    "Excel",
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.engine: list[str] = []  # text the analysis engines wrote (not yet catalogued)
        self._skip = 0
        self._engine = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # code is literal in every language; a textarea holds what people typed (YAML, reasons)
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._skip += 1
        if (tag == "span" and ("class", "engine") in attrs) or (tag == "span" and self._engine):
            self._engine += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre", "textarea") and self._skip:
            self._skip -= 1
        if tag == "span" and self._engine:
            self._engine -= 1

    def handle_data(self, data: str) -> None:
        if self._skip or not data.strip():
            return
        (self.engine if self._engine else self.parts).append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def data_strings(values: Iterable[Any]) -> set[str]:
    """Every string inside ``values`` (nested dicts and lists too)."""
    out: set[str] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if v.strip():
                out.add(v.strip())
                out.update(x.strip() for x in re.split(r"[\n、，,;；]", v) if x.strip())
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            stack.extend(v)
    return out


def without_data(parts: Iterable[str], data: set[str]) -> list[str]:
    """The page's text with the catalog's words (longest first) taken out."""
    ordered = sorted(data, key=len, reverse=True)
    cjk = [d for d in ordered if CJK.search(d)]
    # ASCII data (ids, English names) only as whole words, and not the short ones that are
    # also ordinary words of a sentence
    ascii_words = [d for d in ordered if not CJK.search(d) and len(d) >= 3]
    pattern = (
        re.compile("|".join(r"(?<![\w.-])" + re.escape(d) + r"(?![\w-])" for d in ascii_words))
        if ascii_words
        else None
    )
    left = []
    for part in parts:
        text = _cut_short(part, cjk)
        for d in cjk:
            if d in text:
                text = text.replace(d, " ")
        if pattern is not None:
            text = pattern.sub(" ", text)
        text = text.strip()
        if text:
            left.append(text)
    return left


def _cut_short(text: str, cjk: list[str]) -> str:
    """``text`` with data cut short for a narrow cell (``门店的增值服务能力越…``) taken out: the
    longest end (4 characters or more) of the run before an ellipsis that some data string
    holds."""

    def cut(match: re.Match[str]) -> str:
        run = match.group(1)
        for i in range(len(run) - 3):
            if any(run[i:] in d for d in cjk):
                return run[:i] + " "
        return match.group(0)

    return re.sub(r"(\S+)…", cut, text) if "…" in text else text


def cjk_left(parts: Iterable[str]) -> list[str]:
    return [p for p in parts if CJK.search(p)]


def english_left(parts: Iterable[str]) -> list[str]:
    """Pieces of text holding an English word of 3+ letters that is not universal."""
    bad = []
    for p in parts:
        words = [
            w
            # a word that is part of a path (data/, metrics/x.yaml) is a name, not a word
            for w in re.findall(r"(?<![/\w])[A-Za-z][A-Za-z'_-]{2,}(?![/\w])", p)
            if w not in UNIVERSAL and not re.fullmatch(r"[A-Z][A-Z_]+", w)  # relation ids
        ]
        if words:
            bad.append(p)
    return bad
